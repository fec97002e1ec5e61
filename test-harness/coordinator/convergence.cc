#include "test-harness/coordinator/convergence.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace peerlab::harness {

absl::StatusOr<peer::DigestReport> DigestFromResponse(
    const ::peer::v1::ExecuteResponse& response) {
  if (response.code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(response.code()),
                        response.message());
  }
  std::vector<std::string> lines;
  for (const ::peer::v1::ViewLine& line : response.output()) {
    lines.push_back(line.text());
  }
  return peer::ParseDigestReport(lines);
}

std::string WhyNotConverged(const std::vector<DigestProbe>& probes) {
  if (probes.empty()) return "no healthy peer to compare";
  // Each digest line and the peers that printed it, in the order of the
  // first peer that did.
  std::vector<std::pair<std::string, std::vector<std::string>>> by_digest;
  for (const DigestProbe& p : probes) {
    if (!p.report.ok()) {
      return absl::StrCat(p.peer, ": ", p.report.status().message());
    }
    const std::string line = peer::FormatDigestLine(p.report->digest);
    auto it = std::find_if(by_digest.begin(), by_digest.end(),
                           [&](const auto& e) { return e.first == line; });
    if (it == by_digest.end()) {
      by_digest.push_back({line, {p.peer}});
    } else {
      it->second.push_back(p.peer);
    }
  }
  if (by_digest.size() == 1) return "";
  std::vector<std::string> parts;
  for (const auto& [digest, peers] : by_digest) {
    parts.push_back(absl::StrCat(absl::StrJoin(peers, ", "), ": ", digest));
  }
  return absl::StrJoin(parts, "; ");
}

std::string WhyNotMembers(const DigestProbe& probe, int64_t n) {
  if (!probe.report.ok()) {
    return absl::StrCat(probe.peer, ": ", probe.report.status().message());
  }
  if (probe.report->digest.live == n) return "";
  return absl::StrCat(probe.peer, " counts ", probe.report->digest.live,
                      " live members");
}

}  // namespace peerlab::harness
