// Membership on sick networks (issue 17, docs/membership.md): the fault
// shapes of peerlab-sim's flipflop, egress-loss, oneway and mass-restart
// scenarios at test sizes, with the goals asserted in protocol time.
// Each test runs the same fault against Config::memberlist_compat too where
// the contrast is the point. Seeds: PEERLAB_SIM_SEED=N replays one.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"
#include "peer/runtime/fault_plan.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;

sim::NodeId Id(int i) { return static_cast<sim::NodeId>(i); }

bool IsLive(MemberState s) {
  return s == MemberState::kAlive || s == MemberState::kSuspect;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  int out = 0;
  return v != nullptr && absl::SimpleAtoi(v, &out) ? out : fallback;
}

// What one run measured (the report lines).
struct Figures {
  int healthy_declared_dead = 0;  // (healthy observer, healthy target) deaths
  // Per faulty member and fault phase: seconds from the fault's start until
  // every healthy member held it out of the live set (-1: never).
  std::vector<double> removed_after;
  int readmissions = 0;  // not-live -> live of a faulty member, per observer
  int cycles = 0;
  int samples = 0, agreeing = 0;
  double agreement() const {
    return samples == 0 ? 100 : 100.0 * agreeing / samples;
  }
  double slowest_removal() const {
    double worst = 0;
    for (double r : removed_after) {
      if (r < 0) return -1;
      worst = std::max(worst, r);
    }
    return worst;
  }
  // Re-admissions per cycle, averaged over healthy observers and faulty
  // members.
  double readmissions_per_cycle(int healthy, int faulty) const {
    if (cycles == 0 || healthy == 0 || faulty == 0) return 0;
    return static_cast<double>(readmissions) / healthy / faulty / cycles;
  }
};

std::ostream& operator<<(std::ostream& os, const Figures& f) {
  os << "healthy members declared dead: " << f.healthy_declared_dead
     << "\nfaulty members removed after: ";
  if (f.slowest_removal() < 0) {
    os << "never";
  } else {
    os << f.slowest_removal() << " s";
  }
  os << "\nre-admissions: " << f.readmissions << " over " << f.cycles
     << " cycle(s)\nagreement: " << f.agreement() << " % of " << f.samples
     << " samples\nremovals:";
  for (double r : f.removed_after) os << " " << r;
  os << "\n";
  return os;
}

// A cluster under a fault shape, with each healthy member's view of every
// member's liveness kept from the membership events.
class SickRun {
 public:
  SickRun(int n, uint64_t seed, Config config) {
    SimCluster::Options o;
    o.nodes = n;
    o.seed = seed;
    config.max_members = std::max(config.max_members, n + 16);
    o.config = config;
    cluster_ = std::make_unique<SimCluster>(o);
    live_.assign(n, std::vector<char>(n, 0));
    faulty_.assign(n, false);
    cluster_->SetChangeHook([this](int observer, int target, MemberState s) {
      if (target < 0 || observer < 0) return;
      const bool was = live_[observer][target];
      const bool now = IsLive(s);
      live_[observer][target] = now;
      if (faulty_[observer] || cluster_->crashed(observer)) return;
      if (!faulty_[target] && !now && was && !restarting_.count(target)) {
        ++figures_.healthy_declared_dead;
      }
      if (faulty_[target] && now && !was && counting_) ++figures_.readmissions;
    });
  }

  SimCluster& c() { return *cluster_; }
  Figures& figures() { return figures_; }

  ::testing::AssertionResult StartAndConverge() {
    c().StartAll();
    if (!c().RunUntil([&] { return c().AllKnowAllFast(); }, absl::Minutes(3),
                      absl::Milliseconds(100))) {
      return ::testing::AssertionFailure() << "not converged";
    }
    for (int i = 0; i < c().size(); ++i) {
      std::fill(live_[i].begin(), live_[i].end(), 1);
    }
    return ::testing::AssertionSuccess();
  }

  void MarkFaulty(int i) {
    faulty_[i] = true;
    c().MarkFaulty(i);
  }

  // K members [first, first + k) picked spread over [1, n).
  std::vector<int> PickFaulty(int k) {
    std::vector<int> out;
    const int n = c().size();
    for (int j = 0; j < k; ++j) out.push_back(1 + (j * (n - 1)) / k);
    for (int f : out) MarkFaulty(f);
    return out;
  }

