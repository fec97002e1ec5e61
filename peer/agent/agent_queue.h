// AgentQueue: what one Stream or Query call of the agent has to send, between
// the producer (the peer's threads: membership events, log records, query
// answers) and the call's writer (a gRPC stream). Bounded in items and
// bytes; the producer never waits: a push that does not fit ends the queue
// with a status the reader gets (a slow reader is dropped, never waited
// for). Thread-safe.
#ifndef PEERLAB_PEER_AGENT_AGENT_QUEUE_H_
#define PEERLAB_PEER_AGENT_AGENT_QUEUE_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace peerlab::agent {

template <typename T>
class AgentQueue {
 public:
  struct Batch {
    std::vector<T> items;
    // Set once the queue has ended and `items` holds its last ones: OK
    // (Close(OK)) or why it ended (overflow, shutdown).
    bool ended = false;
    absl::Status status;
  };

  // At most `max_items` items and `max_bytes` bytes (as `size` counts
  // them) wait at once.
  AgentQueue(size_t max_items, size_t max_bytes,
             std::function<size_t(const T&)> size)
      : max_items_(max_items), max_bytes_(max_bytes), size_(std::move(size)) {}

  // Appends `item`; false when the queue has ended. When it does not fit,
  // the queue ends at once with ResourceExhausted naming `what` and the
  // bound, the items still queued are dropped, and false is returned.
  bool Push(T item, const char* what = "the reader fell behind") {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return false;
    const size_t bytes = size_ ? size_(item) : 0;
    if (items_.size() + 1 > max_items_ || bytes_ + bytes > max_bytes_) {
      ended_ = true;
      status_ = absl::ResourceExhaustedError(absl::StrCat(
          what, ": ", items_.size(), " item(s) and ", bytes_,
          " byte(s) were waiting to be sent (at most ", max_items_, " and ",
          max_bytes_, "); read faster or ask for less, then call again"));
      items_.clear();
      bytes_ = 0;
      ready_.notify_all();
      return false;
    }
    bytes_ += bytes;
    items_.push_back(std::move(item));
    ready_.notify_all();
    return true;
  }

  // Ends the queue with `status` after the items queued (the first end
  // wins).
  void Close(absl::Status status = absl::OkStatus()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = true;
    status_ = std::move(status);
    ready_.notify_all();
  }

  // Waits up to `timeout` for an item or the end, then takes everything
  // queued.
  Batch Pop(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                    [this] { return ended_ || !items_.empty(); });
    Batch batch;
    batch.items.assign(std::make_move_iterator(items_.begin()),
                       std::make_move_iterator(items_.end()));
    items_.clear();
    bytes_ = 0;
    if (ended_) {
      batch.ended = true;
      batch.status = status_;
    }
    return batch;
  }

  bool ended() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }
  // Ended with an error (overflow, shutdown): what is queued will not be
  // read by anyone waiting for more.
  bool failed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_ && !status_.ok();
  }

 private:
  const size_t max_items_;
  const size_t max_bytes_;
  const std::function<size_t(const T&)> size_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<T> items_;  // guarded by mu_
  size_t bytes_ = 0;     // guarded by mu_
  bool ended_ = false;   // guarded by mu_
  absl::Status status_;  // guarded by mu_
};

}  // namespace peerlab::agent

#endif  // PEERLAB_PEER_AGENT_AGENT_QUEUE_H_
