// The one fault plan (peer/runtime/fault_plan.h) on the simulator: each
// node's plan shapes what it sends, below the seal, and the membership
// reacts as it must. Protocol time only; the seed is printed on failure
// (replay with PEERLAB_SIM_SEED=N).
#include <cmath>

#include "gtest/gtest.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"
#include "peer/runtime/fault_plan.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;

sim::NodeId Id(int i) { return static_cast<sim::NodeId>(i); }

SimCluster::Options Opts(int n, uint64_t seed,
                         std::vector<std::string> keys = {}) {
  SimCluster::Options o;
  o.nodes = n;
  o.seed = seed;
  o.config = Config::Local();
  o.keys = std::move(keys);
  return o;
}

absl::Duration AntiEntropyBound(const Config& c, int n) {
  return PushPullScale(c.push_pull_interval, n) * 2;
}

absl::Duration DetectionBound(const Config& c, int n) {
  absl::Duration min = SuspicionTimeout(c.suspicion_mult, n, c.probe_interval);
  return c.probe_interval * 2 * (n - 1) + min * c.suspicion_max_timeout_mult +
         c.gossip_interval * (4 * std::ceil(std::log2(std::max(2, n))));
}

::testing::AssertionResult StartAndConverge(SimCluster& c) {
  c.StartAll();
  const absl::Duration bound = AntiEntropyBound(c.node(0).config(), c.size());
  if (c.RunUntil([&] { return c.Converged(); }, bound)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "not converged within " << bound;
}

runtime::FaultRule Block() {
  runtime::FaultRule r;
  r.block = true;
  return r;
}

// `from` blocks everything it sends to `to`, as the harness's `oneway`
// step asks of a peer.
void OneWay(SimCluster& c, int from, int to) {
  ASSERT_TRUE(
      c.net().faults(Id(from)).Set(c.net().address(Id(to)), Block()).ok());
}

// A partition made of block rules only, as the harness's `partition A,B | C`
// in the local lab: each member blocks every member of the other side.
TEST(FaultPlanSimTest, PartitionOfBlockRulesThenClearReconverges) {
  const uint64_t seed = SimSeed(21);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  auto side = [](int i) { return i < 3; };
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      if (side(a) != side(b)) OneWay(c, a, b);
    }
  }
  const Config& cfg = c.node(0).config();
  // Each side declares the other dead; nobody on its own side.
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int a = 0; a < n; ++a) {
          for (int b = 0; b < n; ++b) {
            if (a == b || side(a) == side(b)) continue;
            if (c.Sees(a, b, MemberState::kAlive) ||
                c.Sees(a, b, MemberState::kSuspect)) {
              return false;
            }
          }
        }
        return true;
      },
      DetectionBound(cfg, n)));
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      if (a != b && side(a) == side(b)) {
        EXPECT_TRUE(c.Sees(a, b, MemberState::kAlive)) << a << " sees " << b;
      }
    }
  }
  EXPECT_GT(c.net().faults(Id(0)).stats().blocked, 0u);
  // heal: the harness clears the rules on every member.
  for (int a = 0; a < n; ++a) c.net().faults(Id(a)).ClearAll();
  const absl::Duration bound =
      PushPullScale(cfg.push_pull_interval, n) * 2 + DetectionBound(cfg, n);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, bound))
      << "not reconverged within " << bound;
}

// A one-way block between two members of three: the blocked member's acks
// do not reach the prober, but indirect probes through the third carry
// them, so nobody is declared dead (Lifeguard hides a one-way fault).
TEST(FaultPlanSimTest, OneWayBlockAmongThreeIsCarriedByIndirectProbes) {
  const uint64_t seed = SimSeed(22);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed));
  ASSERT_TRUE(StartAndConverge(c));
  OneWay(c, 0, 1);
  const Config& cfg = c.node(0).config();
  c.RunFor(DetectionBound(cfg, 3) * 2);
  EXPECT_TRUE(c.Converged());
  EXPECT_EQ(c.false_positive_deaths(), 0);
  // 1 still hears 0 (the other way flows), and 0's datagrams to 1 were cut.
  EXPECT_GT(c.net().faults(Id(0)).stats().blocked, 10u);
  EXPECT_EQ(c.net().stats(Id(1)).packets_dropped, 0u);
}

