// The `keys` command (membership group): gossip encryption keys across the
// cluster, as `serf keys` does it on memberlist's keyring.
//
//   keys list          every member's keys: how many hold each, how many
//                      use it as their primary
//   keys install KEY   every member accepts KEY (base64, 32 bytes)
//   keys use KEY       every member seals with KEY (install it first)
//   keys remove KEY    every member stops accepting KEY (not the primary)
//   keys generate      prints a new random key (changes nothing)
//
// Each operation is applied here, gossiped to every member (encrypted: only
// members holding an accepted key can read it) and answered by each on the
// reliable path; the command reports how many answered within the timeout
// (SECONDS, default 5) and fails unless all did and none refused.
#ifndef PEERLAB_PEER_APP_KEYS_COMMANDS_H_
#define PEERLAB_PEER_APP_KEYS_COMMANDS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/cli/command.h"
#include "peer/membership/memberlist.h"

namespace peerlab::peer {

// Runs a cluster-wide key operation and blocks until it ends (see
// membership::Memberlist::KeyOperation). Must be thread-safe.
using KeyOperationRunner =
    std::function<absl::StatusOr<membership::KeyOpResult>(
        membership::KeyOp op, std::string key, absl::Duration timeout)>;

// The `keys` command on `run`.
cli::Command KeysCommand(KeyOperationRunner run);

// The report printed for a finished operation (one line per entry), and
// whether it counts as success: every member answered and none refused.
struct KeysReport {
  std::vector<std::string> lines;
  absl::Status status;
};
KeysReport FormatKeysReport(membership::KeyOp op,
                            const membership::KeyOpResult& result,
                            absl::Duration timeout);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_KEYS_COMMANDS_H_
