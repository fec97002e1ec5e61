// Keeping the bootstrap list alive when a member goes: the decision, as a
// pure function (LifecycleHost carries it out).
//
// When membership reports that a member left or was declared dead, every
// survivor computes the same plan from its own view. Exactly one of them
// acts, so the bootstrap service is not hit by everyone at once: the alive
// member with the smallest name (deterministic; views agree once gossip has
// spread). That one removes the departed peer's entries from the list (they
// are matched by gossip address, which the list stores as host:port) and,
// if the list then has room, offers the longest-lived members that are not
// listed as refill candidates, oldest first, so a long-lived peer takes the
// vacant place (the service's "longest-lived wins" rule decides). A
// member's bootstrap id and start time come from its metadata
// (member_meta.h); members without them cannot be offered.
#ifndef PEERLAB_PEER_APP_BOOTSTRAP_UPKEEP_H_
#define PEERLAB_PEER_APP_BOOTSTRAP_UPKEEP_H_

#include <string>
#include <vector>

#include "peer/membership/member.h"
#include "proto/bootstrap/v1/bootstrap.pb.h"

namespace peerlab::peer {

struct UpkeepPlan {
  bool chosen = false;                            // this peer is the one to act
  std::vector<std::string> remove_ids;            // the departed peer's entries
  std::vector<::bootstrap::v1::Peer> candidates;  // to Refill, in order
};

// `members`: this peer's view of the group now (alive and suspect ones,
// itself included); the departed member is ignored even if still there.
UpkeepPlan PlanUpkeep(const membership::Member& departed,
                      const std::string& self,
                      const std::vector<membership::Member>& members,
                      const ::bootstrap::v1::Document& doc);

// The bootstrap entry a member's metadata describes (id, name, host, port
// from its gossip address, start time); false when the metadata lacks them.
bool PeerFromMember(const membership::Member& member,
                    ::bootstrap::v1::Peer* peer);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_BOOTSTRAP_UPKEEP_H_
