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

// absl::Time in 8 bytes instead of 16: whole nanoseconds since the Unix
// epoch (about ±292 years; what a scheduler's Now() gives), aligned to 4
// bytes so that a record holding one need not pad to 8. Converts both ways
// implicitly, so a field of this type reads and assigns as a Time.
class CompactTime {
 public:
  CompactTime() = default;
  CompactTime(absl::Time t) { Set(absl::ToUnixNanos(t)); }  // NOLINT
  operator absl::Time() const {                             // NOLINT
    return absl::FromUnixNanos(static_cast<int64_t>(
        (static_cast<uint64_t>(high_) << 32) | static_cast<uint64_t>(low_)));
  }

 private:
  void Set(int64_t ns) {
    const uint64_t bits = static_cast<uint64_t>(ns);
    high_ = static_cast<uint32_t>(bits >> 32);
    low_ = static_cast<uint32_t>(bits);
  }
  uint32_t high_ = 0;
  uint32_t low_ = 0;
};
static_assert(sizeof(CompactTime) == 8 && alignof(CompactTime) == 4);

// What this node knows of one member. Compact, since a node holds one
// per member (N² of them in a simulation of N members): what the member
// claims about itself (name, address, id, metadata, key, signature,
// incarnation, generation) is one pooled claim that every record of it in
// the process shares (claim_pool.h), the member's queued update is tracked
// here rather than in a map (a 4-byte slot of the queue, numbered by the
// record's index), the rare suspicion lives in a side map
// (Memberlist::suspicions_), and the fields are ordered so that none pads
// (20 bytes). A record whose name is empty is free.
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
  // Its name's number in the ClaimPool (Memberlist's by_name_).
  uint32_t name_number() const { return claim->name_number; }
};
static_assert(sizeof(NodeState) <= 20, "a member record grew: N² of them");

}  // namespace peerlab::membership::internal

#endif  // PEERLAB_PEER_MEMBERSHIP_NODE_STATE_H_
