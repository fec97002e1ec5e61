// Waiting on a condition with a deadline: the one poll loop of the tests.
//
// Tests never sleep for a fixed time to let something happen; they poll the
// condition they need until a deadline. Use this rather than a loop of your
// own, so every test waits the same way (short pauses at first, at most
// 20 ms later, one last look at the deadline).
//
// Header-only, test-only (library target peerlab_testing).
#ifndef PEERLAB_BASE_TESTING_EVENTUALLY_H_
#define PEERLAB_BASE_TESTING_EVENTUALLY_H_

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace peerlab::testing {

// Calls `condition` (a callable returning something convertible to bool)
// until it holds or `timeout` has passed, then once more. Returns whether it
// held. The default timeout is generous because a loaded CI machine is slow
// and only a failing test waits it out. Pauses 1 ms after the first try, doubling up to 20 ms, so a condition
// that is soon true costs little and a slow one does not spin.
//
// REQUIRES: `condition` is safe to call repeatedly from this thread.
template <typename Condition>
bool Eventually(Condition&& condition,
                absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(1);
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(std::min(pause, std::max(deadline - absl::Now(),
                                            absl::ZeroDuration())));
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
  return static_cast<bool>(condition());
}

}  // namespace peerlab::testing

#endif  // PEERLAB_BASE_TESTING_EVENTUALLY_H_
