// The cluster layer's commands (peer/cluster/: what Serf adds on
// memberlist), acting on the node MembershipHost runs:
//
//   tags                       this node's tags, KEY=VALUE a line
//   tags set KEY=VALUE...      sets tags (an update event on every member)
//   tags del KEY...            removes tags (the same)
//   event NAME [PAYLOAD] [--coalesce]
//                              a user event to every member, once, in
//                              Lamport order
//
// and the eventsView lines of user events (UserEventViewWriter). Their
// settings (memberlist.max_meta_bytes, event.*) are in
// membership_commands.cc, beside the other membership settings.
#ifndef PEERLAB_PEER_APP_CLUSTER_COMMANDS_H_
#define PEERLAB_PEER_APP_CLUSTER_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "peer/app/membership_host.h"
#include "peer/cli/registry.h"
#include "peer/cli/view.h"
#include "peer/cluster/user_event.h"

namespace peerlab::peer {

// How long `tags set|del` waits for the update to go out at most.
inline constexpr absl::Duration kTagsTimeout = absl::Seconds(5);

// Registers the commands against `host` (must outlive `registry`'s use).
absl::Status RegisterClusterCommands(MembershipHost* host,
                                     cli::Registry& registry);

// "<event> NAME PAYLOAD (from ALICE, ltime N)": a user event's line
// (payload bytes outside printable ASCII escaped; no payload: no word).
std::string UserEventText(const cluster::UserEvent& e);

// Writes every user event the node delivers to `hub`'s eventsView (as
// UserEventText). Runs on the membership loop; never blocks. `hub` may be
// null (nothing) and must outlive it.
class UserEventViewWriter : public cluster::UserEventListener {
 public:
  explicit UserEventViewWriter(cli::ViewHub* hub) : hub_(hub) {}
  void OnUserEvent(const cluster::UserEvent& e) override;

 private:
  cli::ViewHub* const hub_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_CLUSTER_COMMANDS_H_
