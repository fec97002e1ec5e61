// The query commands of the peer (Serf's query, reachability and
// force-leave), on the cluster layer's Queries (peer/cluster/queries.h)
// and Memberlist::ForceLeave:
//
//   query NAME [PAYLOAD] [--node NAME]... [--tag KEY=REGEX]...
//         [--timeout D] [--ack] [--relay N]
//       prints each ack (with --ack) and response, then one summary line:
//       "summary: matched M, acked A, answered R, missing K (NAMES) in T"
//   reachability [--timeout D]
//       a query every member acks; prints who did not answer in time and
//       fails when anyone did not
//   forceleave NAME [--prune]
//       a failed member taken as left everywhere (--prune: forgotten)
//
// The commands are built on runners (MembershipHost in the peer), so the
// parsing and the output are tested without a node.
#ifndef PEERLAB_PEER_APP_QUERY_COMMANDS_H_
#define PEERLAB_PEER_APP_QUERY_COMMANDS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/cli/command.h"
#include "peer/cluster/queries.h"

namespace peerlab::peer {

// Runs a query to its end; `answers` gets each ack and response in order.
using QueryRunner = std::function<absl::StatusOr<cluster::QueryResult>(
    cluster::QueryParams params, std::vector<cluster::QueryAnswer>* answers)>;
// Runs a reachability query (zero timeout: the default) to its end.
using ReachabilityRunner =
    std::function<absl::StatusOr<cluster::QueryResult>(absl::Duration timeout)>;
using ForceLeaveRunner =
    std::function<absl::Status(const std::string& name, bool prune)>;

cli::Command QueryCommand(QueryRunner run);
cli::Command ReachabilityCommand(ReachabilityRunner run);
cli::Command ForceLeaveCommand(ForceLeaveRunner run);

// The arguments of `query` (after the command name). InvalidArgument
// naming the bad option: a missing value, an unknown option, a bad
// duration, --relay outside 0..5, --tag without '=' (the regular
// expression itself is checked by Queries).
absl::StatusOr<cluster::QueryParams> ParseQueryArgs(
    const std::vector<std::string>& args);

// The lines `query` prints: each answer, then the summary.
std::vector<std::string> FormatQueryOutput(
    const std::vector<cluster::QueryAnswer>& answers,
    const cluster::QueryResult& result, bool acks);
// "summary: matched 3, acked 0, answered 2, missing 1 (carol) in 1.2s".
std::string QuerySummary(const cluster::QueryResult& result);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_QUERY_COMMANDS_H_
