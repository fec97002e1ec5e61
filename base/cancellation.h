// Cancellation: a one-shot "stop now" signal that blocking work can wait on,
// so that a long wait (the `sleep` command, a program run by `shell`) ends
// as soon as its owner shuts down instead of when the wait runs out.
//
//   Cancellation shutdown;                       // owned by the program
//   ...
//   if (shutdown.WaitFor(absl::Seconds(100))) {  // on a worker thread
//     return absl::CancelledError("cancelled: shutting down");
//   }
//   ...
//   shutdown.Cancel();                           // on the way out
//
// Thread safety: every method may be called from any thread, at once.
// Cancel() is idempotent and never blocks on waiters.
#ifndef PEERLAB_BASE_CANCELLATION_H_
#define PEERLAB_BASE_CANCELLATION_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace peerlab {

class Cancellation {
 public:
  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  // Cancels, once: wakes every WaitFor/WaitUntil; `reason` (e.g. "the peer
  // is shutting down") is kept for the waiters' messages. Later calls do
  // nothing.
  void Cancel(std::string reason = "cancelled") ABSL_LOCKS_EXCLUDED(mu_);

  bool cancelled() const ABSL_LOCKS_EXCLUDED(mu_);
  // The reason given to Cancel(); empty before.
  std::string reason() const ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until cancelled or `timeout` has passed. True when cancelled
  // (already, or during the wait); false when the time ran out.
  bool WaitFor(absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);
  bool WaitUntil(absl::Time deadline) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::string reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace peerlab

#endif  // PEERLAB_BASE_CANCELLATION_H_
