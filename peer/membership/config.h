// Config: every knob of the membership protocol, with memberlist's numbers.
//
// Three profiles, as in HashiCorp memberlist (config.go): Lan()
// (DefaultLANConfig), Wan() (DefaultWANConfig) and Local()
// (DefaultLocalConfig, which the original peer used). Each field says what it
// does and where its default comes from.
#ifndef PEERLAB_PEER_MEMBERSHIP_CONFIG_H_
#define PEERLAB_PEER_MEMBERSHIP_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peerlab/runtime/logger.h"

namespace peerlab::membership {

// Vivaldi's settings (coordinate.h), Serf's coordinate.DefaultConfig()
// by default.
struct CoordinateConfig {
  int dimensionality = 8;
  double vivaldi_error_max = 1.5;   // error estimate cap (and start)
  double vivaldi_ce = 0.25;         // how fast the error estimate moves
  double vivaldi_cc = 0.25;         // how fast the coordinate moves
  int adjustment_window_size = 20;  // samples averaged into the adjustment
  double height_min = 10.0e-6;      // seconds (10 us)
  int latency_filter_size = 3;      // RTTs per member, median taken
  double gravity_rho = 150.0;       // pull towards the origin
  // InvalidArgument naming the field out of range (dimensionality 1..16,
  // filter and window 1..256, the rest positive and finite).
  absl::Status Validate() const;
};

// Limits on what the wire may carry (checked before any arithmetic or
// storage; see state.cc): names and addresses, process ids, and
// incarnations, kept far from the top so that a refutation (+1) never
// wraps.
inline constexpr size_t kMaxNameBytes = 256;
inline constexpr size_t kMaxAddrBytes = 256;
inline constexpr size_t kMaxIdBytes = 64;
inline constexpr uint64_t kMaxIncarnation = uint64_t{1} << 62;
// Longest group label (Config::label), memberlist's limit.
inline constexpr size_t kMaxLabelBytes = 255;

// How far above this node's key/value Lamport clock a time from the wire
// may be (protocol_math.h WithinLamportWindow); beyond it the entry is
// ignored and counted (KvStore::lamport_jumps_ignored()). The clock moves by
// one per write, cluster-wide (each write takes max seen + 1), so a gap of
// 2^32 is over four billion writes this node has not seen: a partition of
// a day with writers at 10,000 writes/s is ~2^30, and a late joiner (clock 0)
// is behind by the number of writes the store ever had. A forgery within the
// window raises every clock by at most 2^32, so reaching the cap
// (kv_store.h kMaxLamport, 2^62) takes 2^30 accepted forgeries. memberlist
// has no key/value store, so no default to follow; not a Config field, as
// the store is a Delegate outside the protocol.
inline constexpr uint64_t kLamportWindow = uint64_t{1} << 32;

// The largest Config::max_meta_bytes.
inline constexpr int kMaxMetaBytesLimit = 16384;

struct Config {
  // This node's name; unique in the cluster. (memberlist: Name, default
  // hostname; the peer uses its NAME.)
  std::string name;
  // Restart generation of this name (see Alive.generation): must grow
  // across restarts of the name. 0: the scheduler's time in ms at Start(),
  // the fallback when no state directory keeps a counter.
  uint64_t generation = 0;

  // --- Failure detection (SWIM) ---
  // Time between probes of one member each. LAN 1s, WAN 5s, Local 1s.
  absl::Duration probe_interval = absl::Seconds(1);
  // How long to wait for a direct ack before probing indirectly; scaled by
  // the health score. Should be about the network's 99th percentile RTT.
  // LAN 500ms, WAN 3s, Local 200ms.
  absl::Duration probe_timeout = absl::Milliseconds(500);
  // Members asked to ping-req an unresponsive member. LAN/WAN 3, Local 1.
  int indirect_checks = 3;
  // Also try a probe over the reliable path when the direct ping fails
  // (memberlist: !DisableTcpPings). Default on in every profile.
  bool reliable_fallback_probe = true;
  // Timeout of reliable-path calls (memberlist: TCPTimeout). LAN 10s, WAN
  // 30s, Local 1s.
  absl::Duration reliable_timeout = absl::Seconds(10);

