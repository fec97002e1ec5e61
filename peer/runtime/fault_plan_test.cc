#include "peer/runtime/fault_plan.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/runtime/sim_clock.h"

namespace peerlab::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Outcome = PacketFate::Outcome;

constexpr char kBob[] = "10.0.0.2:7946";
constexpr char kCarol[] = "10.0.0.3:7946";

FaultRule Block() {
  FaultRule r;
  r.block = true;
  return r;
}

// Sends `n` datagrams to `to`, one every `every` of simulated time, and
// counts the fates.
struct Tally {
  int sent = 0, dropped = 0, blocked = 0, queue_full = 0, copies = 0, held = 0;
  absl::Duration max_delay = absl::ZeroDuration();
};

Tally Send(FaultPlan& plan, SimClock& clock, const std::string& to, int n,
           absl::Duration every = absl::Milliseconds(1)) {
  Tally t;
  for (int i = 0; i < n; ++i) {
    PacketFate fate = plan.DecidePacket(to, clock.Now());
    switch (fate.outcome) {
      case Outcome::kSend:
        ++t.sent;
        t.copies += static_cast<int>(fate.copies.size());
        for (absl::Duration d : fate.copies) {
          if (d > absl::ZeroDuration()) ++t.held;
          t.max_delay = std::max(t.max_delay, d);
        }
        break;
      case Outcome::kDropped:
        ++t.dropped;
        break;
      case Outcome::kBlocked:
        ++t.blocked;
        break;
      case Outcome::kQueueFull:
        ++t.queue_full;
        break;
    }
    clock.RunFor(every);
  }
  return t;
}

TEST(FaultPlanTest, NoRuleSendsEverythingAtOnce) {
  FaultPlan plan;
  SimClock clock;
  Tally t = Send(plan, clock, kBob, 100);
  EXPECT_EQ(t.sent, 100);
  EXPECT_EQ(t.copies, 100);
  EXPECT_EQ(t.held, 0);
  EXPECT_TRUE(plan.empty());
}

// One table: a rule on bob, 1,000 datagrams to bob and to carol (who has no
// rule of its own).
struct Row {
  const char* name;
  FaultRule rule;
  const char* destination;  // whose rule: bob or "*"
  // Expected for bob, then for carol.
  int bob_sent_min, bob_sent_max, bob_copies_min, bob_copies_max;
  int carol_sent, carol_copies;
};

FaultRule Rule(std::optional<double> drop, std::optional<absl::Duration> delay,
               std::optional<absl::Duration> jitter, std::optional<bool> block,
               std::optional<double> dup, std::optional<double> reorder) {
  FaultRule r;
  r.drop = drop;
  r.delay = delay;
  r.jitter = jitter;
  r.block = block;
  r.duplicate = dup;
  r.reorder = reorder;
  return r;
}

TEST(FaultPlanTest, RulesTable) {
  const absl::Duration ms20 = absl::Milliseconds(20);
  const absl::Duration ms5 = absl::Milliseconds(5);
  const std::vector<Row> rows = {
      {"drop 10% on bob", Rule(0.1, {}, {}, {}, {}, {}), kBob, 850, 950, 850,
       950, 1000, 1000},
      {"drop 100% on bob", Rule(1.0, {}, {}, {}, {}, {}), kBob, 0, 0, 0, 0,
       1000, 1000},
      {"block bob", Rule({}, {}, {}, true, {}, {}), kBob, 0, 0, 0, 0, 1000,
       1000},
      {"delay bob", Rule({}, ms20, ms5, {}, {}, {}), kBob, 1000, 1000, 1000,
       1000, 1000, 1000},
      {"dup 50% on bob", Rule({}, {}, {}, {}, 0.5, {}), kBob, 1000, 1000, 1400,
       1600, 1000, 1000},
      {"reorder 20% on bob", Rule({}, {}, {}, {}, {}, 0.2), kBob, 1000, 1000,
       1000, 1000, 1000, 1000},
      {"drop 10% everywhere", Rule(0.1, {}, {}, {}, {}, {}), "*", 850, 950, 850,
       950, 850, 950},
      {"block everywhere", Rule({}, {}, {}, true, {}, {}), "*", 0, 0, 0, 0, 0,
       0},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    FaultPlan plan(FaultPlan::Options{.seed = 7});
    ASSERT_TRUE(plan.Set(row.destination, row.rule).ok());
    SimClock clock;
    Tally bob = Send(plan, clock, kBob, 1000);
    EXPECT_GE(bob.sent, row.bob_sent_min);
    EXPECT_LE(bob.sent, row.bob_sent_max);
    EXPECT_GE(bob.copies, row.bob_copies_min);
    EXPECT_LE(bob.copies, row.bob_copies_max);
    Tally carol = Send(plan, clock, kCarol, 1000);
    if (std::string(row.destination) == "*") {
      EXPECT_GE(carol.sent, row.bob_sent_min);
      EXPECT_LE(carol.sent, row.bob_sent_max);
    } else {
      EXPECT_EQ(carol.sent, row.carol_sent);
      EXPECT_EQ(carol.copies, row.carol_copies);
      EXPECT_EQ(carol.held, 0);
    }
  }
}

