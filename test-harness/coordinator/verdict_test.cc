#include "test-harness/coordinator/verdict.h"

#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

::harness::v1::StepResult Step(::harness::v1::Outcome outcome) {
  ::harness::v1::StepResult r;
  r.set_outcome(outcome);
  return r;
}

TEST(VerdictTest, PassesWhenNothingFailed) {
  Verdict v = Decide({Step(::harness::v1::OUTCOME_OK)}, {}, {}, std::nullopt);
  EXPECT_EQ(v.state, ::harness::v1::RUN_STATE_PASSED);
  EXPECT_EQ(v.text, "");
}

TEST(VerdictTest, NamesEveryProblem) {
  auto s = ParseScript("t.cmd",
                       "alice testfilter messagesView 1 hi\n"
                       "alice testfilter messagesView 0 ho\n");
  ASSERT_TRUE(s.ok());
  FilterTally tally(*s);
  tally.Count("alice", 1, "messagesView", "ho");
  auto filters =
      CheckFilters(tally.filters(), [](const std::string&) { return 1; });
  ASSERT_EQ(filters.size(), 2u);
  EXPECT_EQ(filters[0].outcome(), ::harness::v1::OUTCOME_FAILED);
  EXPECT_EQ(filters[0].received(), 0);
  EXPECT_EQ(filters[1].outcome(), ::harness::v1::OUTCOME_FAILED);
  Verdict v = Decide(
      {Step(::harness::v1::OUTCOME_OK), Step(::harness::v1::OUTCOME_FAILED)},
      filters, {"peer bob died unexpectedly at 12:00:00.000"}, std::nullopt);
  EXPECT_EQ(v.state, ::harness::v1::RUN_STATE_FAILED);
  EXPECT_EQ(v.text,
            "1 of 2 steps failed; 2 of 2 filters failed; peer bob died "
            "unexpectedly at 12:00:00.000");
}

TEST(VerdictTest, CancelledComesFirst) {
  Verdict v =
      Decide({Step(::harness::v1::OUTCOME_FAILED)}, {}, {}, std::string("bye"));
  EXPECT_EQ(v.state, ::harness::v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(v.text, "cancelled: bye; 1 of 1 steps failed");
}

}  // namespace
}  // namespace peerlab::harness
