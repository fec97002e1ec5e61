#include "test-harness/coordinator/run_metrics.h"

#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace peerlab::harness {
namespace {

// "RUN_STATE_PASSED" -> "passed"; "OUTCOME_OK" -> "ok".
std::string Short(const std::string& enum_name, const std::string& prefix) {
  std::string s = enum_name;
  if (absl::StartsWith(s, prefix)) s = s.substr(prefix.size());
  return absl::AsciiStrToLower(s);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunMetrics>> RunMetrics::Create(
    metrics::Registry* registry) {
  std::unique_ptr<RunMetrics> m(new RunMetrics());
  auto started = registry->AddCounter("peerlab_coordinator_runs_started_total",
                                      "runs started");
  if (!started.ok()) return started.status();
  auto active = registry->AddGauge("peerlab_coordinator_runs_active",
                                   "runs started and not finished");
  if (!active.ok()) return active.status();
  auto finished = registry->AddCounter(
      "peerlab_coordinator_runs_finished_total",
      "runs finished, by verdict (passed, failed, error, cancelled)",
      {"state"});
  if (!finished.ok()) return finished.status();
  auto steps = registry->AddCounter(
      "peerlab_coordinator_steps_total",
      "steps of finished runs, by kind and outcome (ok, failed, skipped)",
      {"kind", "outcome"});
  if (!steps.ok()) return steps.status();
  auto seconds = registry->AddHistogram(
      "peerlab_coordinator_step_seconds", "durations of steps that ran",
      {"kind"}, {0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60});
  if (!seconds.ok()) return seconds.status();
  auto filters =
      registry->AddCounter("peerlab_coordinator_filters_total",
                           "filters of finished runs, by outcome", {"outcome"});
  if (!filters.ok()) return filters.status();
  m->started_ = &(*started)->Get();
  m->active_ = &(*active)->Get();
  m->finished_ = *finished;
  m->steps_ = *steps;
  m->step_seconds_ = *seconds;
  m->filters_ = *filters;
  return m;
}

void RunMetrics::Observe(const std::shared_ptr<Run>& run) {
  started_->Increment();
  active_->Add(1);
  auto counted = std::make_shared<std::atomic<bool>>(false);
  std::weak_ptr<Run> weak = run;
  run->Subscribe([this, weak, counted] {
    auto r = weak.lock();
    if (!r || !r->finished()) return;
    if (counted->exchange(true)) return;
    active_->Add(-1);
    RecordFinished(r->Summary());
  });
}

void RunMetrics::RecordFinished(const ::harness::v1::RunSummary& summary) {
  finished_
      ->WithLabels(
          {Short(::harness::v1::RunState_Name(summary.state()), "RUN_STATE_")})
      .Increment();
  for (const auto& step : summary.steps()) {
    const std::string outcome =
        Short(::harness::v1::Outcome_Name(step.outcome()), "OUTCOME_");
    steps_->WithLabels({step.kind(), outcome}).Increment();
    if (step.outcome() != ::harness::v1::OUTCOME_SKIPPED) {
      step_seconds_->WithLabels({step.kind()})
          .Observe(static_cast<double>(step.duration_us()) / 1e6);
    }
  }
  for (const auto& filter : summary.filters()) {
    filters_
        ->WithLabels(
            {Short(::harness::v1::Outcome_Name(filter.outcome()), "OUTCOME_")})
        .Increment();
  }
}

}  // namespace peerlab::harness
