#include "base/clock.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/time/clock.h"

namespace peerlab {
namespace {
class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};
}  // namespace

bool Clock::WaitUntil(std::condition_variable& cv,
                      std::unique_lock<std::mutex>& lock, absl::Time deadline,
                      absl::FunctionRef<bool()> done) const {
  while (!done()) {
    const absl::Time now = Now();
    if (now >= deadline) return false;
    // Far deadlines would overflow the chrono clock's representation.
    const absl::Time until = std::min(deadline, now + absl::Hours(24 * 365));
    cv.wait_until(lock, absl::ToChronoTime(until));
  }
  return true;
}

Clock& Clock::Real() {
  static RealClock* clock = new RealClock;
  return *clock;
}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
  WakeLocked();
}

void FakeClock::Set(absl::Time t) {
  absl::MutexLock lock(&mu_);
  now_ = t;
  WakeLocked();
}

void FakeClock::WakeLocked() {
  // A waiter is registered only while it is inside WaitUntil, so its
  // condition variable is alive here.
  for (auto& [deadline, cv] : waiting_) cv->notify_all();
}

absl::Time FakeClock::NextDeadline() const {
  absl::MutexLock lock(&mu_);
  return waiting_.empty() ? absl::InfiniteFuture() : waiting_.begin()->first;
}

int FakeClock::waiters() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiting_.size());
}

bool FakeClock::WaitUntil(std::condition_variable& cv,
                          std::unique_lock<std::mutex>& lock,
                          absl::Time deadline,
                          absl::FunctionRef<bool()> done) const {
  // Registered once, from the first check to the return: re-registering
  // for each recheck left waiters() at 0 between two of them.
  std::optional<std::multimap<absl::Time, std::condition_variable*>::iterator>
      entry;
  while (!done()) {
    {
      absl::MutexLock l(&mu_);
      if (now_ >= deadline) {
        if (entry) waiting_.erase(*entry);
        return false;
      }
      if (!entry) entry = waiting_.emplace(deadline, &cv);
    }
    // Advance notifies without `lock`: a notification between the check
    // and the wait is missed, and the 1 ms recheck catches it.
    cv.wait_for(lock, std::chrono::milliseconds(1));
  }
  if (entry) {
    absl::MutexLock l(&mu_);
    waiting_.erase(*entry);
  }
  return true;
}

}  // namespace peerlab
