#include "services/bootstrap/validation.h"

#include <arpa/inet.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "base/uuid.h"

namespace peerlab::bootstrap {
namespace {

using ::bootstrap::v1::Peer;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsDnsLabel(absl::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

// Printable UTF-8: well-formed multi-byte sequences, no ASCII control
// characters.
bool IsPrintableUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int extra;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      extra = 0;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      extra = 1;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= s.size() && extra > 0) return false;  // truncated
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

// The ranges google/protobuf/timestamp.proto and duration.proto allow.
bool IsTimestampValid(const google::protobuf::Timestamp& t) {
  return t.seconds() >= -62135596800LL && t.seconds() <= 253402300799LL &&
         t.nanos() >= 0 && t.nanos() <= 999999999;
}

bool IsDurationValid(const google::protobuf::Duration& d) {
  if (d.seconds() < -315576000000LL || d.seconds() > 315576000000LL) {
    return false;
  }
  if (d.nanos() <= -1000000000 || d.nanos() >= 1000000000) return false;
  return !((d.seconds() < 0 && d.nanos() > 0) ||
           (d.seconds() > 0 && d.nanos() < 0));
}

}  // namespace

bool IsValidHost(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::string h(host);
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, h.c_str(), buf) == 1) return true;
  if (inet_pton(AF_INET6, h.c_str(), buf) == 1) return true;
  absl::string_view name = host;
  if (name.back() == '.') name.remove_suffix(1);  // fully qualified form
  bool all_numeric = true;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (!IsDnsLabel(label)) return false;
    for (char c : label) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '.') {
        all_numeric = false;
      }
    }
  }
  // "1.2.3" or "999.1.1.1" are broken IPv4 addresses, not names.
  return !all_numeric;
}

absl::StatusOr<std::string> ValidateId(absl::string_view id,
                                       absl::string_view field) {
  if (id.empty()) return Invalid(field, "is empty (want a UUID)");
  if (!IsUuid(id)) {
    return Invalid(field,
                   absl::StrCat("\"", id.substr(0, 64),
                                "\" is not a UUID (want "
                                "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"));
  }
  return absl::AsciiStrToLower(id);
}

absl::StatusOr<Peer> ValidatePeer(const Peer& peer, absl::string_view field,
                                  absl::Time now) {
  Peer out = peer;
  auto id = ValidateId(peer.id(), absl::StrCat(field, ".id"));
  if (!id.ok()) return id.status();
  out.set_id(*id);

  const std::string name_field = absl::StrCat(field, ".name");
  if (peer.name().empty()) return Invalid(name_field, "is empty");
  if (peer.name().size() > kMaxNameBytes) {
    return Invalid(name_field,
                   absl::StrCat("is ", peer.name().size(),
                                " bytes long (at most ", kMaxNameBytes, ")"));
  }
  if (!IsPrintableUtf8(peer.name())) {
    return Invalid(name_field, "holds control characters or invalid UTF-8");
  }

  if (peer.host().size() > kMaxHostBytes) {
    return Invalid(absl::StrCat(field, ".host"),
                   absl::StrCat("is ", peer.host().size(),
                                " bytes long (at most ", kMaxHostBytes, ")"));
  }
  if (!IsValidHost(peer.host())) {
    return Invalid(absl::StrCat(field, ".host"),
                   absl::StrCat("\"", peer.host().substr(0, 64),
                                "\" is neither an IP address nor a DNS name"));
  }
  if (peer.port() < 1 || peer.port() > 65535) {
    return Invalid(absl::StrCat(field, ".port"),
                   absl::StrCat(peer.port(), " is outside 1..65535"));
  }
  if (peer.protocol() != ::bootstrap::v1::PROTOCOL_TCP &&
      peer.protocol() != ::bootstrap::v1::PROTOCOL_UDP) {
    return Invalid(
        absl::StrCat(field, ".protocol"),
        absl::StrCat(peer.protocol(), " is not PROTOCOL_TCP or PROTOCOL_UDP"));
  }
  if (peer.status().size() > kMaxStatusBytes ||
      !IsPrintableUtf8(peer.status())) {
    return Invalid(absl::StrCat(field, ".status"),
                   absl::StrCat("must be printable UTF-8 of at most ",
                                kMaxStatusBytes, " bytes"));
  }
  if (peer.has_started_at()) {
    if (!IsTimestampValid(peer.started_at())) {
      return Invalid(absl::StrCat(field, ".started_at"),
                     "is not a valid timestamp");
    }
  } else {
    *out.mutable_started_at() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
            absl::ToUnixNanos(now));
  }
  out.clear_lease_expires_at();
  return out;
}

