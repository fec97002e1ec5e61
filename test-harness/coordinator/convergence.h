// `wait converged [GROUP] [TIMEOUT]` and `wait members PEER N [TIMEOUT]`
// (docs/harness.md): the verdict of one round of probes. The runner asks
// each healthy peer of the step `memberlistdigest` (quietly: the answer
// writes nothing to the peer's views) and repeats the round until the
// verdict is "" or the step's deadline passes. Pure.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_CONVERGENCE_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_CONVERGENCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/app/member_digest.h"
#include "proto/peer/v1/control.pb.h"
#include "test-harness/script/script.h"

namespace peerlab::harness {

// The command a probe runs on a peer.
inline constexpr char kDigestCommand[] = "memberlistdigest";
// With the table (`check membership`).
inline constexpr char kDigestMembersCommand[] = "memberlistdigest members";
// How long the runner waits between two rounds of probes.
inline constexpr absl::Duration kProbeInterval = absl::Milliseconds(100);
// The least time a probe is given, even past its step's deadline.
inline constexpr absl::Duration kProbeTimeout = absl::Seconds(2);

// One peer's answer.
struct DigestProbe {
  std::string peer;
  absl::StatusOr<peer::DigestReport> report;
};

// The report in an answer to `memberlistdigest [members]`: the command's
// error (code, message) or its output lines parsed.
absl::StatusOr<peer::DigestReport> DigestFromResponse(
    const ::peer::v1::ExecuteResponse& response);

// "" when at least one probe was made and every probe answered with the
// same digest (hash and live count); else why not, in one line: the peers
// grouped by what they answered (groups in the order of their first peer),
// "alice, bob: digest 1f2e… live 5; carol: digest 9a0b… live 4", or the first
// error, "carol: no membership node".
std::string WhyNotConverged(const std::vector<DigestProbe>& probes);

// "" when `probe` counts `n` live members (alive or suspect); else why not
// ("alice counts 5 live members", or its error).
std::string WhyNotMembers(const DigestProbe& probe, int64_t n);

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_CONVERGENCE_H_
