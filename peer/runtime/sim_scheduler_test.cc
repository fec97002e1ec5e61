#include "peer/runtime/sim_scheduler.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::runtime {
namespace {

using ::testing::ElementsAre;

TEST(SimSchedulerTest, RunsTasksInVirtualTimeOrder) {
  SimClock clock(absl::FromUnixSeconds(1000));
  SimScheduler s(&clock);
  std::vector<std::string> ran;
  s.After(absl::Seconds(2), [&] { ran.push_back("2s"); });
  s.After(absl::Seconds(1), [&] {
    ran.push_back("1s");
    s.Post([&] { ran.push_back("posted at 1s"); });
  });
  s.Post([&] { ran.push_back("now"); });
  EXPECT_THAT(ran, ElementsAre());  // nothing runs until the clock does
  clock.RunFor(absl::ZeroDuration());
  EXPECT_THAT(ran, ElementsAre("now"));
  clock.RunFor(absl::Seconds(1));
  EXPECT_THAT(ran, ElementsAre("now", "1s", "posted at 1s"));
  EXPECT_EQ(s.Now(), absl::FromUnixSeconds(1001));
  clock.RunFor(absl::Seconds(5));
  EXPECT_THAT(ran, ElementsAre("now", "1s", "posted at 1s", "2s"));
  EXPECT_EQ(s.Now(), absl::FromUnixSeconds(1006));
}

TEST(SimSchedulerTest, CancelledTimerDoesNotRun) {
  SimClock clock;
  SimScheduler s(&clock);
  bool ran = false;
  const Scheduler::TimerId id = s.After(absl::Seconds(1), [&] { ran = true; });
  s.Cancel(id);
  s.Cancel(id);  // twice: no-op
  clock.RunFor(absl::Seconds(2));
  EXPECT_FALSE(ran);
}

TEST(SimSchedulerTest, NegativeDelayRunsNowNotInline) {
  SimClock clock;
  SimScheduler s(&clock);
  bool ran = false;
  s.After(absl::Seconds(-5), [&] { ran = true; });
  EXPECT_FALSE(ran);
  clock.RunFor(absl::ZeroDuration());
  EXPECT_TRUE(ran);
  EXPECT_EQ(s.Now(), absl::UnixEpoch());
}

// Two schedulers on one clock share its time, as nodes of a simulation do.
TEST(SimSchedulerTest, SchedulersShareTheClock) {
  SimClock clock;
  SimScheduler a(&clock, /*owner=*/0), b(&clock, /*owner=*/1);
  std::vector<std::string> ran;
  a.After(absl::Milliseconds(3), [&] { ran.push_back("a"); });
  b.After(absl::Milliseconds(1), [&] { ran.push_back("b"); });
  clock.RunUntil(absl::InfiniteFuture());
  EXPECT_THAT(ran, ElementsAre("b", "a"));
  EXPECT_EQ(a.Now(), absl::UnixEpoch() + absl::Milliseconds(3));
}

}  // namespace
}  // namespace peerlab::runtime
