// BroadcastQueue: updates waiting to be piggybacked on outgoing messages,
// each sent a limited number of times (memberlist TransmitLimitedQueue).
//
// Updates sent fewest times go first; a newer update for the same key (a
// member's name) replaces an older one that has not finished spreading.
#ifndef PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_
#define PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace peerlab::membership {

// Not thread-safe: lives on the node's scheduler.
class BroadcastQueue {
 public:
  // `retransmit_mult` as in Config; `num_nodes` is asked on every call,
  // since the limit grows with the cluster.
  BroadcastQueue(int retransmit_mult, std::function<int()> num_nodes)
      : retransmit_mult_(retransmit_mult), num_nodes_(std::move(num_nodes)) {}

  // Queues `message` (already encoded). A non-empty `key` invalidates a
  // queued message with the same key. `on_done` (optional) runs when the
  // message has been sent its last time or was invalidated.
  void Queue(const std::string& key, std::string message,
             std::function<void()> on_done = nullptr);

  // Takes messages for one datagram: fewest-sent first, each costing
  // `overhead` + its size, within `limit` bytes in all. Each one taken
  // counts as sent once; those at their limit leave the queue.
  std::vector<std::string> Take(int overhead, int limit);

  size_t size() const { return items_.size(); }
  void Clear();

 private:
  struct Item {
    uint64_t id;  // insertion order: newer first among equals
    std::string key;
    std::string message;
    int transmits = 0;
    std::function<void()> on_done;
  };
  // Ordered by (transmits asc, id desc).
  struct Order {
    bool operator()(const Item* a, const Item* b) const {
      if (a->transmits != b->transmits) return a->transmits < b->transmits;
      return a->id > b->id;
    }
  };
  void Remove(Item* item);
  // The smallest message queued (0 when empty).
  int MinMessageSize() const {
    return sizes_.empty() ? 0 : static_cast<int>(sizes_.begin()->first);
  }

  const int retransmit_mult_;
  std::function<int()> num_nodes_;
  uint64_t next_id_ = 1;
  std::set<Item*, Order> order_;
  std::unordered_map<std::string, Item*> by_key_;
  std::unordered_map<uint64_t, std::unique_ptr<Item>> items_;
  // How many queued messages have each size: once the space left is below
  // the smallest, Take() can stop scanning (it used to walk the whole queue,
  // O(queue) per datagram, when a few bytes were left).
  std::map<size_t, int> sizes_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_
