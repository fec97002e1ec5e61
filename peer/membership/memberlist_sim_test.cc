// The protocol in the deterministic simulator, with protocol-time
// assertions: every bound is stated in protocol periods, and runs take
// milliseconds of real time. The seed is printed on failure; replay with
// PEERLAB_SIM_SEED=N.
#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"
#include "peer/membership/wire.h"
#include "peer/runtime/logger_testing.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;

// LOCAL is the peer's profile. Its retransmit_mult of 2 lets an update miss
// a member now and then (an epidemic with few retransmissions stops short),
// which push/pull repairs; so waits for convergence under LOCAL allow one
// push/pull period. Tests that bound dissemination in gossip rounds use LAN,
// whose retransmit_mult of 4 makes misses vanishingly rare.
SimCluster::Options Opts(int n, uint64_t seed,
                         Config config = Config::Local()) {
  SimCluster::Options o;
  o.nodes = n;
  o.seed = seed;
  o.config = config;
  return o;
}

// Long enough for any update to arrive through push/pull at the latest.
absl::Duration AntiEntropyBound(const Config& c, int n) {
  return PushPullScale(c.push_pull_interval, n) * 2;
}

// Starts every node of `c` and runs until all have converged, within
// AntiEntropyBound of the cluster's size.
::testing::AssertionResult StartAndConverge(SimCluster& c) {
  c.StartAll();
  const absl::Duration bound = AntiEntropyBound(c.node(0).config(), c.size());
  if (c.RunUntil([&] { return c.Converged(); }, bound)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << c.size() << " nodes not converged within " << bound;
}

// Gossip rounds for an update to reach everyone (LAN: misses vanishingly
// rare).
absl::Duration SpreadBound(const Config& c, int n) {
  return c.gossip_interval * (4 * std::ceil(std::log2(std::max(2, n))));
}

// Time for a crash to be noticed, suspected and declared dead everywhere:
// every member probes each other member once per round of N-1 periods (two
// rounds at worst, as the order is reshuffled between rounds); the
// suspicion spreads within a few gossip rounds; then each member's own
// suspicion runs at most suspicion_max_timeout_mult times its minimum (the
// full maximum when no confirmation comes; another member's dead counts as
// one), and a last ping of one probe timeout (covered by the slack of the
// probe rounds).
absl::Duration DetectionBound(const Config& c, int n) {
  absl::Duration min = SuspicionTimeout(c.suspicion_mult, n, c.probe_interval);
  absl::Duration suspicion = min * c.suspicion_max_timeout_mult;
  return c.probe_interval * 2 * (n - 1) + suspicion + SpreadBound(c, n);
}

TEST(MemberlistSimTest, TwoMembersJoin) {
  const uint64_t seed = SimSeed(1);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(2, seed));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(2)));
  EXPECT_EQ(c.node(0).NumAlive(), 2);
  EXPECT_EQ(c.node(1).Members()[0].name, "node0");
}

// The protocol logs through Config::logger, dated by the node's scheduler:
// in the simulator, virtual time. Ten simulated minutes pass in
// milliseconds, and the lines about a crash after them say so.
TEST(MemberlistSimTest, LogLinesCarryVirtualTime) {
  const uint64_t seed = SimSeed(40);
  PEERLAB_SIM_TRACE_SEED(seed);
  runtime::CapturingLogger logger(runtime::LogLevel::kDebug);
  Config config = Config::Local();
  config.logger = &logger;
  SimCluster c(Opts(3, seed, config));
  const absl::Time wall_start = absl::Now();
  const absl::Time sim_start = c.Now();
  ASSERT_TRUE(StartAndConverge(c));
  ASSERT_FALSE(logger.Matching(" joined").empty());
  for (const auto& line : logger.Matching(" joined")) {
    EXPECT_EQ(line.component, "membership");
    EXPECT_GE(line.time, sim_start);
    EXPECT_LT(line.time, sim_start + absl::Minutes(1)) << line.message;
  }

  c.RunFor(absl::Minutes(10));
  const absl::Time crash_at = c.Now();
  c.Crash(2);
  const std::string suspect = absl::StrCat(c.name(2), " is suspect");
  ASSERT_TRUE(c.RunUntil([&] { return !logger.Matching(suspect).empty(); },
                         DetectionBound(config, 3)));
  for (const auto& line : logger.Matching(suspect)) {
    EXPECT_EQ(line.level, runtime::LogLevel::kDebug);
    EXPECT_GE(line.time, crash_at) << line.message;
    EXPECT_LE(line.time, c.Now()) << line.message;
  }
  // Ten virtual minutes, not ten real ones (nor the wall clock's date).
  EXPECT_LT(absl::Now() - wall_start, absl::Minutes(1));
  EXPECT_GE(logger.Matching(suspect)[0].time - sim_start, absl::Minutes(10));
}

TEST(MemberlistSimTest, ThreeMembersJoinAndStayConverged) {
  const uint64_t seed = SimSeed(2);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed));
  ASSERT_TRUE(StartAndConverge(c));
  c.RunFor(absl::Seconds(60));  // a minute of probing: no false alarms
  EXPECT_TRUE(c.Converged());
  EXPECT_EQ(c.false_positive_deaths(), 0);
}

TEST(MemberlistSimTest, HundredMembersConvergeInLogRounds) {
  const uint64_t seed = SimSeed(3);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 100;
  SimCluster c(Opts(n, seed, Config::Lan()));
  const Config& cfg = c.node(0).config();
  c.StartAll();
  const absl::Time start = c.Now();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllKnowAll(); }, absl::Seconds(60)));
  const double rounds = (c.Now() - start) / cfg.gossip_interval;
  // Every node joined node 0 at once; the news then spreads epidemically.
  const double bound = 6 * std::log2(n);
  EXPECT_LE(rounds, bound) << "converged after " << rounds << " gossip rounds";
  EXPECT_TRUE(c.Converged());
}

TEST(MemberlistSimTest, CrashedMemberIsSuspectedThenDeadEverywhere) {
  const uint64_t seed = SimSeed(4);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 10;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const int victim = 7;
  c.Crash(victim);
  const absl::Time crash = c.Now();
  const absl::Duration bound = DetectionBound(c.node(0).config(), n);
  ASSERT_TRUE(
      c.RunUntil([&] { return c.AllSee(victim, MemberState::kDead); }, bound))
      << "not dead everywhere within " << bound;
  for (int i = 0; i < n; ++i) {
    if (i == victim) continue;
    const auto& o = c.observed(i, victim);
    // Somebody suspected it first; nobody heard of its death before that.
    ASSERT_TRUE(o.dead.has_value()) << "node " << i;
    EXPECT_GE(*o.dead, crash);
  }
  bool someone_suspected = false;
  for (int i = 0; i < n; ++i) {
    const auto& o = c.observed(i, victim);
    if (o.suspect) {
      someone_suspected = true;
      EXPECT_LE(*o.suspect, *o.dead);
    }
  }
  EXPECT_TRUE(someone_suspected);
  EXPECT_EQ(c.false_positive_deaths(), 0);
}

