#include "base/clock.h"

#include <thread>

#include "base/testing/eventually.h"
#include "gtest/gtest.h"

namespace peerlab {
namespace {

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.Set(absl::FromUnixSeconds(7));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(7));
}

TEST(FakeClockTest, WaitUntilEndsWhenTheClockReachesTheDeadline) {
  FakeClock clock(absl::FromUnixSeconds(100));
  std::mutex mu;
  std::condition_variable cv;
  bool result = true;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    result = clock.WaitUntil(cv, lock, absl::FromUnixSeconds(110),
                             [] { return false; });
  });
  ASSERT_TRUE(testing::Eventually([&] { return clock.waiters() == 1; }));
  EXPECT_EQ(clock.NextDeadline(), absl::FromUnixSeconds(110));
  clock.Advance(absl::Seconds(9));
  EXPECT_EQ(clock.waiters(), 1);
  clock.Advance(absl::Seconds(1));
  waiter.join();
  EXPECT_FALSE(result);
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(FakeClockTest, WaitUntilEndsWhenDoneHolds) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  bool result = false;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    result =
        clock.WaitUntil(cv, lock, absl::InfiniteFuture(), [&] { return flag; });
  });
  ASSERT_TRUE(testing::Eventually([&] { return clock.waiters() == 1; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    flag = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(result);
}

TEST(RealClockTest, WaitUntilAPastDeadlineReturnsAtOnce) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_FALSE(Clock::Real().WaitUntil(cv, lock, absl::InfinitePast(),
                                       [] { return false; }));
  EXPECT_TRUE(Clock::Real().WaitUntil(cv, lock, absl::InfinitePast(),
                                      [] { return true; }));
}

TEST(RealClockTest, IsCloseToNow) {
  EXPECT_LT(absl::AbsDuration(Clock::Real().Now() - absl::Now()),
            absl::Seconds(1));
}

}  // namespace
}  // namespace peerlab
