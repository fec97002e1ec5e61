// The coordinator's runs as Prometheus metrics (base/metrics.h):
//   peerlab_coordinator_runs_started_total
//   peerlab_coordinator_runs_active                    started, not finished
//   peerlab_coordinator_runs_finished_total{state}     the verdicts: passed,
//                                                      failed, error, cancelled
//   peerlab_coordinator_steps_total{kind,outcome}      ok, failed, skipped
//   peerlab_coordinator_step_seconds{kind}             step durations
//   peerlab_coordinator_filters_total{outcome}         ok, failed
// Fed by CoordinatorService::SetRunObserver: each run is followed through
// its event subscription and counted once, when it finishes.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_RUN_METRICS_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_RUN_METRICS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "proto/harness/v1/coordinator.pb.h"
#include "test-harness/coordinator/run.h"

namespace peerlab::harness {

// Thread-safe. Must outlive the runs it observes (the coordinator's
// service: runs end in its Shutdown, before this goes).
class RunMetrics {
 public:
  static absl::StatusOr<std::unique_ptr<RunMetrics>> Create(
      metrics::Registry* registry);

  // Follows `run` (call before Run::Start): counts it started now, and its
  // verdict, steps and filters once it finishes.
  void Observe(const std::shared_ptr<Run>& run);

  // Counts a finished run's summary (Observe calls it; tests call it
  // directly).
  void RecordFinished(const ::harness::v1::RunSummary& summary);

 private:
  RunMetrics() = default;
  metrics::Counter* started_ = nullptr;
  metrics::Gauge* active_ = nullptr;
  metrics::CounterFamily* finished_ = nullptr;
  metrics::CounterFamily* steps_ = nullptr;
  metrics::HistogramFamily* step_seconds_ = nullptr;
  metrics::CounterFamily* filters_ = nullptr;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_RUN_METRICS_H_
