#include "test-harness/report/combined.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace peerlab::harness {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;

ScriptRun Run(const std::string& script, ::harness::v1::RunState state,
              int exit_code) {
  ScriptRun r;
  r.script = script;
  r.exit_code = exit_code;
  r.have_summary = true;
  r.report_dir = "runs/" + script;
  auto& s = r.summary;
  s.set_run_id("id-" + script);
  s.set_script_name(script);
  s.set_state(state);
  s.set_seed(7);
  *s.mutable_started() = TimeUtil::MillisecondsToTimestamp(1000);
  *s.mutable_finished() = TimeUtil::MillisecondsToTimestamp(1500);
  auto* step = s.add_steps();
  step->set_kind("command");
  step->set_text("alice echo x");
  step->set_outcome(::harness::v1::OUTCOME_OK);
  auto* f = s.add_filters();
  f->set_peer("alice");
  f->set_view("outputView");
  f->set_op("==");
  f->set_expected(1);
  f->set_received(exit_code == 1 ? 2 : 1);
  f->set_outcome(exit_code == 1 ? ::harness::v1::OUTCOME_FAILED
                                : ::harness::v1::OUTCOME_OK);
  if (exit_code == 1) s.set_verdict("1 of 1 filters failed");
  return r;
}

std::vector<ScriptRun> ThreeRuns() {
  ScriptRun lost;
  lost.script = "c.cmd";
  lost.exit_code = 2;
  lost.error = "cannot start the lab: no peerlab-peer";
  return {Run("a.cmd", ::harness::v1::RUN_STATE_PASSED, 0),
          Run("b.cmd", ::harness::v1::RUN_STATE_FAILED, 1), lost};
}

TEST(CombinedTest, TheWorstExitCodeWins) {
  auto runs = ThreeRuns();
  EXPECT_EQ(WorstExitCode(runs), 2);
  runs.pop_back();
  EXPECT_EQ(WorstExitCode(runs), 1);
  runs.pop_back();
  EXPECT_EQ(WorstExitCode(runs), 0);
  EXPECT_EQ(WorstExitCode({}), 0);
}

TEST(CombinedTest, ALineARunThenTheTotals) {
  std::string t = CombinedTable(ThreeRuns());
  EXPECT_THAT(t, HasSubstr("Combined summary of 3 runs:\n"));
  EXPECT_THAT(t, HasSubstr("  PASSED    a.cmd  run id-a.cmd: 1 steps, 1 "
                           "filters (500 ms)\n"));
  EXPECT_THAT(t, HasSubstr("  FAILED    b.cmd  run id-b.cmd: 1 steps, 1 "
                           "filters (500 ms)  -- 1 of 1 filters failed\n"));
  EXPECT_THAT(t, HasSubstr("  ERROR     c.cmd  -- cannot start the lab"));
  EXPECT_THAT(t, HasSubstr("Totals: 3 runs: 1 passed, 1 failed, 1 could not "
                           "run; steps 2 (2 OK, 0 failed, 0 skipped); "
                           "filters 2 (1 OK, 1 failed, 0 skipped)\n"));
  EXPECT_THAT(t, HasSubstr("Exit code 2: the harness could not run a "
                           "script"));
}

TEST(CombinedTest, JsonHasNumbersAndJunitASuiteARun) {
  auto j = nlohmann::json::parse(CombinedJson(ThreeRuns()));
  ASSERT_EQ(j["runs"].size(), 3u);
  EXPECT_EQ(j["runs"][1]["exit_code"], 1);
  EXPECT_EQ(j["runs"][1]["state"], "FAILED");
  EXPECT_EQ(j["runs"][1]["report_dir"], "runs/b.cmd");
  EXPECT_EQ(j["runs"][2]["verdict"], "cannot start the lab: no peerlab-peer");
  EXPECT_EQ(j["totals"]["filters"]["failed"], 1);
  EXPECT_EQ(j["totals"]["passed"], 1);
  EXPECT_EQ(j["exit_code"], 2);
  std::string x = CombinedJunitXml(ThreeRuns());
  EXPECT_THAT(x, HasSubstr("<testsuites name=\"peerlab\" tests=\"5\" "
                           "failures=\"1\" errors=\"1\""));
  EXPECT_THAT(x, HasSubstr("<testsuite name=\"a.cmd\""));
  EXPECT_THAT(x, HasSubstr("<testsuite name=\"b.cmd\""));
  EXPECT_THAT(x, HasSubstr("<testsuite name=\"c.cmd\" tests=\"1\""));
}

}  // namespace
}  // namespace peerlab::harness
