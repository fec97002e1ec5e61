// Runs a batch of calls at once (the steps of a parallel block or of a
// fan-out line) on short-lived threads, and returns when all have returned.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_AT_ONCE_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_AT_ONCE_H_

#include <cstddef>
#include <functional>

namespace peerlab::harness {

// At most this many of a batch run at the same time (a step on `all` of a
// thousand peers runs in waves).
inline constexpr size_t kMaxAtOnce = 64;

// Calls fn(0) ... fn(n - 1), up to `max_threads` of them at the same time
// (the calling thread is one of them), and returns once every call has
// returned. With n == 1 the call runs on the calling thread. `fn` must be
// safe to call from several threads at once. Thread-safe.
void RunAtOnce(size_t n, const std::function<void(size_t)>& fn,
               size_t max_threads = kMaxAtOnce);

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_AT_ONCE_H_