// At 100 members under the peer's profile (Local). Nobody takes another's
// word for a death (a dead from another member is a suspicion), so each
// member declares the crashed one dead by its own timer; the bound says
// that costs little:
//   - someone probes the victim within 10 periods (99 members each with a
//     chance of 1/99 a period: all miss it with a probability of e^-10),
//     and suspects it a probe timeout later;
//   - the suspicion reaches every member within SpreadBound;
//   - each member's suspicion then runs at most its maximum, and ends with
//     a last ping of one probe timeout.
// And the last member declares it dead within one minimum suspicion
// timeout plus two spreads and last pings of the first: by then every
// member holds the suspicion for longer than the minimum, and the deads of
// the members that declared it (each one more confirmation, of which
// Local expects suspicion_mult - 2 = 1) end it.
// Measured (seeds 1-3): 7.6-9.5 s to dead everywhere, the last 0.2-0.7 s
// after the first (bench/RESULTS.md).
TEST(MemberlistSimTest, CrashedMemberIsDeadEverywhereAtHundredMembers) {
  const uint64_t seed = SimSeed(34);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 100;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Config& cfg = c.node(0).config();
  const absl::Duration min =
      SuspicionTimeout(cfg.suspicion_mult, n, cfg.probe_interval);
  const absl::Duration last_check = cfg.probe_timeout;
  const absl::Duration bound =
      cfg.probe_interval * 10 + cfg.probe_timeout + SpreadBound(cfg, n) +
      min * cfg.suspicion_max_timeout_mult + last_check;
  const int victim = 42;
  c.Crash(victim);
  const absl::Time crash = c.Now();
  ASSERT_TRUE(
      c.RunUntil([&] { return c.AllSee(victim, MemberState::kDead); }, bound))
      << "not dead everywhere within " << bound;
  std::optional<absl::Time> first, last;
  for (int i = 0; i < n; ++i) {
    if (i == victim) continue;
    const auto& o = c.observed(i, victim);
    ASSERT_TRUE(o.dead.has_value()) << "node " << i;
    // Everyone suspected it first: a death is only ever a member's own.
    ASSERT_TRUE(o.suspect.has_value()) << "node " << i;
    EXPECT_LE(*o.suspect, *o.dead) << "node " << i;
    if (!first || *o.dead < *first) first = *o.dead;
    if (!last || *o.dead > *last) last = *o.dead;
  }
  EXPECT_LE(*last - *first, min + 2 * (SpreadBound(cfg, n) + last_check))
      << "first declared dead after " << (*first - crash) << ", by all after "
      << (*last - crash);
  EXPECT_EQ(c.false_positive_deaths(), 0);
}

// peerlab-sim --start converged (SimCluster::StartConverged, through
// Memberlist::LearnConverged): at 0 every member knows every other alive
// with nothing queued for gossip, nothing gets queued while nothing
// happens, and a crash is then dead everywhere within the bound of
// CrashedMemberIsDeadEverywhereAtHundredMembers (a start from a join).
TEST(MemberlistSimTest, ConvergedStartKnowsAllWithNothingQueuedThenCrash) {
  const uint64_t seed = SimSeed(35);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 100;
  SimCluster c(Opts(n, seed));
  const absl::Time start = c.Now();
  c.StartConverged();
  ASSERT_EQ(c.Now(), start);
  ASSERT_TRUE(c.Converged());
  ASSERT_TRUE(c.AllKnowAllFast());
  auto nothing_queued = [&] {
    for (int i = 0; i < n; ++i) {
      if (c.node(i).NumQueuedBroadcasts() != 0) {
        return ::testing::AssertionFailure()
               << "node " << i << " has " << c.node(i).NumQueuedBroadcasts()
               << " updates queued at " << (c.Now() - start);
      }
    }
    return ::testing::AssertionSuccess();
  };
  EXPECT_TRUE(nothing_queued());
  // A node that knows others already is refused.
  ::peer::v1::PushPull again;
  c.node(1).AppendOwnEntry(again);
  EXPECT_EQ(c.node(0).LearnConverged(again).code(),
            absl::StatusCode::kFailedPrecondition);
  const Config& cfg = c.node(0).config();
  c.RunFor(cfg.probe_interval * 10);
  EXPECT_TRUE(nothing_queued());
  EXPECT_TRUE(c.Converged());

  const absl::Duration min =
      SuspicionTimeout(cfg.suspicion_mult, n, cfg.probe_interval);
  const absl::Duration bound =
      cfg.probe_interval * 10 + cfg.probe_timeout + SpreadBound(cfg, n) +
      min * cfg.suspicion_max_timeout_mult + cfg.probe_timeout;
  const int victim = 42;
  c.Crash(victim);
  ASSERT_TRUE(
      c.RunUntil([&] { return c.AllSee(victim, MemberState::kDead); }, bound))
      << "not dead everywhere within " << bound;
  EXPECT_EQ(c.false_positive_deaths(), 0);
}

// Only alive entries: a converged start learns no deaths.
TEST(MemberlistSimTest, ConvergedStartRefusesAnEntryThatIsNotAlive) {
  const uint64_t seed = SimSeed(36);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed));
  c.Start(0);
  c.Start(1);
  ::peer::v1::PushPull pp;
  c.node(1).AppendOwnEntry(pp);
  pp.mutable_nodes(0)->set_state(::peer::v1::MEMBER_STATE_DEAD);
  EXPECT_EQ(c.node(0).LearnConverged(pp).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.node(0).NumAlive(), 1);
  // Before Start: refused.
  EXPECT_EQ(c.node(2).LearnConverged(pp).code(),
            absl::StatusCode::kFailedPrecondition);
}

// An accusation is only a suspicion: a dead about node1 from another member
// (anyone holding the group key can send one, naming any accuser) makes
// its receivers suspect node1, and node1 refutes; nobody declares it dead.
// Before, each receiver declared node1 dead at once, and spread it.
TEST(MemberlistSimTest, DeadFromAnotherMemberIsOnlyASuspicion) {
  const uint64_t seed = SimSeed(35);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Member victim = c.node(1).LocalNode();
  ::peer::v1::Message m;
  auto* d = m.mutable_dead();
  d->set_node("node1");
  d->set_from("node3");
  d->set_incarnation(victim.incarnation);
  d->set_generation(victim.generation);
  c.net().scheduler(3)->Post([&] {
    for (int i : {0, 2, 4}) {
      c.net().transport(3)->SendPacket(
          c.net().address(i), EncodePacket("node3", {EncodeMessage(m)}));
    }
  });
  c.RunFor(absl::Milliseconds(10));
  for (int i : {0, 2, 4}) {
    EXPECT_TRUE(c.observed(i, 1).suspect.has_value()) << i;
    EXPECT_FALSE(c.observed(i, 1).dead.has_value()) << i;
  }
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); },
                         AntiEntropyBound(c.node(0).config(), n)));
  c.RunFor(SuspicionTimeout(c.node(0).config().suspicion_mult, n,
                            c.node(0).config().probe_interval) *
           c.node(0).config().suspicion_max_timeout_mult);
  EXPECT_EQ(c.node(1).stats().refutations, 1u);
  EXPECT_EQ(c.node(1).LocalNode().incarnation, victim.incarnation + 1);
  for (int i = 0; i < n; ++i) {
    EXPECT_FALSE(c.observed(i, 1).dead.has_value()) << i;
  }
  EXPECT_EQ(c.false_positive_deaths(), 0);
  EXPECT_TRUE(c.Converged());
}

