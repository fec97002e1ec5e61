// The sick-network scenarios of peerlab-sim (issue 17) make the faults they
// promise, observed on the simulated network itself (small N, virtual
// time): flip-flopped members hear nothing during an on-phase and hear
// again during an off-phase; lossy members lose about the share asked;
// the oneway member is reachable from exactly one other; every member of
// mass-restart restarts once, within the window, as a new process.
#include <map>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"
#include "peer/membership/tool/sim_runner.h"

namespace peerlab::membership::tool {
namespace {

using Outcome = sim::PacketEvent::Outcome;

struct Delivery {
  double t;  // seconds since the start
  sim::NodeId from, to;
  Outcome outcome;
};

// Records every datagram's fate.
std::function<void(SimCluster&)> Record(std::vector<Delivery>* out) {
  return [out](SimCluster& c) {
    const absl::Time start = c.Now();
    c.net().SetPacketObserver([out, start](const sim::PacketEvent& p) {
      out->push_back(
          {absl::ToDoubleSeconds(p.time - start), p.from, p.to, p.outcome});
    });
  };
}

TEST(SickScenariosTest, FlipFlopDropsAllIngressDuringTheOnPhaseOnly) {
  SimRunOptions o;
  o.nodes = 30;
  o.scenario = Scenario::kFlipFlop;
  o.flip_members = 2;
  o.flip_on = absl::Seconds(5);
  o.flip_off = absl::Seconds(5);
  o.duration = absl::Seconds(60);
  std::vector<Delivery> log;
  o.on_cluster = Record(&log);
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->fault_at.has_value());
  ASSERT_EQ(r->faulty.size(), 2u);
  const double fault = absl::ToDoubleSeconds(*r->fault_at);
  // Cycles of 10 s from the fault: [fault, fault+5) on, [fault+5, +10) off.
  auto on_phase = [&](double t) {
    return t >= fault && std::fmod(t - fault, 10.0) < 5.0;
  };
  ASSERT_EQ(r->fault_spans.size(), 6u);  // 58.6 s of faults: 6 on-phases
  EXPECT_DOUBLE_EQ(r->fault_spans[0].from, fault);
  EXPECT_DOUBLE_EQ(r->fault_spans[0].to, fault + 5);
  const std::set<sim::NodeId> flipped(r->faulty.begin(), r->faulty.end());
  std::map<int, int> heard_in_off_phase;  // cycle -> datagrams delivered
  uint64_t stopped = 0, delivered_in_on_phase = 0;
  for (const Delivery& d : log) {
    if (!flipped.count(d.to) || d.t < fault) continue;
    // Within a microsecond of a phase change the order of events at the
    // same instant decides; leave those out.
    const double in_cycle = std::fmod(d.t - fault, 10.0);
    if (in_cycle < 1e-6 || std::abs(in_cycle - 5.0) < 1e-6) continue;
    if (on_phase(d.t)) {
      if (d.outcome == Outcome::kDelivered) ++delivered_in_on_phase;
      if (d.outcome == Outcome::kUnreachable) ++stopped;
    } else if (d.outcome == Outcome::kDelivered) {
      ++heard_in_off_phase[static_cast<int>((d.t - fault) / 10.0)];
    }
  }
  EXPECT_EQ(delivered_in_on_phase, 0u);
  EXPECT_GT(stopped, 100u);
  // Counted at the receivers: at least the datagrams (calls come on top).
  EXPECT_GE(r->ingress_dropped, stopped);
  for (int cycle = 0; cycle < 5; ++cycle) {
    EXPECT_GT(heard_in_off_phase[cycle], 0) << "cycle " << cycle;
  }
  // The members that hear nothing declare others dead; that is no false
  // removal, and the flipped members' own deaths are no false positives.
  EXPECT_EQ(r->false_positives, 0);
  EXPECT_GE(r->removal_windows, 5);
}

TEST(SickScenariosTest, EgressLossLosesTheShareAskedOfTheLossyMembersOnly) {
  SimRunOptions o;
  o.nodes = 40;
  o.scenario = Scenario::kEgressLoss;
  o.egress_share = 0.05;  // 2 members
  o.egress_loss = 0.8;
  o.duration = absl::Seconds(60);
  std::vector<Delivery> log;
  o.on_cluster = Record(&log);
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->faulty.size(), 2u);
  const double fault = absl::ToDoubleSeconds(*r->fault_at);
  const std::set<sim::NodeId> lossy(r->faulty.begin(), r->faulty.end());
  uint64_t sent = 0, lost = 0, others_lost = 0;
  for (const Delivery& d : log) {
    if (d.t < fault) continue;
    if (!lossy.count(d.from)) {
      others_lost += d.outcome == Outcome::kLost;
      continue;
    }
    ++sent;
    lost += d.outcome == Outcome::kLost;
  }
  ASSERT_GT(sent, 200u);
  const double rate = double(lost) / double(sent);
  EXPECT_GT(rate, 0.72) << lost << " of " << sent;
  EXPECT_LT(rate, 0.88) << lost << " of " << sent;
  EXPECT_EQ(others_lost, 0u);
  EXPECT_EQ(r->egress_dropped, lost);
  EXPECT_EQ(r->ingress_dropped, 0u);
}

