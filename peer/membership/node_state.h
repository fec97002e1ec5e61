// Memberlist's record of one member (internal: Memberlist's private
// NodeState). Not part of the library's API: only memberlist's own files use
// it.
#ifndef PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_
#define PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peer/membership/broadcast_queue.h"
#include "peer/membership/claim_pool.h"
#include "peer/membership/member.h"
#include "peer/membership/string_pool.h"

namespace peerlab::membership::internal {

// What this node knows of one member. Compact, since a node holds one
// per member (N² of them in a simulation of N members): what the member
// claims about itself (name, address, id, metadata, key, signature,
// incarnation, generation) is one pooled claim that every record of it in
// the process shares (claim_pool.h), the member's queued update is tracked
// here rather than in a map (a 4-byte slot of the queue, numbered by the
// record's index), the rare suspicion lives in a side map
// (Memberlist::suspicions_), and the state, two flags and the time of the
// last change share 8 bytes (16 in all). A record whose name is empty is
// free.
struct NodeState {
  ClaimPool::Ref claim;
  BroadcastQueue::Slot queued;  // the update about it we spread
  MemberState state : 3 = MemberState::kAlive;
  // It answered one of our probes or exchanged state with us. Members
  // only heard of (possibly forged, in a flood) are not asked to probe
  // for us, and failing to reach them does not lower our health score.
  bool verified : 1 = false;
  // Left by a force-leave (ForceLeave), not by its own signed leave: its
  // push/pull entry says dead (no leave signature to pass on), and its
  // key stays pinned as long as a dead member's would.
  bool forced_left : 1 = false;
  // When the state last changed, local time: whole nanoseconds since the
  // memberlist's epoch, within ±2^58 ns (±9.1 years). Read and written
  // through Memberlist::StateChange and SetStateChange.
  int64_t state_change_ns : 59 = 0;

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
  // Its name's number in the ClaimPool (Memberlist's by_name_).
  uint32_t name_number() const { return claim->name_number; }
};
static_assert(sizeof(NodeState) <= 16, "a member record grew: N² of them");

}  // namespace peerlab::membership::internal

#endif  // PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_
