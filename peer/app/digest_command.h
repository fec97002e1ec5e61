// The `memberlistdigest [members]` command: prints the digest line of the
// node's member table ("digest HEX16 live N", member_digest.h), and with
// `members` one "member NAME STATE INCARNATION" line per member known. The
// test harness polls it (`wait converged`, `wait members`) and reads the
// tables for `check membership`.
#ifndef PEERLAB_PEER_APP_DIGEST_COMMAND_H_
#define PEERLAB_PEER_APP_DIGEST_COMMAND_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "peer/app/member_digest.h"
#include "peer/cli/command.h"

namespace peerlab::peer {

// Every member the node knows, in any state (FailedPrecondition without a
// node). Called on the command's thread.
using MemberTableSource =
    std::function<absl::StatusOr<std::vector<MemberRow>>()>;

cli::Command MemberlistDigestCommand(MemberTableSource table);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_DIGEST_COMMAND_H_