  // Every other member's datagrams and calls to `f` are lost (f's ingress).
  void BlockIngress(int f, bool on, int except = -1) {
    for (int j = 0; j < c().size(); ++j) {
      if (j == f || j == except) continue;
      if (on) {
        c().net().Cut(Id(j), Id(f));
      } else {
        c().net().Uncut(Id(j), Id(f));
      }
    }
  }

  void EgressLoss(int f, double drop) {
    runtime::FaultRule r;
    r.drop = drop;
    ASSERT_TRUE(c().net().faults(Id(f)).Set("*", r).ok());
  }

  // Whether every healthy member holds `target` out of its live set.
  bool AllHealthyHoldOut(int target) {
    for (int i = 0; i < c().size(); ++i) {
      if (faulty_[i] || c().crashed(i)) continue;
      if (live_[i][target]) return false;
    }
    return true;
  }

  // One agreement sample: every healthy member's live set is the same.
  void Sample() {
    const std::vector<char>* first = nullptr;
    bool agree = true;
    for (int i = 0; i < c().size() && agree; ++i) {
      if (faulty_[i] || c().crashed(i)) continue;
      if (first == nullptr) {
        first = &live_[i];
      } else {
        agree = *first == live_[i];
      }
    }
    ++figures_.samples;
    if (agree) ++figures_.agreeing;
    if (!agree && EnvInt("STAB_TRACE", 0)) {
      std::cout << "disagree on:";
      for (int t = 0; t < c().size(); ++t) {
        int live = 0, healthy = 0;
        for (int i = 0; i < c().size(); ++i) {
          if (faulty_[i] || c().crashed(i)) continue;
          ++healthy;
          live += live_[i][t];
        }
        if (live != 0 && live != healthy) {
          std::cout << " " << t << "(" << live << "/" << healthy << ")";
        }
      }
      std::cout << "\n";
    }
  }

  // Runs `d` in steps of 100 ms, sampling agreement every second outside
  // `quiet` after `since`, and noting for each faulty member the first time
  // every healthy member holds it out.
  void Run(absl::Duration d, absl::Time since, const std::vector<int>& faulty,
           std::vector<double>* removed, absl::Duration quiet) {
    const absl::Time end = c().Now() + d;
    absl::Time next_sample = since + quiet;
    while (c().Now() < end) {
      c().RunFor(absl::Milliseconds(100));
      if (removed != nullptr) {
        for (size_t k = 0; k < faulty.size(); ++k) {
          if ((*removed)[k] < 0 && AllHealthyHoldOut(faulty[k])) {
            (*removed)[k] = absl::ToDoubleSeconds(c().Now() - since);
          }
        }
      }
      if (c().Now() >= next_sample) {
        if (EnvInt("STAB_TRACE", 0)) {
          std::cout << absl::FormatTime("%M:%S", c().Now(),
                                        absl::UTCTimeZone());
          for (int f : faulty) {
            int live = 0;
            for (int i = 0; i < c().size(); ++i) live += live_[i][f];
            std::cout << " " << f << ":" << live;
          }
          std::cout << "\n";
        }
        Sample();
        next_sample += absl::Seconds(1);
      }
    }
  }

  void set_counting(bool on) { counting_ = on; }
  void Restarting(int i, bool on) {
    if (on) {
      restarting_.insert(i);
    } else {
      restarting_.erase(i);
    }
  }
  bool Live(int observer, int target) const { return live_[observer][target]; }

 private:
  std::unique_ptr<SimCluster> cluster_;
  std::vector<std::vector<char>> live_;
  std::vector<bool> faulty_;
  std::set<int> restarting_;
  bool counting_ = true;
  Figures figures_;
};

Config LanConfig(bool compat) {
  Config c = Config::Lan();
  c.memberlist_compat = compat;
  c.corroboration = EnvInt("STAB_CORR", c.corroboration);
  c.quarantine_observers = EnvInt("STAB_QUAR", c.quarantine_observers);
  c.max_accusations = EnvInt("STAB_MAXACC", c.max_accusations);
  return c;
}