// Rapid (USENIX ATC 2018, section 7): with 1 % of the members losing 80 %
// of their egress, memberlist never removed them and its members' views
// disagreed. The lossy members' TCP calls now suffer their loss too
// (sim/tcp_model.h), so the memberlist baseline shows both: the lossy
// members keep refuting, while their own unilateral deaths of healthy
// members (a gossiped dead is a death in memberlist) split the healthy
// members' views. peerlab, in the same simulator and seeds, removes the
// lossy members everywhere at one moment. Before (reliable calls never
// lost): the baseline's fallback probes always answered, nobody suspected
// the lossy members, and its views agreed in 100 % of the samples (seeds
// 1-3 at this size: "Expected: (disagreeing) >= (2), actual: 0 vs 2").
// The baseline's disagreement depends on the run (47.8 %, 51.3 % and
// 93.8 % on seeds 1-3; 100 % on seed 4 at this size, 76 % at N = 1,000):
// asserted on at least 2 seeds of 3.
TEST(SickScenariosTest, EgressLossBaselineDisagreesWherePeerlabRemoves) {
  const uint64_t base = sim::SimSeed(1);
  int disagreeing = 0;
  for (uint64_t seed = base; seed < base + 3; ++seed) {
    PEERLAB_SIM_TRACE_SEED(seed);
    SimRunOptions o;
    o.nodes = 200;
    o.seed = seed;
    o.scenario = Scenario::kEgressLoss;
    o.egress_share = 0.02;  // 4 members
    o.duration = absl::Seconds(120);
    o.memberlist_compat = true;
    auto baseline = RunSimulation(o);
    ASSERT_TRUE(baseline.ok()) << baseline.status();
    SCOPED_TRACE("memberlist baseline:\n" + FormatReport(*baseline));
    ASSERT_GT(baseline->removal_windows, 0);
    EXPECT_FALSE(baseline->removed_after.has_value());  // never all removed
    ASSERT_TRUE(baseline->agreement_pct.has_value());
    disagreeing += *baseline->agreement_pct < 99;

    o.memberlist_compat = false;
    auto peerlab = RunSimulation(o);
    ASSERT_TRUE(peerlab.ok()) << peerlab.status();
    SCOPED_TRACE("peerlab:\n" + FormatReport(*peerlab));
    EXPECT_EQ(peerlab->healthy_declared_dead, 0);
    ASSERT_TRUE(peerlab->removed_after.has_value());
    EXPECT_LE(*peerlab->removed_after, absl::Seconds(30));
    ASSERT_TRUE(peerlab->agreement_pct.has_value());
    EXPECT_GE(*peerlab->agreement_pct, 99);
  }
  EXPECT_GE(disagreeing, 2) << "of 3 seeds from " << base;
}

