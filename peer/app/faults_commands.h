// The `faults` command: this peer's network faults, without root. One
// runtime::FaultPlan (peer/runtime/fault_plan.h) per peer, which the
// membership transport (datagrams, reliable calls) and the chat streams
// obey for what this peer sends:
//
//   faults drop DEST 10%          lose that share of datagrams
//   faults delay DEST 20ms [5ms]  hold datagrams, calls and chat envelopes
//   faults block DEST             one way: nothing this peer sends arrives
//   faults dup DEST 5%            send that share of datagrams twice
//   faults reorder DEST 5% [HOLD] hold that share back HOLD (20ms) longer
//   faults fail DEST | hang DEST  calls and chat streams fail / hang
//   faults clear [DEST]           remove DEST's rules (all without DEST)
//   faults list                   the rules and what they did
//   faults self                   this peer's addresses (for the harness)
//
// DEST: "*" (every destination), an address HOST:PORT, or the name of a
// member this peer knows (its gossip and chat addresses). Who may run it
// is ControlService's rule: the owner, and the harness coordinator only
// where `lab.allow_faults` is on (peer/control/control_service.h).
#ifndef PEERLAB_PEER_APP_FAULTS_COMMANDS_H_
#define PEERLAB_PEER_APP_FAULTS_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/cli/command.h"
#include "peer/runtime/fault_plan.h"

namespace peerlab::peer {

struct FaultsEnv {
  // The peer's plan (shared with its transports). Required.
  std::shared_ptr<runtime::FaultPlan> plan;
  // The addresses of the member named `name` (gossip, chat); NotFound when
  // this peer knows no such member. Thread-safe.
  std::function<absl::StatusOr<std::vector<std::string>>(
      const std::string& name)>
      resolve;
  // This peer's own addresses, one line: "gossip=HOST:PORT grpc=HOST:PORT".
  std::function<std::string()> self;
};

cli::Command FaultsCommand(FaultsEnv env);

// "10%" (0 to 100, fractions allowed) as a probability in [0, 1].
absl::StatusOr<double> ParsePercent(absl::string_view text);

// The seed of a peer's plan: from $PEERLAB_SEED (the harness's run seed)
// and the peer's name when set, else a random one.
uint64_t FaultSeed(absl::string_view name);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_FAULTS_COMMANDS_H_