  // --- Suspicion (Lifeguard) ---
  // Suspicion timeout = suspicion_mult * log10(max(1, N)) * probe_interval
  // at the least, and up to suspicion_max_timeout_mult times that when no
  // one confirms. memberlist's: LAN 4, WAN 6, Local 3; max mult 6
  // everywhere (these defaults). Config::Lan() departs from them: 2 and 12
  // with suspicion_confirmations 2 (Lifeguard's tuning, config.cc).
  int suspicion_mult = 4;
  int suspicion_max_timeout_mult = 6;
  // Lifeguard's K: the independent confirmations that bring a suspicion's
  // timeout from its maximum down to its minimum (fewer when the group
  // has fewer other members). -1: memberlist's suspicion_mult - 2, which
  // ties K to the minimum (ExpectedConfirmations, protocol_math.h).
  int suspicion_confirmations = -1;

  // --- Dissemination ---
  // Each update is retransmitted retransmit_mult * ceil(log10(N + 1)) times.
  // LAN/WAN 4, Local 2.
  int retransmit_mult = 4;
  // Members gossiped to per gossip round. LAN 3, WAN 4, Local 3.
  int gossip_nodes = 3;
  // Time between gossip rounds. LAN 200ms, WAN 500ms, Local 100ms.
  absl::Duration gossip_interval = absl::Milliseconds(200);
  // Dead members still receive gossip this long, so they learn and refute.
  // LAN 30s, WAN 60s, Local 15s.
  absl::Duration gossip_to_the_dead_time = absl::Seconds(30);
  // At most this many alive notices about other members queued for gossip
  // (docs/membership.md, "A mass join: the queue's bound"). Past it the
  // one sent most goes (Stats::alive_notices_dropped), and this node does
  // push/pulls with random members until one teaches it nothing new. A
  // queue holds one update per member, so groups of up to this many
  // members never reach it. Suspicions, deaths, leaves, this node's own
  // alive, user messages and key operations are never dropped. 0: no bound
  // (memberlist). Not in memberlist_compat.
  int max_queued_alives = 1024;
  // Full state exchange with one random member (anti-entropy). 0 disables.
  // Scaled up for clusters past 32 members, as memberlist does. LAN 30s,
  // WAN 60s, Local 15s.
  absl::Duration push_pull_interval = absl::Seconds(30);
  // Largest datagram (memberlist: UDPBufferSize, 1400 in every profile).
  int packet_size = 1400;

  // --- Lifeguard local health awareness ---
  // The health score stays below this; timeouts scale by (score + 1).
  // memberlist: AwarenessMaxMultiplier 8 everywhere.
  int awareness_max_multiplier = 8;
  // Lifeguard on/off as a whole (awareness, nacks, dynamic suspicion), for
  // experiments; memberlist always has it on.
  bool lifeguard = true;

