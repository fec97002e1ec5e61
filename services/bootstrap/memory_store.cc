#include "services/bootstrap/memory_store.h"

namespace peerlab::bootstrap {

void MemoryStore::Mutate(Mutation mutation, Done done) {
  absl::StatusOr<Document> result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Document copy = doc_;
    absl::StatusOr<bool> changed = mutation(copy);
    if (!changed.ok()) {
      result = changed.status();
    } else {
      if (*changed) {
        copy.set_revision(doc_.revision() + 1);
        doc_ = std::move(copy);
        listeners_.Notify(doc_);
      }
      result = doc_;
    }
  }
  done(std::move(result));
}

absl::StatusOr<Store::Document> MemoryStore::Read() {
  std::lock_guard<std::mutex> lock(mu_);
  return doc_;
}

}  // namespace peerlab::bootstrap
