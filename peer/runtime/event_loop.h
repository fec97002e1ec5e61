// EventLoop: the real Scheduler. One named thread runs posted tasks and
// timers, one at a time, so the membership protocol (and anything else owned
// by the loop) needs no locks.
//
// Time: Now() is wall time (absl::Now()), what logs and the protocol's
// timestamps want. Timers are measured on the monotonic clock
// (std::chrono::steady_clock), so a wall-clock step (NTP, an operator's
// `date -s`) neither fires timers early nor holds them back: After(d) runs its
// task no earlier than d of monotonic time after the call.
#ifndef PEERLAB_PEER_RUNTIME_EVENT_LOOP_H_
#define PEERLAB_PEER_RUNTIME_EVENT_LOOP_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peerlab/runtime/completion.h"
#include "peerlab/runtime/scheduler.h"

namespace peerlab::runtime {

class EventLoop final : public Scheduler {
 public:
  // Starts the loop thread, named `name` (truncated to the 15 characters
  // Linux allows; shows in top, gdb and /proc/PID/task/*/comm).
  explicit EventLoop(std::string name = "membership");
  // Stop()s the loop. REQUIRES: not called from the loop thread (a task
  // cannot destroy the loop that runs it).
  ~EventLoop() override;

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Scheduler. All four are thread-safe here (the interface only requires
  // Post to be): After and Cancel may be called from any thread too.
  // Now() is absl::Now(); see the file comment.
  absl::Time Now() const override;
  TimerId After(absl::Duration delay, Task task) override;
  void Cancel(TimerId id) override;
  // Tasks posted from one thread run in the order posted. After Stop(),
  // tasks are dropped (destroyed without running).
  void Post(Task task) override;

  // Stops the loop: the task that is running (if any) completes, no further
  // task or timer runs, and pending ones are destroyed on the loop thread.
  // From another thread: returns once the loop thread has been joined. From
  // a task: returns at once; the loop ends after that task and the thread is
  // joined by the destructor. Idempotent, thread-safe.
  void Stop();

  // True on the loop's own thread (inside a task).
  bool InLoopThread() const;

  // Runs `f` on the loop and returns its result: for the command line and
  // tests, which must not touch loop-owned state from their own thread.
  // Blocks the caller until `f` has run. From the loop thread, runs `f`
  // inline (no deadlock). If the loop stops before `f` runs (or has
  // stopped), waits for the loop thread to end and then runs `f` on the
  // caller's thread: the loop can no longer run anything concurrently, so
  // `f` still owns the state alone. Hence `f` always runs exactly once.
  template <class F>
  auto Call(F f) -> decltype(f());

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  struct TimerEntry {
    SteadyTime when;
    TimerId id;  // increasing: equal deadlines run in the order set
    bool operator>(const TimerEntry& other) const {
      return when != other.when ? when > other.when : id > other.id;
    }
  };

  void Run();
  // Blocks until the loop thread has finished (Run returned).
  void WaitUntilExited();

  const std::string name_;
  mutable std::mutex mu_;
  std::condition_variable wake_;       // wakes the loop thread
  std::condition_variable exited_cv_;  // wakes WaitUntilExited
  std::mutex join_mu_;                 // one joiner at a time
  bool stopping_ = false;              // guarded by mu_
  bool exited_ = false;                // guarded by mu_; Run has returned
  std::deque<Task> posted_;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>,
                      std::greater<TimerEntry>>
      timer_heap_;  // may hold cancelled ids (lazy deletion)
  std::unordered_map<TimerId, Task> timers_;  // live timers only
  TimerId next_timer_id_ = 1;
  std::thread thread_;
};

// Implementation of the template.

template <class F>
auto EventLoop::Call(F f) -> decltype(f()) {
  using R = decltype(f());
  if (InLoopThread()) return f();

  // Not std::future: a dropped task would make get() throw broken_promise,
  // and no exception may leave a library. A dropped task (the loop stopped
  // before running it) is noticed by the Completion; `f` then runs here once
  // the loop thread is gone.
  Completion<R> done("EventLoop::Call");
  auto fp = std::make_shared<F>(std::move(f));
  Post([fp, cb = done.Callback()] {
    if constexpr (std::is_void_v<R>) {
      (*fp)();
      cb();
    } else {
      cb((*fp)());
    }
  });
  auto result = done.Wait();
  if (!done.completed()) {
    WaitUntilExited();
    return (*fp)();
  }
  if constexpr (std::is_void_v<R> || std::is_same_v<R, absl::Status> ||
                completion_internal::IsStatusOr<R>::value) {
    if constexpr (!std::is_void_v<R>) return result;
  } else {
    return *std::move(result);
  }
}

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_EVENT_LOOP_H_
