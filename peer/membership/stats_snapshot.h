// StatsSnapshot: one node's protocol statistics as a list of named samples
// (base/metric_sample.h), for the `stats` peer command, the agent's Stats
// RPC and the Prometheus export. memberlist's metric names where memberlist
// has one (marked [memberlist] below); the others follow its style.
//
// Gauges:
//   memberlist.node.instances{node_state}    members known by state: alive,
//                                            suspect, dead, left (this node
//                                            included) [memberlist]
//   memberlist.health.score                  Lifeguard score, 0 best
//                                            [memberlist]
//   memberlist.queue.broadcasts              updates queued for gossip
//                                            [memberlist]
//   memberlist.incarnation                   this node's incarnation
//   memberlist.generation                    this node's restart generation
//   memberlist.coordinate.error              own Vivaldi error estimate
//                                            (with coordinates on)
//   memberlist.coordinate.cached             coordinates of others held
//                                            (these two and the three
//                                            coordinate counters below only
//                                            with Config::coordinates on)
// Counters:
//   memberlist.msg.alive / .suspect / .dead  alives that changed a member,
//                                            suspicions started, members
//                                            declared dead or left
//                                            [memberlist]
//   memberlist.udp.sent / .received          datagram bytes, sealed, as
//                                            they left / arrived [memberlist]
//   memberlist.udp.packets.sent / .received  datagrams
//   memberlist.tcp.connect / .accept         reliable-path requests sent /
//                                            received [memberlist]
//   memberlist.tcp.sent / .received          their serialized bytes (ours
//                                            and their answers to ours)
//                                            [memberlist]
//   memberlist.messages.sent{kind,path}      messages by kind; path "udp"
//   memberlist.messages.received{kind,path}  (each message of a datagram:
//   memberlist.message_bytes.sent{kind,path} ping, indirect_ping, ack,
//   memberlist.message_bytes.received{...}   nack, alive, suspect, dead,
//                                            user, key_op, notice, and the
//                                            kinds later protocol versions
//                                            add, by their peer.v1.Message
//                                            field name) or "tcp" (each
//                                            reliable request: push_pull,
//                                            ping, packet, key_op_ack, …)
//   memberlist.probeNode{outcome}            probes run: ack (direct, within
//                                            probe_timeout), late_ack (after
//                                            it: through a ping-req or
//                                            late), fallback_ack (only the
//                                            reliable fallback answered),
//                                            failed (none: a suspicion),
//                                            running (not settled yet)
//   memberlist.probe.indirect                ping-reqs sent
//   memberlist.probe.fallback                reliable fallback pings sent
//   memberlist.probe.nacks                   nacks received (Lifeguard)
//   memberlist.degraded.probe                probes run at a slowed
//                                            (Lifeguard) interval [memberlist]
//   memberlist.degraded.timeout              suspicions out of time with
//                                            fewer confirmations than
//                                            expected [memberlist]
//   memberlist.gossip                        gossip rounds that sent
//                                            something [memberlist: a timer]
//   memberlist.pushPullNode                  push/pull exchanges (either
//                                            side) [memberlist: a timer]
//   memberlist.suspicion.raised              this node suspected a member
//   memberlist.suspicion.refuted             suspicions held here that the
//                                            member's alive ended
//   memberlist.refute                        this node refuted a suspicion
//                                            of itself
//   memberlist.coordinate.updates            probe round trips that moved
//                                            this node's coordinate
//   memberlist.coordinate.refused            coordinates on acks refused
//   memberlist.coordinate.resets             coordinate back to the origin
//   memberlist.user_message.sent / .received / .refused
//                                            direct user messages
//   memberlist.force_leave.applied / .ignored
//                                            force-leaves
//   memberlist.refused{what}                 drops and refusals, one sample
//                                            per Stats field (bad_packets,
//                                            decrypt_failures, replays, …)
//
// Counting by kind costs a few increments per datagram (the kinds are read
// from the encoded bytes' first tag, no re-parse): bench/RESULTS.md has
// peerlab-sim before and after.
#ifndef PEERLAB_PEER_MEMBERSHIP_STATS_SNAPSHOT_H_
#define PEERLAB_PEER_MEMBERSHIP_STATS_SNAPSHOT_H_

#include <string>

#include "base/metric_sample.h"
#include "peer/membership/memberlist.h"

namespace peerlab::membership {

// Every sample above, in the order listed (labels in a fixed order too), of
// `node` (started or not: a node not started has its counters at 0).
// Thread safety: as Memberlist (call on the node's scheduler).
MetricSamples StatsSnapshot(const Memberlist& node);

// The name of message kind `field` (a peer.v1.Message oneof field number;
// "other" for one this build does not know), and of reliable request kind
// `field` (peer.v1.ReliableRequest).
std::string MessageKindName(int field);
std::string RequestKindName(int field);

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_STATS_SNAPSHOT_H_