TEST(MemberlistSimTest, SuspectRefutesAndStaysAlive) {
  const uint64_t seed = SimSeed(5);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const int target = 2;
  const uint64_t incarnation = c.node(target).LocalNode().incarnation;
  // Paused until someone suspects it (a GC pause, say), then resumed: it
  // hears it is suspected (buddy system, gossip) and refutes in time.
  c.net().Freeze(target);
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 0; i < n; ++i) {
          if (i != target && c.observed(i, target).suspect) return true;
        }
        return false;
      },
      absl::Seconds(30)));
  c.net().Unfreeze(target);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); },
                         AntiEntropyBound(c.node(0).config(), c.size())));
  EXPECT_GT(c.node(target).LocalNode().incarnation, incarnation);
  EXPECT_GE(c.node(target).stats().refutations, 1u);
  for (int i = 0; i < n; ++i) EXPECT_FALSE(c.observed(i, target).dead) << i;
}

TEST(MemberlistSimTest, LeaveSpreadsAsLeftNotDead) {
  const uint64_t seed = SimSeed(6);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 8;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  absl::Status left = absl::UnknownError("not yet");
  c.net().scheduler(3)->Post([&] {
    c.node(3).Leave(absl::Seconds(5), [&](absl::Status s) { left = s; });
  });
  ASSERT_TRUE(c.RunUntil([&] { return c.AllSee(3, MemberState::kLeft); },
                         AntiEntropyBound(c.node(0).config(), n)));
  EXPECT_TRUE(left.ok()) << left;
  for (int i = 0; i < n; ++i) {
    if (i == 3) continue;
    EXPECT_TRUE(c.observed(i, 3).left) << i;
    EXPECT_FALSE(c.observed(i, 3).dead) << i;
  }
}

// A metadata update while leaving is refused: its alive, one incarnation
// above the leave, overrode the leave everywhere and the member came back
// as alive. Before: UpdateMeta returned OK and the others saw it alive.
TEST(MemberlistSimTest, AnUpdateWhileLeavingIsRefusedAndTheLeaveStands) {
  const uint64_t seed = SimSeed(6);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 8;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  absl::Status left = absl::UnknownError("not yet");
  absl::Status update = absl::UnknownError("not yet");
  absl::Status update_done = absl::UnknownError("not yet");
  c.net().scheduler(3)->Post([&] {
    c.node(3).Leave(absl::Seconds(5), [&](absl::Status s) { left = s; });
    update = c.node(3).UpdateMeta("after-leave");
    c.node(3).UpdateMeta("after-leave-2", absl::Seconds(5),
                         [&](absl::Status s) { update_done = s; });
  });
  ASSERT_TRUE(c.RunUntil([&] { return c.AllSee(3, MemberState::kLeft); },
                         AntiEntropyBound(c.node(0).config(), n)));
  EXPECT_EQ(update.code(), absl::StatusCode::kFailedPrecondition) << update;
  EXPECT_EQ(update_done.code(), absl::StatusCode::kFailedPrecondition)
      << update_done;
  // Still left everywhere a while later: nothing overrides the leave.
  c.RunFor(absl::Seconds(10));
  EXPECT_TRUE(c.AllSee(3, MemberState::kLeft));
  for (int i = 0; i < n; ++i) {
    if (i != 3) EXPECT_FALSE(c.Sees(i, 3, MemberState::kAlive)) << i;
  }
}

TEST(MemberlistSimTest, PartitionThenHealReconverges) {
  const uint64_t seed = SimSeed(7);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 10;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  c.net().Partition({{0, 1, 2, 3, 4, 5}, {6, 7, 8, 9}});
  const Config& cfg = c.node(0).config();
  // Each side declares the other dead.
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int a = 0; a < n; ++a) {
          for (int b = 0; b < n; ++b) {
            bool same = (a < 6) == (b < 6);
            if (a == b || same) continue;
            if (c.Sees(a, b, MemberState::kAlive) ||
                c.Sees(a, b, MemberState::kSuspect)) {
              return false;
            }
          }
        }
        return true;
      },
      DetectionBound(cfg, n)));
  c.net().Heal();
  // Push/pull with members believed dead brings the sides back together.
  const absl::Duration bound =
      PushPullScale(cfg.push_pull_interval, n) * 2 + DetectionBound(cfg, n);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, bound))
      << "not reconverged within " << bound;
}

TEST(MemberlistSimTest, MetadataUpdateSpreads) {
  const uint64_t seed = SimSeed(8);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 20;
  SimCluster c(Opts(n, seed, Config::Lan()));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllKnowAll(); },
                         AntiEntropyBound(c.node(0).config(), n)));
  c.net().scheduler(5)->Post(
      [&] { ASSERT_TRUE(c.node(5).UpdateMeta("chat=10.0.0.6:9000").ok()); });
  auto all_have_it = [&] {
    for (int i = 0; i < n; ++i) {
      bool ok = false;
      for (const Member& m : c.node(i).Members()) {
        if (m.name == "node5") ok = m.meta == "chat=10.0.0.6:9000";
      }
      if (!ok) return false;
    }
    return true;
  };
  const double rounds_bound = 6 * std::log2(n);
  ASSERT_TRUE(c.RunUntil(all_have_it,
                         c.node(0).config().gossip_interval * rounds_bound));
}

// Metadata larger than a datagram (Config::max_meta_bytes above 512):
// the member's own alive cannot ride a datagram, so it spreads as a notice
// and members fetch the signed claim on the reliable path, within gossip
// rounds (not only at the next push/pull), and the update completes.
// Before, the alive sat in the broadcast queue for ever: it never fitted a
// datagram, UpdateMeta's done never came, and members only learned the
// metadata from a push/pull.
TEST(MemberlistSimTest, MetadataLargerThanADatagramSpreadsReliably) {
  const uint64_t seed = SimSeed(81);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 8;
  Config config = Config::Lan();
  config.max_meta_bytes = 4000;  // packet_size is 1400
  SimCluster c(Opts(n, seed, config));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllKnowAll(); },
                         AntiEntropyBound(c.node(0).config(), n)));
  const std::string meta = "tag.big=" + std::string(3000, 'x');
  std::optional<absl::Status> done;
  c.net().scheduler(5)->Post([&] {
    c.node(5).UpdateMeta(meta, absl::Seconds(20),
                         [&](absl::Status s) { done = s; });
  });
  auto all_have_it = [&] {
    for (int i = 0; i < n; ++i) {
      bool ok = false;
      for (const Member& m : c.node(i).Members()) {
        if (m.name == "node5") ok = m.meta == meta;
      }
      if (!ok) return false;
    }
    return true;
  };
  // Well before the first push/pull (30 s with LAN).
  const absl::Duration bound = c.node(0).config().gossip_interval * 40;
  ASSERT_LT(bound, c.node(0).config().push_pull_interval);
  EXPECT_TRUE(c.RunUntil(all_have_it, bound));
  EXPECT_TRUE(c.RunUntil([&] { return done.has_value(); }, absl::Seconds(20)));
  EXPECT_TRUE(done.has_value() && done->ok())
      << (done ? done->ToString() : "no answer");
}

