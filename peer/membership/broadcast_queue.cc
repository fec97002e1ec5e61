#include "peer/membership/broadcast_queue.h"

#include <memory>

#include "peer/membership/protocol_math.h"

namespace peerlab::membership {

void BroadcastQueue::Queue(const std::string& key, std::string message,
                           std::function<void()> on_done) {
  if (!key.empty()) {
    auto it = by_key_.find(key);
    if (it != by_key_.end()) Remove(it->second);
  }
  auto item = std::make_unique<Item>();
  item->id = next_id_++;
  item->key = key;
  item->message = std::move(message);
  item->on_done = std::move(on_done);
  Item* raw = item.get();
  ++sizes_[raw->message.size()];
  items_.emplace(raw->id, std::move(item));
  order_.insert(raw);
  if (!key.empty()) by_key_[key] = raw;
}

void BroadcastQueue::Remove(Item* item) {
  order_.erase(item);
  if (!item->key.empty()) {
    auto it = by_key_.find(item->key);
    if (it != by_key_.end() && it->second == item) by_key_.erase(it);
  }
  std::function<void()> done = std::move(item->on_done);
  if (auto it = sizes_.find(item->message.size());
      it != sizes_.end() && --it->second == 0) {
    sizes_.erase(it);
  }
  items_.erase(item->id);
  if (done) done();
}

std::vector<std::string> BroadcastQueue::Take(int overhead, int limit) {
  std::vector<std::string> out;
  if (order_.empty()) return out;
  const int max_transmits = RetransmitLimit(retransmit_mult_, num_nodes_());
  int used = 0;
  std::vector<Item*> taken;
  const int smallest = overhead + MinMessageSize();
  for (Item* item : order_) {
    if (limit - used <= overhead) break;  // nothing more can fit
    if (limit - used < smallest) break;   // not even the smallest message
    int cost = overhead + static_cast<int>(item->message.size());
    if (used + cost > limit) continue;
    used += cost;
    out.push_back(item->message);
    taken.push_back(item);
  }
  for (Item* item : taken) {
    order_.erase(item);
    ++item->transmits;
    if (item->transmits >= max_transmits) {
      order_.insert(item);  // Remove() expects it in the set
      Remove(item);
    } else {
      order_.insert(item);
    }
  }
  return out;
}

void BroadcastQueue::Clear() {
  while (!order_.empty()) Remove(*order_.begin());
}

}  // namespace peerlab::membership
