// Text output of peerlab-bootstrapctl: readable tables for people and JSON
// (protobuf's canonical JSON mapping) for scripts. Pure functions, no I/O;
// thread-safe.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_CLIENT_DOCUMENT_FORMAT_H_
#define PEERLAB_SERVICES_BOOTSTRAP_CLIENT_DOCUMENT_FORMAT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "proto/bootstrap/v1/bootstrap.pb.h"

namespace peerlab::bootstrap {

// "tcp", "udp", or "unspecified" (also for unknown values).
std::string ProtocolName(::bootstrap::v1::Protocol protocol);

// RFC 3339 in UTC with seconds ("2024-05-01T12:00:00Z"; fractions only when
// not zero); "-" for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp,
                            bool is_set = true);

// The lease column: "-" without a lease, else the expiry time and what is
// left relative to `now` ("... (in 29s)", or "... (expired)").
std::string FormatLease(const ::bootstrap::v1::Peer& peer, absl::Time now);

// A header line ("revision 3, max_peers 3, min_refill_candidates 0, 3 of 3
// peers") and a table with one row per peer: ID, NAME, ADDRESS (host:port,
// IPv6 hosts in brackets), PROTOCOL, STARTED_AT, LEASE. Columns are padded to
// their widest cell. Ends with a newline. `now` is used for the lease column.
std::string FormatDocument(const ::bootstrap::v1::Document& document,
                           absl::Time now);

// The config alone: one "key value" line per field, plus the revision.
std::string FormatConfig(const ::bootstrap::v1::Document& document);

// Any message as JSON: lowerCamelCase names, every field printed (also zero
// and false, so scripts need no defaults), enums by name. `pretty`: indented
// on several lines; otherwise one line (JSON Lines for streams). Ends with a
// newline. Note that uint64 fields such as revision are strings in this
// mapping.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   bool pretty);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_CLIENT_DOCUMENT_FORMAT_H_
