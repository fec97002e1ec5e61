#include "test-harness/report/report.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::Not;

::harness::v1::RunSummary Sample() {
  ::harness::v1::RunSummary s;
  s.set_run_id("20260101-000000-abcdef");
  s.set_script_name("default.cmd");
  s.set_script_text("alice init\n");
  s.set_seed(42);
  s.set_state(::harness::v1::RUN_STATE_FAILED);
  s.set_verdict("1 of 2 filters failed");
  *s.mutable_started() = TimeUtil::MillisecondsToTimestamp(1000000);
  *s.mutable_finished() = TimeUtil::MillisecondsToTimestamp(1002000);
  auto* st = s.add_steps();
  st->set_line(1);
  st->set_peer("alice");
  st->set_kind("command");
  st->set_text("alice msg <b>&\"x\"");
  st->set_outcome(::harness::v1::OUTCOME_OK);
  st->set_duration_us(1500);
  st = s.add_steps();
  st->set_line(2);
  st->set_peer("bob");
  st->set_kind("kill");
  st->set_text("kill bob");
  st->set_outcome(::harness::v1::OUTCOME_FAILED);
  st->set_message("peer bob is not running");
  auto* f = s.add_filters();
  f->set_line(3);
  f->set_peer("alice");
  f->set_view("messagesView");
  f->set_op("==");
  f->set_expected(1);
  f->set_received(0);
  f->set_text("<bob> test");
  f->set_outcome(::harness::v1::OUTCOME_FAILED);
  for (const char* peer : {"alice", "bob", "charly"}) {
    s.add_peers()->set_name(peer);
  }
  auto* e = s.add_timeline();
  *e->mutable_time() = TimeUtil::MillisecondsToTimestamp(1000100);
  e->set_peer("alice");
  e->set_kind("step");
  e->set_text("alice init");
  e->set_ok(true);
  e->set_duration_us(20000);
  e = s.add_timeline();
  *e->mutable_time() = TimeUtil::MillisecondsToTimestamp(1000500);
  e->set_peer("bob");
  e->set_kind("membership");
  e->set_text("member alice joined");
  e->set_ok(true);
  e = s.add_timeline();
  *e->mutable_time() = TimeUtil::MillisecondsToTimestamp(1000600);
  e->set_peer("");
  e->set_kind("step");
  e->set_text("sleep 0.1");
  e->set_ok(true);
  e->set_duration_us(100000);
  return s;
}

TEST(ReportTest, SummaryTableListsStepsFiltersAndVerdict) {
  std::string t = SummaryTable(Sample());
  EXPECT_THAT(t, HasSubstr("OK      line 1   alice msg"));
  EXPECT_THAT(
      t, HasSubstr("FAILED  line 2   kill bob  -- peer bob is not running"));
  EXPECT_THAT(t, HasSubstr("expected == 1, received 0"));
  EXPECT_THAT(t,
              HasSubstr("Verdict: FAILED -- 1 of 2 filters failed (2000 ms)"));
  EXPECT_THAT(t, HasSubstr("seed 42"));
}

TEST(ReportTest, JunitCountsAndEscapes) {
  std::string x = JunitXml(Sample());
  EXPECT_THAT(x, HasSubstr("<?xml version=\"1.0\""));
  // 2 steps + 1 filter; kill and filter failed (the verdict says nothing
  // more: no testcase of its own).
  EXPECT_THAT(x, HasSubstr("tests=\"3\" failures=\"2\""));
  EXPECT_THAT(x, HasSubstr("alice msg &lt;b&gt;&amp;&quot;x&quot;"));
  EXPECT_THAT(x, HasSubstr("<property name=\"seed\" value=\"42\"/>"));
  EXPECT_THAT(x, Not(HasSubstr("<b>")));
}

TEST(ReportTest, JsonUsesProtoFieldNames) {
  std::string j = SummaryJson(Sample());
  EXPECT_THAT(j, HasSubstr("\"run_id\": \"20260101-000000-abcdef\""));
  EXPECT_THAT(j, HasSubstr("\"seed\": 42"));
  EXPECT_THAT(j, HasSubstr("\"state\": \"RUN_STATE_FAILED\""));
}

// A summary as a coordinator before the fix sent it: every filter line was
// also a step of kind "filter" (OK at once), so the report listed it
// among the passing steps and junit.xml counted it twice.
::harness::v1::RunSummary WithFilterStep() {
  auto s = Sample();
  auto* st = s.add_steps();
  st->set_line(3);
  st->set_peer("alice");
  st->set_kind("filter");
  st->set_text("alice testfilter messagesView 1 <bob> test");
  st->set_outcome(::harness::v1::OUTCOME_OK);
  return s;
}

TEST(ReportTest, FiltersAreListedOnceAsFilters) {
  auto s = WithFilterStep();
  std::string t = SummaryTable(s);
  EXPECT_THAT(t, Not(HasSubstr("line 3   alice testfilter")));
  EXPECT_THAT(t, HasSubstr("expected == 1, received 0"));
  std::string h = TimelineHtml(s);
  EXPECT_THAT(h, Not(HasSubstr("<td>alice testfilter messagesView 1")));
}