// K members drop all ingress for 20 s, recover 20 s, `cycles` times.
Figures FlipFlop(int n, int k, int cycles, uint64_t seed, bool compat) {
  SickRun run(n, seed, LanConfig(compat));
  EXPECT_TRUE(run.StartAndConverge());
  run.c().RunFor(absl::Seconds(5));
  std::vector<int> faulty = run.PickFaulty(k);
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const absl::Time off = run.c().Now();
    for (int f : faulty) run.BlockIngress(f, true);
    std::vector<double> removed(faulty.size(), -1);
    run.Run(absl::Seconds(20), off, faulty, &removed, absl::Seconds(5));
    for (double r : removed) run.figures().removed_after.push_back(r);
    const absl::Time on = run.c().Now();
    for (int f : faulty) run.BlockIngress(f, false);
    run.Run(absl::Seconds(20), on, faulty, nullptr, absl::Seconds(5));
    ++run.figures().cycles;
  }
  return run.figures();
}

Figures EgressLoss(int n, int k, absl::Duration d, uint64_t seed, bool compat) {
  SickRun run(n, seed, LanConfig(compat));
  EXPECT_TRUE(run.StartAndConverge());
  run.c().RunFor(absl::Seconds(5));
  std::vector<int> faulty = run.PickFaulty(k);
  const absl::Time start = run.c().Now();
  for (int f : faulty) run.EgressLoss(f, 0.8);
  std::vector<double> removed(faulty.size(), -1);
  run.Run(d, start, faulty, &removed, absl::Seconds(5));
  run.figures().removed_after = removed;
  run.figures().cycles = 1;
  if (EnvInt("STAB_TRACE", 0)) {
    for (int f : faulty) {
      for (int i = 0; i < n; ++i) {
        if (run.Live(i, f))
          std::cout << "node" << i << " holds " << f << " live\n";
      }
    }
  }
  return run.figures();
}

// One member is reachable by exactly one other (serf#185).
Figures OneWay(int n, absl::Duration d, uint64_t seed, bool compat) {
  SickRun run(n, seed, LanConfig(compat));
  EXPECT_TRUE(run.StartAndConverge());
  run.c().RunFor(absl::Seconds(5));
  const int o = n / 2;
  run.MarkFaulty(o);
  const absl::Time start = run.c().Now();
  run.BlockIngress(o, true, /*except=*/1);
  std::vector<double> removed(1, -1);
  run.Run(d, start, {o}, &removed, absl::Seconds(5));
  run.figures().removed_after = removed;
  return run.figures();
}

struct RestartFigures {
  int seen_dead_after_30s = 0;  // (observer, restarted) pairs
  double all_know_all_after_last = -1;
};

// Every member restarts within `window`, in random order, losing its state.
RestartFigures MassRestart(int n, absl::Duration window, uint64_t seed,
                           bool compat) {
  SickRun run(n, seed, LanConfig(compat));
  EXPECT_TRUE(run.StartAndConverge());
  run.c().RunFor(absl::Seconds(5));
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<absl::Time> at(n);
  const absl::Time start = run.c().Now();
  for (int j = 0; j < n; ++j) {
    at[order[j]] = start + window * (static_cast<double>(j) / n);
  }
  RestartFigures out;
  std::vector<bool> restarted(n, false), checked(n, false);
  absl::Time last = start;
  while (true) {
    run.c().RunFor(absl::Milliseconds(100));
    const absl::Time now = run.c().Now();
    bool all_checked = true;
    for (int i = 0; i < n; ++i) {
      if (!restarted[i] && now >= at[i]) {
        run.c().Crash(i);
        // A member that restarts joins through one that is up.
        int seed_node = (i + 1) % n;
        while (run.c().crashed(seed_node)) seed_node = (seed_node + 1) % n;
        run.c().Restart(i, seed_node);
        restarted[i] = true;
        last = now;
      }
      if (restarted[i] && !checked[i] && now >= at[i] + absl::Seconds(30)) {
        checked[i] = true;
        for (int o = 0; o < n; ++o) {
          if (o == i) continue;
          for (const Member& m : run.c().node(o).AllMembers()) {
            if (m.name == run.c().name(i) && !IsLive(m.state)) {
              ++out.seen_dead_after_30s;
            }
          }
        }
      }
      all_checked &= checked[i];
    }
    if (out.all_know_all_after_last < 0 && restarted[order[n - 1]] &&
        run.c().AllKnowAll()) {
      out.all_know_all_after_last = absl::ToDoubleSeconds(now - last);
    }
    if (all_checked &&
        (out.all_know_all_after_last >= 0 || now - last > absl::Seconds(120))) {
      break;
    }
  }
  return out;
}

