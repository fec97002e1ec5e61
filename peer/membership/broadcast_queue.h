// BroadcastQueue: updates waiting to be piggybacked on outgoing messages,
// each sent a limited number of times (memberlist TransmitLimitedQueue).
//
// Updates sent fewest times go first; a newer update for the same key
// replaces an older one that has not finished spreading. A key is either a
// string (user broadcasts, key operations) or a numbered Slot the caller
// keeps: the membership keeps one in each member's record, so the one
// update queued about a member costs no map entry (after a join every
// member queues an update about every other one: in a simulation of N
// members in one process that is N² queued updates, so an update costs 12
// bytes in the queue and 4 in the caller's slot).
//
// Messages are stored in a StringPool: queues that share a pool (the
// simulator's members) store each encoded update once.
#ifndef PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_
#define PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "peer/membership/string_pool.h"

namespace peerlab::membership {

// Not thread-safe: lives on the node's scheduler.
class BroadcastQueue {
 public:
  // Where an update's place in the queue is kept (4 bytes): the caller's,
  // numbered (slot_of, below), or the queue's own for string keys.
  struct Slot {
    uint32_t key = 0;  // the queued update's place in the order; 0: none
    bool queued() const { return key != 0; }
    uint32_t transmits() const { return key >> kIdBits; }
  };
  // The caller's slot number `n` (below kMaxSlots). REQUIRES: while an
  // update is queued for it, a slot stays at its address; Cancel() it
  // before destroying or reusing it.
  using SlotOf = std::function<Slot*(uint32_t n)>;
  static constexpr uint32_t kMaxSlots = uint32_t{1} << 31;

  // `retransmit_mult` as in Config; `num_nodes` is asked on every call,
  // since the limit grows with the cluster. `pool` stores the messages; it
  // must outlive the queue (nullptr: the queue keeps a private pool).
  // `slot_of` finds the caller's numbered slots (nullptr: it has none).
  BroadcastQueue(int retransmit_mult, std::function<int()> num_nodes,
                 StringPool* pool = nullptr, SlotOf slot_of = nullptr);
  ~BroadcastQueue();
  BroadcastQueue(const BroadcastQueue&) = delete;
  BroadcastQueue& operator=(const BroadcastQueue&) = delete;

  // Queues `message` (already encoded). A non-empty `key` invalidates a
  // queued message with the same key. `on_done` (optional) runs when the
  // message has been sent its last time or was invalidated. It is sent at
  // least `min_transmits` times (application broadcasts: UserBroadcastFloor)
  // even when the retransmit limit is lower (at most 255). If the on_done
  // of the message it invalidates queues for the key again, that later
  // update stays and this one counts as invalidated at once (its on_done
  // runs).
  void Queue(const std::string& key, std::string message,
             std::function<void()> on_done = nullptr,
             uint32_t min_transmits = 0);
  // As above, keyed by the caller's slot number `slot` (slot_of(slot)).
  void Queue(uint32_t slot, std::string message,
             std::function<void()> on_done = nullptr);
  // As above, `message` already in the pool (the queue's pool: REQUIRES
  // it is not empty and comes from that pool).
  void Queue(uint32_t slot, StringPool::Ref message,
             std::function<void()> on_done = nullptr);
  // As above, and droppable: while more than the bound's droppable
  // updates are queued, the one sent most (the oldest among equals) goes
  // (set_bound). The others (string keys, the two Queue(slot) above) are
  // never dropped. A droppable update has no on_done.
  void QueueDroppable(uint32_t slot, StringPool::Ref message);
  // At most `bound` droppable updates queued (0: no bound, the default).
  void set_bound(size_t bound) { bound_ = bound; }
  // Droppable updates dropped for the bound, since the queue was made.
  uint64_t dropped() const { return dropped_; }
  // Drops the update queued for the caller's slot `slot`, if any (its
  // on_done runs).
  void Cancel(uint32_t slot);

  // Takes messages for one datagram: fewest-sent first, each costing
  // `overhead` + its size, within `limit` bytes in all. Each one taken
  // counts as sent once; those at their limit leave the queue.
  std::vector<StringPool::Ref> Take(int overhead, int limit);

  size_t size() const { return order_.size(); }
  void Clear();