TEST(ReportTest, JunitCountsEachCheckOnce) {
  // 2 steps + 1 filter (the filter's step is not a testcase of its own),
  // and no verdict testcase when a step or filter already failed.
  std::string x = JunitXml(WithFilterStep());
  EXPECT_THAT(x, HasSubstr("<testsuite name=\"default.cmd\" tests=\"3\" "
                           "failures=\"2\" errors=\"0\" skipped=\"0\""));
  EXPECT_THAT(x, Not(HasSubstr(".steps\" name=\"line 3:")));
  EXPECT_THAT(x, Not(HasSubstr("<testcase classname=\"default.cmd\" "
                               "name=\"verdict\"")));
}

TEST(ReportTest, JunitNamesARunThatFailedOutsideItsChecks) {
  auto s = Sample();
  s.mutable_steps(1)->set_outcome(::harness::v1::OUTCOME_OK);
  s.mutable_filters(0)->set_outcome(::harness::v1::OUTCOME_OK);
  s.set_verdict("peer bob died unexpectedly at 12:00:00.000");
  std::string x = JunitXml(s);
  EXPECT_THAT(x, HasSubstr("tests=\"4\" failures=\"1\""));
  EXPECT_THAT(x, HasSubstr("name=\"verdict\"><failure message=\"FAILED: peer "
                           "bob died"));
  s.set_state(::harness::v1::RUN_STATE_ERROR);
  x = JunitXml(s);
  EXPECT_THAT(x, HasSubstr("tests=\"4\" failures=\"0\" errors=\"1\""));
  EXPECT_THAT(x, HasSubstr("name=\"verdict\"><error message=\"ERROR: "));
  s.set_state(::harness::v1::RUN_STATE_PASSED);
  s.set_verdict("");
  x = JunitXml(s);
  EXPECT_THAT(x, HasSubstr("tests=\"3\" failures=\"0\" errors=\"0\""));
}

TEST(ReportTest, SkippedFiltersAreSkippedNotFailed) {
  auto s = Sample();
  s.mutable_filters(0)->set_outcome(::harness::v1::OUTCOME_SKIPPED);
  std::string x = JunitXml(s);
  EXPECT_THAT(x, HasSubstr("tests=\"3\" failures=\"1\" errors=\"0\" "
                           "skipped=\"1\""));
  EXPECT_THAT(x, HasSubstr(".filters\" name=\"line 3: alice messagesView == 1 "
                           "&quot;&lt;bob&gt; test&quot;\"><skipped"));
  EXPECT_THAT(SummaryTable(s), HasSubstr("SKIPPED line 3"));
  EXPECT_THAT(TimelineHtml(s), HasSubstr("class=\"SKIPPED\">SKIPPED</td>"));
}

TEST(ReportTest, JsonWritesNumbersAsNumbers) {
  std::string j = SummaryJson(Sample());
  EXPECT_THAT(j, HasSubstr("\"seed\": 42"));
  EXPECT_THAT(j, HasSubstr("\"duration_us\": 1500"));
  EXPECT_THAT(j, HasSubstr("\"expected\": 1"));
  EXPECT_THAT(j, HasSubstr("\"received\": 0"));
  EXPECT_THAT(j, HasSubstr("\"line\": 1"));
  EXPECT_THAT(j, Not(HasSubstr("\"seed\": \"42\"")));
  // Timestamps stay RFC 3339 text, enums their names.
  EXPECT_THAT(j, HasSubstr("\"started\": \"1970-01-01T00:16:40Z\""));
  EXPECT_THAT(j, HasSubstr("\"outcome\": \"OUTCOME_FAILED\""));
}

TEST(ReportTest, TimelineHasALanePerPeerAndOneForTheHarness) {
  std::string h = TimelineHtml(Sample());
  EXPECT_THAT(h, HasSubstr("<g class=\"lane\" data-peer=\"harness\">"));
  EXPECT_THAT(h, HasSubstr("<g class=\"lane\" data-peer=\"alice\">"));
  EXPECT_THAT(h, HasSubstr("<g class=\"lane\" data-peer=\"bob\">"));
  EXPECT_THAT(h, HasSubstr("<g class=\"lane\" data-peer=\"charly\">"));
  EXPECT_THAT(h, HasSubstr("class=\"membership ok\""));
  EXPECT_THAT(h, HasSubstr("seed <b>42</b>"));
  // Self-contained: nothing is fetched.
  EXPECT_THAT(h, Not(HasSubstr("http://")));
  EXPECT_THAT(h, Not(HasSubstr("https://")));
  EXPECT_THAT(h, Not(HasSubstr("<script src")));
}

TEST(ReportTest, LiveLines) {
  ::harness::v1::RunEvent e;
  *e.mutable_step_finished() = Sample().steps(1);
  EXPECT_EQ(FormatEvent(e),
            "FAILED  fault kill bob  -- peer bob is not running [line 2]");
  *e.mutable_step_finished() = Sample().steps(0);
  EXPECT_THAT(FormatEvent(e), HasSubstr("OK      alice msg"));
  e.set_notice("peer bob DIED");
  EXPECT_EQ(FormatEvent(e), "--      peer bob DIED");
}

TEST(ReportTest, FlakyReportNamesStepsThatPassedAndFailed) {
  auto a = Sample();
  auto b = Sample();
  b.mutable_steps(1)->set_outcome(::harness::v1::OUTCOME_OK);
  std::string r = FlakyReport({a, b});
  EXPECT_THAT(r, HasSubstr("FLAKY  step   line 2: kill bob  (failed 1 of 2)"));
  EXPECT_THAT(r, Not(HasSubstr("line 1")));
  EXPECT_EQ(FlakyReport({a, a}), "");
}

}  // namespace
}  // namespace peerlab::harness