// 10 % of members with timers and arrivals late by up to `lag`.
Figures Slow(int n, absl::Duration lag, absl::Duration d, uint64_t seed,
             bool compat) {
  SickRun run(n, seed, LanConfig(compat));
  EXPECT_TRUE(run.StartAndConverge());
  for (int i = 1; i < n; i += 10) {
    run.c().net().SetSlowness(Id(i), sim::Slowness{lag, lag});
  }
  run.Run(d, run.c().Now(), {}, nullptr, absl::Seconds(5));
  return run.figures();
}

// flipflop (issue 17): 1 % of members drop all ingress 20 s of every 40 s.
// No healthy member is ever declared dead, the faulty one is removed within
// 30 s, at most one re-admission per cycle, and healthy members agree.
TEST(StabilitySimTest, FlipFlopRemovesTheFaultyAndNoHealthyMember) {
  const uint64_t seed = SimSeed(7);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 100;
  Figures f = FlipFlop(n, 1, 2, seed, /*compat=*/false);
  SCOPED_TRACE(::testing::Message() << f);
  EXPECT_EQ(f.healthy_declared_dead, 0);
  EXPECT_GE(f.slowest_removal(), 0);
  EXPECT_LE(f.slowest_removal(), 30);
  EXPECT_LE(f.readmissions_per_cycle(n - 1, 1), 1.0) << f;
  EXPECT_GE(f.agreement(), 95);
}

// egress-loss (issue 17): a member losing 80 % of its datagrams is removed
// (quarantined) and stays out; nobody healthy is. Before: its probes were
// answered by the reliable fallback, so it was never removed ("faulty
// members removed after: never"). The issue's 30 s is not reached yet at
// every seed (20-37 s at N = 100; docs/membership.md): asserted at 45 s.
TEST(StabilitySimTest, EgressLossQuarantinesTheLossyMember) {
  const uint64_t seed = SimSeed(3);
  PEERLAB_SIM_TRACE_SEED(seed);
  Figures f = EgressLoss(100, 1, absl::Seconds(60), seed, /*compat=*/false);
  SCOPED_TRACE(::testing::Message() << f);
  EXPECT_EQ(f.healthy_declared_dead, 0);
  EXPECT_GE(f.slowest_removal(), 0);
  EXPECT_LE(f.slowest_removal(), 45);
  EXPECT_EQ(f.readmissions, 0);
}

// egress-loss, the goals at test size: every healthy member removes
// the lossy members at the same moment (agreement in >= 99 % of the 1 s
// samples) within 30 s. Before: each member quarantined on its own evidence
// and its own 3-ping check, so removals spread over 16-19 s (agreement
// 74 % at N = 200, seed 1, removed after 32.8 s).
TEST(StabilitySimTest, EgressLossRemovesTheLossyMembersEverywhereAtOnce) {
  const uint64_t base = SimSeed(1);
  for (uint64_t seed = base; seed < base + 3; ++seed) {
    PEERLAB_SIM_TRACE_SEED(seed);
    Figures f = EgressLoss(200, 2, absl::Seconds(60), seed, /*compat=*/false);
    SCOPED_TRACE(::testing::Message() << f);
    EXPECT_EQ(f.healthy_declared_dead, 0);
    EXPECT_GE(f.slowest_removal(), 0);
    EXPECT_LE(f.slowest_removal(), 30);
    EXPECT_GE(f.agreement(), 99);
    EXPECT_EQ(f.readmissions, 0);
  }
}

