#include "services/bootstrap/client/document_format.h"

#include <algorithm>
#include <array>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace peerlab::bootstrap {

namespace pb = ::bootstrap::v1;

namespace {

absl::Time ToAbslTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string FormatAddress(const pb::Peer& peer) {
  if (absl::StrContains(peer.host(), ':')) {
    return absl::StrCat("[", peer.host(), "]:", peer.port());
  }
  return absl::StrCat(peer.host(), ":", peer.port());
}

// Whole seconds, rounded up, as "29s", "4m10s", "2h0m5s", "3d4h".
std::string FormatRemaining(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)));
  const int64_t days = s / 86400;
  const int64_t hours = s % 86400 / 3600;
  const int64_t minutes = s % 3600 / 60;
  const int64_t seconds = s % 60;
  if (days > 0) return absl::StrCat(days, "d", hours, "h");
  if (hours > 0) return absl::StrCat(hours, "h", minutes, "m", seconds, "s");
  if (minutes > 0) return absl::StrCat(minutes, "m", seconds, "s");
  return absl::StrCat(seconds, "s");
}

}  // namespace

std::string ProtocolName(pb::Protocol protocol) {
  switch (protocol) {
    case pb::PROTOCOL_TCP:
      return "tcp";
    case pb::PROTOCOL_UDP:
      return "udp";
    default:
      return "unspecified";
  }
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp,
                            bool is_set) {
  if (!is_set) return "-";
  const char* format =
      timestamp.nanos() == 0 ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%E*SZ";
  return absl::FormatTime(format, ToAbslTime(timestamp), absl::UTCTimeZone());
}

std::string FormatLease(const pb::Peer& peer, absl::Time now) {
  if (!peer.has_lease_expires_at()) return "-";
  const absl::Time expires = ToAbslTime(peer.lease_expires_at());
  const std::string when = FormatTimestamp(peer.lease_expires_at());
  if (expires <= now) return absl::StrCat(when, " (expired)");
  return absl::StrCat(when, " (in ", FormatRemaining(expires - now), ")");
}

std::string FormatDocument(const pb::Document& document, absl::Time now) {
  std::string out = absl::StrCat(
      "revision ", document.revision(), ", max_peers ",
      document.config().max_peers(), ", min_refill_candidates ",
      document.config().min_refill_candidates(), ", ", document.peers_size(),
      " of ", document.config().max_peers(), " peers\n");
  if (document.peers_size() == 0) return out;

  constexpr size_t kColumns = 6;
  using Row = std::array<std::string, kColumns>;
  std::vector<Row> rows;
  rows.push_back({"ID", "NAME", "ADDRESS", "PROTOCOL", "STARTED_AT", "LEASE"});
  for (const pb::Peer& peer : document.peers()) {
    rows.push_back({peer.id(), peer.name(), FormatAddress(peer),
                    ProtocolName(peer.protocol()),
                    FormatTimestamp(peer.started_at(), peer.has_started_at()),
                    FormatLease(peer, now)});
  }
  std::array<size_t, kColumns> width{};
  for (const Row& row : rows) {
    for (size_t i = 0; i < kColumns; ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const Row& row : rows) {
    std::string line;
    for (size_t i = 0; i < kColumns; ++i) {
      if (i + 1 == kColumns) {
        absl::StrAppend(&line, row[i]);
      } else {
        absl::StrAppend(&line, row[i],
                        std::string(width[i] - row[i].size() + 2, ' '));
      }
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string FormatConfig(const pb::Document& document) {
  return absl::StrCat("max_peers              ", document.config().max_peers(),
                      "\nmin_refill_candidates  ",
                      document.config().min_refill_candidates(),
                      "\nrevision               ", document.revision(), "\n");
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print JSON: ", status.ToString()));
  }
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

}  // namespace peerlab::bootstrap
