// Vivaldi coordinates (coordinate.h): table tests of the checks, and the
// algorithm converging on known round-trip times.
#include "peer/membership/coordinate.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(CoordinateTest, OriginIsSerfsStart) {
  CoordinateConfig config;
  Coordinate c = Coordinate::Origin(config);
  EXPECT_EQ(c.vec.size(), 8u);
  EXPECT_EQ(c.error, 1.5);
  EXPECT_EQ(c.adjustment, 0);
  EXPECT_EQ(c.height, 10.0e-6);
  // Two origins are two heights apart.
  EXPECT_EQ(c.DistanceTo(c), absl::Microseconds(20));
}

TEST(CoordinateTest, DistanceAddsHeightsAndAdjustments) {
  CoordinateConfig config;
  config.dimensionality = 2;
  Coordinate a = Coordinate::Origin(config), b = Coordinate::Origin(config);
  a.vec = {0.003, 0};
  b.vec = {0, 0.004};  // 5 ms apart
  a.height = b.height = 0.001;
  EXPECT_NEAR(absl::ToDoubleMilliseconds(a.DistanceTo(b)), 7, 1e-9);
  a.adjustment = 0.0005;
  b.adjustment = 0.0005;
  EXPECT_NEAR(absl::ToDoubleMilliseconds(a.DistanceTo(b)), 8, 1e-9);
  // An adjustment that would make the distance negative is ignored.
  a.adjustment = b.adjustment = -1;
  EXPECT_NEAR(absl::ToDoubleMilliseconds(a.DistanceTo(b)), 7, 1e-9);
}

TEST(CoordinateTest, ConfigValidation) {
  struct Case {
    const char* what;
    void (*change)(CoordinateConfig&);
  };
  const Case cases[] = {
      {"dimensionality", [](CoordinateConfig& c) { c.dimensionality = 0; }},
      {"dimensionality", [](CoordinateConfig& c) { c.dimensionality = 17; }},
      {"latency_filter_size",
       [](CoordinateConfig& c) { c.latency_filter_size = 0; }},
      {"adjustment_window_size",
       [](CoordinateConfig& c) { c.adjustment_window_size = 0; }},
      {"vivaldi_error_max",
       [](CoordinateConfig& c) { c.vivaldi_error_max = 0; }},
      {"vivaldi_ce", [](CoordinateConfig& c) { c.vivaldi_ce = kNaN; }},
      {"vivaldi_cc", [](CoordinateConfig& c) { c.vivaldi_cc = -1; }},
      {"height_min", [](CoordinateConfig& c) { c.height_min = 0; }},
      {"height_min", [](CoordinateConfig& c) { c.height_min = 11; }},
      {"gravity_rho", [](CoordinateConfig& c) { c.gravity_rho = kInf; }},
  };
  EXPECT_TRUE(CoordinateConfig().Validate().ok());
  for (const Case& c : cases) {
    CoordinateConfig config;
    c.change(config);
    absl::Status s = config.Validate();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << c.what;
    EXPECT_NE(s.message().find(c.what), absl::string_view::npos)
        << c.what << ": " << s;
  }
}

