#include "test-harness/coordinator/filter_tally.h"

#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

Script Parse(const std::string& text) {
  auto s = ParseScript("t.cmd", text);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.value_or(Script{});
}

TEST(FilterTallyTest, CountsMatchingLinesPerStart) {
  FilterTally tally(
      Parse("alice testfilter messagesView 1 <bob> hi\n"
            "expect alice messagesView never <eve>\n"
            "wait alice messagesView 2 <bob>\n"));
  ASSERT_EQ(tally.filters().size(), 2u);
  EXPECT_TRUE(tally.Count("alice", 1, "messagesView", "<bob> hi"));
  EXPECT_TRUE(tally.Count("alice", 2, "messagesView", "<bob> hi"));
  EXPECT_TRUE(tally.Count("alice", 2, "messagesView", "<eve> x"));
  EXPECT_TRUE(tally.Count("alice", 1, "messagesView", "<eve> x"));
  // Another peer's or view's lines count nowhere and are no activity.
  EXPECT_FALSE(tally.Count("bob", 2, "messagesView", "<bob> hi"));
  EXPECT_FALSE(tally.Count("alice", 2, "logView", "<bob> hi"));
  const Tally& hi = tally.filters()[0];
  EXPECT_EQ(hi.Count(1), 1);
  EXPECT_EQ(hi.Received(2), 1);  // the current start only
  EXPECT_EQ(hi.Received(3), 0);
  const Tally& never = tally.filters()[1];
  EXPECT_EQ(never.Received(2), 2);  // `never` counts every start
  EXPECT_EQ(tally.wait(2).Count(2), 1);
  EXPECT_EQ(tally.wait(2).Count(1), 1);
}

}  // namespace
}  // namespace peerlab::harness
