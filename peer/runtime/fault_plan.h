// FaultPlan: the one description of network faults that a node applies to
// what it sends (architecture.md, "One fault plan"). Per destination: drop
// probability, delay with jitter, one-way block, duplication, reordering,
// and for calls (gRPC: the reliable path, chat streams) fail or hang.
//
// Applied below encryption, to sealed bytes: the simulator's network
// (peer/membership/sim/sim_network.h, per sending node), the real membership
// transport (peer/membership/real/udp_grpc_transport.h: datagrams and
// reliable calls) and the chat streams (peer/chat/chat_faults.h). So a
// duplicated datagram is a real replay that the receiver's replay window
// must absorb.
//
// Rules. A rule belongs to a destination: an address "host:port" (the
// callers decide which addresses a destination has: the gossip address for
// datagrams, the gRPC address for calls and chat streams) or "*", every
// destination. Each field of a rule is optional; a destination's own field
// wins, else the field of "*", else no fault. So `*` loss with one
// destination blocked means: that one blocked, the others lossy.
//
// Decisions are pure: no sockets, no clock reads (the caller gives the
// time), every random choice drawn from the plan's own generator seeded by
// Options::seed, and only for a feature that is on (a plan with only blocks
// draws nothing), so one seed gives one sequence of fates.
//
// Bounds: at most Options::max_rules destinations with rules (Set refuses
// more: ResourceExhausted, counted); at most Options::max_delayed datagrams
// held back at once (the caller sends a held-back copy at its due time; the
// plan keeps the due times, given in, to count them): beyond that a
// datagram is dropped and counted (kQueueFull). Both are reported through
// Options::on_limit and counted in stats().
//
// Thread-safe: every method takes the plan's mutex, so one plan may be
// shared by the membership loop, the chat loop and the command line.
#ifndef PEERLAB_PEER_RUNTIME_FAULT_PLAN_H_
#define PEERLAB_PEER_RUNTIME_FAULT_PLAN_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace peerlab::runtime {

// What happens to calls (gRPC requests, chat streams) to a destination.
enum class CallFault {
  kNone,
  kFail,  // fail at once with Unavailable
  kHang,  // no answer: the call ends at its own deadline
};

struct FaultRule {
  // Probability in [0, 1] that a datagram is lost. Calls are never dropped
  // here; the simulator makes a call on a lossy path slow or late as TCP
  // would (peer/membership/sim/tcp_model.h).
  std::optional<double> drop;
  // Every datagram and every call (and chat envelope) is held this long,
  // plus a uniform [0, jitter].
  std::optional<absl::Duration> delay;
  std::optional<absl::Duration> jitter;
  // One way: nothing this node sends to the destination arrives; calls to
  // it fail at once (as a blackhole route makes the sender's kernel fail).
  std::optional<bool> block;
  // Probability in [0, 1] that a datagram is sent twice.
  std::optional<double> duplicate;
  // Probability in [0, 1] that a datagram is held back reorder_hold longer
  // than its delay, so that later ones overtake it.
  std::optional<double> reorder;
  std::optional<absl::Duration> reorder_hold;
  std::optional<CallFault> call;

  // Fields set in `other` replace this rule's.
  void MergeFrom(const FaultRule& other);
  bool empty() const;
  // "drop 10% delay 20ms±5ms block dup 5% reorder 5%/20ms calls fail".
  std::string ToString() const;
};

// The fate of one datagram.
struct PacketFate {
  enum class Outcome {
    kSend,       // send every entry of `copies`
    kDropped,    // the drop draw
    kBlocked,    // a block rule
    kQueueFull,  // would be held back, but max_delayed are held already
  };
  Outcome outcome = Outcome::kSend;
  // kSend: one entry per copy (two when duplicated): how long after the
  // decision to send it (zero: now).
  absl::InlinedVector<absl::Duration, 2> copies;
};

