#include "base/clock.h"

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

TEST(RealClockTest, IsCloseToNow) {
  EXPECT_LT(absl::AbsDuration(Clock::Real().Now() - absl::Now()),
            absl::Seconds(1));
}

}  // namespace
}  // namespace peerlab