  // --- Stability on sick networks (docs/membership.md) ---
  // Corroboration: once a suspicion of a member's current incarnation is
  // held by this many distinct accusers (the first one and Lifeguard's
  // confirmations; this node's own failed probe included), this node checks
  // the member itself at once (the last check: a suspect and a ping, only
  // silence is a death) instead of waiting for the suspicion timeout. Only
  // when the group has that many members besides the suspect. 0: off (the
  // timeout alone, as memberlist). 3 in every profile (Lifeguard expects
  // suspicion_mult - 2 = 2 confirmations: the third accuser is the one at
  // which memberlist's timeout reaches its minimum).
  int corroboration = 3;
  // Quarantine: a member accused by this many distinct credible members
  // within evidence_window, across its refutations (a member that keeps
  // refuting while others keep failing to reach it: egress loss, a one-way
  // link), is checked once by this node itself and, if it stays silent,
  // declared dead and held down (below). 0: off. 2 in every profile (3
  // took the removal of a member losing 80 % of its egress past 30 s at
  // 1,000 members: bench/RESULTS.md).
  int quarantine_observers = 2;
  // How long an accusation counts as evidence, and the window of accuser
  // credibility. 30 s in every profile (Local: 15 s).
  absl::Duration evidence_window = absl::Seconds(30);
  // Accuser credibility (remote health awareness): accusations from a
  // member that accused more than this many times within evidence_window,
  // or that this node holds suspect, dead or quarantined, start no
  // suspicion and count as no confirmation and no evidence: a sick member
  // (one that cannot receive) accuses everyone it probes. 0: no limit.
  int max_accusations = 4;
  // Hold-down: a quarantined member is not re-admitted on its refutation
  // before hold_down passed (a new generation, a restart, still replaces it at
  // once): at most one re-admission per flip-flop cycle. 0: off. 120 s (Local
  // 30 s).
  absl::Duration hold_down = absl::Seconds(120);
  // A probe that only the reliable fallback answered (datagrams lost both
  // ways, directly and through ping-req) suspects the member too: it does
  // not take part in the datagram protocol (memberlist only logs it).
  bool fallback_only_suspects = true;
  // memberlist's own behaviour, for the baseline of peerlab-sim
  // (--baseline memberlist): every departure listed in docs/membership.md
  // turned off (a gossiped dead is a death, no last check, confirmations
  // across incarnations, push/pull suspicions confirm, no reconnection, no
  // catch-up after a join, none of the fields above). Security (signed
  // claims, encryption, windows) stays. Default false.
  bool memberlist_compat = false;

  // Vivaldi network coordinates (coordinate.h, with Serf's defaults), as
  // Serf computes them (its DisableCoordinates is false by default): the
  // ack to a direct ping carries the acking member's coordinate (~90
  // bytes), and the prober moves its own from the measured round trip and
  // keeps the member's (at most max_members; forgotten when the member
  // leaves, dies or is forgotten). Memberlist::EstimateRtt reads them.
  bool coordinates = true;
  // Their settings (Serf's defaults; the peer's memberlist.vivaldi_*).
  // Validate() checks them when coordinates are on.
  CoordinateConfig coordinate;

  // How long members that failed are kept for reconnection: every push/pull
  // round also tries one of them, so both sides of a healed partition find
  // each other again. memberlist alone forgets the dead after
  // gossip_to_the_dead_time; Serf keeps them (reconnect_timeout, 24h by
  // default) for this reason. 0: forget them with memberlist's rule.
  absl::Duration reconnect_timeout = absl::Hours(1);

  // --- Bounds on what remote parties can make a node hold ---
  // Members held, in any state, this node included. A new member past it
  // is refused (Stats::members_refused, a warning at most every
  // probe_interval * 10), and a push/pull carrying more entries than this
  // is refused whole (Stats::push_pulls_refused). A few thousand for a real
  // peer; the simulator sets what it needs.
  int max_members = 4096;
  // How far above the incarnation this node knows for a member a message
  // may name it (protocol_math.h WithinIncarnationWindow). Beyond it a
  // suspect or dead is ignored (the accuser cannot have seen that
  // incarnation: only the member raises it, by one per refutation or
  // metadata update), as is an alive unless the member sent it itself;
  // each is counted in Stats::incarnation_jumps_ignored. An accusation of
  // this node beyond it is not refuted, so a forgery cannot make a member
  // climb towards kMaxIncarnation: within the window each forgery raises it
  // by at most window + 1, and 2^62 / 1025 is ~4.5e15 forgeries. 1024
  // (memberlist has no such bound; the same in every profile): a member
  // refutes at most about once per suspicion timeout (seconds), so a
  // thousand refutations or metadata updates missed during a partition are
  // hours of flapping; a larger gap is still healed by the member's own
  // alive (its datagrams and push/pulls). A late joiner knows nothing yet
  // and a new generation (a restart) replaces the member whatever its
  // incarnation, so neither is bounded. Must be >= 1.
  uint64_t incarnation_window = 1024;