TEST(MemberlistSimTest, KeyValueBroadcastsConvergeUnderLoss) {
  const uint64_t seed = SimSeed(9);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 15;
  SimCluster::Options o = Opts(n, seed);
  o.with_kv = true;
  o.loss = 0.10;
  SimCluster c(o);
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllKnowAll(); },
                         AntiEntropyBound(c.node(0).config(), n)));
  for (int i = 0; i < n; i += 3) {
    c.net().scheduler(i)->Post([&, i] {
      EXPECT_TRUE(
          c.kv(i)->Set("k" + std::to_string(i), "v" + std::to_string(i)).ok());
      EXPECT_TRUE(c.kv(i)->Set("shared", "from" + std::to_string(i)).ok());
    });
  }
  c.net().scheduler(1)->Post(
      [&] { EXPECT_TRUE(c.kv(1)->Set("gone", "x").ok()); });
  c.RunFor(absl::Seconds(1));
  c.net().scheduler(2)->Post(
      [&] { EXPECT_TRUE(c.kv(2)->Delete("gone").ok()); });
  auto same = [&] {
    for (int i = 1; i < n; ++i) {
      if (c.kv(i)->Items() != c.kv(0)->Items()) return false;
    }
    return c.kv(0)->Items().size() == 6;  // 5 keys + shared
  };
  ASSERT_TRUE(c.RunUntil(same, AntiEntropyBound(c.node(0).config(), n)));
  EXPECT_EQ(c.kv(0)->Items().count("gone"), 0u);
}

TEST(MemberlistSimTest, RestartedMemberWithHigherIncarnationIsAliveAgain) {
  const uint64_t seed = SimSeed(10);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 6;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  c.Crash(4);
  ASSERT_TRUE(c.RunUntil([&] { return c.AllSee(4, MemberState::kDead); },
                         DetectionBound(c.node(0).config(), n)));
  const uint64_t old_generation = c.node(4).LocalNode().generation;
  c.Restart(4, 0);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); },
                         AntiEntropyBound(c.node(0).config(), n)));
  // A new process: a newer generation, which replaced the dead member at
  // once (no refutation of its predecessor's incarnation needed).
  EXPECT_GT(c.node(4).LocalNode().generation, old_generation);
  EXPECT_EQ(c.node(4).stats().refutations, 0u);
}

// A mass restart (memberlist#311): a restarted process joins through a
// member that is killed while the join is in flight, so no answer comes and
// the join fails after reliable_timeout (10 s on LAN). Meanwhile the others,
// probing its predecessor's address, were introduced to it one by one.
// Before, that was all it knew until its next push/pull (every 120 s at
// 200 members): at 100 members in peerlab-sim's mass-restart, seed 1,
// "all know all after the last restart" took 60.5 s, one member not
// knowing 11. Now the failed join fetches the group from a member it knows.
TEST(MemberlistSimTest, ARestartWhoseSeedDiesMidJoinStillLearnsTheGroup) {
  const uint64_t seed = SimSeed(41);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 200;
  SimCluster c(Opts(n, seed, Config::Lan()));
  ASSERT_TRUE(StartAndConverge(c));
  const int restarted = n - 1, seed_node = n - 2;
  c.Crash(restarted);
  c.Restart(restarted, seed_node);
  // The seed dies before the join request reaches it (1 ms links).
  c.net().clock().Schedule(c.Now() + absl::Microseconds(100),
                           [&] { c.Crash(seed_node); });
  auto known_live = [&] {
    int known = 0;
    for (const Member& m : c.node(restarted).AllMembers()) {
      if (m.name == c.name(restarted)) continue;
      if (m.state != MemberState::kAlive && m.state != MemberState::kSuspect) {
        continue;
      }
      for (int i = 0; i < n; ++i) {
        if (i != restarted && !c.crashed(i) && m.name == c.name(i)) ++known;
      }
    }
    return known;
  };
  const Config& cfg = c.node(0).config();
  // The join's deadline, plus one round trip and a few gossip rounds.
  c.RunFor(cfg.reliable_timeout + absl::Seconds(2));
  ASSERT_TRUE(c.join_result(restarted).has_value());
  EXPECT_FALSE(c.join_result(restarted)->ok());
  EXPECT_EQ(known_live(), n - 2) << "of the " << n - 2 << " live members";
}

// The O(1) counter peerlab-sim checks after every event agrees with the
// O(N) scan at every step of a join, a crash and a restart.
TEST(MemberlistSimTest, FastKnowAllCounterAgreesWithScan) {
  const uint64_t seed = SimSeed(13);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 12;
  SimCluster c(Opts(n, seed));
  int checks = 0, disagreements = 0, agreed_true = 0;
  auto check = [&] {
    ++checks;
    const bool fast = c.AllKnowAllFast();
    if (fast != c.AllKnowAll()) ++disagreements;
    if (fast) ++agreed_true;
    return false;
  };
  c.StartAll();
  const Config& cfg = c.node(0).config();
  c.net().clock().RunUntilCondition(check, c.Now() + AntiEntropyBound(cfg, n));
  ASSERT_TRUE(c.AllKnowAllFast());
  c.Crash(3);
  EXPECT_FALSE(c.AllKnowAllFast());
  EXPECT_EQ(c.LiveCount(), n - 1);
  c.net().clock().RunUntilCondition(check, c.Now() + DetectionBound(cfg, n));
  ASSERT_TRUE(c.AllKnowAllFast());
  c.Restart(3, 0);
  c.net().clock().RunUntilCondition(check, c.Now() + AntiEntropyBound(cfg, n));
  EXPECT_TRUE(c.AllKnowAllFast());
  EXPECT_EQ(c.KnowAllCount(), n);
  EXPECT_EQ(disagreements, 0) << "of " << checks << " checks";
  EXPECT_GT(agreed_true, 0);
}

TEST(MemberlistSimTest, MalformedDatagramsAreCountedAndDropped) {
  const uint64_t seed = SimSeed(11);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(2, seed));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(2)));
  const std::string to = c.net().address(0);
  c.net().scheduler(1)->Post([&] {
    c.net().transport(1)->SendPacket(to, "\xff\x01garbage");
    c.net().transport(1)->SendPacket(to, std::string(70000, 'x'));
    c.net().transport(1)->SendPacket(to, "");
  });
  c.RunFor(absl::Seconds(1));
  EXPECT_GE(c.node(0).stats().bad_packets, 2u);
  EXPECT_TRUE(c.Converged());
}

