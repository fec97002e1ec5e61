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
inline constexpr uint32_t kMaxMaxPeers = 10000;
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

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_VALIDATION_H_