TEST(FaultPlanTest, DelayAndJitterStayInTheirRange) {
  FaultPlan plan;
  FaultRule r;
  r.delay = absl::Milliseconds(20);
  r.jitter = absl::Milliseconds(5);
  ASSERT_TRUE(plan.Set(kBob, r).ok());
  SimClock clock;
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 500; ++i) {
    PacketFate fate = plan.DecidePacket(kBob, clock.Now());
    ASSERT_EQ(fate.outcome, Outcome::kSend);
    ASSERT_EQ(fate.copies.size(), 1u);
    lo = std::min(lo, fate.copies[0]);
    hi = std::max(hi, fate.copies[0]);
    clock.RunFor(absl::Milliseconds(1));
  }
  EXPECT_GE(lo, absl::Milliseconds(20));
  EXPECT_LE(hi, absl::Milliseconds(25));
  EXPECT_GT(hi - lo, absl::Milliseconds(3));  // the jitter is drawn
  EXPECT_EQ(plan.stats().delayed, 500u);
}

TEST(FaultPlanTest, ReorderHoldsSomeBackSoLaterOnesOvertake) {
  FaultPlan plan(FaultPlan::Options{.seed = 3});
  FaultRule r;
  r.reorder = 0.25;
  r.reorder_hold = absl::Milliseconds(10);
  ASSERT_TRUE(plan.Set(kBob, r).ok());
  SimClock clock;
  // Arrival order of datagrams sent 1 ms apart.
  std::vector<std::pair<absl::Time, int>> arrivals;
  for (int i = 0; i < 200; ++i) {
    PacketFate fate = plan.DecidePacket(kBob, clock.Now());
    ASSERT_EQ(fate.outcome, Outcome::kSend);
    arrivals.emplace_back(clock.Now() + fate.copies[0], i);
    clock.RunFor(absl::Milliseconds(1));
  }
  std::stable_sort(arrivals.begin(), arrivals.end());
  int out_of_order = 0;
  for (size_t i = 1; i < arrivals.size(); ++i) {
    out_of_order += arrivals[i].second < arrivals[i - 1].second;
  }
  EXPECT_GT(out_of_order, 20);
  EXPECT_GT(plan.stats().reordered, 30u);
  EXPECT_LT(plan.stats().reordered, 70u);
}

