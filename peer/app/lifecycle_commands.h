// The development command group, on the LifecycleHost (lifecycle_host.h):
//
//   init   the whole start-up (LifecycleHost::Init)
//   quit   the clean leave, then the program ends with status 0
//          (LifecycleHost::Quit)
//   play   scratch: shows this node, the members, the chat members and the
//          last bootstrap document (runs those commands)
#ifndef PEERLAB_PEER_APP_LIFECYCLE_COMMANDS_H_
#define PEERLAB_PEER_APP_LIFECYCLE_COMMANDS_H_

#include "absl/status/status.h"
#include "peer/app/lifecycle_host.h"
#include "peer/cli/registry.h"

namespace peerlab::peer {

// Registers init, quit and play. `host` and `registry` must outlive the
// commands.
absl::Status RegisterLifecycleCommands(LifecycleHost* host,
                                       cli::Registry& registry);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_LIFECYCLE_COMMANDS_H_