TEST(SickScenariosTest, OnewayMemberIsReachableFromExactlyOneOther) {
  SimRunOptions o;
  o.nodes = 12;
  o.scenario = Scenario::kOneway;
  o.duration = absl::Seconds(40);
  std::vector<Delivery> log;
  // The network's reachability matrix 20 s into the run.
  std::vector<std::vector<bool>> reach;
  o.on_cluster = [&](SimCluster& c) {
    Record (&log)(c);
    c.net().clock().Schedule(c.Now() + absl::Seconds(20), [&c, &reach] {
      reach.assign(c.size(), std::vector<bool>(c.size()));
      for (int a = 0; a < c.size(); ++a) {
        for (int b = 0; b < c.size(); ++b) {
          reach[a][b] = c.net().Reachable(a, b);
        }
      }
    });
  };
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->faulty.size(), 1u);
  const int x = r->faulty[0], y = r->oneway_via;
  ASSERT_NE(x, y);
  ASSERT_GE(y, 0);
  ASSERT_EQ(reach.size(), 12u);
  for (int a = 0; a < 12; ++a) {
    for (int b = 0; b < 12; ++b) {
      if (a == b) continue;
      EXPECT_EQ(reach[a][b], b != x || a == y) << a << " -> " << b;
    }
  }
  // On the wire: after the fault only Y's datagrams reach X; X's reach all.
  const double fault = absl::ToDoubleSeconds(*r->fault_at);
  std::set<sim::NodeId> heard_by_x, hearing_x;
  for (const Delivery& d : log) {
    if (d.t <= fault + 0.01 || d.outcome != Outcome::kDelivered) continue;
    if (static_cast<int>(d.to) == x) heard_by_x.insert(d.from);
    if (static_cast<int>(d.from) == x) hearing_x.insert(d.to);
  }
  EXPECT_EQ(heard_by_x, std::set<sim::NodeId>{static_cast<sim::NodeId>(y)});
  EXPECT_EQ(hearing_x.size(), 11u);
  EXPECT_GT(r->ingress_dropped, 0u);
}

// Mass-restart of 30 members within `window`, for `duration`.
SimRunOptions MassRestart30(absl::Duration window, absl::Duration duration) {
  SimRunOptions o;
  o.nodes = 30;
  o.scenario = Scenario::kMassRestart;
  o.restart_window = window;
  o.duration = duration;
  return o;
}

TEST(SickScenariosTest, MassRestartRestartsEveryMemberOnceWithinTheWindow) {
  SimRunOptions o = MassRestart30(absl::Seconds(60), absl::Seconds(120));
  // Every member's generation before the restarts and at the end.
  std::vector<uint64_t> before, after;
  o.on_cluster = [&](SimCluster& c) {
    auto generations = [&c](std::vector<uint64_t>* out) {
      for (int i = 0; i < c.size(); ++i) {
        out->push_back(c.node(i).generation());
      }
    };
    c.net().clock().Schedule(c.Now() + absl::Milliseconds(500),
                             [generations, &before] { generations(&before); });
    c.net().clock().Schedule(c.Now() + absl::Seconds(119),
                             [generations, &after] { generations(&after); });
  };
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->fault_at.has_value());
  const absl::Duration fault = *r->fault_at;
  ASSERT_EQ(r->restarts.size(), 30u);
  std::set<int> members;
  absl::Duration previous = fault;
  for (const auto& [member, at] : r->restarts) {
    members.insert(member);
    EXPECT_GE(at, previous);  // in the order they happened
    EXPECT_LE(at, fault + absl::Seconds(60));
    previous = at;
  }
  EXPECT_EQ(members.size(), 30u);  // each once, member 0 too
  ASSERT_EQ(before.size(), 30u);
  ASSERT_EQ(after.size(), 30u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_GT(after[i], before[i]) << "node" << i << " is the old process";
  }
  ASSERT_TRUE(r->last_restart.has_value());
  EXPECT_EQ(*r->last_restart, r->restarts.back().second);
  // The group comes back together (not a protocol goal here: sanity).
  EXPECT_TRUE(r->restart_converge.has_value());
}

