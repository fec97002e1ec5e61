#include "peer/membership/broadcast_queue.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <utility>

#include "peer/membership/protocol_math.h"

namespace peerlab::membership {

BroadcastQueue::BroadcastQueue(int retransmit_mult,
                               std::function<int()> num_nodes, StringPool* pool,
                               SlotOf slot_of)
    : retransmit_mult_(retransmit_mult),
      num_nodes_(std::move(num_nodes)),
      own_pool_(pool ? nullptr : std::make_unique<StringPool>()),
      pool_(pool ? pool : own_pool_.get()),
      slot_of_(std::move(slot_of)) {}

BroadcastQueue::~BroadcastQueue() {
  // Entries hold pool references: release them before a private pool goes.
  // The caller's slots are not touched (their owners may be gone already).
  order_.clear();
}

uint32_t BroadcastQueue::TakeOwnSlot() {
  if (!free_own_slots_.empty()) {
    const uint32_t slot = free_own_slots_.back();
    free_own_slots_.pop_back();
    return slot;
  }
  own_slots_.emplace_back();
  return kMaxSlots + static_cast<uint32_t>(own_slots_.size() - 1);
}

void BroadcastQueue::Queue(const std::string& key, std::string message,
                           std::function<void()> on_done,
                           uint32_t min_transmits) {
  if (!key.empty()) {
    auto it = keyed_.find(key);
    if (it != keyed_.end()) {
      Finish(SlotAt(it->second)->key);  // forgets it
      if (keyed_.contains(key)) {
        // Its on_done queued for the key again: that update, made after
        // this one (the caller's, made before the call), stays.
        if (on_done) on_done();
        return;
      }
    }
  }
  const uint32_t slot = TakeOwnSlot();
  if (!key.empty()) {
    keyed_[key] = slot;
    key_of_[slot] = key;
  }
  if (min_transmits > 0) {
    min_transmits_[slot] = std::min<uint32_t>(min_transmits, 255);
  }
  Enqueue(slot, pool_->Intern(message), std::move(on_done));
}

void BroadcastQueue::Queue(uint32_t slot, std::string message,
                           std::function<void()> on_done) {
  if (CancelForQueue(slot, on_done)) return;
  pinned_.insert(slot);
  Enqueue(slot, pool_->Intern(message), std::move(on_done));
}

void BroadcastQueue::Queue(uint32_t slot, StringPool::Ref message,
                           std::function<void()> on_done) {
  if (CancelForQueue(slot, on_done)) return;
  pinned_.insert(slot);
  Enqueue(slot, std::move(message), std::move(on_done));
}

void BroadcastQueue::QueueDroppable(uint32_t slot, StringPool::Ref message) {
  std::function<void()> none;
  if (CancelForQueue(slot, none)) return;
  Enqueue(slot, std::move(message), nullptr);
  EnforceBound();
}

void BroadcastQueue::EnforceBound() {
  if (bound_ == 0) return;
  // The most sent are last in the order (the oldest last among equals);
  // the pinned ones and the queue's own are skipped.
  while (Droppable() > bound_) {
    auto it = order_.end();
    do {
      --it;
    } while (Own(it->slot) || pinned_.contains(it->slot));
    Finish(it->key);
    ++dropped_;
  }
}

bool BroadcastQueue::CancelForQueue(uint32_t slot,
                                    std::function<void()>& on_done) {
  Cancel(slot);
  if (SlotAt(slot)->queued()) {  // as for a key, above
    if (on_done) on_done();
    return true;
  }
  return false;
}

void BroadcastQueue::Enqueue(uint32_t slot, StringPool::Ref message,
                             std::function<void()> on_done) {
  if (next_id_ >= kRenumberAt && !taking_) Renumber();
  const uint32_t key = MakeKey(0, next_id_++);
  if (!Own(slot)) ++caller_entries_;
  ++sizes_[message.size()];
  order_.insert(Entry{key, slot, std::move(message)});
  SlotAt(slot)->key = key;
  if (on_done) on_done_[slot] = std::move(on_done);
}

void BroadcastQueue::Cancel(uint32_t slot) {
  const Slot* s = SlotAt(slot);
  if (s->queued()) Finish(s->key);
}

void BroadcastQueue::Finish(uint32_t key) {
  auto it = order_.find(key);
  if (it == order_.end()) return;
  const uint32_t slot = it->slot;
  if (auto s = sizes_.find(it->message.size());
      s != sizes_.end() && --s->second == 0) {
    sizes_.erase(s);
  }
  order_.erase(it);
  SlotAt(slot)->key = 0;
  min_transmits_.erase(slot);
  if (!Own(slot)) {
    --caller_entries_;
    pinned_.erase(slot);
  }
  if (Own(slot)) {
    // A string key is free again; the slot too.
    if (auto k = key_of_.find(slot); k != key_of_.end()) {
      keyed_.erase(k->second);
      key_of_.erase(k);
    }
    free_own_slots_.push_back(slot);
  }
  // Last: on_done may queue again.
  if (auto d = on_done_.find(slot); d != on_done_.end()) {
    std::function<void()> done = std::move(d->second);
    on_done_.erase(d);
    done();
  }
}

void BroadcastQueue::Renumber() {
  // More than 2^23 updates queued at once (a group of 8 million members):
  // the most sent, oldest ones go, so that ids are left.
  taking_ = true;  // no renumbering from the on_dones run here
  while (order_.size() > kRenumberAt / 2) {
    Finish(std::prev(order_.end())->key);
  }
  taking_ = false;
  std::vector<Entry> entries;
  entries.reserve(order_.size());
  while (!order_.empty()) {
    entries.push_back(std::move(order_.extract(order_.begin()).value()));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return IdOf(a.key) < IdOf(b.key);
  });
  next_id_ = 1;
  for (Entry& e : entries) {
    e.key = MakeKey(e.key >> kIdBits, next_id_++);
    SlotAt(e.slot)->key = e.key;
  }
  order_.insert(std::make_move_iterator(entries.begin()),
                std::make_move_iterator(entries.end()));
}

