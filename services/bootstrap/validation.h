// Input validation for bootstrap.v1 requests. Every check names the field it
// refuses, so a client in any language learns what to fix.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_VALIDATION_H_
#define PEERLAB_SERVICES_BOOTSTRAP_VALIDATION_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/bootstrap/v1/bootstrap.pb.h"

namespace peerlab::bootstrap {

inline constexpr size_t kMaxNameBytes = 128;
inline constexpr size_t kMaxStatusBytes = 64;
inline constexpr size_t kMaxHostBytes = 253;

// The gRPC receive limit clients use by default (4 MiB). Every answer of the
// service (the whole document, plus a few fields) must fit in it.
inline constexpr size_t kClientMessageLimit = 4 * 1024 * 1024;
// A peer within the limits above takes at most ~540 bytes in the protobuf
// encoding (validation_test.cc computes the worst case), so 5,000 peers
// (2.7 MB) keep every answer, Watch included, under kClientMessageLimit with
// room to spare.
inline constexpr uint32_t kMaxMaxPeers = 5000;
// Deepest JSON nesting a stored document may have. The file format needs 5
// levels; anything much deeper is damage or an attack, refused before it
// reaches a (recursive) JSON parser.
inline constexpr int kMaxJsonDepth = 32;
// The highest revision a stored document may have: far beyond what one
// change at a time can reach (2^62 changes), so the revision never wraps.
inline constexpr uint64_t kMaxRevision = uint64_t{1} << 62;
inline constexpr absl::Duration kMinTtl = absl::Seconds(1);
inline constexpr absl::Duration kMaxTtl = absl::Hours(24 * 30);

// True for an IPv4 or IPv6 literal, or a DNS name (RFC 1123 labels of 1..63
// letters, digits and hyphens, not starting or ending with a hyphen, 253
// bytes at most).
bool IsValidHost(absl::string_view host);

// Checks `peer` (as found in field `field`, e.g. "peer" or "candidate") and
// returns it normalised: id in lower case, started_at set to `now` when
// unset, lease_expires_at cleared (only the server sets it).
// InvalidArgument names the first bad field, e.g. "peer.port: 0 is outside
// 1..65535".
absl::StatusOr<::bootstrap::v1::Peer> ValidatePeer(
    const ::bootstrap::v1::Peer& peer, absl::string_view field, absl::Time now);

// A lease duration. Unset or zero means no lease (nullopt) unless
// `required`. InvalidArgument outside kMinTtl..kMaxTtl.
absl::StatusOr<std::optional<absl::Duration>> ValidateTtl(
    const google::protobuf::Duration* ttl, bool has_ttl, bool required);

// A peer id: a UUID in text form, returned in lower case.
absl::StatusOr<std::string> ValidateId(absl::string_view id,
                                       absl::string_view field);

// Config values: max_peers in 1..kMaxMaxPeers, min_refill_candidates in
// 0..kMaxMaxPeers.
absl::Status ValidateConfig(const ::bootstrap::v1::Config& config);

// A whole stored document (as a store loads it): a valid config; at most
// config.max_peers peers; every peer valid as ValidatePeer sees it and in
// its normalised form (lower-case id, started_at set), lease_expires_at a
// valid timestamp when set; no id twice. InvalidArgument naming the field,
// e.g. "peers[2].port: 0 is outside 1..65535".
absl::Status ValidateDocument(const ::bootstrap::v1::Document& doc);

// Refuses JSON text nested deeper than `max_depth` arrays/objects, without
// parsing it (so a hostile file cannot exhaust a recursive parser's stack).
// Strings are skipped, escapes included. InvalidArgument saying how deep.
absl::Status CheckJsonDepth(absl::string_view json, int max_depth);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_VALIDATION_H_
