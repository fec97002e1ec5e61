// The member-table digest that `memberlistdigest` prints and the test
// harness compares (`wait converged`, `wait members`, `check membership`).
// Pure; no dependency on the membership library, so the harness links it.
//
// Line formats (one line each, words separated by one blank):
//
//   digest HEX16 live N
//       HEX16: 16 lowercase hex digits, the 64-bit FNV-1a hash of the live
//       members (state alive or suspect, this node included) sorted by
//       name (bytewise), each hashed as NAME, a zero byte, STATE, a zero
//       byte, INCARNATION in decimal, a newline. N: how many live members.
//       Dead and left members are not hashed, so a peer that saw a member
//       die and one that never knew it agree. Two peers print the same
//       line exactly when they agree on who is live, in which state and
//       at which incarnation (up to a hash collision).
//   member NAME STATE INCARNATION
//       one per member the node knows, in any state (alive, suspect, dead,
//       left), sorted by name; printed by `memberlistdigest members`.
#ifndef PEERLAB_PEER_APP_MEMBER_DIGEST_H_
#define PEERLAB_PEER_APP_MEMBER_DIGEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace peerlab::peer {

// One member as a node's table holds it.
struct MemberRow {
  std::string name;
  std::string state;  // "alive", "suspect", "dead", "left"
  uint64_t incarnation = 0;

  bool operator==(const MemberRow&) const = default;
};

struct TableDigest {
  std::string hash;  // 16 lowercase hex digits
  int live = 0;      // members alive or suspect

  bool operator==(const TableDigest&) const = default;
};

// Whether `state` counts as live (alive or suspect).
bool IsLiveState(absl::string_view state);

// The digest of a table (any order; rows of every state may be given).
TableDigest DigestOf(const std::vector<MemberRow>& rows);

// "digest HEX16 live N" and its parser (InvalidArgument naming the line).
std::string FormatDigestLine(const TableDigest& digest);
absl::StatusOr<TableDigest> ParseDigestLine(absl::string_view line);

// "member NAME STATE INCARNATION" and its parser.
std::string FormatMemberRow(const MemberRow& row);
absl::StatusOr<MemberRow> ParseMemberRow(absl::string_view line);

// What `memberlistdigest [members]` printed: the digest line, then the
// member lines (none without `members`). Other lines are an error.
struct DigestReport {
  TableDigest digest;
  std::vector<MemberRow> members;
};
absl::StatusOr<DigestReport> ParseDigestReport(
    const std::vector<std::string>& lines);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_MEMBER_DIGEST_H_
