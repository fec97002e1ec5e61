// Completion<T>: a result handed from an asynchronous operation (usually a
// task of a Scheduler) to a thread that waits for it, aware of drops.
//
//   runtime::Completion<absl::StatusOr<Report>> done("join");
//   loop->Post([cb = done.Callback()] { node->Join(addrs, cb); });
//   absl::StatusOr<Report> r = done.Wait(absl::Now() + absl::Seconds(5));
//
// Wait() returns when the callback ran (its value), when every copy of the
// callback was destroyed without being called (Cancelled: the operation, or
// the loop that held it, dropped it; without this the waiter would wait
// forever), or when the deadline passed (DeadlineExceeded).
//
// Result: what Wait() returns, flattened so that callers deal with one
// status:
//   T = void                 -> absl::Status      (callback: void())
//   T = absl::Status         -> absl::Status
//   T = absl::StatusOr<U>    -> absl::StatusOr<U>
//   any other T              -> absl::StatusOr<T>
// completed() tells a value that is itself an error from a drop or a
// deadline.
//
// Thread safety: the callback may be called, copied and destroyed on any
// thread; Wait(), completed() and dropped() may be called from any thread.
// Only the first call of the callback counts. The Completion owns the
// shared slot; the callback owns a guard that notices its own destruction.
#ifndef PEERLAB_PEER_RUNTIME_COMPLETION_H_
#define PEERLAB_PEER_RUNTIME_COMPLETION_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace peerlab::runtime {

namespace completion_internal {

template <typename T>
struct IsStatusOr : std::false_type {};
template <typename U>
struct IsStatusOr<absl::StatusOr<U>> : std::true_type {};

// What the callback stores: a value, or just "called" for void.
template <typename T>
struct Stored {
  using type = T;
};
template <>
struct Stored<void> {
  using type = bool;
};

template <typename T>
struct ResultOf {
  using type = absl::StatusOr<T>;
};
template <>
struct ResultOf<void> {
  using type = absl::Status;
};
template <>
struct ResultOf<absl::Status> {
  using type = absl::Status;
};
template <typename U>
struct ResultOf<absl::StatusOr<U>> {
  using type = absl::StatusOr<U>;
};

template <typename T>
struct CallbackOf {
  using type = std::function<void(T)>;
};
template <>
struct CallbackOf<void> {
  using type = std::function<void()>;
};

}  // namespace completion_internal

template <typename T>
class Completion {
 public:
  using Result = typename completion_internal::ResultOf<T>::type;
  using Callback_t = typename completion_internal::CallbackOf<T>::type;

  // `what` names the operation in the Cancelled and DeadlineExceeded
  // messages ("join: dropped without an answer").
  explicit Completion(std::string what = "operation")
      : state_(std::make_shared<State>()) {
    state_->what = std::move(what);
  }
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;

  // The callback that completes this. Copies share one guard: the drop is
  // noticed when the last copy is destroyed uncalled. REQUIRES: called once.
  Callback_t Callback() {
    auto guard = std::make_shared<Guard>(state_);
    if constexpr (std::is_void_v<T>) {
      return [guard]() { guard->Set(true); };
    } else {
      return [guard](T value) { guard->Set(std::move(value)); };
    }
  }

  // Blocks until the callback ran, was dropped, or `deadline` passed (see
  // the file comment). May be called again (the value is then moved out
  // already: only the first call gets it).
  Result Wait(absl::Time deadline = absl::InfiniteFuture()) {
    std::unique_lock<std::mutex> lock(state_->mu);
    auto ready = [&] {
      return state_->value.has_value() || state_->dropped || state_->taken;
    };
    if (deadline == absl::InfiniteFuture()) {
      state_->cv.wait(lock, ready);
    } else {
      state_->cv.wait_until(lock, absl::ToChronoTime(deadline), ready);
    }
    if (state_->value.has_value()) {
      auto value = std::move(*state_->value);
      state_->value.reset();
      state_->taken = true;
      return FromValue(std::move(value));
    }
    if (state_->taken) {
      return absl::FailedPreconditionError(
          absl::StrCat(state_->what, ": result already taken"));
    }
    if (state_->dropped) {
      return absl::CancelledError(absl::StrCat(
          state_->what, ": dropped without an answer (its loop stopped)"));
    }
    return absl::DeadlineExceededError(
        absl::StrCat(state_->what, ": no answer before the deadline"));
  }
  Result WaitFor(absl::Duration timeout) {
    return Wait(timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                    : absl::Now() + timeout);
  }

  // Whether the callback ran (its value is, or was, there).
  bool completed() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->value.has_value() || state_->taken;
  }
  // Whether every copy of the callback was destroyed uncalled.
  bool dropped() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->dropped;
  }

 private:
  using Stored = typename completion_internal::Stored<T>::type;

  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Stored> value;
    bool taken = false;    // Wait moved the value out
    bool dropped = false;  // the guard died uncalled
    std::string what;
  };
  struct Guard {
    explicit Guard(std::shared_ptr<State> s) : state(std::move(s)) {}
    ~Guard() {
      std::lock_guard<std::mutex> lock(state->mu);
      if (!called) state->dropped = true;
      state->cv.notify_all();
    }
    void Set(Stored v) {
      std::lock_guard<std::mutex> lock(state->mu);
      if (called) return;
      called = true;
      state->value.emplace(std::move(v));
      state->cv.notify_all();
    }
    std::shared_ptr<State> state;
    bool called = false;  // guarded by state->mu
  };

  static Result FromValue(Stored value) {
    if constexpr (std::is_void_v<T>) {
      return absl::OkStatus();
    } else {
      return Result(std::move(value));
    }
  }

  std::shared_ptr<State> state_;
};

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_COMPLETION_H_