absl::StatusOr<std::optional<absl::Duration>> ValidateTtl(
    const google::protobuf::Duration* ttl, bool has_ttl, bool required) {
  if (!has_ttl || (ttl->seconds() == 0 && ttl->nanos() == 0)) {
    if (required) return Invalid("ttl", "is required");
    return std::optional<absl::Duration>();
  }
  if (!IsDurationValid(*ttl)) {
    return Invalid("ttl", "is not a valid duration");
  }
  absl::Duration d =
      absl::Seconds(ttl->seconds()) + absl::Nanoseconds(ttl->nanos());
  if (d < kMinTtl || d > kMaxTtl) {
    return Invalid(
        "ttl", absl::StrCat(absl::FormatDuration(d), " is outside 1s..720h"));
  }
  return std::optional<absl::Duration>(d);
}

absl::Status ValidateConfig(const ::bootstrap::v1::Config& config) {
  if (config.max_peers() < 1 || config.max_peers() > kMaxMaxPeers) {
    return Invalid(
        "max_peers",
        absl::StrCat(config.max_peers(), " is outside 1..", kMaxMaxPeers,
                     " (the whole list must fit in one 4 MiB gRPC "
                     "message)"));
  }
  if (config.min_refill_candidates() > kMaxMaxPeers) {
    return Invalid("min_refill_candidates",
                   absl::StrCat(config.min_refill_candidates(),
                                " is outside 0..", kMaxMaxPeers));
  }
  return absl::OkStatus();
}

absl::Status ValidateDocument(const ::bootstrap::v1::Document& doc) {
  if (doc.revision() > kMaxRevision) {
    // A stored revision near 2^64 would wrap to 0 at the next change, and
    // watchers waiting for a higher revision would never see one again.
    return Invalid("revision",
                   absl::StrCat(doc.revision(), " is above the limit of 2^62"));
  }
  if (auto s = ValidateConfig(doc.config()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config.", s.message()));
  }
  if (static_cast<size_t>(doc.peers_size()) > doc.config().max_peers()) {
    return Invalid("peers", absl::StrCat("holds ", doc.peers_size(),
                                         " peers, more than config.max_peers (",
                                         doc.config().max_peers(), ")"));
  }
  std::set<std::string> ids;
  for (int i = 0; i < doc.peers_size(); ++i) {
    const Peer& peer = doc.peers(i);
    const std::string field = absl::StrCat("peers[", i, "]");
    if (!peer.has_started_at()) {
      return Invalid(absl::StrCat(field, ".started_at"), "is missing");
    }
    auto valid = ValidatePeer(peer, field, absl::UnixEpoch());
    if (!valid.ok()) return valid.status();
    if (valid->id() != peer.id()) {
      return Invalid(absl::StrCat(field, ".id"), "is not in lower case");
    }
    if (peer.has_first_seen_at() && !IsTimestampValid(peer.first_seen_at())) {
      return Invalid(absl::StrCat(field, ".first_seen_at"),
                     "is not a valid timestamp");
    }
    if (!peer.owner_secret_sha256().empty() &&
        peer.owner_secret_sha256().size() != 32) {
      return Invalid(absl::StrCat(field, ".owner_secret_sha256"),
                     absl::StrCat(peer.owner_secret_sha256().size(),
                                  " bytes, not a SHA-256 (32)"));
    }
    if (peer.has_lease_expires_at() &&
        !IsTimestampValid(peer.lease_expires_at())) {
      return Invalid(absl::StrCat(field, ".lease_expires_at"),
                     "is not a valid timestamp");
    }
    if (!ids.insert(peer.id()).second) {
      return Invalid(absl::StrCat(field, ".id"),
                     absl::StrCat(peer.id(), " appears twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckJsonDepth(absl::string_view json, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return absl::InvalidArgumentError(
            absl::StrCat("JSON nested deeper than ", max_depth,
                         " levels (at byte ", i, ")"));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return absl::OkStatus();
}

}  // namespace peerlab::bootstrap
