// Clock: the only way peerlab code reads the time, so that tests can drive it.
#ifndef PEERLAB_BASE_CLOCK_H_
#define PEERLAB_BASE_CLOCK_H_

#include <condition_variable>
#include <map>
#include <mutex>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace peerlab {

// A source of wall-clock time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // Blocks on `cv`, whose mutex `lock` holds, until `done()` holds or Now()
  // reaches `deadline`; returns done(). `done` is called with the lock held;
  // whoever makes it true notifies `cv`. The real clock waits on `cv` until
  // the deadline; a FakeClock wakes its waiters whenever it moves, so that
  // code waiting with a deadline can be tested without sleeping.
  virtual bool WaitUntil(std::condition_variable& cv,
                         std::unique_lock<std::mutex>& lock,
                         absl::Time deadline,
                         absl::FunctionRef<bool()> done) const;

  // The process-wide real clock. Never deleted.
  static Clock& Real();
};

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start) {}
  absl::Time Now() const override;
  // Move the time and wake every WaitUntil in progress.
  void Advance(absl::Duration d);
  void Set(absl::Time t);

  // Waits until `done()` or Now() >= deadline, woken by Advance/Set (and by
  // `cv`). A wake-up that falls between the check and the block is caught
  // by a short real-time recheck (1 ms), so no advance is ever lost.
  bool WaitUntil(std::condition_variable& cv,
                 std::unique_lock<std::mutex>& lock, absl::Time deadline,
                 absl::FunctionRef<bool()> done) const override;

  // How many WaitUntil calls are under way now, each counted from its first
  // check of `done` to its return, rechecks included (tests advance the
  // clock once the code under test waits).
  int waiters() const;
  // The earliest deadline of the WaitUntil calls blocked now (InfiniteFuture
  // when there is none): a test can move the clock straight to it.
  absl::Time NextDeadline() const;

 private:
  void WakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  // Deadline -> condition variable of each WaitUntil blocked now.
  mutable std::multimap<absl::Time, std::condition_variable*> waiting_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace peerlab

#endif  // PEERLAB_BASE_CLOCK_H_
