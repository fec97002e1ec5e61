#include "peer/app/member_digest.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace peerlab::peer {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

void Hash(uint64_t& h, absl::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
}

absl::Status Bad(absl::string_view what, absl::string_view line) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a ", what, " line: \"", line.substr(0, 200), "\""));
}

bool IsHex16(absl::string_view s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

bool IsLiveState(absl::string_view state) {
  return state == "alive" || state == "suspect";
}

TableDigest DigestOf(const std::vector<MemberRow>& rows) {
  std::vector<const MemberRow*> live;
  for (const MemberRow& r : rows) {
    if (IsLiveState(r.state)) live.push_back(&r);
  }
  std::sort(
      live.begin(), live.end(),
      [](const MemberRow* a, const MemberRow* b) { return a->name < b->name; });
  uint64_t h = kFnvOffset;
  for (const MemberRow* r : live) {
    Hash(h, r->name);
    Hash(h, absl::string_view("\0", 1));
    Hash(h, r->state);
    Hash(h, absl::string_view("\0", 1));
    Hash(h, absl::StrCat(r->incarnation));
    Hash(h, "\n");
  }
  return {.hash = absl::StrFormat("%016x", h),
          .live = static_cast<int>(live.size())};
}

std::string FormatDigestLine(const TableDigest& d) {
  return absl::StrCat("digest ", d.hash, " live ", d.live);
}

absl::StatusOr<TableDigest> ParseDigestLine(absl::string_view line) {
  std::vector<absl::string_view> w = absl::StrSplit(line, ' ');
  TableDigest d;
  if (w.size() != 4 || w[0] != "digest" || !IsHex16(w[1]) || w[2] != "live" ||
      !absl::SimpleAtoi(w[3], &d.live) || d.live < 0) {
    return Bad("digest", line);
  }
  d.hash = std::string(w[1]);
  return d;
}

std::string FormatMemberRow(const MemberRow& row) {
  return absl::StrCat("member ", row.name, " ", row.state, " ",
                      row.incarnation);
}

absl::StatusOr<MemberRow> ParseMemberRow(absl::string_view line) {
  // NAME may hold blanks (member names are not restricted): the state and
  // the incarnation are the last two words.
  MemberRow row;
  if (!absl::ConsumePrefix(&line, "member ")) return Bad("member", line);
  size_t last = line.rfind(' ');
  if (last == absl::string_view::npos) return Bad("member", line);
  size_t state_at = line.rfind(' ', last == 0 ? 0 : last - 1);
  if (state_at == absl::string_view::npos || state_at == 0) {
    return Bad("member", line);
  }
  absl::string_view name = line.substr(0, state_at);
  absl::string_view state = line.substr(state_at + 1, last - state_at - 1);
  if (!(state == "alive" || state == "suspect" || state == "dead" ||
        state == "left") ||
      !absl::SimpleAtoi(line.substr(last + 1), &row.incarnation)) {
    return Bad("member", line);
  }
  row.name = std::string(name);
  row.state = std::string(state);
  return row;
}

absl::StatusOr<DigestReport> ParseDigestReport(
    const std::vector<std::string>& lines) {
  if (lines.empty()) {
    return absl::InvalidArgumentError("memberlistdigest printed nothing");
  }
  DigestReport report;
  absl::StatusOr<TableDigest> d = ParseDigestLine(lines[0]);
  if (!d.ok()) return d.status();
  report.digest = *d;
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::StatusOr<MemberRow> row = ParseMemberRow(lines[i]);
    if (!row.ok()) return row.status();
    report.members.push_back(*std::move(row));
  }
  return report;
}

}  // namespace peerlab::peer
