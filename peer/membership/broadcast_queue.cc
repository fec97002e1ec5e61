#include "peer/membership/broadcast_queue.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "peer/membership/protocol_math.h"

namespace peerlab::membership {

BroadcastQueue::BroadcastQueue(int retransmit_mult,
                               std::function<int()> num_nodes, StringPool* pool)
    : retransmit_mult_(retransmit_mult),
      num_nodes_(std::move(num_nodes)),
      own_pool_(pool ? nullptr : std::make_unique<StringPool>()),
      pool_(pool ? pool : own_pool_.get()) {}

BroadcastQueue::~BroadcastQueue() {
  // Entries hold pool references: release them before a private pool goes.
  // Slots are not touched (their owners may be gone already).
  order_.clear();
}

void BroadcastQueue::Queue(const std::string& key, std::string message,
                           std::function<void()> on_done,
                           uint32_t min_transmits) {
  const uint64_t id = next_id_;  // the one the Queue below gives
  if (key.empty()) {
    Queue(static_cast<Slot*>(nullptr), std::move(message), std::move(on_done));
  } else {
    auto it = keyed_.find(key);
    if (it != keyed_.end()) Cancel(it->second.get());  // forgets the key
    auto slot = std::make_unique<Slot>();
    Slot* raw = slot.get();
    keyed_[key] = std::move(slot);
    Queue(raw, std::move(message), std::move(on_done));
    key_of_[IdOf(raw->key)] = key;
  }
  if (min_transmits > 0 && next_id_ == id + 1) {
    min_transmits_[id] = std::min<uint32_t>(min_transmits, 255);
  }
}

void BroadcastQueue::Queue(Slot* slot, std::string message,
                           std::function<void()> on_done) {
  if (slot != nullptr) Cancel(slot);
  const uint64_t id = next_id_++;
  const uint64_t key = MakeKey(0, id);
  ++sizes_[message.size()];
  order_.emplace(key, Entry{pool_->Intern(message), slot});
  if (slot != nullptr) slot->key = key;
  if (on_done) on_done_.emplace(id, std::move(on_done));
}

void BroadcastQueue::Cancel(Slot* slot) {
  if (slot == nullptr || !slot->queued()) return;
  Finish(slot->key);
}

void BroadcastQueue::Finish(uint64_t key) {
  auto it = order_.find(key);
  if (it == order_.end()) return;
  Slot* slot = it->second.slot;
  if (auto s = sizes_.find(it->second.message.size());
      s != sizes_.end() && --s->second == 0) {
    sizes_.erase(s);
  }
  order_.erase(it);
  const uint64_t id = IdOf(key);
  min_transmits_.erase(id);
  if (slot != nullptr) {
    slot->key = 0;
    // A string key's slot is destroyed: the key is free again.
    if (auto k = key_of_.find(id); k != key_of_.end()) {
      keyed_.erase(k->second);
      key_of_.erase(k);
    }
  }
  // Last: on_done may queue again.
  if (auto d = on_done_.find(id); d != on_done_.end()) {
    std::function<void()> done = std::move(d->second);
    on_done_.erase(d);
    done();
  }
}

std::vector<StringPool::Ref> BroadcastQueue::Take(int overhead, int limit) {
  std::vector<StringPool::Ref> out;
  if (order_.empty()) return out;
  const uint32_t max_transmits =
      static_cast<uint32_t>(RetransmitLimit(retransmit_mult_, num_nodes_()));
  int used = 0;
  std::vector<uint64_t> taken;
  const int smallest = overhead + MinMessageSize();
  for (const auto& [key, entry] : order_) {
    if (limit - used <= overhead) break;  // nothing more can fit
    if (limit - used < smallest) break;   // not even the smallest message
    int cost = overhead + static_cast<int>(entry.message.size());
    if (used + cost > limit) continue;
    used += cost;
    out.push_back(entry.message);
    taken.push_back(key);
  }
  for (uint64_t key : taken) {
    const uint32_t transmits = static_cast<uint32_t>(key >> 56) + 1;
    uint32_t limit_here = max_transmits;
    if (!min_transmits_.empty()) {
      auto m = min_transmits_.find(IdOf(key));
      if (m != min_transmits_.end()) {
        limit_here = std::max(limit_here, m->second);
      }
    }
    if (transmits >= limit_here || transmits > 255) {
      Finish(key);
      continue;
    }
    auto it = order_.find(key);
    if (it == order_.end()) continue;  // an on_done above replaced it
    Entry entry = std::move(it->second);
    order_.erase(it);
    const uint64_t next = MakeKey(transmits, IdOf(key));
    if (entry.slot != nullptr) entry.slot->key = next;
    order_.emplace(next, std::move(entry));
  }
  return out;
}

void BroadcastQueue::Clear() {
  while (!order_.empty()) Finish(order_.begin()->first);
}

}  // namespace peerlab::membership
