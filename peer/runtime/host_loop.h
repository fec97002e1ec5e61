// HostLoop: where a host of the peer (peer/app/membership_host.h,
// peer/chat/chat_host.h, peer/app/lifecycle_host.h) runs its component: a
// Scheduler, and the two ways a caller outside it waits for it.
//
//   Call(f)      runs `f` on the scheduler and returns its result
//   Await(done)  waits for a Completion that a task of the loop completes
//
// Two implementations:
//   ThreadHostLoop  an EventLoop thread of its own (the peer): Call and Await
//                   block the calling thread.
//   SimHostLoop     a scheduler of a simulation (SimScheduler, or a node of
//                   peer/membership/sim's SimNetwork) on a SimClock, all on
//                   the test's one thread: Call runs `f` at once (nothing
//                   else runs concurrently), and Await runs the clock until
//                   the completion is there (or a virtual time bound passes:
//                   DeadlineExceeded), so the blocking operations of a host
//                   run in virtual time, deterministically, with no sleep.
//                   Awaits may nest (a task of the clock that awaits runs
//                   the clock further).
//
// Thread safety: ThreadHostLoop's Call, Await and scheduler().Post may be
// called from any thread; SimHostLoop from the simulation's thread only.
#ifndef PEERLAB_PEER_RUNTIME_HOST_LOOP_H_
#define PEERLAB_PEER_RUNTIME_HOST_LOOP_H_

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "peerlab/runtime/completion.h"
#include "peerlab/runtime/event_loop.h"
#include "peerlab/runtime/scheduler.h"
#include "peerlab/runtime/sim_clock.h"

namespace peerlab::runtime {

class HostLoop {
 public:
  virtual ~HostLoop() = default;

  // The scheduler the host's component runs on. Owned by this loop (or, for
  // a SimHostLoop, by the simulation).
  virtual Scheduler& scheduler() = 0;

  // Runs `f` on the loop and returns its result (see the file comment).
  // `f` runs exactly once, also when the loop has stopped (then on the
  // caller's thread, the loop's thread being gone: EventLoop::Call).
  template <class F>
  auto Call(F f) -> decltype(f());

  // Waits for `done` (completed by a task of this loop or another): its
  // result, Cancelled when the callback was dropped, DeadlineExceeded when
  // a SimHostLoop's bound passed first.
  template <class T>
  typename Completion<T>::Result Await(Completion<T>& done);

  // Ends the loop: no further task runs (pending ones are dropped).
  // Idempotent. REQUIRES: not from a task of this loop.
  virtual void Stop() = 0;

 protected:
  // Runs `f` on the loop; returns once it ran.
  virtual void Run(absl::FunctionRef<void()> f) = 0;
  // Makes progress until `ready()` holds (a SimHostLoop runs its clock;
  // a ThreadHostLoop returns at once), and returns the deadline for the
  // completion's Wait (InfiniteFuture: block; a past time: do not).
  virtual absl::Time Drive(absl::FunctionRef<bool()> ready) = 0;
};

// A loop on an EventLoop thread named `name` (owned).
class ThreadHostLoop final : public HostLoop {
 public:
  explicit ThreadHostLoop(std::string name)
      : loop_(std::make_unique<EventLoop>(std::move(name))) {}
  // Stops the thread.
  ~ThreadHostLoop() override { loop_->Stop(); }

  Scheduler& scheduler() override { return *loop_; }
  void Stop() override { loop_->Stop(); }

 protected:
  void Run(absl::FunctionRef<void()> f) override {
    loop_->Call([f] { f(); });
  }
  absl::Time Drive(absl::FunctionRef<bool()>) override {
    return absl::InfiniteFuture();
  }

 private:
  std::unique_ptr<EventLoop> loop_;
};

// A loop on a simulation's scheduler (not owned) and the clock it runs on
// (not owned); both must outlive this object. Await runs the clock for at
// most `await_bound` of virtual time per call.
class SimHostLoop final : public HostLoop {
 public:
  SimHostLoop(Scheduler* scheduler, SimClock* clock,
              absl::Duration await_bound = absl::Minutes(10))
      : scheduler_(scheduler), clock_(clock), await_bound_(await_bound) {}

  Scheduler& scheduler() override { return *scheduler_; }
  // Nothing to stop: the simulation owns the scheduler.
  void Stop() override {}

 protected:
  void Run(absl::FunctionRef<void()> f) override { f(); }
  absl::Time Drive(absl::FunctionRef<bool()> ready) override {
    clock_->RunUntilCondition(ready, clock_->Now() + await_bound_);
    return absl::UnixEpoch();  // past: Wait does not block
  }

 private:
  Scheduler* const scheduler_;
  SimClock* const clock_;
  const absl::Duration await_bound_;
};

// Implementation of the templates.

template <class F>
auto HostLoop::Call(F f) -> decltype(f()) {
  using R = decltype(f());
  if constexpr (std::is_void_v<R>) {
    Run([&f] { f(); });
  } else {
    std::optional<R> result;
    Run([&f, &result] { result.emplace(f()); });
    return *std::move(result);
  }
}

template <class T>
typename Completion<T>::Result HostLoop::Await(Completion<T>& done) {
  const absl::Time deadline =
      Drive([&done] { return done.completed() || done.dropped(); });
  return done.Wait(deadline);
}

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_HOST_LOOP_H_
