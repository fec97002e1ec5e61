// Store: where the bootstrap document lives. One document per store.
//
// Implementations: FileStore (file_store.h, the embedded default),
// MemoryStore (memory_store.h, tests and `--store memory:`), and later a
// PostgreSQL store. StoreWrapper forwards every call, so a fault-injecting
// test double overrides one method.
//
// Thread safety: every method may be called from any thread concurrently.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_STORE_H_
#define PEERLAB_SERVICES_BOOTSTRAP_STORE_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "proto/bootstrap/v1/bootstrap.pb.h"

namespace peerlab::bootstrap {

class Store {
 public:
  using Document = ::bootstrap::v1::Document;
  // Changes `doc` in place. Returns true if it changed anything, false if
  // not, or an error (then nothing is stored). Runs while the store holds
  // its write lock: it must be quick and must not call into the store.
  using Mutation = std::function<absl::StatusOr<bool>(Document& doc)>;
  // Receives the document after the mutation (or the error). Called exactly
  // once, possibly on a store thread, only after the change is durable.
  using Done = std::function<void(absl::StatusOr<Document>)>;
  // Receives each durable change, in revision order, on a store thread. Must
  // not block and must not call into the store.
  using Listener = std::function<void(const Document&)>;
  // Receives the store's ability to accept changes: OK when it can, the
  // reason (Unavailable) while it cannot (e.g. its writes fail). Must not
  // block and must not call into the store.
  using HealthListener = std::function<void(const absl::Status&)>;

  virtual ~Store() = default;

  // Applies `mutation` atomically with respect to every other mutation. When
  // it reports a change, the store increments the revision by one. `done`
  // sees the result only once it is durable; a mutation that changed nothing
  // still waits until every earlier change is durable, so no caller ever
  // sees state that could be lost.
  virtual void Mutate(Mutation mutation, Done done) = 0;

  // The latest durable document.
  virtual absl::StatusOr<Document> Read() = 0;

  // Registers `listener` for every later change. Returns a handle for
  // Unsubscribe. After Unsubscribe returns, the listener is not running and
  // will not be called again.
  virtual int Subscribe(Listener listener) = 0;
  virtual void Unsubscribe(int handle) = 0;

  // For logs: "file:/var/lib/peerlab/bootstrap.json".
  virtual std::string Describe() const = 0;

  // Replaces the health listener (nullptr: none). It is called at once, on
  // the caller's thread, with the current health, then on every change, on
  // a store thread, in order. After it returns (also with nullptr), the
  // previous listener is not running and will not be called again. The
  // default: a store that is always healthy (called once with OK).
  virtual void SetHealthListener(HealthListener listener) {
    if (listener) listener(absl::OkStatus());
  }

  // Durable commits so far (a batch written at once counts once); 0 for a
  // store that keeps nothing durable. Thread-safe. For metrics.
  virtual uint64_t commits() const { return 0; }

  // Blocking convenience over Mutate().
  absl::StatusOr<Document> MutateSync(Mutation mutation);
};

// Forwards every call to another store, which it does not own.
class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store* target) : target_(target) {}
  void Mutate(Mutation mutation, Done done) override {
    target_->Mutate(std::move(mutation), std::move(done));
  }
  absl::StatusOr<Document> Read() override { return target_->Read(); }
  int Subscribe(Listener listener) override {
    return target_->Subscribe(std::move(listener));
  }
  void Unsubscribe(int handle) override { target_->Unsubscribe(handle); }
  std::string Describe() const override { return target_->Describe(); }
  void SetHealthListener(HealthListener listener) override {
    target_->SetHealthListener(std::move(listener));
  }
  uint64_t commits() const override { return target_->commits(); }
  Store* target() const { return target_; }

 private:
  Store* target_;
};

// A set of listeners that stores share. Thread-safe. Notify() holds a lock
// while calling listeners so that Remove() can promise the listener is done.
class ListenerSet {
 public:
  int Add(Store::Listener listener);
  void Remove(int handle);
  void Notify(const Store::Document& doc);

 private:
  std::mutex mu_;
  int next_ = 1;
  std::map<int, Store::Listener> listeners_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_STORE_H_