  // --- Gossip encryption ---
  // Open mode: no keyring, every datagram and reliable call in the clear,
  // anyone who can reach the ports may read the member list and forge
  // messages. Only for teaching and experiments. A node with neither a
  // keyring (Memberlist::SetKeyring) nor this set refuses to start
  // (FailedPrecondition "no group key: give a keyring or set
  // insecure_gossip"): nothing is ever silently open. Ignored when a keyring
  // is given. (memberlist has no such switch: it is open by default.)
  bool insecure_gossip = false;
  // Group label (memberlist: Label): carried in every datagram and every
  // reliable request and answer (and bound into the seal's additional data
  // when encrypted); anything with another label is dropped or refused and
  // counted (Stats::label_mismatches), so two groups on one network never
  // merge, even with one key. At most kMaxLabelBytes bytes, no control
  // characters. Empty: no label (still checked: a labelled sender is
  // refused). Default empty, as memberlist's.
  std::string label;
  // Key-rotation catch-up (key_catch_up.h): keys removed from use (`keys
  // remove`) stay retired this long, never to accept gossip, only to open
  // a catch-up request from a member that was away during the rotation
  // and still holds the old key (its node key must be the one pinned to
  // its name). A member removed from the table (dead for reconnect_timeout,
  // or left) is remembered as long, so one shut down before the rotation
  // still catches up. 24h, as Serf's reconnect_timeout: a machine down
  // overnight, or a day, catches up on its own; after that, hand it the
  // key file. 0: no catch-up (removed keys are forgotten at once), the
  // behaviour before it. The same in every profile (memberlist has none).
  absl::Duration retired_key_time = absl::Hours(24);
  // At most this many retired keys (the oldest dropped first, counted in
  // Stats::retired_keys_evicted): 8 rotations within retired_key_time,
  // more than any operator runs in a day, while each costs at most one
  // AES-GCM open per catch-up request. 0: none kept. At most 64.
  int max_retired_keys = 8;

  // --- Direct user messages (Memberlist::SendUserMessage) ---
  // Largest payload, either way (sender refuses, receiver refuses): well
  // above a datagram, so that query responses need not fit one (Serf's
  // must, serf#407). 1 MiB; at most 16 MiB (the reliable path carries 64).
  int max_user_message_bytes = 1 << 20;
  // Direct messages this node may have in flight at once; one more is
  // refused (ResourceExhausted, Stats::user_messages_refused).
  int max_user_messages_in_flight = 256;

  // --- Misc ---
  // Largest metadata (memberlist: MetaMaxSize 512, fixed there), at most
  // kMaxMetaBytesLimit. An alive whose metadata does not fit one datagram
  // spreads as a notice whose signed claim members fetch on the reliable
  // path. Every member refuses metadata above its own limit: give all the
  // same. Push/pull carries every member's metadata (N x this).
  int max_meta_bytes = 512;
  // How long Leave waits for its broadcast to go out at most.
  absl::Duration leave_timeout = absl::Seconds(5);
  // Where the node logs (peer/runtime/logger.h; component "membership",
  // each record dated by the node's Scheduler, so a simulated node logs
  // virtual time). Not owned; must outlive the node. nullptr:
  // runtime::DefaultLogger(), standard error at warning. (memberlist:
  // Logger.) Kept by FromProfile, like the name.
  runtime::Logger* logger = nullptr;

  // The profiles.
  static Config Lan();
  static Config Wan();
  static Config Local();
  // "lan", "wan" or "local"; InvalidArgument otherwise.
  static absl::Status FromProfile(const std::string& profile, Config* config);

  // Checks ranges (positive durations, counts >= 1 …), naming the field.
  absl::Status Validate() const;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_CONFIG_H_