TEST(CoordinateTest, CheckRefusesWhatTheWireMustNotBring) {
  struct Case {
    const char* name;
    const char* says;
    void (*change)(Coordinate&);
  };
  const Case cases[] = {
      {"too few dimensions", "dimension",
       [](Coordinate& c) { c.vec.pop_back(); }},
      {"too many dimensions", "dimension",
       [](Coordinate& c) { c.vec.push_back(0); }},
      {"no dimensions", "dimension", [](Coordinate& c) { c.vec.clear(); }},
      {"NaN component", "non-finite", [](Coordinate& c) { c.vec[3] = kNaN; }},
      {"infinite component", "non-finite",
       [](Coordinate& c) { c.vec[0] = -kInf; }},
      {"NaN error", "non-finite", [](Coordinate& c) { c.error = kNaN; }},
      {"infinite height", "non-finite", [](Coordinate& c) { c.height = kInf; }},
      {"NaN adjustment", "non-finite",
       [](Coordinate& c) { c.adjustment = kNaN; }},
      {"far component", "component", [](Coordinate& c) { c.vec[7] = 10.5; }},
      {"negative error", "error", [](Coordinate& c) { c.error = -0.1; }},
      {"error above max", "error", [](Coordinate& c) { c.error = 1.6; }},
      {"height below min", "height", [](Coordinate& c) { c.height = 1e-6; }},
      {"height too high", "height", [](Coordinate& c) { c.height = 11; }},
      {"adjustment too large", "adjustment",
       [](Coordinate& c) { c.adjustment = -10.5; }},
  };
  CoordinateConfig config;
  Coordinate good = Coordinate::Origin(config);
  good.vec[2] = 9.9;
  good.error = 0;
  good.adjustment = -9.9;
  EXPECT_TRUE(CheckCoordinate(good, config).ok());
  for (const Case& c : cases) {
    Coordinate bad = Coordinate::Origin(config);
    c.change(bad);
    absl::Status s = CheckCoordinate(bad, config);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << c.name;
    EXPECT_NE(s.message().find(c.says), absl::string_view::npos)
        << c.name << ": " << s;
  }
}

TEST(CoordinateTest, UpdateRefusesBadInputAndChangesNothing) {
  CoordinateConfig config;
  CoordinateClient client(config, 16, 1);
  const Coordinate before = client.coordinate();
  Coordinate bad = Coordinate::Origin(config);
  bad.vec[0] = kNaN;
  EXPECT_TRUE(
      absl::IsInvalidArgument(client.Update("b", bad, absl::Milliseconds(1))));
  const Coordinate other = Coordinate::Origin(config);
  EXPECT_TRUE(absl::IsInvalidArgument(
      client.Update("b", other, absl::Milliseconds(-1))));
  EXPECT_TRUE(
      absl::IsInvalidArgument(client.Update("b", other, absl::Seconds(11))));
  EXPECT_EQ(client.rejected(), 3u);
  EXPECT_EQ(client.coordinate(), before);
  EXPECT_EQ(client.size(), 0u);
  EXPECT_EQ(client.CoordinateOf("b"), nullptr);
}

TEST(CoordinateTest, LatencyFilterTakesTheMedianOfTheLastThree) {
  CoordinateConfig config;
  CoordinateClient client(config, 16, 1);
  const Coordinate other = Coordinate::Origin(config);
  ASSERT_TRUE(client.Update("b", other, absl::Milliseconds(10)).ok());
  EXPECT_EQ(client.MeasuredRtt("b"), absl::Milliseconds(10));
  ASSERT_TRUE(client.Update("b", other, absl::Milliseconds(100)).ok());
  ASSERT_TRUE(client.Update("b", other, absl::Milliseconds(11)).ok());
  EXPECT_EQ(client.MeasuredRtt("b"), absl::Milliseconds(11));  // 100 ignored
  ASSERT_TRUE(client.Update("b", other, absl::Milliseconds(12)).ok());
  EXPECT_EQ(client.MeasuredRtt("b"), absl::Milliseconds(12));  // 10 dropped
  EXPECT_EQ(client.MeasuredRtt("c"), std::nullopt);
}

TEST(CoordinateTest, TwoNodesAtTheSamePlaceMoveApart) {
  CoordinateConfig config;
  CoordinateClient a(config, 16, 1);
  ASSERT_TRUE(
      a.Update("b", Coordinate::Origin(config), absl::Milliseconds(10)).ok());
  double norm = 0;
  for (double v : a.coordinate().vec) norm += v * v;
  EXPECT_GT(norm, 0);
  EXPECT_TRUE(a.coordinate().IsFinite());
}

TEST(CoordinateTest, TwoNodesConvergeOnTheirRtt) {
  CoordinateConfig config;
  CoordinateClient a(config, 16, 1), b(config, 16, 2);
  const absl::Duration rtt = absl::Milliseconds(10);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(a.Update("b", b.coordinate(), rtt).ok());
    ASSERT_TRUE(b.Update("a", a.coordinate(), rtt).ok());
  }
  EXPECT_NEAR(
      absl::ToDoubleMilliseconds(a.coordinate().DistanceTo(b.coordinate())), 10,
      0.5);
  EXPECT_LT(a.coordinate().error, 0.1);
  EXPECT_LT(b.coordinate().error, 0.1);
}