// A datagram from a member nobody told us about: the receiver introduces
// itself and asks for the sender's own state (PushPull.self_only: one entry
// each way, not a full exchange), and both then know each other.
TEST(MemberlistSimTest, UnknownSenderIsLearnedByIntroduction) {
  const uint64_t seed = SimSeed(13);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(2, seed));
  c.Start(0);
  c.Start(1);  // neither joins the other
  c.RunFor(absl::Seconds(1));
  ASSERT_EQ(c.node(0).NumAlive(), 1);
  ASSERT_EQ(c.node(1).NumAlive(), 1);
  const std::string to = c.net().address(0);
  const std::string from = c.node(1).config().name;
  c.net().scheduler(1)->Post([&] {
    ::peer::v1::Message ack;
    ack.mutable_ack()->set_seq_no(12345);  // answers nothing: ignored
    c.net().transport(1)->SendPacket(to,
                                     EncodePacket(from, {EncodeMessage(ack)}));
  });
  ASSERT_TRUE(c.RunUntil(
      [&] { return c.node(0).NumAlive() == 2 && c.node(1).NumAlive() == 2; },
      absl::Seconds(1)));
  EXPECT_EQ(c.node(0).stats().unknown_sender_syncs, 1u);
  EXPECT_TRUE(c.Converged());
}

// Lifeguard's claim: members whose timers run late (an overloaded host)
// are far less often declared dead with Lifeguard on. A quarter of 24
// members get timers and arrivals late by up to one probe period; they are
// healthy, so every death is a false positive. Summed over several seeds,
// since one run has few events.
int FalsePositivesWithSlowMembers(bool lifeguard, uint64_t seed) {
  const int n = 24;
  SimCluster::Options o = Opts(n, seed);
  o.config.lifeguard = lifeguard;
  SimCluster c(o);
  c.StartAll();
  if (!c.RunUntil([&] { return c.AllKnowAll(); },
                  AntiEntropyBound(o.config, n))) {
    return -1;
  }
  for (int i = 0; i < n; i += 4) {
    c.net().SetSlowness(i, {.timer_lag = o.config.probe_interval,
                            .inbound_lag = o.config.probe_interval});
  }
  c.RunFor(absl::Minutes(5));
  return c.false_positive_deaths();
}

TEST(MemberlistSimTest, LifeguardCutsFalsePositivesFromSlowMembers) {
  const uint64_t seed = SimSeed(12);
  PEERLAB_SIM_TRACE_SEED(seed);
  int without = 0, with = 0;
  for (uint64_t s = seed; s < seed + 16; ++s) {
    int a = FalsePositivesWithSlowMembers(false, s);
    int b = FalsePositivesWithSlowMembers(true, s);
    ASSERT_GE(a, 0) << "no convergence, seed " << s;
    ASSERT_GE(b, 0) << "no convergence, seed " << s;
    without += a;
    with += b;
  }
  RecordProperty("false_positives_without_lifeguard", without);
  RecordProperty("false_positives_with_lifeguard", with);
  std::cout << "false positive deaths over 16 seeds: without lifeguard "
            << without << ", with " << with << "\n";
  // 10: the timed death gives a late ack DeathDelay() to refute (before it,
  // 112-152 without Lifeguard; with it, 12 on seeds 12-27).
  EXPECT_GE(without, 10) << "the experiment needs slow members to hurt";
  // The target: at least 10x fewer. Measured 0-4 with against
  // 112-152 without over 16 seeds from five bases (it was 2.6-3.9x while
  // push/pull merges and stale suspicions counted as confirmations).
  EXPECT_LE(with * 10, without)
      << "with lifeguard " << with << ", without " << without;
}

// --- Names: a member is name + generation (issue 12) ---

// The record `observer` holds of the member named `name`, if any.
std::optional<Member> RecordOf(SimCluster& c, int observer,
                               const std::string& name) {
  for (const Member& m : c.node(observer).AllMembers()) {
    if (m.name == name) return m;
  }
  return std::nullopt;
}

// Whether nodes 0..n-1 (but `skip`) all hold `name` alive in a record for
// which `match(record)` holds.
template <typename Match>
bool AllHoldAlive(SimCluster& c, int n, const std::string& name, Match match,
                  int skip = -1) {
  for (int i = 0; i < n; ++i) {
    if (i == skip) continue;
    auto r = RecordOf(c, i, name);
    if (!r || !match(*r) || r->state != MemberState::kAlive) return false;
  }
  return true;
}

// A second live process under a taken name is refused with the holder's
// address, and the group keeps the holder: no incarnation climbs, nobody
// refutes anybody.
TEST(MemberlistSimTest, DuplicateLiveNameIsRefused) {
  const uint64_t seed = SimSeed(21);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 4;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Config& cfg = c.node(0).config();
  const std::string holder_id = c.node(2).LocalNode().id;
  const int dup = c.AddNode("node2");
  c.StartAndJoin(dup, 0);
  // Decided within one probe period (the seed probes the holder).
  ASSERT_TRUE(c.RunUntil([&] { return c.join_result(dup).has_value(); },
                         cfg.probe_interval));
  absl::StatusOr<int> joined = *c.join_result(dup);
  EXPECT_TRUE(absl::IsAlreadyExists(joined.status())) << joined.status();
  EXPECT_THAT(std::string(joined.status().message()),
              ::testing::HasSubstr("name node2 is held by live member at " +
                                   c.net().address(2)));
  // Joining the holder itself is refused at once too.
  const int dup0 = c.AddNode("node0");
  c.StartAndJoin(dup0, 0);
  ASSERT_TRUE(c.RunUntil([&] { return c.join_result(dup0).has_value(); },
                         cfg.probe_interval));
  EXPECT_TRUE(absl::IsAlreadyExists(c.join_result(dup0)->status()))
      << c.join_result(dup0)->status();
  c.RunFor(absl::Seconds(60));
  for (int i = 0; i < n; ++i) {
    for (const std::string name : {"node0", "node2"}) {
      auto r = RecordOf(c, i, name);
      ASSERT_TRUE(r.has_value()) << i << " " << name;
      EXPECT_EQ(r->state, MemberState::kAlive) << i << " " << name;
      EXPECT_EQ(r->incarnation, 1u) << i << " sees " << name << " climb";
    }
    EXPECT_EQ(RecordOf(c, i, "node2")->id, holder_id) << i;
    EXPECT_EQ(c.node(i).stats().refutations, 0u) << i;
    EXPECT_FALSE(c.node(i).replaced()) << i;
  }
  EXPECT_EQ(c.node(dup).NumAlive(), 1);
  EXPECT_GE(c.node(0).stats().joins_refused, 2u);
  EXPECT_EQ(c.false_positive_deaths(), 0);
}

// A process restarted under its old name (kill -9, then started again on
// the same address before anyone noticed) takes the name over within one
// probe period, with no refutation and nobody declaring it dead.
TEST(MemberlistSimTest, RestartedNameTakesOverWithinOneProbePeriod) {
  const uint64_t seed = SimSeed(22);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Config& cfg = c.node(0).config();
  const std::string old_id = c.node(3).LocalNode().id;
  c.Crash(3);
  c.RunFor(cfg.probe_timeout / 2);
  c.Restart(3, 0);
  const std::string new_id = c.node(3).LocalNode().id;
  ASSERT_NE(new_id, old_id);
  auto taken_over = [&] {
    return c.join_result(3).has_value() &&
           AllHoldAlive(c, n, "node3", [&](const Member& r) {
             return r.id == c.node(3).LocalNode().id;
           });
  };
  ASSERT_TRUE(c.RunUntil(taken_over, cfg.probe_interval))
      << "not taken over within one probe period";
  EXPECT_TRUE(c.join_result(3)->ok()) << c.join_result(3)->status();
  c.RunFor(absl::Seconds(60));
  EXPECT_TRUE(c.Converged());
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(RecordOf(c, i, "node3")->incarnation, 1u) << i;
    EXPECT_FALSE(c.observed(i, 3).dead) << i;
  }
  EXPECT_EQ(c.node(3).stats().refutations, 0u);
  EXPECT_EQ(c.false_positive_deaths(), 0);
}