// The fate of one call or stream.
struct CallFate {
  CallFault fault = CallFault::kNone;           // kFail also for a block rule
  bool blocked = false;                         // kFail because of a block rule
  absl::Duration delay = absl::ZeroDuration();  // kNone: start it this late
};

struct FaultStats {
  uint64_t packets = 0;     // datagrams decided
  uint64_t dropped = 0;     // the drop draw
  uint64_t blocked = 0;     // datagrams to a blocked destination
  uint64_t queue_full = 0;  // dropped: max_delayed held back already
  uint64_t delayed = 0;     // copies held back (delay, jitter or reorder)
  uint64_t duplicated = 0;  // datagrams sent twice
  uint64_t reordered = 0;   // datagrams held back by reorder_hold
  uint64_t calls = 0;       // calls and streams decided
  uint64_t calls_failed = 0;
  uint64_t calls_hung = 0;
  uint64_t calls_delayed = 0;
  uint64_t rules_refused = 0;  // Set beyond max_rules
};

class FaultPlan {
 public:
  // The destination of a rule that applies to every destination.
  static constexpr absl::string_view kEveryDestination = "*";

  struct Options {
    uint64_t seed = 1;
    size_t max_rules = 1024;
    size_t max_delayed = 4096;
    // The hold of a reordered datagram when its rule names none.
    absl::Duration default_reorder_hold = absl::Milliseconds(20);
    // Told (one line) when a bound is hit: the first time, then at every
    // power of two of the count (so a flood logs a few lines). Called
    // outside the plan's lock, on the deciding thread; may be empty.
    std::function<void(const std::string&)> on_limit;
  };

  FaultPlan() : FaultPlan(Options{}) {}
  explicit FaultPlan(Options options);
  FaultPlan(const FaultPlan&) = delete;
  FaultPlan& operator=(const FaultPlan&) = delete;

  // Merges `rule` into `destination`'s rule (made when missing). Errors:
  // InvalidArgument (empty destination, a probability outside [0, 1], a
  // negative duration), ResourceExhausted (max_rules destinations have
  // rules already; counted in rules_refused).
  absl::Status Set(const std::string& destination, const FaultRule& rule);
  // Removes `destination`'s rule; whether it had one.
  bool Clear(const std::string& destination);
  // Removes every rule.
  void ClearAll();
  // Removes the `block` field of every rule (and rules left empty).
  void ClearBlocks();
  // The rules, by destination.
  std::map<std::string, FaultRule> Rules() const;
  // Whether the plan has no rule (cheap: no lock).
  bool empty() const { return empty_.load(std::memory_order_relaxed); }

  // The rule in force for a destination known by any of `names` (e.g. its
  // gossip and its gRPC address): per field, the first name's own field
  // that is set, else "*"'s.
  FaultRule Effective(std::initializer_list<absl::string_view> names) const;
  // Whether a block rule stops traffic to `destination` now.
  bool Blocks(absl::string_view destination) const;

  // Decides the fate of a datagram to `destination` sent at `now`.
  PacketFate DecidePacket(absl::string_view destination, absl::Time now);
  // Decides the fate of a call (or a chat stream, or one envelope on it) to
  // a destination known by `names`.
  CallFate DecideCall(std::initializer_list<absl::string_view> names);

  FaultStats stats() const;

 private:
  FaultRule EffectiveLocked(std::initializer_list<absl::string_view> names)
      const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double Uniform() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration Jitter(absl::Duration max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateEmpty() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls on_limit for the count-th hit of a bound, if it is time to.
  void Report(uint64_t count, const std::string& message) const
      ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  std::atomic<bool> empty_{true};
  mutable absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, FaultRule, std::less<>> rules_ ABSL_GUARDED_BY(mu_);
  // Due times of the copies held back now (pruned at each decision).
  std::multiset<absl::Time> held_ ABSL_GUARDED_BY(mu_);
  FaultStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_FAULT_PLAN_H_