// The same one-way block with only two members: nobody can carry the acks.
// 1 hears 0's pings but none of its acks, so 1 declares 0 dead; 0 hears
// none of its own pings answered and declares 1 dead. The other way would
// have flowed: 1's datagrams reached 0 all along.
TEST(FaultPlanSimTest, OneWayBlockBetweenTwoSeparatesThem) {
  const uint64_t seed = SimSeed(23);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(2, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const uint64_t received_by_0 = c.net().stats(Id(0)).packets_received;
  OneWay(c, 0, 1);
  const Config& cfg = c.node(0).config();
  ASSERT_TRUE(c.RunUntil(
      [&] {
        return !c.Sees(1, 0, MemberState::kAlive) &&
               !c.Sees(1, 0, MemberState::kSuspect);
      },
      DetectionBound(cfg, 2)));
  EXPECT_TRUE(c.observed(1, 0).suspect.has_value());
  EXPECT_GT(c.net().stats(Id(0)).packets_received, received_by_0);
  // Cleared: they find each other again.
  c.net().faults(Id(0)).ClearAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); },
                         AntiEntropyBound(cfg, 2) + DetectionBound(cfg, 2)));
}

// Every datagram and every sealed request sent twice: the receivers' replay
// windows refuse the second copies, and the group stays converged with no
// false death.
TEST(FaultPlanSimTest, DuplicatesAreAbsorbedByTheReplayWindow) {
  const uint64_t seed = SimSeed(24);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 4;
  SimCluster c(Opts(n, seed, {std::string(32, 'K')}));
  ASSERT_TRUE(StartAndConverge(c));
  runtime::FaultRule dup;
  dup.duplicate = 1.0;
  dup.jitter = absl::Milliseconds(3);  // copies arrive in any order
  uint64_t refused_before = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(c.net().faults(Id(i)).Set("*", dup).ok());
    refused_before += c.node(i).stats().replays_refused;
  }
  c.RunFor(absl::Seconds(30));
  EXPECT_TRUE(c.Converged());
  EXPECT_EQ(c.false_positive_deaths(), 0);
  uint64_t refused = 0, duplicated = 0;
  for (int i = 0; i < n; ++i) {
    refused += c.node(i).stats().replays_refused;
    duplicated += c.net().faults(Id(i)).stats().duplicated;
  }
  refused -= refused_before;
  EXPECT_GT(duplicated, 100u);
  // Every second copy that arrived is refused as a replay (a copy may
  // arrive first: then the original is the one refused).
  EXPECT_GT(refused, duplicated * 9 / 10) << duplicated << " duplicated";
  EXPECT_LE(refused, duplicated);
}

// Loss and delay through the plan, as `netem PEER loss 10% delay 20ms 5ms`
// on one member: the group stays converged, the lossy member's datagrams
// are dropped at about the rate asked.
TEST(FaultPlanSimTest, NetemOnOneMemberKeepsTheGroupConverged) {
  const uint64_t seed = SimSeed(25);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 4;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  runtime::FaultRule netem;
  netem.drop = 0.1;
  netem.delay = absl::Milliseconds(20);
  netem.jitter = absl::Milliseconds(5);
  ASSERT_TRUE(c.net().faults(Id(2)).Set("*", netem).ok());
  c.RunFor(absl::Minutes(2));
  EXPECT_TRUE(c.Converged());
  EXPECT_EQ(c.false_positive_deaths(), 0);
  const runtime::FaultStats s = c.net().faults(Id(2)).stats();
  ASSERT_GT(s.packets, 150u);
  const double rate = static_cast<double>(s.dropped) / s.packets;
  EXPECT_GT(rate, 0.03);
  EXPECT_LT(rate, 0.2);
  EXPECT_EQ(s.delayed, s.packets - s.dropped);
}

// A plan that fails (or hangs) node 0's reliable calls to node 1: push/pull
// and fallback probes fail, gossip still carries the membership.
TEST(FaultPlanSimTest, FailedReliableCallsLeaveGossipWorking) {
  const uint64_t seed = SimSeed(26);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed));
  ASSERT_TRUE(StartAndConverge(c));
  runtime::FaultRule fail;
  fail.call = runtime::CallFault::kFail;
  ASSERT_TRUE(c.net().faults(Id(0)).Set(c.net().address(Id(1)), fail).ok());
  runtime::FaultRule hang;
  hang.call = runtime::CallFault::kHang;
  ASSERT_TRUE(c.net().faults(Id(1)).Set(c.net().address(Id(2)), hang).ok());
  const uint64_t failed_before = c.net().stats(Id(0)).reliable_failed;
  c.RunFor(AntiEntropyBound(c.node(0).config(), 3) * 3);
  EXPECT_TRUE(c.Converged());
  EXPECT_EQ(c.false_positive_deaths(), 0);
  EXPECT_GT(c.net().faults(Id(0)).stats().calls_failed, 0u);
  EXPECT_GT(c.net().stats(Id(0)).reliable_failed, failed_before);
  EXPECT_GT(c.net().faults(Id(1)).stats().calls_hung, 0u);
}

}  // namespace
}  // namespace peerlab::membership