// The same on another address (a replacement pod): the new process takes
// the name over at once, and the old address is forgotten.
TEST(MemberlistSimTest, RestartOnAnotherAddressTakesOverWithinOneProbePeriod) {
  const uint64_t seed = SimSeed(23);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Config& cfg = c.node(0).config();
  c.Crash(3);
  c.RunFor(cfg.probe_timeout / 2);
  const int fresh = c.AddNode("node3");
  c.StartAndJoin(fresh, 1);
  const std::string addr = c.net().address(fresh);
  auto taken_over = [&] {
    return c.join_result(fresh).has_value() &&
           AllHoldAlive(
               c, n, "node3", [&](const Member& r) { return r.addr == addr; },
               /*skip=*/3);
  };
  ASSERT_TRUE(c.RunUntil(taken_over, cfg.probe_interval))
      << "not taken over within one probe period";
  EXPECT_TRUE(c.join_result(fresh)->ok()) << c.join_result(fresh)->status();
  c.RunFor(absl::Seconds(60));
  for (int i = 0; i < n; ++i) {
    if (i == 3) continue;
    auto r = RecordOf(c, i, "node3");
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->addr, addr) << i;
    EXPECT_EQ(r->state, MemberState::kAlive) << i;
    EXPECT_EQ(r->incarnation, 1u) << i;
  }
  EXPECT_EQ(c.node(fresh).stats().refutations, 0u);
  EXPECT_EQ(c.node(fresh).NumAlive(), n);
}

// Two live processes under one name after all (the second joined a side of
// a partition that could not reach the holder): once healed, the older one
// yields to the newer generation instead of refuting it, so incarnations
// stop climbing and the group agrees on the newer one.
TEST(MemberlistSimTest, OlderProcessYieldsToNewerGenerationAfterPartition) {
  const uint64_t seed = SimSeed(27);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 6;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Config& cfg = c.node(0).config();
  const int twin = c.AddNode("node2");
  c.net().Partition({{0, 1, 2}, {3, 4, 5, static_cast<sim::NodeId>(twin)}});
  c.StartAndJoin(twin, 3);
  ASSERT_TRUE(c.RunUntil([&] { return c.join_result(twin).has_value(); },
                         cfg.probe_interval));
  ASSERT_TRUE(c.join_result(twin)->ok()) << c.join_result(twin)->status();
  c.RunFor(absl::Seconds(5));
  c.net().Heal();
  const std::string twin_id = c.node(twin).LocalNode().id;
  auto agreed = [&] {
    return AllHoldAlive(
               c, n, "node2", [&](const Member& r) { return r.id == twin_id; },
               /*skip=*/2) &&
           c.node(2).replaced();
  };
  ASSERT_TRUE(
      c.RunUntil(agreed, AntiEntropyBound(cfg, n) + DetectionBound(cfg, n)));
  const uint64_t refutations =
      c.node(2).stats().refutations + c.node(twin).stats().refutations;
  const uint64_t incarnation = RecordOf(c, 0, "node2")->incarnation;
  c.RunFor(absl::Seconds(60));
  EXPECT_TRUE(agreed());
  EXPECT_EQ(RecordOf(c, 0, "node2")->incarnation, incarnation);
  EXPECT_EQ(c.node(2).stats().refutations + c.node(twin).stats().refutations,
            refutations);
  EXPECT_EQ(c.node(twin).stats().refutations, 0u);
  absl::Status update = absl::UnknownError("not run");
  c.net().scheduler(2)->Post([&] { update = c.node(2).UpdateMeta("x"); });
  c.RunFor(absl::Milliseconds(10));
  EXPECT_TRUE(absl::IsFailedPrecondition(update)) << update;
}

// --- Bounds (issue 12) ---

// A flood of forged alive messages about made-up members: every table
// stays within max_members, the refusals are counted, and a real crash is
// still detected in the usual time.
TEST(MemberlistSimTest, FloodOfForgedMembersStaysBounded) {
  const uint64_t seed = SimSeed(24);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 8;
  SimCluster::Options o = Opts(n, seed);
  o.config.max_members = 4 * n;
  SimCluster c(o);
  ASSERT_TRUE(StartAndConverge(c));
  const Config& cfg = c.node(0).config();
  // 10 datagrams of 400 forged members each (4,000), sent to node 0 as
  // if from node 7, and one push/pull of 5,000 forged entries. The forger
  // signs its made-up members with a key of its own (anyone can: the first
  // key seen for a name is pinned to it), so they pass the signature check
  // and meet the bound.
  const std::string to = c.net().address(0);
  const auto forger = identity::NodeKey::FromSeed(std::string(32, 'z'));
  ASSERT_TRUE(forger.ok());
  c.net().scheduler(7)->Post([&] {
    int k = 0;
    for (int d = 0; d < 10; ++d) {
      std::vector<std::string> messages;
      for (int j = 0; j < 400; ++j, ++k) {
        ::peer::v1::Message m;
        auto* a = m.mutable_alive();
        a->set_node("fake" + std::to_string(k));
        a->set_addr("10.66." + std::to_string(k / 250) + "." +
                    std::to_string(k % 250) + ":7946");
        a->set_incarnation(1);
        a->set_id("x" + std::to_string(k));
        ASSERT_TRUE(SignAlive(*forger, *a).ok());
        messages.push_back(EncodeMessage(m));
      }
      c.net().transport(7)->SendPacket(to, EncodePacket("node7", messages));
    }
    ::peer::v1::ReliableRequest request;
    auto* pp = request.mutable_push_pull();
    pp->set_from("node7");
    for (int j = 0; j < 5000; ++j) {
      auto* s = pp->add_nodes();
      s->set_name("pp" + std::to_string(j));
      s->set_addr("10.67.0.1:" + std::to_string(1000 + j));
      s->set_incarnation(1);
    }
    c.net().transport(7)->SendReliable(
        to, request, absl::Seconds(1),
        [](absl::StatusOr<::peer::v1::ReliableResponse>) {});
  });
  c.RunFor(absl::Seconds(2));
  for (int i = 0; i < n; ++i) {
    EXPECT_LE(c.node(i).AllMembers().size(),
              static_cast<size_t>(o.config.max_members))
        << i;
  }
  EXPECT_GT(c.node(0).stats().members_refused, 3000u);
  EXPECT_EQ(c.node(0).stats().push_pulls_refused, 1u);
  // A real crash is still detected within the usual bound for a table of
  // that size: the forged members (never verified) are not asked to probe
  // for anyone and do not lower anyone's health score, so nobody slows
  // down. (Measured over seeds 24, 30-33: 7-40 s; the bound for the 8 real
  // members alone is 33 s, for a full table of 32, 95 s.)
  const int victim = 5;
  c.Crash(victim);
  const absl::Duration bound = DetectionBound(cfg, o.config.max_members);
  ASSERT_TRUE(
      c.RunUntil([&] { return c.AllSee(victim, MemberState::kDead); }, bound))
      << "not dead everywhere within " << bound;
  for (int i = 0; i < n; ++i) EXPECT_EQ(c.node(i).HealthScore(), 0) << i;
  for (int i = 0; i < n; ++i) {
    EXPECT_LE(c.node(i).AllMembers().size(),
              static_cast<size_t>(o.config.max_members))
        << i;
  }
  EXPECT_EQ(c.false_positive_deaths(), 0);
}