  // For tests: `left` ids before the queued updates are numbered again.
  void SkipIdsForTest(uint32_t left) { next_id_ = kRenumberAt - left; }

 private:
  // An update's place in the order, in 4 bytes: transmits (at most 255) in
  // the top 8 bits, then the complement of its id (ids grow with each
  // update), so ascending keys are fewest transmits first, newest first
  // among equals. Ids run out after 2^24 - 2 updates: the queued ones are
  // then numbered again from 1, in the same order (Renumber).
  static constexpr int kIdBits = 24;
  static constexpr uint32_t kIdMask = (uint32_t{1} << kIdBits) - 1;
  // Renumbered before the ids run out, outside Take (an on_done that Take
  // runs may queue: room for 2^16 of them).
  static constexpr uint32_t kRenumberAt = kIdMask - (uint32_t{1} << 16);
  static uint32_t MakeKey(uint32_t transmits, uint32_t id) {
    return (transmits << kIdBits) | (kIdMask - id);
  }
  static uint32_t IdOf(uint32_t key) { return kIdMask - (key & kIdMask); }
  // The queue's own slots (string keys, unkeyed updates) are numbered from
  // kMaxSlots up.
  static bool Own(uint32_t slot) { return slot >= kMaxSlots; }

  struct Entry {
    uint32_t key;
    uint32_t slot;  // a slot number: the caller's or the queue's own
    StringPool::Ref message;
  };
  struct ByKey {
    using is_transparent = void;
    static uint32_t KeyOf(const Entry& e) { return e.key; }
    static uint32_t KeyOf(uint32_t key) { return key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return KeyOf(a) < KeyOf(b);
    }
  };

  Slot* SlotAt(uint32_t slot) {
    return Own(slot) ? &own_slots_[slot - kMaxSlots] : slot_of_(slot);
  }
  // A free slot of the queue's own.
  uint32_t TakeOwnSlot();
  // Cancel(slot) for a Queue(slot, ...): true when the cancelled update's
  // on_done queued for the slot again (that later update stays; `on_done`
  // has run).
  bool CancelForQueue(uint32_t slot, std::function<void()>& on_done);
  void Enqueue(uint32_t slot, StringPool::Ref message,
               std::function<void()> on_done);
  // Removes the entry at `key` (its slot cleared, on_done run).
  void Finish(uint32_t key);
  // Numbers the queued updates again from 1, keeping their order.
  void Renumber();
  // Droppable updates queued: the caller's slots that are not pinned.
  size_t Droppable() const { return caller_entries_ - pinned_.size(); }
  // Drops the droppable updates sent most until the bound holds.
  void EnforceBound();
  // The smallest message queued (0 when empty).
  int MinMessageSize() const {
    return sizes_.empty() ? 0 : static_cast<int>(sizes_.begin()->first);
  }

  const int retransmit_mult_;
  std::function<int()> num_nodes_;
  std::unique_ptr<StringPool> own_pool_;
  StringPool* const pool_;
  SlotOf slot_of_;
  uint32_t next_id_ = 1;
  bool taking_ = false;
  absl::btree_set<Entry, ByKey> order_;
  // The queue's own slots (slot number kMaxSlots + i), and those free.
  std::deque<Slot> own_slots_;
  std::vector<uint32_t> free_own_slots_;
  // String keys: their slots, and the key of each own slot that has one.
  absl::flat_hash_map<std::string, uint32_t> keyed_;
  absl::flat_hash_map<uint32_t, std::string> key_of_;
  // By slot number (a slot holds one update at a time).
  absl::flat_hash_map<uint32_t, std::function<void()>> on_done_;
  // The updates sent more often than the limit (by slot number): few, so
  // kept here and not in every Entry (a simulation holds N² entries).
  absl::flat_hash_map<uint32_t, uint32_t> min_transmits_;
  // How many queued messages have each size: once the space left is below
  // the smallest, Take() can stop scanning (it used to walk the whole queue,
  // O(queue) per datagram, when a few bytes were left).
  std::map<size_t, int> sizes_;
  // The bound (set_bound): the caller's slots queued, those of them that
  // are not droppable (few: suspicions, deaths, one's own alive), and the
  // updates dropped so far.
  size_t bound_ = 0;
  size_t caller_entries_ = 0;
  absl::flat_hash_set<uint32_t> pinned_;
  uint64_t dropped_ = 0;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_
