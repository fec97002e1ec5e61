#include "peer/cluster/lamport_clock.h"

#include <vector>

#include "gtest/gtest.h"

namespace peerlab::cluster {
namespace {

using W = LamportClock::Witness;

TEST(LamportClockTest, ObserveAndIncrementTable) {
  struct Step {
    enum { kObserve, kIncrement } op;
    uint64_t t;     // Observe's argument
    W witness;      // Observe's result
    uint64_t time;  // Time() afterwards
  };
  const uint64_t w = 100;
  const std::vector<Step> steps = {
      {Step::kIncrement, 0, W::kAdvanced, 1},
      {Step::kObserve, 1, W::kBehind, 1},
      {Step::kObserve, 0, W::kBehind, 1},
      {Step::kObserve, 50, W::kAdvanced, 50},
      {Step::kIncrement, 0, W::kAdvanced, 51},
      {Step::kObserve, 51 + w, W::kAdvanced, 51 + w},  // the window's edge
      {Step::kObserve, 151 + w + 1, W::kIgnored, 151},
      {Step::kObserve, kMaxLamport + 1, W::kRefused, 151},
      {Step::kObserve, ~uint64_t{0}, W::kRefused, 151},
      {Step::kIncrement, 0, W::kAdvanced, 152},
  };
  LamportClock clock(w);
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    if (s.op == Step::kObserve) {
      EXPECT_EQ(clock.Observe(s.t), s.witness) << "step " << i;
    } else {
      auto t = clock.Increment();
      ASSERT_TRUE(t.ok()) << t.status();
      EXPECT_EQ(*t, s.time) << "step " << i;
    }
    EXPECT_EQ(clock.Time(), s.time) << "step " << i;
  }
  EXPECT_EQ(clock.jumps_ignored(), 1u);
  EXPECT_EQ(clock.refused(), 2u);
}

TEST(LamportClockTest, NeverWraps) {
  // A window as wide as the whole range: the cap is what stops it.
  LamportClock clock(~uint64_t{0});
  EXPECT_EQ(clock.Observe(kMaxLamport - 1), W::kAdvanced);
  EXPECT_TRUE(clock.Acceptable(kMaxLamport));
  EXPECT_FALSE(clock.Acceptable(kMaxLamport + 1));
  auto t = clock.Increment();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, kMaxLamport);
  auto over = clock.Increment();
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(clock.Time(), kMaxLamport);
}

TEST(LamportClockTest, DefaultWindowAcceptsALateJoinersJump) {
  LamportClock clock;
  EXPECT_EQ(clock.window(), kLamportWindow);
  EXPECT_EQ(clock.Observe(1'000'000), W::kAdvanced);  // joined late
  EXPECT_EQ(clock.Observe(1'000'000 + kLamportWindow + 1), W::kIgnored);
}

}  // namespace
}  // namespace peerlab::cluster
