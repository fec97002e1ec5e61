// Issue 17's goals, asserted in protocol time on peerlab-sim's own runner
// (the figures its report prints). Flipflop at N = 200 over several seeds:
// no healthy member declared dead, each flip-flopped member removed within
// 30 s of going deaf, at most one re-admission per cycle, and every healthy
// member holding the same live set in >= 99 % of the 1 s samples (outside
// the 5 s after each phase change). Crash detection (dead by all) no slower
// than before the timed death. PEERLAB_SIM_SEED=N replays from seed N.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/tool/sim_runner.h"

namespace peerlab::membership::tool {
namespace {

using sim::SimSeed;

SimRunResult FlipFlop(int nodes, uint64_t seed, absl::Duration duration) {
  SimRunOptions o;
  o.nodes = nodes;
  o.seed = seed;
  o.scenario = Scenario::kFlipFlop;
  o.duration = duration;
  auto r = RunSimulation(o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : SimRunResult{};
}

std::string Figures(const SimRunResult& r) {
  return absl::StrCat("\n", FormatReport(r));
}

// Before (main at 246401a, the same runner: peerlab-sim --nodes 200
// --scenario flipflop --seed S --duration 120): agreement 95-96 % (each
// member removed the deaf members at the end of its own check, over about
// a second, and a recovered member learned it had been declared dead only
// from some member's reconnect push/pull, seconds later), and on seed 2
// "faulty members removed after: never".
TEST(SickGoalsTest, FlipFlopAgreesRemovesAndReadmitsAtOneMoment) {
  const uint64_t base = SimSeed(1);
  for (uint64_t seed = base; seed < base + 3; ++seed) {
    PEERLAB_SIM_TRACE_SEED(seed);
    const SimRunResult r = FlipFlop(200, seed, absl::Seconds(120));
    SCOPED_TRACE(Figures(r));
    EXPECT_EQ(r.healthy_declared_dead, 0);
    ASSERT_TRUE(r.removed_after.has_value());
    EXPECT_LE(*r.removed_after, absl::Seconds(30));
    EXPECT_LE(r.readmissions_per_cycle, 1.0);
    ASSERT_TRUE(r.agreement_pct.has_value());
    EXPECT_GE(*r.agreement_pct, 99.0);
  }
}

// Issue 17: crash detection in the healthy case no slower than before the
// timed death (main at ad51254, the same runner: peerlab-sim --scenario
// crash, medians of seeds 1-8 of "dead by all": 5.74 s at N = 10 with one
// crash, 8.33 s at N = 200 with two). The timed death alone (main at
// fbf96b2) gave 5.86 and 9.38 s: the whole group removed each member a
// DeathDelay() after the first decider's check, later than the last
// member's own check had. The bounds are of seeds 1-8; PEERLAB_SIM_SEED=N
// runs seeds N..N+7 against the same bounds.
struct CrashDetection {
  absl::Duration median = absl::InfiniteDuration();
  std::string seeds;  // "seed: dead by all" of each run, for the failure
};

CrashDetection MedianDeadByAll(int nodes, int crash, absl::Duration settle,
                               absl::Duration duration) {
  CrashDetection out;
  std::vector<absl::Duration> all;
  const uint64_t base = SimSeed(1);
  for (uint64_t seed = base; seed < base + 8; ++seed) {
    PEERLAB_SIM_TRACE_SEED(seed);
    SimRunOptions o;
    o.nodes = nodes;
    o.seed = seed;
    o.scenario = Scenario::kCrash;
    o.crash = crash;
    o.settle = settle;
    o.duration = duration;
    auto r = RunSimulation(o);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) continue;
    SCOPED_TRACE(Figures(*r));
    EXPECT_EQ(r->healthy_declared_dead, 0);
    EXPECT_TRUE(r->last_detect.has_value());
    if (!r->last_detect.has_value()) continue;
    all.push_back(*r->last_detect);
    absl::StrAppend(&out.seeds, " ", seed, ": ",
                    absl::FormatDuration(all.back()));
  }
  if (all.size() != 8) return out;
  std::sort(all.begin(), all.end());
  out.median = (all[3] + all[4]) / 2;
  return out;
}

TEST(SickGoalsTest, CrashDetectionIsNoSlowerThanBeforeTheTimedDeath) {
  const CrashDetection ten =
      MedianDeadByAll(10, 1, absl::Seconds(1), absl::Seconds(60));
  EXPECT_LE(ten.median, absl::Milliseconds(5740)) << "N = 10," << ten.seeds;
  const CrashDetection two_hundred =
      MedianDeadByAll(200, 2, absl::Seconds(60), absl::Seconds(120));
  EXPECT_LE(two_hundred.median, absl::Milliseconds(8330))
      << "N = 200," << two_hundred.seeds;
}

}  // namespace
}  // namespace peerlab::membership::tool
