#include "peer/membership/sim/tcp_model.h"

#include <optional>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "peer/membership/sim/sim_seed.h"

namespace peerlab::membership::sim {
namespace {

constexpr absl::Duration kRtt = absl::Milliseconds(2);
const absl::Duration kForever = absl::InfiniteDuration();

TEST(TcpModelTest, SegmentsAreTheBytesOverTheMssAtLeastOne) {
  EXPECT_EQ(TcpSegments(0), 1);
  EXPECT_EQ(TcpSegments(1), 1);
  EXPECT_EQ(TcpSegments(1448), 1);
  EXPECT_EQ(TcpSegments(1449), 2);
  EXPECT_EQ(TcpSegments(100 * 1448), 100);
}

// No loss on either side: nothing added, and nothing drawn (so a lossless
// call leaves every later draw, and the run's trace, as it was).
TEST(TcpModelTest, WithoutLossNothingIsAddedOrDrawn) {
  std::mt19937_64 rng(1), untouched(1);
  EXPECT_EQ(TcpHandshakeDelay(0, 0, kForever, rng), absl::ZeroDuration());
  for (int segments : {1, 10, 11, 100, 1000}) {
    EXPECT_EQ(TcpTransferDelay(segments, 0, 0, kRtt, kForever, rng),
              absl::ZeroDuration())
        << segments;
  }
  EXPECT_EQ(rng(), untouched());
}

// A one-segment message at 80 % loss: it gets through on the first try in
// 20 % of the cases; each loss costs the RTO, 200 ms, doubling.
TEST(TcpModelTest, OneSegmentWaitsTheDoublingRetransmissionTimeouts) {
  const uint64_t seed = SimSeed(1);
  PEERLAB_SIM_TRACE_SEED(seed);
  std::mt19937_64 rng(seed);
  const int n = 20000;
  std::vector<int> by_delay(4, 0);  // 0, 0.2, 0.6, 1.4 s
  int others = 0;
  for (int i = 0; i < n; ++i) {
    const std::optional<absl::Duration> d =
        TcpTransferDelay(1, 0.8, 0, kRtt, kForever, rng);
    ASSERT_TRUE(d.has_value());
    const int64_t ms = absl::ToInt64Milliseconds(*d);
    if (ms == 0) {
      ++by_delay[0];
    } else if (ms == 200) {
      ++by_delay[1];
    } else if (ms == 600) {
      ++by_delay[2];
    } else if (ms == 1400) {
      ++by_delay[3];
    } else {
      ++others;
    }
  }
  // P = 0.2, 0.16, 0.128, 0.1024; the rest beyond 1.4 s.
  EXPECT_NEAR(by_delay[0] / double(n), 0.2, 0.015);
  EXPECT_NEAR(by_delay[1] / double(n), 0.16, 0.015);
  EXPECT_NEAR(by_delay[2] / double(n), 0.128, 0.015);
  EXPECT_NEAR(by_delay[3] / double(n), 0.1024, 0.015);
  EXPECT_NEAR(others / double(n), 0.4096, 0.02);
}

// The handshake at 80 % loss on the callee's side (its SYN-ACKs): the SYN
// timeout is 1 s, doubling; within 2.5 s only the first two attempts.
TEST(TcpModelTest, HandshakeRetriesAfterOneSecondDoubling) {
  const uint64_t seed = SimSeed(2);
  PEERLAB_SIM_TRACE_SEED(seed);
  std::mt19937_64 rng(seed);
  const int n = 20000;
  int first = 0, second = 0, missed = 0;
  for (int i = 0; i < n; ++i) {
    const std::optional<absl::Duration> d =
        TcpHandshakeDelay(0, 0.8, absl::Milliseconds(2500), rng);
    if (!d) {
      ++missed;
    } else if (*d == absl::ZeroDuration()) {
      ++first;
    } else {
      EXPECT_EQ(*d, absl::Seconds(1));
      ++second;
    }
  }
  EXPECT_NEAR(first / double(n), 0.2, 0.015);
  EXPECT_NEAR(second / double(n), 0.16, 0.015);
  EXPECT_NEAR(missed / double(n), 0.64, 0.015);
}

// A push/pull's worth of segments from an 80 % lossy sender does not get
// through within a 30 s timeout, where 5 % loss costs little: what makes
// the difference between a lossy member and a healthy one.
TEST(TcpModelTest, ABulkTransferAtEightyPercentLossMissesItsDeadline) {
  const uint64_t seed = SimSeed(3);
  PEERLAB_SIM_TRACE_SEED(seed);
  std::mt19937_64 rng(seed);
  const int n = 2000;
  int in_time = 0;
  for (int i = 0; i < n; ++i) {
    in_time +=
        TcpTransferDelay(40, 0.8, 0, kRtt, absl::Seconds(30), rng).has_value();
  }
  EXPECT_LT(in_time, n / 100) << in_time << " of " << n;
  int quick = 0;
  for (int i = 0; i < n; ++i) {
    const std::optional<absl::Duration> d =
        TcpTransferDelay(40, 0.05, 0.05, kRtt, absl::Seconds(30), rng);
    ASSERT_TRUE(d.has_value());
    quick += *d <= absl::Milliseconds(500);
  }
  EXPECT_GT(quick, n * 9 / 10) << quick << " of " << n;
}

// Lost ACKs alone do not delay what fits in the initial window (the
// receiver holds it all after one flight); a longer transfer needs ACKs to
// open the window, and waits for timeouts when they are all lost.
TEST(TcpModelTest, LostAcksDelayOnlyWhatNeedsMoreThanTheInitialWindow) {
  const uint64_t seed = SimSeed(4);
  PEERLAB_SIM_TRACE_SEED(seed);
  std::mt19937_64 rng(seed);
  int delayed_small = 0, delayed_large = 0;
  for (int i = 0; i < 1000; ++i) {
    delayed_small += TcpTransferDelay(10, 0, 0.8, kRtt, kForever, rng) !=
                     absl::ZeroDuration();
    delayed_large += TcpTransferDelay(30, 0, 0.8, kRtt, kForever, rng) !=
                     absl::ZeroDuration();
  }
  EXPECT_EQ(delayed_small, 0);
  // All 5 ACKs of the first window lost: 0.8^5 = 33 %.
  EXPECT_GT(delayed_large, 250);
  EXPECT_LT(delayed_large, 420);
}

TEST(TcpModelTest, TheLimitIsNeverExceeded) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) {
    const absl::Duration limit = absl::Milliseconds(1 + i);
    const std::optional<absl::Duration> d =
        TcpTransferDelay(1 + i % 50, 0.6, 0.6, kRtt, limit, rng);
    if (d) EXPECT_LE(*d, limit) << i;
    const std::optional<absl::Duration> h =
        TcpHandshakeDelay(0.6, 0.6, limit, rng);
    if (h) EXPECT_LE(*h, limit) << i;
  }
}

TEST(TcpModelTest, SameSeedSameDelays) {
  std::mt19937_64 a(7), b(7);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(TcpTransferDelay(1 + i % 30, 0.5, 0.3, kRtt, kForever, a),
              TcpTransferDelay(1 + i % 30, 0.5, 0.3, kRtt, kForever, b));
    EXPECT_EQ(TcpHandshakeDelay(0.5, 0.3, absl::Seconds(10), a),
              TcpHandshakeDelay(0.5, 0.3, absl::Seconds(10), b));
  }
}

}  // namespace
}  // namespace peerlab::membership::sim