TEST(FaultPlanTest, SameSeedSameFates) {
  auto run = [](uint64_t seed) {
    FaultPlan plan(FaultPlan::Options{.seed = seed});
    FaultRule r;
    r.drop = 0.3;
    r.duplicate = 0.3;
    r.jitter = absl::Milliseconds(4);
    EXPECT_TRUE(plan.Set("*", r).ok());
    SimClock clock;
    std::vector<std::string> trace;
    for (int i = 0; i < 100; ++i) {
      PacketFate f = plan.DecidePacket(kBob, clock.Now());
      std::string s = std::to_string(static_cast<int>(f.outcome));
      for (absl::Duration d : f.copies) s += "/" + absl::FormatDuration(d);
      trace.push_back(s);
      clock.RunFor(absl::Milliseconds(1));
    }
    return trace;
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

TEST(FaultPlanTest, BlockOnlyDrawsNothing) {
  // Two plans with the same seed: one also blocks carol. Bob's fates under
  // a lossy "*" are the same in both (a block draws no random number).
  auto run = [](bool block_carol) {
    FaultPlan plan(FaultPlan::Options{.seed = 5});
    FaultRule lossy;
    lossy.drop = 0.5;
    EXPECT_TRUE(plan.Set(kBob, lossy).ok());
    if (block_carol) {
      EXPECT_TRUE(plan.Set(kCarol, Block()).ok());
    }
    SimClock clock;
    std::vector<int> bob;
    for (int i = 0; i < 50; ++i) {
      plan.DecidePacket(kCarol, clock.Now());
      bob.push_back(
          static_cast<int>(plan.DecidePacket(kBob, clock.Now()).outcome));
    }
    return bob;
  };
  EXPECT_EQ(run(false), run(true));
}

TEST(FaultPlanTest, OwnFieldsWinThenEveryDestination) {
  FaultPlan plan;
  FaultRule every;
  every.drop = 0.1;
  every.delay = absl::Milliseconds(20);
  ASSERT_TRUE(plan.Set("*", every).ok());
  FaultRule bob;
  bob.drop = 0.5;
  ASSERT_TRUE(plan.Set(kBob, bob).ok());
  FaultRule e = plan.Effective({kBob});
  EXPECT_EQ(e.drop, 0.5);
  EXPECT_EQ(e.delay, absl::Milliseconds(20));
  EXPECT_EQ(plan.Effective({kCarol}).drop, 0.1);
  // The first name with its own field wins.
  FaultRule carol;
  carol.drop = 0.9;
  ASSERT_TRUE(plan.Set(kCarol, carol).ok());
  EXPECT_EQ(plan.Effective({kCarol, kBob}).drop, 0.9);
  EXPECT_EQ(plan.Effective({"", kBob}).drop, 0.5);
  EXPECT_EQ(plan.Rules().at(kBob).ToString(), "drop 50%");
  EXPECT_EQ(plan.Rules().at("*").ToString(), "drop 10%, delay 20ms");
}

TEST(FaultPlanTest, OneWayBlockAndClear) {
  FaultPlan plan;
  ASSERT_TRUE(plan.Set(kBob, Block()).ok());
  EXPECT_TRUE(plan.Blocks(kBob));
  EXPECT_FALSE(plan.Blocks(kCarol));
  CallFate call = plan.DecideCall({kBob});
  EXPECT_EQ(call.fault, CallFault::kFail);
  EXPECT_TRUE(call.blocked);
  EXPECT_EQ(plan.DecideCall({kCarol}).fault, CallFault::kNone);
  // A call known by two names is blocked by either.
  EXPECT_EQ(plan.DecideCall({"127.0.0.1:1", kBob}).fault, CallFault::kFail);
  FaultRule lossy;
  lossy.drop = 0.2;
  ASSERT_TRUE(plan.Set(kBob, lossy).ok());
  plan.ClearBlocks();
  EXPECT_FALSE(plan.Blocks(kBob));
  EXPECT_EQ(plan.Rules().at(kBob).ToString(), "drop 20%");
  EXPECT_TRUE(plan.Clear(kBob));
  EXPECT_FALSE(plan.Clear(kBob));
  EXPECT_TRUE(plan.empty());
}

TEST(FaultPlanTest, CallsFailHangOrWait) {
  struct CallRow {
    const char* name;
    std::optional<CallFault> call;
    std::optional<absl::Duration> delay;
    CallFault want;
    absl::Duration want_delay;
  };
  const std::vector<CallRow> rows = {
      {"none", {}, {}, CallFault::kNone, absl::ZeroDuration()},
      {"fail", CallFault::kFail, {}, CallFault::kFail, absl::ZeroDuration()},
      {"hang", CallFault::kHang, {}, CallFault::kHang, absl::ZeroDuration()},
      {"delay",
       {},
       absl::Milliseconds(30),
       CallFault::kNone,
       absl::Milliseconds(30)},
  };
  for (const CallRow& row : rows) {
    SCOPED_TRACE(row.name);
    FaultPlan plan;
    FaultRule r;
    r.call = row.call;
    r.delay = row.delay;
    if (!r.empty()) {
      ASSERT_TRUE(plan.Set(kBob, r).ok());
    }
    CallFate fate = plan.DecideCall({kBob});
    EXPECT_EQ(fate.fault, row.want);
    EXPECT_EQ(fate.delay, row.want_delay);
    EXPECT_FALSE(fate.blocked);
  }
}

TEST(FaultPlanTest, HeldBackDatagramsAreBounded) {
  std::vector<std::string> reports;
  FaultPlan plan(FaultPlan::Options{
      .max_delayed = 10,
      .on_limit = [&](const std::string& m) { reports.push_back(m); }});
  FaultRule r;
  r.delay = absl::Milliseconds(100);
  ASSERT_TRUE(plan.Set(kBob, r).ok());
  SimClock clock;
  // 1 ms apart: 10 are held, then the bound drops the rest...
  Tally t = Send(plan, clock, kBob, 30);
  EXPECT_EQ(t.sent, 10);
  EXPECT_EQ(t.queue_full, 20);
  EXPECT_EQ(plan.stats().queue_full, 20u);
  // ...and says so at the 1st, 2nd, 4th, 8th and 16th.
  ASSERT_EQ(reports.size(), 5u);
  EXPECT_EQ(reports[0],
            "fault plan: 10 datagrams held back already; dropped 1 so far");
  // ...until the held ones are due (sent by the caller at their time).
  clock.RunFor(absl::Milliseconds(100));
  Tally later = Send(plan, clock, kBob, 5);
  EXPECT_EQ(later.sent, 5);
}

TEST(FaultPlanTest, RulesAreBoundedAndChecked) {
  FaultPlan plan(FaultPlan::Options{.max_rules = 2});
  ASSERT_TRUE(plan.Set(kBob, Block()).ok());
  ASSERT_TRUE(plan.Set(kCarol, Block()).ok());
  ASSERT_TRUE(plan.Set(kCarol, Block()).ok());  // an existing one: merged
  absl::Status s = plan.Set("10.0.0.4:7946", Block());
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("at most 2"));
  EXPECT_EQ(plan.stats().rules_refused, 1u);

  FaultRule bad;
  bad.drop = 1.5;
  EXPECT_TRUE(absl::IsInvalidArgument(plan.Set(kBob, bad)));
  bad.drop = std::nan("");
  EXPECT_TRUE(absl::IsInvalidArgument(plan.Set(kBob, bad)));
  FaultRule negative;
  negative.delay = absl::Milliseconds(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(plan.Set(kBob, negative)));
  EXPECT_TRUE(absl::IsInvalidArgument(plan.Set("", Block())));
  std::vector<std::string> dests;
  for (const auto& [d, rule] : plan.Rules()) dests.push_back(d);
  EXPECT_THAT(dests, ElementsAre(kBob, kCarol));
}

}  // namespace
}  // namespace peerlab::runtime
