#include "peer/membership/protocol_math.h"

#include <limits>
#include <set>

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

TEST(SuspicionTimeoutTest, Table) {
  struct Case {
    int mult, n;
    absl::Duration interval, want;
  };
  // Values from memberlist's TestSuspicionTimeout (util_test.go), scaled.
  for (const Case& c : std::vector<Case>{
           {3, 1, absl::Seconds(1), absl::Seconds(3)},
           {3, 5, absl::Seconds(1), absl::Seconds(3)},
           {3, 10, absl::Seconds(1), absl::Seconds(3)},
           {3, 50, absl::Seconds(1), absl::Milliseconds(5094)},
           {3, 100, absl::Seconds(1), absl::Seconds(6)},
           {3, 1000, absl::Seconds(1), absl::Seconds(9)},
           {4, 1000, absl::Milliseconds(500), absl::Seconds(6)},
           {3, 0, absl::Seconds(1), absl::Seconds(3)},
       }) {
    EXPECT_EQ(SuspicionTimeout(c.mult, c.n, c.interval), c.want)
        << "mult " << c.mult << " n " << c.n;
  }
}

TEST(WithinIncarnationWindowTest, Table) {
  struct Case {
    uint64_t known, claimed, window;
    bool want;
  };
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (const Case& c : std::vector<Case>{
           {5, 0, 1024, true},      // old news: for the precedence rules
           {5, 5, 1024, true},      // the same incarnation
           {5, 6, 1024, true},      // a refutation
           {5, 1029, 1024, true},   // the edge of the window
           {5, 1030, 1024, false},  // one beyond
           {5, 1'000'005, 1024, false},
           {0, kMax, 1024, false},         // no wrap-around in the difference
           {kMax - 10, kMax, 1024, true},  // no overflow of known + window
           {kMax, 0, 1024, true},
           {0, kMax, kMax, true},  // an unbounded window admits anything
           {7, 8, 1, true},
           {7, 9, 1, false},
       }) {
    EXPECT_EQ(WithinIncarnationWindow(c.known, c.claimed, c.window), c.want)
        << "known " << c.known << " claimed " << c.claimed << " window "
        << c.window;
  }
  static_assert(WithinIncarnationWindow(1, 2, 1));
}

TEST(WithinLamportWindowTest, Table) {
  struct Case {
    uint64_t clock, claimed, window;
    bool want;
  };
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  constexpr uint64_t kW = uint64_t{1} << 32;
  for (const Case& c : std::vector<Case>{
           {5, 0, kW, true},                   // older: for the stamp rules
           {5, 5, kW, true},                   // the same time
           {0, kW, kW, true},                  // a late joiner, at the edge
           {0, kW + 1, kW, false},             // one beyond
           {100, 100 + (kW << 1), kW, false},  // clock + 2^33
           {0, uint64_t{1} << 62, kW, false},  // a forgery at the cap
           {0, kMax, kW, false},         // no wrap-around in the difference
           {kMax - 10, kMax, kW, true},  // no overflow of clock + window
           {kMax, 0, kW, true},
           {0, kMax, kMax, true},  // an unbounded window admits anything
           {7, 8, 1, true},
           {7, 9, 1, false},
       }) {
    EXPECT_EQ(WithinLamportWindow(c.clock, c.claimed, c.window), c.want)
        << "clock " << c.clock << " claimed " << c.claimed << " window "
        << c.window;
  }
  static_assert(!WithinLamportWindow(0, uint64_t{1} << 62, uint64_t{1} << 32));
}

TEST(RetransmitLimitTest, Table) {
  struct Case {
    int mult, n, want;
  };
  // memberlist TestRetransmitLimit: (3, 0) -> 0, (3, 1) -> 3, (3, 99) -> 6.
  for (const Case& c : std::vector<Case>{{3, 0, 0},
                                         {3, 1, 3},
                                         {3, 9, 3},
                                         {3, 10, 6},
                                         {3, 99, 6},
                                         {3, 100, 9},
                                         {4, 1000, 16},
                                         {2, 10000, 10}}) {
    EXPECT_EQ(RetransmitLimit(c.mult, c.n), c.want) << c.mult << " " << c.n;
  }
}

TEST(UserBroadcastFloorTest, Table) {
  for (const auto& [n, want] : std::vector<std::pair<int, int>>{
           {0, 0}, {1, 0}, {2, 3}, {5, 12}, {9, 24}, {10, 0}, {1000, 0}}) {
    EXPECT_EQ(UserBroadcastFloor(n), want) << n;
  }
}

