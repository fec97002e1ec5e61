// Network coordinates on the simulator: piggybacked on probes, they
// estimate the simulated links' round trips; bad ones from the wire are
// refused; departed members' are dropped.
#include <cmath>
#include <cstdio>
#include <vector>

#include "gtest/gtest.h"
#include "peer/membership/coordinate.h"
#include "peer/membership/sim_cluster.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

// Members on a plane 40 ms across, each with its own access delay (what
// the height models): the one-way latency of a -> b is half of
// distance + access(a) + access(b), so the link's round trip is the sum.
struct Topology {
  std::vector<double> x, y, access;  // seconds
  explicit Topology(int n, uint64_t seed) {
    Random rng(seed);
    for (int i = 0; i < n; ++i) {
      x.push_back(rng.UniformDouble() * 0.04);
      y.push_back(rng.UniformDouble() * 0.04);
      access.push_back(0.0005 + rng.UniformDouble() * 0.002);
    }
  }
  absl::Duration Rtt(int a, int b) const {
    return absl::Seconds(std::hypot(x[a] - x[b], y[a] - y[b]) + access[a] +
                         access[b]);
  }
};

SimCluster::Options Options(int nodes) {
  SimCluster::Options options;
  options.nodes = nodes;
  options.config.probe_interval = absl::Milliseconds(200);
  options.config.probe_timeout = absl::Milliseconds(150);
  return options;
}

// Every pair's estimate, as node a computes it (its own coordinate and
// b's last), is within 25 % of the link's round trip. Two minutes of
// virtual time: ~600 probes per node, ~65 per pair.
TEST(CoordinateSimTest, EstimatesTheSimulatedLinkRtt) {
  constexpr int kNodes = 10;
  SimCluster cluster(Options(kNodes));
  const Topology topology(kNodes, 3);
  for (int a = 0; a < kNodes; ++a) {
    for (int b = 0; b < kNodes; ++b) {
      if (a == b) continue;
      sim::LinkOptions link;
      link.latency = topology.Rtt(a, b) / 2;
      link.jitter = absl::ZeroDuration();
      cluster.net().SetLink(a, b, link);
    }
  }
  cluster.StartAll();
  ASSERT_TRUE(
      cluster.RunUntil([&] { return cluster.Converged(); }, absl::Seconds(30)));
  cluster.RunFor(absl::Minutes(2));
  double worst = 0, sum = 0;
  int pairs = 0;
  for (int a = 0; a < kNodes; ++a) {
    for (int b = 0; b < kNodes; ++b) {
      if (a == b) continue;
      absl::StatusOr<absl::Duration> est =
          cluster.node(a).EstimateRtt(cluster.name(a), cluster.name(b));
      ASSERT_TRUE(est.ok()) << a << "->" << b << ": " << est.status();
      const double truth = absl::ToDoubleSeconds(topology.Rtt(a, b));
      const double err = std::abs(absl::ToDoubleSeconds(*est) - truth) / truth;
      worst = std::max(worst, err);
      sum += err;
      ++pairs;
      EXPECT_LE(err, 0.25) << cluster.name(a) << " -> " << cluster.name(b)
                           << ": estimate " << absl::FormatDuration(*est)
                           << ", link "
                           << absl::FormatDuration(topology.Rtt(a, b));
      // What the probes measured is the link's round trip (no jitter).
      std::optional<absl::Duration> measured =
          cluster.node(a).coordinates()->MeasuredRtt(cluster.name(b));
      ASSERT_TRUE(measured.has_value());
      EXPECT_NEAR(absl::ToDoubleSeconds(*measured), truth, 1e-4);
    }
  }
  std::printf("%d pairs: mean error %.4f, worst %.4f\n", pairs, sum / pairs,
              worst);
  // Any member may ask about any two it holds coordinates of.
  EXPECT_TRUE(
      cluster.node(0).EstimateRtt(cluster.name(3), cluster.name(7)).ok());
  EXPECT_TRUE(absl::IsNotFound(
      cluster.node(0).EstimateRtt(cluster.name(3), "nobody").status()));
}

TEST(CoordinateSimTest, DepartedMembersAreDroppedAndCoordinatesCanBeOff) {
  SimCluster::Options options = Options(4);
  SimCluster cluster(options);
  cluster.StartAll();
  ASSERT_TRUE(
      cluster.RunUntil([&] { return cluster.Converged(); }, absl::Seconds(30)));
  cluster.RunFor(absl::Seconds(10));
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(cluster.node(i).coordinates()->CoordinateOf(cluster.name(3)),
              nullptr)
        << i;
  }
  cluster.Crash(3);
  ASSERT_TRUE(
      cluster.RunUntil([&] { return cluster.AllSee(3, MemberState::kDead); },
                       absl::Seconds(60)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.node(i).coordinates()->CoordinateOf(cluster.name(3)),
              nullptr)
        << i;
    EXPECT_EQ(cluster.node(i).coordinates()->size(), 2u) << i;
    EXPECT_TRUE(
        absl::IsNotFound(cluster.node(i)
                             .EstimateRtt(cluster.name(i), cluster.name(3))
                             .status()));
  }
  // Coordinates off: no client, and the RTT question says why.
  SimCluster::Options off = Options(2);
  off.config.coordinates = false;
  SimCluster quiet(off);
  quiet.StartAll();
  ASSERT_TRUE(
      quiet.RunUntil([&] { return quiet.Converged(); }, absl::Seconds(30)));
  EXPECT_EQ(quiet.node(0).coordinates(), nullptr);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      quiet.node(0).EstimateRtt(quiet.name(0), quiet.name(1)).status()));
  EXPECT_TRUE(quiet.node(0).Coordinates().empty());
}

TEST(CoordinateWireTest, FromProtoChecksBeforeUse) {
  CoordinateConfig config;
  ::peer::v1::Coordinate wire;
  CoordinateToProto(Coordinate::Origin(config), &wire);
  absl::StatusOr<Coordinate> back = CoordinateFromProto(wire, config);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Coordinate::Origin(config));

  struct Case {
    const char* name;
    void (*change)(::peer::v1::Coordinate&);
  };
  const Case cases[] = {
      {"no vec", [](::peer::v1::Coordinate& c) { c.clear_vec(); }},
      {"huge vec",
       [](::peer::v1::Coordinate& c) {
         for (int i = 0; i < 8000; ++i) c.add_vec(0);
       }},
      {"NaN", [](::peer::v1::Coordinate& c) { c.set_vec(1, std::nan("")); }},
      {"inf height", [](::peer::v1::Coordinate& c) { c.set_height(HUGE_VAL); }},
      {"far", [](::peer::v1::Coordinate& c) { c.set_vec(0, 1e300); }},
      {"negative error", [](::peer::v1::Coordinate& c) { c.set_error(-1); }},
      {"zero height", [](::peer::v1::Coordinate& c) { c.set_height(0); }},
  };
  for (const Case& c : cases) {
    ::peer::v1::Coordinate bad = wire;
    c.change(bad);
    EXPECT_TRUE(
        absl::IsInvalidArgument(CoordinateFromProto(bad, config).status()))
        << c.name;
  }
}

}  // namespace
}  // namespace peerlab::membership
