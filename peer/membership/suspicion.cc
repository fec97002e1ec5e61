#include "peer/membership/suspicion.h"

#include "peer/membership/protocol_math.h"

namespace peerlab::membership {

Suspicion::Suspicion(runtime::Scheduler* scheduler, const std::string& from,
                     int expected, absl::Duration min, absl::Duration max,
                     std::function<void()> on_timeout, bool from_confirms)
    : scheduler_(scheduler),
      expected_(expected),
      min_(min),
      max_(max),
      start_(scheduler->Now()),
      on_timeout_(std::move(on_timeout)) {
  if (from.empty()) {
    Arm(expected_ < 1 ? min_ : max_);
    return;
  }
  seen_.insert(from);
  if (from_confirms && expected_ >= 1) confirmations_ = 1;
  Arm(RemainingSuspicionTime(confirmations_, expected_, absl::ZeroDuration(),
                             min_, max_));
}

Suspicion::~Suspicion() {
  if (timer_ != 0) scheduler_->Cancel(timer_);
}

void Suspicion::Arm(absl::Duration after) {
  if (timer_ != 0) scheduler_->Cancel(timer_);
  if (after < absl::ZeroDuration()) after = absl::ZeroDuration();
  deadline_ = scheduler_->Now() + after;
  timer_ = scheduler_->After(after, [this] {
    timer_ = 0;
    on_timeout_();  // may destroy this object: touch nothing after
  });
}

bool Suspicion::Confirm(const std::string& from) {
  // An anonymous report (learned by push/pull) confirms nothing.
  if (from.empty() || seen_.size() >= kMaxAccusers) return false;
  if (confirmations_ >= expected_) {
    // Saturated: the timer stays, the accuser is still counted (for
    // corroboration), and nothing is re-gossiped.
    seen_.insert(from);
    return false;
  }
  if (!seen_.insert(from).second) return false;
  // The first named accuser of a suspicion that began anonymously is its
  // accuser, not a confirmation.
  if (seen_.size() == 1) return false;
  ++confirmations_;
  absl::Duration elapsed = scheduler_->Now() - start_;
  Arm(RemainingSuspicionTime(confirmations_, expected_, elapsed, min_, max_));
  return true;
}

}  // namespace peerlab::membership
