// Suspicion: the timer that turns a suspect into a dead member, shortened by
// independent confirmations (Lifeguard; memberlist suspicion.go).
#ifndef PEERLAB_PEER_MEMBERSHIP_SUSPICION_H_
#define PEERLAB_PEER_MEMBERSHIP_SUSPICION_H_

#include <functional>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "peer/runtime/scheduler.h"

namespace peerlab::membership {

// Not thread-safe: lives on the node's scheduler.
class Suspicion {
 public:
  // Starts the timer: it fires `on_timeout` after `max` (or `min` when
  // `expected` < 1), sooner as confirmations arrive. `from` is the first
  // accuser (it does not count as a confirmation, unless `from_confirms`:
  // it declared the member dead, its own suspicion having run out); empty
  // when the suspicion was learned without one (a push/pull), and then the
  // first named accuser to come takes that place. `scheduler` must outlive
  // this object; destroying it cancels the timer.
  Suspicion(runtime::Scheduler* scheduler, const std::string& from,
            int expected, absl::Duration min, absl::Duration max,
            std::function<void()> on_timeout, bool from_confirms = false);
  ~Suspicion();
  Suspicion(const Suspicion&) = delete;
  Suspicion& operator=(const Suspicion&) = delete;

  // Records an independent confirmation from `from`. Returns true if it was
  // new (the caller then re-gossips the suspicion, as memberlist does). An
  // empty `from` (no accuser named) never confirms.
  bool Confirm(const std::string& from);
  int confirmations() const { return confirmations_; }
  // Distinct named accusers heard (the first one included), counted past
  // `expected` too (Config::corroboration), at most kMaxAccusers.
  int accusers() const { return static_cast<int>(seen_.size()); }
  const std::set<std::string>& accuser_names() const { return seen_; }
  static constexpr size_t kMaxAccusers = 16;
  // Whether the early check (Config::corroboration) ran for this
  // suspicion; set by the caller.
  bool checked_early = false;
  // Timed death (stability.cc; set by the caller): when this node's last
  // check pinged the member; whether the check ended unanswered; the earliest
  // removal time a credible timed death named (InfiniteFuture: none); and
  // whether this node queued a timed death of the member (then its removal
  // spreads nothing more).
  absl::Time check_sent = absl::InfinitePast();
  bool silent = false;
  absl::Time remove_at = absl::InfiniteFuture();
  bool said = false;
  // When the suspicion started, and the least it runs (all confirmations
  // in).
  absl::Time start() const { return start_; }
  absl::Duration min_timeout() const { return min_; }
  // When the timer will fire now.
  absl::Time deadline() const { return deadline_; }

 private:
  void Arm(absl::Duration after);

  runtime::Scheduler* const scheduler_;
  const int expected_;
  const absl::Duration min_;
  const absl::Duration max_;
  const absl::Time start_;
  std::function<void()> on_timeout_;
  std::set<std::string> seen_;
  int confirmations_ = 0;
  runtime::Scheduler::TimerId timer_ = 0;
  absl::Time deadline_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_SUSPICION_H_
