// The original's bootstrap command group, on BootstrapHost (bootstrap_host.h):
//   bootstrap           the remote document
//   bootstrapconfig     the remote config; with N [M] sets max_peers (and
//                       min_refill_candidates): admin
//   bootstrappeers      the remote list of peers
//   bootstrapjoin       adds this peer (its gossip address) to the list
//   bootstrapleave      removes this peer from the list
//   bootstraprefill     offers this peer as a refill candidate
//   bootstrapreset      removes every peer: admin
//   bootstraplistlocal  the last document this peer received (no call)
#ifndef PEERLAB_PEER_APP_BOOTSTRAP_COMMANDS_H_
#define PEERLAB_PEER_APP_BOOTSTRAP_COMMANDS_H_

#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peer/app/bootstrap_host.h"
#include "peer/cli/config.h"
#include "peer/cli/registry.h"

namespace peerlab::peer {

class BootstrapCommands {
 public:
  // `host` must outlive this object.
  explicit BootstrapCommands(BootstrapHost* host);

  // Registers the commands and the config keys "bootstrap.lease" (lease of
  // bootstrapjoin/refill; 0s: none) and "bootstrap.admin_token_file", and
  // makes them the host's settings.
  absl::Status Register(cli::Registry& registry, cli::ConfigRegistry& config);

 private:
  BootstrapHost* const host_;
  cli::ConfigRegistry* config_ = nullptr;
  BootstrapSettings settings_;  // guarded by the config registry's lock
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_BOOTSTRAP_COMMANDS_H_