// Datagrams from thousands of made-up senders: introductions (each a
// push/pull) stay bounded, and the skipped ones are counted.
TEST(MemberlistSimTest, UnknownSenderBookkeepingIsBounded) {
  const uint64_t seed = SimSeed(25);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(2, seed));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(2)));
  const std::string to = c.net().address(0);
  c.net().scheduler(1)->Post([&] {
    ::peer::v1::Message ack;
    ack.mutable_ack()->set_seq_no(12345);
    for (int k = 0; k < 3000; ++k) {
      c.net().transport(1)->SendPacket(
          to, EncodePacket("ghost" + std::to_string(k), {EncodeMessage(ack)}));
    }
  });
  c.RunFor(absl::Seconds(1));
  EXPECT_LE(c.node(0).stats().unknown_sender_syncs, 1024u);
  EXPECT_GE(c.node(0).stats().unknown_senders_refused, 3000u - 1024u);
  EXPECT_TRUE(c.Converged());
}

// --- Wire checks (issue 12) ---

// A suspicion naming an incarnation at the top of the range: refuting it
// (+1) wrapped to 0 and the accused was declared dead. Dropped now.
TEST(MemberlistSimTest, IncarnationNearTheTopIsRefused) {
  const uint64_t seed = SimSeed(26);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 4;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const std::string to = c.net().address(0);
  const uint64_t generation = c.node(1).LocalNode().generation;
  c.net().scheduler(3)->Post([&] {
    ::peer::v1::Message m;
    auto* s = m.mutable_suspect();
    s->set_node("node1");
    s->set_from("node3");
    s->set_incarnation(std::numeric_limits<uint64_t>::max());
    s->set_generation(generation);
    c.net().transport(3)->SendPacket(to,
                                     EncodePacket("node3", {EncodeMessage(m)}));
  });
  c.RunFor(absl::Seconds(60));
  EXPECT_TRUE(c.Converged());
  for (int i = 0; i < n; ++i) EXPECT_FALSE(c.observed(i, 1).dead) << i;
  EXPECT_LT(c.node(1).LocalNode().incarnation, kMaxIncarnation);
  EXPECT_EQ(c.node(0).stats().bad_messages, 1u);
}

// --- Incarnation window (issue 13) ---

// Node `observer`'s view of `target`'s incarnation (0: not known).
uint64_t IncarnationSeen(SimCluster& c, int observer, int target) {
  auto m = RecordOf(c, observer, "node" + std::to_string(target));
  return m ? m->incarnation : 0;
}

// Node `from` sends one datagram carrying `m` to every other member.
void SendToAll(SimCluster& c, int from, const ::peer::v1::Message& m) {
  const std::string sender = "node" + std::to_string(from);
  c.net().scheduler(from)->Post([&c, from, m, sender] {
    for (int i = 0; i < c.size(); ++i) {
      if (i == from) continue;
      c.net().transport(from)->SendPacket(
          c.net().address(i), EncodePacket(sender, {EncodeMessage(m)}));
    }
  });
}

constexpr uint64_t kForgedJump = 1'000'000;

enum class Accusation { kSuspect, kDead };

// Sends every member (node1 included) an accusation of node1 naming its
// incarnation + 10^6, as node3, then checks that everyone ignored and
// counted it: nobody holds node1 dead (nor suspect, for a suspicion), and
// node1 did not refute by climbing to that height.
void CheckForgedAccusationIsIgnored(uint64_t seed, Accusation kind) {
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 4;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Member victim = c.node(1).LocalNode();
  ::peer::v1::Message m;
  auto forge = [&](auto* a) {
    a->set_node("node1");
    a->set_from("node3");
    a->set_incarnation(victim.incarnation + kForgedJump);
    a->set_generation(victim.generation);
  };
  if (kind == Accusation::kSuspect) {
    forge(m.mutable_suspect());
  } else {
    forge(m.mutable_dead());
  }
  SendToAll(c, 3, m);
  c.RunFor(absl::Seconds(60));
  EXPECT_TRUE(c.Converged());
  for (int i = 0; i < n; ++i) {
    if (kind == Accusation::kSuspect) {
      EXPECT_FALSE(c.observed(i, 1).suspect) << i;
    }
    EXPECT_FALSE(c.observed(i, 1).dead) << i;
  }
  EXPECT_LT(c.node(1).LocalNode().incarnation, victim.incarnation + 1024);
  for (int i : {0, 2}) {
    EXPECT_LT(IncarnationSeen(c, i, 1), victim.incarnation + 1024) << i;
    EXPECT_EQ(c.node(i).stats().incarnation_jumps_ignored, 1u) << i;
  }
  EXPECT_EQ(c.node(1).stats().incarnation_jumps_ignored, 1u);
  EXPECT_EQ(c.node(1).stats().refutations, 0u);
}

// A forged suspicion was accepted, and node1 refuted it by climbing to that
// height (repeated, to kMaxIncarnation, after which it could never refute
// again). Now everyone ignores it and counts it.
TEST(MemberlistSimTest, ForgedSuspectFarAboveTheIncarnationIsIgnored) {
  CheckForgedAccusationIsIgnored(SimSeed(28), Accusation::kSuspect);
}

// The same with a forged dead: it evicted node1 until it refuted at
// incarnation + 10^6 + 1.
TEST(MemberlistSimTest, ForgedDeadFarAboveTheIncarnationIsIgnored) {
  CheckForgedAccusationIsIgnored(SimSeed(29), Accusation::kDead);
}

// node4 is cut off for ten minutes, declared dead, and meanwhile raises its
// own incarnation by more than the window (1,500 metadata updates); a forger
// on the majority side relays an alive of node4 at + 10^6 (it pinned node4
// there: node4's own alives were old news). After the heal node4 is back
// everywhere with the incarnation it chose itself.
TEST(MemberlistSimTest, MemberBackFromALongPartitionIsAccepted) {
  const uint64_t seed = SimSeed(30);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Config& cfg = c.node(0).config();
  const Member before = c.node(4).LocalNode();
  c.net().Partition({{0, 1, 2, 3}, {4}});
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 0; i < 4; ++i) {
          if (!c.Sees(i, 4, MemberState::kDead)) return false;
        }
        return true;
      },
      DetectionBound(cfg, n)));
  c.net().scheduler(4)->Post([&] {
    for (int k = 0; k < 1500; ++k) {
      ASSERT_TRUE(c.node(4).UpdateMeta("v" + std::to_string(k)).ok());
    }
  });
  ::peer::v1::Message m;
  auto* a = m.mutable_alive();
  a->set_node("node4");
  a->set_addr(c.net().address(4));
  a->set_id(before.id);
  a->set_meta(before.meta);
  a->set_generation(before.generation);
  a->set_incarnation(before.incarnation + kForgedJump);
  SendToAll(c, 3, m);
  c.RunFor(absl::Minutes(10));
  c.net().Heal();
  const absl::Duration bound =
      PushPullScale(cfg.push_pull_interval, n) * 2 + DetectionBound(cfg, n);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, bound))
      << "not reconverged within " << bound;
  const uint64_t own = c.node(4).LocalNode().incarnation;
  EXPECT_GE(own, before.incarnation + 1500);
  EXPECT_LT(own, before.incarnation + kForgedJump);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(IncarnationSeen(c, i, 4), own) << i;
    EXPECT_TRUE(c.Sees(i, 4, MemberState::kAlive)) << i;
  }
}