// Nodes on a plane, RTT the distance plus a per-node access delay (the
// height vector's case): every estimate converges within 25 %.
TEST(CoordinateTest, ManyNodesConvergeOnAPlaneWithHeights) {
  CoordinateConfig config;
  constexpr int kNodes = 25;
  Random rng(7);
  std::vector<double> x(kNodes), y(kNodes), access(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    x[i] = rng.UniformDouble() * 0.05;  // a 50 ms square
    y[i] = rng.UniformDouble() * 0.05;
    access[i] = 0.0005 + rng.UniformDouble() * 0.002;
  }
  auto true_rtt = [&](int i, int j) {
    return std::hypot(x[i] - x[j], y[i] - y[j]) + access[i] + access[j];
  };
  std::vector<CoordinateClient> clients;
  for (int i = 0; i < kNodes; ++i) clients.emplace_back(config, kNodes, i + 1);
  for (int round = 0; round < 1000; ++round) {
    for (int i = 0; i < kNodes; ++i) {
      int j = static_cast<int>(rng.Uniform(kNodes - 1));
      if (j >= i) ++j;
      ASSERT_TRUE(clients[i]
                      .Update(std::to_string(j), clients[j].coordinate(),
                              absl::Seconds(true_rtt(i, j)))
                      .ok());
    }
  }
  // As Serf's performance tests measure it: the relative error of every
  // pair's estimate. Vivaldi fits, it does not solve: a few pairs stay off.
  double worst = 0, sum = 0;
  int pairs = 0, within = 0;
  for (int i = 0; i < kNodes; ++i) {
    for (int j = i + 1; j < kNodes; ++j) {
      const double est = absl::ToDoubleSeconds(
          clients[i].coordinate().DistanceTo(clients[j].coordinate()));
      const double err = std::abs(est - true_rtt(i, j)) / true_rtt(i, j);
      worst = std::max(worst, err);
      sum += err;
      ++pairs;
      if (err <= 0.25) ++within;
    }
  }
  std::printf("pairs %d within 25%%: %d, mean error %.4f, worst %.4f\n", pairs,
              within, sum / pairs, worst);
  EXPECT_LT(sum / pairs, 0.05);
  EXPECT_GE(within, pairs * 95 / 100);
}

TEST(CoordinateTest, CacheIsBoundedAndForgets) {
  CoordinateConfig config;
  CoordinateClient client(config, 2, 1);
  const Coordinate other = Coordinate::Origin(config);
  ASSERT_TRUE(client.Update("a", other, absl::Milliseconds(1)).ok());
  ASSERT_TRUE(client.Update("b", other, absl::Milliseconds(1)).ok());
  ASSERT_TRUE(client.Update("a", other, absl::Milliseconds(1)).ok());
  ASSERT_TRUE(client.Update("c", other, absl::Milliseconds(1)).ok());
  EXPECT_EQ(client.size(), 2u);
  EXPECT_EQ(client.evicted(), 1u);
  EXPECT_EQ(client.CoordinateOf("b"), nullptr);  // updated longest ago
  ASSERT_NE(client.CoordinateOf("a"), nullptr);
  client.Forget("a");
  EXPECT_EQ(client.CoordinateOf("a"), nullptr);
  EXPECT_EQ(client.MeasuredRtt("a"), std::nullopt);
  ASSERT_EQ(client.Cached().size(), 1u);
  EXPECT_EQ(client.Cached()[0].first, "c");
}

TEST(CoordinateTest, StaysFiniteUnderExtremeRtts) {
  CoordinateConfig config;
  CoordinateClient a(config, 16, 1);
  Coordinate far = Coordinate::Origin(config);
  for (double& v : far.vec) v = 10;
  far.height = 10;
  far.error = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        a.Update("far", far, i % 2 ? kMaxRtt : absl::ZeroDuration()).ok());
    ASSERT_TRUE(a.coordinate().IsFinite());
  }
}

}  // namespace
}  // namespace peerlab::membership
