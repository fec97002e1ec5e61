#include "test-harness/coordinator/run_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

using ::testing::HasSubstr;

TEST(RunMetricsTest, AFinishedRunCountsItsVerdictStepsAndFilters) {
  metrics::Registry registry;
  auto m = RunMetrics::Create(&registry);
  ASSERT_TRUE(m.ok()) << m.status();
  ::harness::v1::RunSummary summary;
  summary.set_state(::harness::v1::RUN_STATE_FAILED);
  auto* ok = summary.add_steps();
  ok->set_kind("command");
  ok->set_outcome(::harness::v1::OUTCOME_OK);
  ok->set_duration_us(20000);
  auto* failed = summary.add_steps();
  failed->set_kind("wait");
  failed->set_outcome(::harness::v1::OUTCOME_FAILED);
  failed->set_duration_us(2000000);
  auto* skipped = summary.add_steps();
  skipped->set_kind("command");
  skipped->set_outcome(::harness::v1::OUTCOME_SKIPPED);
  summary.add_filters()->set_outcome(::harness::v1::OUTCOME_OK);
  (*m)->RecordFinished(summary);
  summary.set_state(::harness::v1::RUN_STATE_PASSED);
  summary.clear_steps();
  summary.clear_filters();
  (*m)->RecordFinished(summary);
  const std::string text = registry.Render();
  EXPECT_THAT(
      text,
      HasSubstr(
          "peerlab_coordinator_runs_finished_total{state=\"failed\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "peerlab_coordinator_runs_finished_total{state=\"passed\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("peerlab_coordinator_steps_total{kind=\"command\","
                        "outcome=\"ok\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("peerlab_coordinator_steps_total{kind=\"wait\","
                              "outcome=\"failed\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("peerlab_coordinator_steps_total{kind=\"command\","
                        "outcome=\"skipped\"} 1\n"));
  // Skipped steps have no duration.
  EXPECT_THAT(
      text,
      HasSubstr(
          "peerlab_coordinator_step_seconds_count{kind=\"command\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("peerlab_coordinator_step_seconds_bucket{kind="
                              "\"wait\",le=\"2.5\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("peerlab_coordinator_filters_total{outcome=\"ok\"} 1\n"));
}

}  // namespace
}  // namespace peerlab::harness