TEST(RemainingSuspicionTimeTest, Table) {
  struct Case {
    int n, k;
    absl::Duration elapsed, min, max, want;
  };
  const absl::Duration s = absl::Seconds(1);
  // memberlist TestSuspicion_remainingSuspicionTime.
  for (const Case& c : std::vector<Case>{
           {0, 3, 0 * s, 2 * s, 30 * s, 30 * s},
           {1, 3, 2 * s, 2 * s, 30 * s, 14 * s},
           {2, 3, 3 * s, 2 * s, 30 * s, absl::Milliseconds(4810)},
           {3, 3, 4 * s, 2 * s, 30 * s, -2 * s},
           {4, 3, 5 * s, 2 * s, 30 * s, -3 * s},
           {5, 3, 10 * s, 2 * s, 30 * s, -8 * s},
           {0, 0, 1 * s, 2 * s, 30 * s, 1 * s},
       }) {
    EXPECT_EQ(RemainingSuspicionTime(c.n, c.k, c.elapsed, c.min, c.max), c.want)
        << "n " << c.n << " k " << c.k;
  }
}

TEST(ExpectedConfirmationsTest, Table) {
  struct Case {
    int configured, mult, n;
    bool lifeguard;
    int want;
  } cases[] = {
      {-1, 4, 10, true, 2},  // memberlist: suspicion_mult - 2
      {-1, 3, 10, true, 1},  // Local
      {-1, 2, 10, true, 0},  // a low minimum no longer means no K...
      {2, 2, 10, true, 2},   // ...once K is given (Config::Lan())
      {2, 2, 4, true, 2},    // 2 others can confirm
      {2, 2, 3, true, 0},    // 1 other cannot give 2: none expected
      {3, 4, 100, true, 3}, {2, 2, 10, false, 0},  // Lifeguard off
      {0, 4, 10, true, 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ExpectedConfirmations(c.configured, c.mult, c.n, c.lifeguard),
              c.want)
        << c.configured << " " << c.mult << " " << c.n;
  }
}

// Config::Lan()'s numbers at N = 10: a crash confirmed twice is declared
// after 2 s (memberlist: 4 s); one confirmation leaves 10.12 s, none 24 s,
// as memberlist's maximum.
TEST(ExpectedConfirmationsTest, LanProfileTimeouts) {
  const absl::Duration min = SuspicionTimeout(2, 10, absl::Seconds(1));
  EXPECT_EQ(min, absl::Seconds(2));
  const absl::Duration max = 12 * min;
  EXPECT_EQ(max, SuspicionTimeout(4, 10, absl::Seconds(1)) * 6);
  const int k = ExpectedConfirmations(2, 2, 10, true);
  EXPECT_EQ(RemainingSuspicionTime(0, k, absl::ZeroDuration(), min, max),
            absl::Seconds(24));
  EXPECT_EQ(RemainingSuspicionTime(1, k, absl::ZeroDuration(), min, max),
            absl::Milliseconds(10119));
  EXPECT_EQ(RemainingSuspicionTime(2, k, absl::ZeroDuration(), min, max),
            absl::Seconds(2));
}

TEST(PushPullScaleTest, Table) {
  const absl::Duration base = absl::Seconds(1);
  // memberlist TestPushPullScale.
  EXPECT_EQ(PushPullScale(base, 1), base);
  EXPECT_EQ(PushPullScale(base, 32), base);
  EXPECT_EQ(PushPullScale(base, 33), 2 * base);
  EXPECT_EQ(PushPullScale(base, 64), 2 * base);
  EXPECT_EQ(PushPullScale(base, 65), 3 * base);
  EXPECT_EQ(PushPullScale(base, 128), 3 * base);
  EXPECT_EQ(PushPullScale(base, 129), 4 * base);
}

TEST(RandomIndicesTest, DistinctAndFiltered) {
  Random rng(42);
  for (int round = 0; round < 100; ++round) {
    std::vector<int> got =
        RandomIndices(3, 10, rng, [](int i) { return i % 2 == 0; });
    EXPECT_EQ(got.size(), 3u);
    std::set<int> unique(got.begin(), got.end());
    EXPECT_EQ(unique.size(), got.size());
    for (int i : got) EXPECT_EQ(i % 2, 1);
  }
  EXPECT_TRUE(RandomIndices(3, 0, rng, [](int) { return false; }).empty());
  EXPECT_TRUE(RandomIndices(3, 5, rng, [](int) { return true; }).empty());
  EXPECT_EQ(RandomIndices(10, 4, rng, [](int) { return false; }).size() <= 4u,
            true);
}

TEST(RandomIndicesTest, SameSeedSameChoice) {
  Random a(7), b(7);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(RandomIndices(3, 100, a, [](int) { return false; }),
              RandomIndices(3, 100, b, [](int) { return false; }));
  }
}

}  // namespace
}  // namespace peerlab::membership