// --- No amplification (issue 13) ---

// Encoded messages from `make(k)`, as many as one datagram from `from` holds.
std::string FullDatagram(const std::string& from,
                         const std::function<::peer::v1::Message(int)>& make,
                         int* count) {
  std::vector<std::string> messages;
  int size = PacketHeaderSize(from);
  for (int k = 0;; ++k) {
    std::string m = EncodeMessage(make(k));
    if (size + FramedSize(static_cast<int>(m.size())) > kMaxDatagram) break;
    size += FramedSize(static_cast<int>(m.size()));
    messages.push_back(std::move(m));
  }
  *count = static_cast<int>(messages.size());
  return EncodePacket(from, messages);
}

// One 64 KiB datagram of pings naming a third party's source_addr made a
// member send an ack per ping to that party (a reflector); one of ping-reqs
// naming third parties as target_addr and source_addr, a ping per request to
// one and a nack per request to the other. Now one datagram received makes
// at most one datagram to any third address.
TEST(MemberlistSimTest, PingsNamingAThirdPartyAreNotReflected) {
  const uint64_t seed = SimSeed(27);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 3;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  // Third parties: addresses on the network that run no member.
  const sim::NodeId victim = c.net().AddNode();
  const sim::NodeId victim2 = c.net().AddNode();
  std::map<sim::NodeId, int> to_victims;
  c.net().SetPacketObserver([&](const sim::PacketEvent& e) {
    if (e.from == 0 && (e.to == victim || e.to == victim2)) ++to_victims[e.to];
  });
  const std::string to = c.net().address(0);
  const std::string victim_addr = c.net().address(victim);
  const std::string victim2_addr = c.net().address(victim2);

  int pings = 0;
  const std::string ping_datagram = FullDatagram(
      "node1",
      [&](int k) {
        ::peer::v1::Message m;
        auto* p = m.mutable_ping();
        p->set_seq_no(1000 + k);
        p->set_target("node0");
        p->set_source_name("node1");
        p->set_source_addr(victim_addr);
        return m;
      },
      &pings);
  ASSERT_GT(pings, 1000);
  c.net().scheduler(1)->Post(
      [&] { c.net().transport(1)->SendPacket(to, ping_datagram); });
  c.RunFor(absl::Seconds(1));
  EXPECT_LE(to_victims[victim], 1)
      << "from one datagram of " << pings << " pings naming " << victim_addr;

  to_victims.clear();
  int reqs = 0;
  const std::string req_datagram = FullDatagram(
      "node1",
      [&](int k) {
        ::peer::v1::Message m;
        auto* r = m.mutable_indirect_ping();
        r->set_seq_no(5000 + k);
        r->set_target("ghost");
        r->set_target_addr(victim_addr);
        r->set_want_nack(true);
        r->set_source_name("node1");
        r->set_source_addr(victim2_addr);
        return m;
      },
      &reqs);
  ASSERT_GT(reqs, 500);
  c.net().scheduler(1)->Post(
      [&] { c.net().transport(1)->SendPacket(to, req_datagram); });
  c.RunFor(absl::Seconds(2));  // past probe_timeout: the nacks are out
  EXPECT_LE(to_victims[victim], 1)
      << "pings on behalf of " << reqs << " ping-reqs";
  EXPECT_LE(to_victims[victim2], 1)
      << "acks/nacks for " << reqs << " ping-reqs";

  // Only the first of each datagram was served; the rest were counted.
  EXPECT_EQ(c.node(0).stats().probe_requests_refused,
            static_cast<uint64_t>((pings - 1) + (reqs - 1)));

  c.net().SetPacketObserver(nullptr);
  c.RunFor(absl::Seconds(5));
  EXPECT_TRUE(c.Converged());
  EXPECT_EQ(c.false_positive_deaths(), 0);
}

// --- Lamport window (issue 13) ---

// node3 sends every other member one datagram of a user message carrying
// forged key/value entries: one at exactly kMaxLamport (accepted before, so
// the next write anywhere was kMaxLamport + 1, which every other member
// refused: writes never converged again) and one 2^33 above the clocks.
// Both are ignored and counted, and later writes converge everywhere.
TEST(MemberlistSimTest, ForgedLamportJumpIsIgnoredAndWritesConverge) {
  const uint64_t seed = SimSeed(31);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 4;
  SimCluster::Options o = Opts(n, seed);
  o.with_kv = true;
  SimCluster c(o);
  ASSERT_TRUE(StartAndConverge(c));
  c.net().scheduler(0)->Post(
      [&] { EXPECT_TRUE(c.kv(0)->Set("k", "v0").ok()); });
  auto all_have = [&](const std::string& want) {
    return [&c, want] {
      for (int i = 0; i < c.size(); ++i) {
        auto items = c.kv(i)->Items();
        if (items.count("k") == 0 || items.at("k") != want) return false;
      }
      return true;
    };
  };
  ASSERT_TRUE(
      c.RunUntil(all_have("v0"), AntiEntropyBound(c.node(0).config(), n)));
  ::peer::v1::KvState forged;
  for (uint64_t t : {kMaxLamport, c.kv(0)->lamport() + (uint64_t{1} << 33)}) {
    auto* e = forged.add_entries();
    e->set_key("k");
    e->set_value("forged");
    e->set_node("mallory");
    e->set_lamport(t);
  }
  ::peer::v1::Message m;
  m.mutable_user()->set_payload(
      DelegateMux::EncodePayload(kKvChannel, forged.SerializeAsString()));
  SendToAll(c, 3, m);
  c.RunFor(absl::Seconds(5));
  c.net().scheduler(1)->Post(
      [&] { EXPECT_TRUE(c.kv(1)->Set("k", "after").ok()); });
  // Failed before: node1 wrote at kMaxLamport + 1, refused everywhere else.
  ASSERT_TRUE(
      c.RunUntil(all_have("after"), AntiEntropyBound(c.node(0).config(), n)));
  for (int i = 0; i < n; ++i) {
    EXPECT_LT(c.kv(i)->lamport(), kLamportWindow) << i;
    EXPECT_EQ(c.kv(i)->lamport_jumps_ignored(), i == 3 ? 0u : 2u) << i;
  }
}

}  // namespace
}  // namespace peerlab::membership