// The figures of the goal "30 s after each member's restart, no member sees
// it as dead" agree with polling every member's table every 100 ms. With a
// downtime longer than crash detection, the others declare each killed
// member dead, then learn its new process: held dead for a while after the
// restart, not past the grace.
TEST(SickScenariosTest, MassRestartMeasuresHowLongARestartedMemberIsSeenDead) {
  SimRunOptions o = MassRestart30(absl::Seconds(20), absl::Seconds(120));
  o.restart_downtime = absl::Seconds(15);
  // Polled: the last time since the start that a running member held node
  // i dead (seconds; -1: never).
  std::vector<double> last_dead(30, -1);
  SimCluster* cluster = nullptr;
  std::map<std::string, int> index;
  std::function<void()> poll;
  absl::Time t0;
  o.on_cluster = [&](SimCluster& c) {
    cluster = &c;
    t0 = c.Now();
    for (int i = 0; i < c.size(); ++i) index[c.name(i)] = i;
    poll = [&] {
      SimCluster& c = *cluster;
      const double now = absl::ToDoubleSeconds(c.Now() - t0);
      for (int i = 0; i < c.size(); ++i) {
        if (c.crashed(i)) continue;
        for (const Member& m : c.node(i).AllMembers()) {
          if (m.state != MemberState::kDead) continue;
          auto t = index.find(m.name);
          if (t != index.end() && t->second != i) last_dead[t->second] = now;
        }
      }
      c.net().clock().Schedule(c.Now() + absl::Milliseconds(100), poll);
    };
    c.net().clock().Schedule(c.Now(), poll);
  };
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->restarts.size(), 30u);
  ASSERT_TRUE(r->restart_seen_dead_until.has_value());
  double polled = 0;
  for (const auto& [i, at] : r->restarts) {
    polled = std::max(polled, last_dead[i] - absl::ToDoubleSeconds(at));
  }
  const double until = absl::ToDoubleSeconds(*r->restart_seen_dead_until);
  EXPECT_GT(polled, 0) << "nobody held a restarted member dead: no test";
  EXPECT_NEAR(until, polled, 0.11);
  EXPECT_LE(until, 30);
  EXPECT_EQ(r->restart_seen_dead_after_grace, 0);
  const std::string report = FormatReport(*r);
  EXPECT_NE(report.find("restarted members seen dead 30 s after their "
                        "restart: 0\n"),
            std::string::npos)
      << report;
}

TEST(SickScenariosTest, SameSeedSameFigures) {
  for (Scenario s :
       {Scenario::kFlipFlop, Scenario::kMassRestart, Scenario::kEgressLoss}) {
    SimRunOptions o;
    o.nodes = 20;
    o.scenario = s;
    o.flip_on = o.flip_off = absl::Seconds(5);
    o.restart_window = absl::Seconds(10);
    o.duration = absl::Seconds(40);
    auto a = RunSimulation(o);
    auto b = RunSimulation(o);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->events, b->events) << ScenarioName(s);
    EXPECT_EQ(a->agreement_agreed, b->agreement_agreed);
    EXPECT_EQ(a->readmissions, b->readmissions);
    EXPECT_EQ(a->removed_after, b->removed_after);
    EXPECT_EQ(a->trace_hash, b->trace_hash);
  }
}

TEST(SickScenariosTest, RejectsBadOptions) {
  SimRunOptions o;
  o.nodes = 10;
  o.scenario = Scenario::kFlipFlop;
  o.flip_members = 10;
  EXPECT_FALSE(RunSimulation(o).ok());
  o.flip_members = 1;
  o.flip_on = absl::ZeroDuration();
  EXPECT_FALSE(RunSimulation(o).ok());
  o.scenario = Scenario::kEgressLoss;
  o.egress_loss = 1.5;
  EXPECT_FALSE(RunSimulation(o).ok());
  o.scenario = Scenario::kOneway;
  o.nodes = 2;
  EXPECT_FALSE(RunSimulation(o).ok());
  o.nodes = 10;
  o.scenario = Scenario::kMassRestart;
  o.restart_window = absl::Seconds(-1);
  EXPECT_FALSE(RunSimulation(o).ok());
  for (const char* name :
       {"flipflop", "egress-loss", "oneway", "mass-restart"}) {
    auto s = ParseScenario(name);
    ASSERT_TRUE(s.ok()) << name;
    EXPECT_EQ(ScenarioName(*s), name);
  }
}

}  // namespace
}  // namespace peerlab::membership::tool
