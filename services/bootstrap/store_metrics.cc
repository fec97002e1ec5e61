#include "services/bootstrap/store_metrics.h"

namespace peerlab::bootstrap {

absl::StatusOr<std::unique_ptr<StoreMetrics>> StoreMetrics::Create(
    metrics::Registry* registry, Store* store) {
  std::unique_ptr<StoreMetrics> m(new StoreMetrics(store));
  auto changes = registry->AddCounter(
      "peerlab_bootstrap_store_changes_total",
      "changes of the bootstrap document made durable (one per revision)");
  if (!changes.ok()) return changes.status();
  auto revision = registry->AddGauge("peerlab_bootstrap_store_revision",
                                     "revision of the latest durable document");
  if (!revision.ok()) return revision.status();
  auto peers = registry->AddGauge("peerlab_bootstrap_peers",
                                  "entries in the bootstrap list");
  if (!peers.ok()) return peers.status();
  auto healthy = registry->AddGauge(
      "peerlab_bootstrap_store_healthy",
      "1 while the store accepts changes, 0 while its writes fail");
  if (!healthy.ok()) return healthy.status();
  m->changes_ = &(*changes)->Get();
  m->revision_ = &(*revision)->Get();
  m->peers_ = &(*peers)->Get();
  m->healthy_ = &(*healthy)->Get();
  m->healthy_->Set(1);
  registry->AddCollector([store] {
    return std::vector<metrics::Family>{metrics::CounterOf(
        "peerlab_bootstrap_store_commits_total",
        "durable commits of the store (a batch of changes written at once "
        "counts once; 0 for memory:)",
        static_cast<double>(store->commits()))};
  });
  StoreMetrics* self = m.get();
  m->subscription_ = store->Subscribe([self](const Store::Document& doc) {
    self->changes_->Increment();
    self->revision_->Set(static_cast<double>(doc.revision()));
    self->peers_->Set(doc.peers_size());
  });
  if (auto doc = store->Read(); doc.ok()) {
    m->revision_->Set(static_cast<double>(doc->revision()));
    m->peers_->Set(doc->peers_size());
  }
  return m;
}

StoreMetrics::~StoreMetrics() {
  if (subscription_ >= 0) store_->Unsubscribe(subscription_);
}

}  // namespace peerlab::bootstrap
