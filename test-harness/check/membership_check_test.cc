// The checkers' common part (check.h) and `check membership`
// (membership_check.h) on histories that must pass and that must fail.
#include "test-harness/check/membership_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test-harness/check/check.h"

namespace peerlab::harness::check {
namespace {

using ::testing::HasSubstr;
using Rows = std::vector<peer::MemberRow>;

TEST(CheckResultTest, Format) {
  EXPECT_EQ(FormatCheckResult({.checker = "membership",
                               .summary = "3 healthy peer(s) agree"}),
            "check membership: OK: 3 healthy peer(s) agree");
  EXPECT_EQ(FormatCheckResult({.checker = "chat",
                               .ok = false,
                               .summary = "a message was lost",
                               .counterexample = "m1 from alice\nnot at bob"}),
            "check chat: FAILED: a message was lost\n  m1 from alice\n"
            "  not at bob");
}

// Five peers, "eve" killed: everybody else lists eve dead or not at all.
MembershipHistory Converged() {
  Rows live = {{"alice", "alive", 1},
               {"bob", "alive", 2},
               {"carol", "alive", 1},
               {"dave", "alive", 1}};
  MembershipHistory h;
  h.healthy = {"alice", "bob", "carol", "dave"};
  for (const std::string& p : h.healthy) h.tables[p] = live;
  h.tables["alice"].push_back({"eve", "dead", 1});
  h.tables["bob"].push_back({"eve", "dead", 2});
  h.tables["carol"].push_back({"eve", "left", 1});
  return h;
}

TEST(MembershipCheckTest, PassesWhenHealthyPeersAgree) {
  CheckResult r = CheckMembership(Converged());
  EXPECT_TRUE(r.ok) << FormatCheckResult(r);
  EXPECT_EQ(r.summary, "4 healthy peer(s) agree on 4 live member(s)");
}

TEST(MembershipCheckTest, UnhealthyPeersAreNotHeldToIt) {
  MembershipHistory h = Converged();
  // eve (killed) is still listed alive by nobody healthy; a stopped peer
  // with a stale table, and one listed dead, are no failure.
  h.tables["frank"] = {{"alice", "dead", 1}};
  h.tables["alice"].push_back({"frank", "dead", 3});
  h.tables["bob"].push_back({"frank", "dead", 3});
  EXPECT_TRUE(CheckMembership(h).ok) << FormatCheckResult(CheckMembership(h));
  EXPECT_TRUE(CheckMembership({}).ok);
}

TEST(MembershipCheckTest, FailsOnAFalseRemoval) {
  MembershipHistory h = Converged();
  for (auto& row : h.tables["carol"]) {
    if (row.name == "bob") row.state = "dead";
  }
  CheckResult r = CheckMembership(h);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.summary, "a healthy peer is listed dead by another");
  EXPECT_EQ(r.counterexample,
            "carol lists bob dead (incarnation 2); bob is healthy");
}

TEST(MembershipCheckTest, FailsOnTheFirstMemberTheyDisagreeOn) {
  MembershipHistory h = Converged();
  h.tables["dave"][1].incarnation = 3;     // bob
  h.tables["carol"][2].state = "suspect";  // carol herself
  h.tables["bob"].push_back({"zoe", "alive", 1});
  CheckResult r = CheckMembership(h);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.summary, "4 healthy peers disagree on 3 member(s)");
  EXPECT_EQ(r.counterexample,
            "member bob:\n"
            "  alive incarnation 2 at alice, bob, carol\n"
            "  alive incarnation 3 at dave\n"
            "(and 2 more member(s))");
}

TEST(MembershipCheckTest, FailsWhenAKilledPeerIsStillLive) {
  MembershipHistory h = Converged();
  h.tables["dave"].push_back({"eve", "suspect", 1});
  CheckResult r = CheckMembership(h);
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.counterexample, HasSubstr("member eve:"));
  EXPECT_THAT(r.counterexample, HasSubstr("suspect incarnation 1 at dave"));
}

TEST(MembershipCheckTest, FailsWhenAHealthyTableIsMissing) {
  MembershipHistory h = Converged();
  h.tables.erase("bob");
  h.unread["bob"] = "no membership node";
  CheckResult r = CheckMembership(h);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.counterexample, "peer bob: no membership node");
}

// Death declarations during the run (issue 17): the end tables agree, but
// carol declared bob dead at +7 s while both were healthy; she had begun
// to suspect him at +6 s. dave declared eve dead (eve was partitioned from
// +4 s), and alice declared bob dead from a suspicion she raised while she
// herself was deaf (+5 s to +5.5 s), after she heard again: neither counts.
MembershipHistory WithRemovals() {
  const absl::Time t0 = absl::FromUnixSeconds(100);
  auto t = [t0](double s) { return t0 + absl::Seconds(s); };
  MembershipHistory h = Converged();
  h.start = t0;
  const absl::Time inf = absl::InfiniteFuture();
  h.healthy_stretches = {{"alice", {{t(0), t(5)}, {t(5.5), inf}}},
                         {"bob", {{t(0), inf}}},
                         {"carol", {{t(1), inf}}},
                         {"dave", {{t(0), inf}}},
                         {"eve", {{t(0), t(4)}}}};
  h.removals = {{"dave", "eve", t(4.5), t(8)},
                {"alice", "bob", t(5.2), t(9)},
                {"carol", "bob", t(6), t(7)}};
  return h;
}

TEST(MembershipCheckTest, FailsWhenAHealthyPeerWasEverDeclaredDead) {
  CheckResult r = CheckMembership(WithRemovals());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.summary, "1 time(s) a healthy peer declared a healthy one dead");
  EXPECT_EQ(r.counterexample,
            "carol declared bob dead at +7.000 s (suspected since +6.000 s); "
            "both were healthy throughout");
}

TEST(MembershipCheckTest, DeathsOfSuspicionsRaisedUnderAFaultAreNoFailure) {
  MembershipHistory h = WithRemovals();
  h.removals.pop_back();  // carol's
  CheckResult r = CheckMembership(h);
  EXPECT_TRUE(r.ok) << FormatCheckResult(r);
  EXPECT_EQ(r.summary,
            "4 healthy peer(s) agree on 4 live member(s); 2 death "
            "declaration(s) in the run, none of a healthy peer by a healthy "
            "one");
  // bob's suspicion began while bob was cut off (carol's at +3.9 s, bob
  // partitioned from +3 s to +4 s): his death after the heal is none.
  h.healthy_stretches["bob"] = {
      {absl::FromUnixSeconds(100), absl::FromUnixSeconds(103)},
      {absl::FromUnixSeconds(104), absl::InfiniteFuture()}};
  h.removals.push_back({"carol", "bob",
                        absl::FromUnixSeconds(103) + absl::Milliseconds(900),
                        absl::FromUnixSeconds(107)});
  EXPECT_TRUE(CheckMembership(h).ok) << FormatCheckResult(CheckMembership(h));
}

}  // namespace
}  // namespace peerlab::harness::check
