// The bootstrap server's store as Prometheus metrics (base/metrics.h):
//   peerlab_bootstrap_store_commits_total   durable commits (Store::commits)
//   peerlab_bootstrap_store_changes_total   changes notified (revisions)
//   peerlab_bootstrap_store_revision        the latest durable revision
//   peerlab_bootstrap_peers                 entries in the list
//   peerlab_bootstrap_store_healthy         1 while it accepts changes
// Calls per RPC and code and their latencies come from the gRPC server's
// interceptor (base/grpc_metrics.h).
#ifndef PEERLAB_SERVICES_BOOTSTRAP_STORE_METRICS_H_
#define PEERLAB_SERVICES_BOOTSTRAP_STORE_METRICS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "services/bootstrap/store.h"

namespace peerlab::bootstrap {

// Subscribes to `store` (both not owned; they must outlive this) and keeps
// the gauges current from its change notifications. Thread-safe.
class StoreMetrics {
 public:
  static absl::StatusOr<std::unique_ptr<StoreMetrics>> Create(
      metrics::Registry* registry, Store* store);
  // Unsubscribes.
  ~StoreMetrics();

  // The store's health, as its HealthListener reports it (the server's
  // listener forwards it here).
  void SetHealthy(bool healthy) { healthy_->Set(healthy ? 1 : 0); }

 private:
  explicit StoreMetrics(Store* store) : store_(store) {}
  Store* const store_;
  int subscription_ = -1;
  metrics::Counter* changes_ = nullptr;
  metrics::Gauge* revision_ = nullptr;
  metrics::Gauge* peers_ = nullptr;
  metrics::Gauge* healthy_ = nullptr;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_STORE_METRICS_H_
