// InFlightLimit: at most `limit` replies under way at once, for a member
// that answers other members' requests with large replies on the reliable
// path (user event bodies, whole queries). A request past it is refused at
// once (the caller answers ResourceExhausted and counts it; the asker asks
// again later or elsewhere) rather than queued, so one member repeating a
// small request cannot pin a large reply per request in this node's memory
// (up to the node's Config::max_user_messages_in_flight of them).
//
// Not thread-safe: used on the node's scheduler. A slot's `done` may run
// (or be destroyed) after the limit is gone; it then touches nothing.
#ifndef PEERLAB_PEER_CLUSTER_IN_FLIGHT_H_
#define PEERLAB_PEER_CLUSTER_IN_FLIGHT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>

#include "absl/status/status.h"

namespace peerlab::cluster {

class InFlightLimit {
 public:
  explicit InFlightLimit(size_t limit) : limit_(limit) {}
  InFlightLimit(const InFlightLimit&) = delete;
  InFlightLimit& operator=(const InFlightLimit&) = delete;

  size_t limit() const { return limit_; }
  size_t in_flight() const { return *count_; }

  // Takes a slot and returns the `done` to give the send: it frees the
  // slot (at its first call, or when the last copy of it is destroyed
  // uncalled), then calls `then` (when given) with the send's status.
  // nullptr when `limit` replies are under way.
  std::function<void(absl::Status)> Take(
      std::function<void(absl::Status)> then = nullptr) {
    if (*count_ >= limit_) return nullptr;
    ++*count_;
    auto slot = std::make_shared<Slot>(count_);
    return [slot, then = std::move(then)](absl::Status status) {
      slot->Release();
      if (then) then(std::move(status));
    };
  }

 private:
  struct Slot {
    explicit Slot(std::shared_ptr<size_t> count) : count(std::move(count)) {}
    ~Slot() { Release(); }
    void Release() {
      if (count == nullptr) return;
      --*count;
      count = nullptr;
    }
    std::shared_ptr<size_t> count;
  };

  const size_t limit_;
  // Shared with the slots, which may outlive this.
  std::shared_ptr<size_t> count_ = std::make_shared<size_t>(0);
};

}  // namespace peerlab::cluster

#endif  // PEERLAB_PEER_CLUSTER_IN_FLIGHT_H_
