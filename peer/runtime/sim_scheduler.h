// SimScheduler: a Scheduler in virtual time, on a SimClock (sim_clock.h).
//
// Tasks are events of the clock, run when the clock is run
// (clock.RunFor(d), clock.RunUntil(t), clock.Step()) in the calling thread,
// in (time, order scheduled) order. For unit tests of protocol code on a
// Scheduler (the chat core) without threads or sleeps; the membership
// simulator (peer/membership/sim) has its own per-node scheduler that also
// models crashes and slow timers.
//
// Owner: optional. With an owner (and epoch), the tasks go through the
// clock's Gate like any owned event (see SimClock).
//
// Thread safety: none, Post included: everything runs on the thread that
// runs the clock.
#ifndef PEERLAB_PEER_RUNTIME_SIM_SCHEDULER_H_
#define PEERLAB_PEER_RUNTIME_SIM_SCHEDULER_H_

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/time/time.h"
#include "peerlab/runtime/scheduler.h"
#include "peerlab/runtime/sim_clock.h"

namespace peerlab::runtime {

class SimScheduler final : public Scheduler {
 public:
  // `clock` is not owned and must outlive this scheduler and its tasks.
  explicit SimScheduler(SimClock* clock, uint32_t owner = SimClock::kNoOwner,
                        uint32_t epoch = 0)
      : clock_(clock), owner_(owner), epoch_(epoch) {}
  SimScheduler(const SimScheduler&) = delete;
  SimScheduler& operator=(const SimScheduler&) = delete;

  absl::Time Now() const override { return clock_->Now(); }
  // TimerIds are the clock's event ids.
  TimerId After(absl::Duration delay, Task task) override {
    return clock_->Schedule(
        clock_->Now() + std::max(delay, absl::ZeroDuration()), std::move(task),
        owner_, epoch_);
  }
  void Cancel(TimerId id) override { clock_->Cancel(id); }
  // After(0): runs at Now(), behind the events already due then.
  void Post(Task task) override {
    After(absl::ZeroDuration(), std::move(task));
  }

  SimClock& clock() { return *clock_; }

 private:
  SimClock* const clock_;
  const uint32_t owner_;
  const uint32_t epoch_;
};

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_SIM_SCHEDULER_H_
