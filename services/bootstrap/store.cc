#include "services/bootstrap/store.h"

#include <future>

namespace peerlab::bootstrap {

absl::StatusOr<Store::Document> Store::MutateSync(Mutation mutation) {
  std::promise<absl::StatusOr<Document>> promise;
  auto future = promise.get_future();
  Mutate(std::move(mutation), [&promise](absl::StatusOr<Document> result) {
    promise.set_value(std::move(result));
  });
  return future.get();
}

int ListenerSet::Add(Store::Listener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  int handle = next_++;
  listeners_.emplace(handle, std::move(listener));
  return handle;
}

void ListenerSet::Remove(int handle) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.erase(handle);
}

void ListenerSet::Notify(const Store::Document& doc) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [handle, listener] : listeners_) listener(doc);
}

}  // namespace peerlab::bootstrap
