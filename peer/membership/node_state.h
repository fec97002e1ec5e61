// Memberlist's record of one member (internal: Memberlist's private
// NodeState), and the hash and equality that index records by name.
// Not part of the library's API: only memberlist's own files use it.
#ifndef PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_
#define PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_

#include <cstddef>
#include <cstdint>
#include <deque>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peer/membership/broadcast_queue.h"
#include "peer/membership/claim_pool.h"
#include "peer/membership/member.h"
#include "peer/membership/string_pool.h"

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
// per member (N² of them in a simulation of N members): what the member
// claims about itself (name, address, id, metadata, key, signature,
// incarnation, generation) is one pooled claim that every record of it in
// the process shares (claim_pool.h), the member's queued update is tracked
// here rather than in a map, the rare suspicion lives in a side map
// (Memberlist::suspicions_), and the fields are ordered so that none pads
// (24 bytes). A record whose name is empty is free.
struct NodeState {
  ClaimPool::Ref claim;
  MemberState state = MemberState::kAlive;
  // It answered one of our probes or exchanged state with us. Members
  // only heard of (possibly forged, in a flood) are not asked to probe
  // for us, and failing to reach them does not lower our health score.
  bool verified = false;
  // Left by a force-leave (ForceLeave), not by its own signed leave: its
  // push/pull entry says dead (no leave signature to pass on), and its
  // key stays pinned as long as a dead member's would.
  bool forced_left = false;
  CompactTime state_change;     // when the state last changed, local time
  BroadcastQueue::Slot queued;  // the update about it we spread

  // The claim's fields. The member's public key is pinned to its name
  // while it lives; the signature is that of its last claim about itself
  // (its alive at `incarnation`, or its leave when left), passed on in
  // push/pulls.
  const StringPool::Ref& name() const { return claim->name; }
  const StringPool::Ref& addr() const { return claim->addr; }
  const StringPool::Ref& id() const { return claim->id; }
  const StringPool::Ref& meta() const { return claim->meta; }
  const StringPool::Ref& public_key() const { return claim->public_key; }
  const StringPool::Ref& signature() const { return claim->signature; }
  uint64_t incarnation() const { return claim->incarnation; }
  uint64_t generation() const { return claim->generation; }
};
static_assert(sizeof(NodeState) <= 24, "a member record grew: N² of them");
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
    return (*this)(PooledName{(*nodes)[i].name().index()});
  }
};
struct NameEq {
  using is_transparent = void;
  const std::deque<NodeState>* nodes;
  uint32_t View(PooledName name) const { return name.index; }
  uint32_t View(uint32_t i) const { return (*nodes)[i].name().index(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return View(a) == View(b);
  }
};

}  // namespace peerlab::membership::internal

#endif  // PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_