std::vector<StringPool::Ref> BroadcastQueue::Take(int overhead, int limit) {
  std::vector<StringPool::Ref> out;
  if (order_.empty()) return out;
  const uint32_t max_transmits =
      static_cast<uint32_t>(RetransmitLimit(retransmit_mult_, num_nodes_()));
  int used = 0;
  std::vector<uint32_t> taken;
  const int smallest = overhead + MinMessageSize();
  for (const Entry& entry : order_) {
    if (limit - used <= overhead) break;  // nothing more can fit
    if (limit - used < smallest) break;   // not even the smallest message
    int cost = overhead + static_cast<int>(entry.message.size());
    if (used + cost > limit) continue;
    used += cost;
    out.push_back(entry.message);
    taken.push_back(entry.key);
  }
  taking_ = true;  // keys in `taken` stay valid
  for (uint32_t key : taken) {
    auto it = order_.find(key);
    if (it == order_.end()) continue;  // an on_done above replaced it
    const uint32_t transmits = (key >> kIdBits) + 1;
    uint32_t limit_here = max_transmits;
    if (!min_transmits_.empty()) {
      auto m = min_transmits_.find(it->slot);
      if (m != min_transmits_.end()) {
        limit_here = std::max(limit_here, m->second);
      }
    }
    if (transmits >= limit_here || transmits > 255) {
      Finish(key);
      continue;
    }
    auto node = order_.extract(it);
    node.value().key = MakeKey(transmits, IdOf(key));
    SlotAt(node.value().slot)->key = node.value().key;
    order_.insert(std::move(node));
  }
  taking_ = false;
  return out;
}

void BroadcastQueue::Clear() {
  while (!order_.empty()) Finish(order_.begin()->key);
}

}  // namespace peerlab::membership
