// For the runner's tests on fake links and a FakeClock: runs a Run to its
// end, moving the clock to the run's next deadline whenever the run waits.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_RUNNER_TESTING_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_RUNNER_TESTING_H_

#include <algorithm>
#include <cstdint>
#include <functional>

#include "absl/time/time.h"
#include "base/clock.h"
#include "base/testing/eventually.h"
#include "gtest/gtest.h"
#include "test-harness/coordinator/run.h"

namespace peerlab::harness::testing {

// Polls until `run` has finished (EXPECT failure "the run hangs" after
// `timeout`). `serve` (optional) answers the run's new events (fault
// requests) and returns how many events it has seen. The clock moves only
// when the run was seen waiting, with no new event, on two polls in a row:
// a waiter just woken by a resolved fault (FakeClock wakes it without the
// run's lock; it rechecks within 1 ms) must not be taken for one that waits
// for its deadline.
inline ::harness::v1::RunSummary RunToEnd(
    Run& run, FakeClock& clock, const std::function<size_t()>& serve = {},
    absl::Duration timeout = absl::Seconds(30)) {
  size_t idle_at = SIZE_MAX;  // event count when last seen idle
  EXPECT_TRUE(peerlab::testing::Eventually(
      [&] {
        if (run.finished()) return true;
        const size_t before = run.EventsFrom(0).size();
        const bool waiting = clock.waiters() > 0;
        const size_t seen = serve ? serve() : before;
        if (seen != before || !waiting) {
          idle_at = SIZE_MAX;
          return false;
        }
        if (idle_at != before) {
          idle_at = before;
          return false;
        }
        if (clock.NextDeadline() != absl::InfiniteFuture()) {
          clock.Set(std::max(clock.Now(), clock.NextDeadline()));
          idle_at = SIZE_MAX;
        }
        return false;
      },
      timeout))
      << "the run hangs";
  return run.Summary();
}

}  // namespace peerlab::harness::testing

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_RUNNER_TESTING_H_
