#include "peer/app/digest_command.h"

#include <algorithm>

namespace peerlab::peer {

cli::Command MemberlistDigestCommand(MemberTableSource table) {
  return {
      .name = "memberlistdigest",
      .group = "membership",
      .usage = "memberlistdigest [members]",
      .summary =
          "a digest of the member table: \"digest HEX16 live N\" "
          "(with members: every member too)",
      .help =
          "Prints \"digest HEX16 live N\": HEX16 hashes the live members "
          "(alive or suspect) with their states and incarnations, N "
          "counts them; peers that agree print the same line. With "
          "`members`, then \"member NAME STATE INCARNATION\" for every "
          "member known, sorted by name.",
      .max_args = 1,
      .handler = [table = std::move(table)](const cli::Call& call,
                                            cli::Output& out) -> absl::Status {
        const bool members = call.args.size() == 1;
        if (members && call.args[0] != "members") {
          return absl::InvalidArgumentError(
              "memberlistdigest takes no argument but \"members\"");
        }
        absl::StatusOr<std::vector<MemberRow>> rows = table();
        if (!rows.ok()) return rows.status();
        out.Print(FormatDigestLine(DigestOf(*rows)));
        if (!members) return absl::OkStatus();
        std::sort(rows->begin(), rows->end(),
                  [](const MemberRow& a, const MemberRow& b) {
                    return a.name < b.name;
                  });
        for (const MemberRow& row : *rows) out.Print(FormatMemberRow(row));
        return absl::OkStatus();
      }};
}

}  // namespace peerlab::peer
