#include "peer/runtime/backoff.h"

#include <random>

#include "gtest/gtest.h"

namespace peerlab::runtime {
namespace {

using absl::Milliseconds;
using absl::Seconds;

struct Row {
  int attempt;
  BackoffPolicy policy;
  double u;
  absl::Duration want;
};

TEST(BackoffTest, Table) {
  const BackoffPolicy doubling{.initial = Milliseconds(100), .max = Seconds(5)};
  const BackoffPolicy jittered{.initial = Milliseconds(100),
                               .max = Seconds(2),
                               .multiplier = 2.0,
                               .jitter = 0.2};
  const Row rows[] = {
      // Doubling from the initial delay, up to the cap.
      {1, doubling, 0.5, Milliseconds(100)},
      {2, doubling, 0.5, Milliseconds(200)},
      {3, doubling, 0.5, Milliseconds(400)},
      {6, doubling, 0.5, Milliseconds(3200)},
      {7, doubling, 0.5, Seconds(5)},
      {1000000, doubling, 0.5, Seconds(5)},
      // Attempts below 1 are the first.
      {0, doubling, 0.5, Milliseconds(100)},
      {-3, doubling, 0.5, Milliseconds(100)},
      // Without jitter, the draw does not matter.
      {2, doubling, 0.0, Milliseconds(200)},
      {2, doubling, 1.0, Milliseconds(200)},
      // Jitter: [1 - j, 1 + j] of the capped delay, the cap included.
      {1, jittered, 0.0, Milliseconds(80)},
      {1, jittered, 0.5, Milliseconds(100)},
      {1, jittered, 1.0, Milliseconds(120)},
      {10, jittered, 0.0, Milliseconds(1600)},
      {10, jittered, 1.0, Milliseconds(2400)},
      // Out-of-range draws and jitter are clamped.
      {1, jittered, 7.0, Milliseconds(120)},
      {1, BackoffPolicy{.initial = Seconds(1), .max = Seconds(1), .jitter = 3},
       0.0, absl::ZeroDuration()},
      // Other multipliers; below 1 is 1 (never shrinks).
      {3,
       BackoffPolicy{
           .initial = Seconds(1), .max = Seconds(30), .multiplier = 1.5},
       0.5, Milliseconds(2250)},
      {5,
       BackoffPolicy{
           .initial = Seconds(1), .max = Seconds(30), .multiplier = 0.5},
       0.5, Seconds(1)},
      // A cap below the initial delay: the initial delay.
      {4, BackoffPolicy{.initial = Seconds(2), .max = Seconds(1)}, 0.5,
       Seconds(2)},
      // The lifecycle's bootstrap retry: 1 s doubling to 30 s.
      {5, BackoffPolicy{.initial = Seconds(1), .max = Seconds(30)}, 0.5,
       Seconds(16)},
      {6, BackoffPolicy{.initial = Seconds(1), .max = Seconds(30)}, 0.5,
       Seconds(30)},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(Backoff(row.attempt, row.policy, row.u), row.want)
        << "attempt " << row.attempt << ", u " << row.u;
  }
}

TEST(BackoffTest, RandomDrawStaysInTheJitterBand) {
  std::mt19937_64 rng(7);
  const BackoffPolicy p{
      .initial = Milliseconds(100), .max = Seconds(2), .jitter = 0.2};
  for (int attempt = 1; attempt < 12; ++attempt) {
    const absl::Duration capped = Backoff(attempt, p, 0.5);
    for (int i = 0; i < 50; ++i) {
      const absl::Duration d = Backoff(attempt, p, rng);
      EXPECT_GE(d, capped * 0.8);
      EXPECT_LE(d, capped * 1.2);
    }
  }
}

}  // namespace
}  // namespace peerlab::runtime
