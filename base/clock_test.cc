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

// A waiter stays counted from its first check to its return, also while it
// rechecks (every 1 ms, or when woken): before, it unregistered for each
// recheck, so waiters() read 0 while `done` ran (seen here from `done`
// itself) and a test that waited for waiters() or checked it right after
// an Advance could miss a waiter that was still there.
TEST(FakeClockTest, AWaiterIsCountedWhileItRechecks) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  int checks = 0;
  int uncounted = 0;  // rechecks during which waiters() read 0
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    clock.WaitUntil(cv, lock, absl::InfiniteFuture(), [&] {
      if (++checks > 1 && clock.waiters() == 0) ++uncounted;
      return flag;
    });
  });
  ASSERT_TRUE(testing::Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return checks >= 20;
  }));
  clock.Advance(absl::Seconds(1));  // wakes it: one more recheck
  {
    std::lock_guard<std::mutex> lock(mu);
    flag = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_EQ(uncounted, 0) << "of " << checks - 1 << " rechecks";
  EXPECT_EQ(clock.waiters(), 0);
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
