// Memberlist's record of one member (internal: Memberlist's private
// NodeState), and the hash and equality that index records by name.
// Not part of the library's API: only memberlist's own files use it.
#ifndef PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_
#define PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peer/membership/broadcast_queue.h"
#include "peer/membership/member.h"
#include "peer/membership/string_pool.h"
#include "peer/membership/suspicion.h"

namespace peerlab::membership::internal {

// absl::Time in 8 bytes instead of 16: whole nanoseconds since the Unix
// epoch (about ±292 years; what a scheduler's Now() gives). Converts both
// ways implicitly, so a field of this type reads and assigns as a Time.
class CompactTime {
 public:
  CompactTime() = default;
  CompactTime(absl::Time t) : ns_(absl::ToUnixNanos(t)) {}          // NOLINT
  operator absl::Time() const { return absl::FromUnixNanos(ns_); }  // NOLINT

 private:
  int64_t ns_ = 0;
};

// What this node knows of one member. Compact, since a node holds one
// per member (N² of them in a simulation of N members): strings are
// pooled 4-byte references, the member's queued update is tracked here
// rather than in a map, and the fields are ordered so that none pads
// (72 bytes). A record whose name is empty is free.
struct NodeState {
  StringPool::Ref name;
  StringPool::Ref addr;
  StringPool::Ref id;
  StringPool::Ref meta;
  // The member's public key, pinned to its name while it lives, and the
  // signature of its last claim about itself (its alive at
  // `incarnation`, or its leave when left), passed on in push/pulls.
  StringPool::Ref public_key;
  StringPool::Ref signature;
  uint64_t incarnation = 0;
  uint64_t generation = 0;
  CompactTime state_change;  // when the state last changed, local time
  std::unique_ptr<Suspicion> suspicion;
  BroadcastQueue::Slot queued;  // the update about it we spread
  MemberState state = MemberState::kAlive;
  // It answered one of our probes or exchanged state with us. Members
  // only heard of (possibly forged, in a flood) are not asked to probe
  // for us, and failing to reach them does not lower our health score.
  bool verified = false;
  // Left by a force-leave (ForceLeave), not by its own signed leave: its
  // push/pull entry says dead (no leave signature to pass on), and its
  // key stays pinned as long as a dead member's would.
  bool forced_left = false;
};
static_assert(sizeof(NodeState) <= 72, "a member record grew: N² of them");
// Looks records up by name through their index in nodes_ (4 bytes a
// member instead of a string key). Hashed and compared by the name's
// index in the memberlist's StringPool (every record's name is interned
// there, so equal names have equal indices): a lookup reads one record,
// not its name's bytes. Look up with a PooledName (StringPool::IndexOf).
struct PooledName {
  uint32_t index;
};
struct NameHash {
  using is_transparent = void;
  const std::deque<NodeState>* nodes;
  size_t operator()(PooledName name) const {
    return absl::Hash<uint32_t>()(name.index);
  }
  size_t operator()(uint32_t i) const {
    return (*this)(PooledName{(*nodes)[i].name.index()});
  }
};
struct NameEq {
  using is_transparent = void;
  const std::deque<NodeState>* nodes;
  uint32_t View(PooledName name) const { return name.index; }
  uint32_t View(uint32_t i) const { return (*nodes)[i].name.index(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return View(a) == View(b);
  }
};

}  // namespace peerlab::membership::internal

#endif  // PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_
