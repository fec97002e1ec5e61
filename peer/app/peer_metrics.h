// The peer's Prometheus metrics (base/metrics.h), collected at each scrape
// of --metrics-listen from the hosts' own counters:
//   peerlab_membership_<counter>_total   every membership::Stats counter
//                                        (memberlist.h: probes,
//                                        suspicions_raised, refutations,
//                                        packets_sent, ...)
//   peerlab_membership_members{state}    members this node knows, by state
//   peerlab_membership_health_score      Lifeguard's awareness (0: healthy)
//   peerlab_membership_incarnation       this node's incarnation
//   peerlab_membership_node              1 while a node exists
//   peerlab_chat_<counter>_total         chat::ChatStats counters
//   peerlab_chat_senders                 (sender, session) pairs held
//   peerlab_handlers_<counter>_total     event handler runs: dispatched,
//                                        succeeded, failed, timed_out,
//                                        dropped, responses
// (`chatstats --reset` resets the chat counters: Prometheus reads that as a
// counter reset.)
#ifndef PEERLAB_PEER_APP_PEER_METRICS_H_
#define PEERLAB_PEER_APP_PEER_METRICS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "peer/chat/chat_core.h"
#include "peer/handlers/handler_runner.h"
#include "peer/membership/memberlist.h"

namespace peerlab::peer {

class PeerApp;

// What one scrape reads from the membership node (copied on its loop).
struct MembershipSnapshot {
  membership::Stats stats;
  std::map<std::string, int> members_by_state;  // "alive" -> 3, ...
  int health_score = 0;
  uint64_t incarnation = 0;
};

// The families of a snapshot; without one (no node yet) only
// peerlab_membership_node 0. Pure.
std::vector<metrics::Family> MembershipFamilies(
    const std::optional<MembershipSnapshot>& snapshot);
// The families of the chat's counters; without them (chat not running)
// none. Pure.
std::vector<metrics::Family> ChatFamilies(
    const std::optional<chat::ChatStats>& stats);

// The event handlers' counters. Pure.
std::vector<metrics::Family> HandlerFamilies(
    const handlers::HandlerRunner::Stats& stats);

// Adds collectors for `app`'s membership, chat and event handlers to
// `registry`. Each scrape asks the hosts' loops for a copy (EventLoop::Call
// from the scraping thread; the protocol thread only copies). `app` must
// outlive the scrapes (stop the metrics server first).
void AddPeerCollectors(metrics::Registry* registry, PeerApp* app);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_PEER_METRICS_H_
