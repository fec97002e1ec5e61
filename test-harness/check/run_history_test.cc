#include "test-harness/check/run_history.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness::check {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

const absl::Time kStart = absl::FromUnixSeconds(1000);
absl::Time T(double s) { return kStart + absl::Seconds(s); }

TEST(RunHistoryTest, HealthFromTheFaultRecord) {
  RunHistory h(kStart);
  EXPECT_EQ(h.FaultOf("alice"), "down");
  h.Running("alice", 1, T(0));
  h.Running("bob", 1, T(0));
  h.Running("carol", 1, T(0));
  h.AddFault("bob", "stop", T(1));
  h.AddFault("carol", "partition", T(1));
  h.AddFault("carol", "netem", T(1.5));
  EXPECT_EQ(h.FaultOf("carol"), "netem, partition");
  h.ClearFault("bob", "stop", T(2));
  h.ClearFault("carol", "netem", T(2));  // still partitioned
  EXPECT_THAT(h.Healthy(), ElementsAre("alice", "bob"));
  h.Heal(T(3));
  h.Down("alice", T(4));
  h.Running("alice", 2, T(5));
  ChatHistory c = h.Chat();
  EXPECT_THAT(
      c.healthy_since,
      ElementsAre(Pair("alice", T(5)), Pair("bob", T(2)), Pair("carol", T(3))));
  h.Down("bob", T(6));
  EXPECT_THAT(h.Chat().healthy_since,
              ElementsAre(Pair("alice", T(5)), Pair("carol", T(3))));
}

// check membership's record: each peer's healthy stretches, and each death
// declaration with the time its observer began to suspect the member.
TEST(RunHistoryTest, RecordsHealthyStretchesAndDeathDeclarations) {
  RunHistory h(kStart);
  h.Running("alice", 1, T(0));
  h.Running("bob", 1, T(0));
  h.AddFault("bob", "oneway", T(1));
  h.Heal(T(2));
  h.AddFault("bob", "stop", T(3));
  h.OnSuspect("alice", "bob", T(1.5));
  h.OnSuspect("alice", "bob", T(2.5));  // the last suspicion counts
  h.OnFailed("alice", "bob", T(4));
  h.OnFailed("bob", "alice", T(4.5));  // no suspicion reported: itself
  MembershipHistory m = h.Membership();
  EXPECT_EQ(m.start, kStart);
  EXPECT_THAT(m.healthy_stretches["alice"],
              ElementsAre(Pair(T(0), absl::InfiniteFuture())));
  EXPECT_THAT(m.healthy_stretches["bob"],
              ElementsAre(Pair(T(0), T(1)), Pair(T(2), T(3))));
  ASSERT_EQ(m.removals.size(), 2u);
  EXPECT_EQ(m.removals[0].observer, "alice");
  EXPECT_EQ(m.removals[0].suspected, T(2.5));
  EXPECT_EQ(m.removals[0].at, T(4));
  EXPECT_EQ(m.removals[1].suspected, T(4.5));
  EXPECT_TRUE(HealthyThroughout(m.healthy_stretches, "bob", T(2), T(2.9)));
  EXPECT_FALSE(HealthyThroughout(m.healthy_stretches, "bob", T(2.5), T(4)));
}

TEST(RunHistoryTest, RecordsSendsWritesViewsAndGroups) {
  RunHistory h(kStart);
  h.Running("alice", 1, T(0));
  h.Running("bob", 1, T(0));
  h.OnCommand("alice", "msg hi there", true, {}, T(1));
  h.OnCommand("alice", "msg lost", false, {}, T(1.1));
  h.OnCommand("alice", "memberlist", true, {"x"}, T(1.2));
  h.OnCommand("bob", "broadcastadd k v", true, {"k = v (lamport 3)"}, T(2));
  h.OnViewLine("bob", 1, "messagesView", "<alice> hi there", T(1.2));
  h.OnViewLine("bob", 1, "outputView", "ignored", T(1.2));
  // The groups: typed membership events (joined, failed, alive again).
  h.OnMembershipChange("alice", "bob", true, T(0.5));
  h.OnMembershipChange("alice", "bob", false, T(0.7));
  h.OnMembershipChange("alice", "bob", true, T(0.9));
  h.OnMembershipChange("bob", "alice", true, T(0.5));
  // Log text is no membership event, whatever it says.
  h.OnViewLine("bob", 1, "logView", "warn  [bob] member alice failed (x)",
               T(1.0));
  ChatHistory c = h.Chat();
  // A failed `msg` (the peer went away during it) may have gone out: kept,
  // of unknown outcome. Before: dropped, so a line of it failed check chat.
  ASSERT_EQ(c.sends.size(), 2u);
  EXPECT_EQ(c.sends[0].text, "hi there");
  EXPECT_FALSE(c.sends[0].unknown);
  EXPECT_EQ(c.sends[1].text, "lost");
  EXPECT_TRUE(c.sends[1].unknown);
  ASSERT_EQ(c.views["bob"].size(), 1u);
  ASSERT_EQ(c.groups["alice"].size(), 3u);
  EXPECT_FALSE(c.groups["alice"][1].in);
  EXPECT_TRUE(c.groups["alice"][2].in);
  ASSERT_EQ(c.groups["bob"].size(), 1u);
  EXPECT_TRUE(CheckChat(c).ok) << FormatCheckResult(CheckChat(c));
  // bob restarts: the new process's view starts empty.
  h.Down("bob", T(3));
  h.Running("bob", 2, T(4));
  EXPECT_TRUE(h.Chat().views["bob"].empty());
  KvHistory k = h.Kv({});
  ASSERT_EQ(k.writes.size(), 1u);
  EXPECT_EQ(k.writes[0].lamport, 3u);
  EXPECT_EQ(h.overflow(), "");
}

}  // namespace
}  // namespace peerlab::harness::check