// A member that stays lossy is re-admitted at most once in 400 s: each
// quarantine in a row doubles the hold-down (flap damping). Before, it
// came back every 120 s hold-down and was quarantined again (2.0
// re-admissions per healthy member in 400 s, N = 100, seed 3).
TEST(StabilitySimTest, AMemberThatStaysLossyIsNotReadmittedEveryHoldDown) {
  const uint64_t seed = SimSeed(3);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 100;
  Figures f = EgressLoss(n, 1, absl::Seconds(400), seed, /*compat=*/false);
  SCOPED_TRACE(::testing::Message() << f);
  EXPECT_EQ(f.healthy_declared_dead, 0);
  EXPECT_LE(f.readmissions_per_cycle(n - 1, 1), 1.0) << f;
  EXPECT_GE(f.agreement(), 99);
}

// The memberlist baseline keeps the lossy member: what Rapid reported.
TEST(StabilitySimTest, MemberlistBaselineNeverRemovesTheLossyMember) {
  const uint64_t seed = SimSeed(3);
  PEERLAB_SIM_TRACE_SEED(seed);
  Figures f = EgressLoss(100, 1, absl::Seconds(60), seed, /*compat=*/true);
  SCOPED_TRACE(::testing::Message() << f);
  EXPECT_LT(f.slowest_removal(), 0);
}

// oneway (serf#185): one member reachable by exactly one other; no healthy
// member is ever declared dead, at N = 10 and N = 100.
TEST(StabilitySimTest, OneWayDeclaresNoHealthyMemberDead) {
  const uint64_t seed = SimSeed(5);
  PEERLAB_SIM_TRACE_SEED(seed);
  for (int n : {10, 100}) {
    Figures f = OneWay(n, absl::Seconds(90), seed, /*compat=*/false);
    SCOPED_TRACE(::testing::Message() << "N = " << n << "\n" << f);
    EXPECT_EQ(f.healthy_declared_dead, 0);
  }
}

// mass-restart (memberlist#311): every member restarts within 60 s, losing
// its state; 30 s after each restart nobody sees it dead, and everyone
// knows everyone within 60 s of the last restart.
TEST(StabilitySimTest, MassRestartNobodySeesARestartedMemberDead) {
  const uint64_t seed = SimSeed(11);
  PEERLAB_SIM_TRACE_SEED(seed);
  RestartFigures r = MassRestart(60, absl::Seconds(60), seed, false);
  EXPECT_EQ(r.seen_dead_after_30s, 0);
  EXPECT_GE(r.all_know_all_after_last, 0);
  EXPECT_LE(r.all_know_all_after_last, 60);
}

// Slow members (timers and arrivals late by up to 3 s) refute late: the
// early check and the quarantine wait for them, so none is removed. Seen
// failing while both checks waited one probe timeout (3,764 deaths).
TEST(StabilitySimTest, SlowMembersAreNotRemoved) {
  const uint64_t seed = SimSeed(1);
  PEERLAB_SIM_TRACE_SEED(seed);
  Figures f = Slow(100, absl::Seconds(3), absl::Seconds(60), seed, false);
  SCOPED_TRACE(::testing::Message() << f);
  EXPECT_EQ(f.healthy_declared_dead, 0);
}

TEST(StabilityExperiment, Report) {
  const int n = EnvInt("STAB_N", 0);
  if (n == 0) GTEST_SKIP() << "STAB_N unset";
  const uint64_t seed = SimSeed(1);
  const int which = EnvInt("STAB_SCEN", 0);
  const bool compat = EnvInt("STAB_COMPAT", 0) != 0;
  const int k = std::max(1, n / 100);
  Figures f;
  if (which == 0) f = FlipFlop(n, k, EnvInt("STAB_CYCLES", 3), seed, compat);
  if (which == 1) f = EgressLoss(n, k, absl::Seconds(90), seed, compat);
  if (which == 2) f = OneWay(n, absl::Seconds(120), seed, compat);
  if (which == 4) {
    f = Slow(n, absl::Seconds(EnvInt("STAB_LAG", 2)), absl::Seconds(90), seed,
             compat);
  }
  if (which == 3) {
    RestartFigures r = MassRestart(n, absl::Seconds(60), seed, compat);
    std::cout << "seen dead 30 s after restart: " << r.seen_dead_after_30s
              << "\nall know all after the last restart: "
              << r.all_know_all_after_last << " s\n";
    return;
  }
  std::cout << f;
}

}  // namespace
}  // namespace peerlab::membership
