// MemoryStore: the document in memory only. For tests and for a throwaway
// server (`--store memory:`). Nothing survives the process.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_MEMORY_STORE_H_
#define PEERLAB_SERVICES_BOOTSTRAP_MEMORY_STORE_H_

#include <mutex>

#include "services/bootstrap/store.h"

namespace peerlab::bootstrap {

class MemoryStore : public Store {
 public:
  explicit MemoryStore(Document initial) : doc_(std::move(initial)) {}

  // Runs `done` inline, on the caller's thread.
  void Mutate(Mutation mutation, Done done) override;
  absl::StatusOr<Document> Read() override;
  int Subscribe(Listener listener) override { return listeners_.Add(listener); }
  void Unsubscribe(int handle) override { listeners_.Remove(handle); }
  std::string Describe() const override { return "memory:"; }

 private:
  std::mutex mu_;  // serializes mutations and their notifications
  Document doc_;
  ListenerSet listeners_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_MEMORY_STORE_H_
