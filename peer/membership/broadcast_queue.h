// BroadcastQueue: updates waiting to be piggybacked on outgoing messages,
// each sent a limited number of times (memberlist TransmitLimitedQueue).
//
// Updates sent fewest times go first; a newer update for the same key
// replaces an older one that has not finished spreading. A key is either a
// string (user broadcasts, key operations) or a Slot the caller keeps: the
// membership keeps one in each member's record, so the one update queued
// about a member costs no map entry (after a join every member queues an
// update about every other one: in a simulation of N members in one
// process that is N² queued updates).
//
// Messages are stored in a StringPool: queues that share a pool (the
// simulator's members) store each encoded update once.
#ifndef PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_
#define PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "peer/membership/string_pool.h"

namespace peerlab::membership {

// Not thread-safe: lives on the node's scheduler.
class BroadcastQueue {
 public:
  // Where a caller tracks its one queued update. REQUIRES: while an update
  // is queued for it (id != 0), a Slot stays at its address; Cancel() it
  // before destroying or reusing it.
  struct Slot {
    uint64_t key = 0;  // the queued update's place in the order; 0: none
    bool queued() const { return key != 0; }
    uint32_t transmits() const { return static_cast<uint32_t>(key >> 56); }
  };

  // `retransmit_mult` as in Config; `num_nodes` is asked on every call,
  // since the limit grows with the cluster. `pool` stores the messages; it
  // must outlive the queue (nullptr: the queue keeps a private pool).
  BroadcastQueue(int retransmit_mult, std::function<int()> num_nodes,
                 StringPool* pool = nullptr);
  ~BroadcastQueue();
  BroadcastQueue(const BroadcastQueue&) = delete;
  BroadcastQueue& operator=(const BroadcastQueue&) = delete;

  // Queues `message` (already encoded). A non-empty `key` invalidates a
  // queued message with the same key. `on_done` (optional) runs when the
  // message has been sent its last time or was invalidated. It is sent at
  // least `min_transmits` times (application broadcasts: UserBroadcastFloor)
  // even when the retransmit limit is lower (at most 255).
  void Queue(const std::string& key, std::string message,
             std::function<void()> on_done = nullptr,
             uint32_t min_transmits = 0);
  // As above, keyed by `slot` (nullptr: no key).
  void Queue(Slot* slot, std::string message,
             std::function<void()> on_done = nullptr);
  // Drops the update queued for `slot`, if any (its on_done runs).
  void Cancel(Slot* slot);

  // Takes messages for one datagram: fewest-sent first, each costing
  // `overhead` + its size, within `limit` bytes in all. Each one taken
  // counts as sent once; those at their limit leave the queue.
  std::vector<StringPool::Ref> Take(int overhead, int limit);

  size_t size() const { return order_.size(); }
  void Clear();

 private:
  // An update's place in the order, in 8 bytes: transmits in the top 8
  // bits, then the complement of its id (ids grow with each update), so
  // ascending keys are fewest transmits first, newest first among equals.
  static constexpr uint64_t kIdMask = (uint64_t{1} << 56) - 1;
  static uint64_t MakeKey(uint32_t transmits, uint64_t id) {
    return (uint64_t{transmits} << 56) | (kIdMask - id);
  }
  static uint64_t IdOf(uint64_t key) { return kIdMask - (key & kIdMask); }
  struct Entry {
    StringPool::Ref message;
    Slot* slot;  // nullptr when unkeyed
  };
  // Removes the entry at `key` (its slot cleared, on_done run).
  void Finish(uint64_t key);
  // The smallest message queued (0 when empty).
  int MinMessageSize() const {
    return sizes_.empty() ? 0 : static_cast<int>(sizes_.begin()->first);
  }

  const int retransmit_mult_;
  std::function<int()> num_nodes_;
  std::unique_ptr<StringPool> own_pool_;
  StringPool* const pool_;
  uint64_t next_id_ = 1;
  absl::btree_map<uint64_t, Entry> order_;
  // String keys: their slots, and the key of each queued update that has
  // one (by update id), to forget the key when the update leaves.
  absl::flat_hash_map<std::string, std::unique_ptr<Slot>> keyed_;
  absl::flat_hash_map<uint64_t, std::string> key_of_;
  absl::flat_hash_map<uint64_t, std::function<void()>> on_done_;
  // The updates sent more often than the limit (by id): few, so kept here
  // and not in every Entry (a simulation holds N² entries).
  absl::flat_hash_map<uint64_t, uint32_t> min_transmits_;
  // How many queued messages have each size: once the space left is below
  // the smallest, Take() can stop scanning (it used to walk the whole queue,
  // O(queue) per datagram, when a few bytes were left).
  std::map<size_t, int> sizes_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_BROADCAST_QUEUE_H_
