// The address-resolution datagrams of the UDP transport, as a pure codec.
//
// In UDP mode a node's reliable path (gRPC) listens on another port than its
// gossip socket. A node asks another for its gRPC address with a "resolve
// query" datagram on the gossip port and gets a "resolve answer" back (see
// udp_grpc_transport.h for when). Layout, in bytes:
//
//   [0] [kind] [token: 8 bytes, little-endian] [body]
//
//   query:  kind 1, body = zero padding up to kResolveQuerySize bytes;
//   answer: kind 2, body = the gRPC address "host:port", and the whole
//           answer is never longer than the query it answers.
//
// The leading zero byte cannot start a protocol datagram (a protobuf message
// never starts with field number 0), so the two never mix. The padding makes
// the port useless for amplification: an answer is at most as large as its
// query. The token is the asker's random number, echoed by the answer, so an
// answer nobody asked for is refused.
//
// Pure functions of bytes: no sockets, no clocks. Thread-safe.
#ifndef PEERLAB_PEER_MEMBERSHIP_REAL_RESOLVE_DATAGRAM_H_
#define PEERLAB_PEER_MEMBERSHIP_REAL_RESOLVE_DATAGRAM_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace peerlab::membership {

inline constexpr size_t kResolveHeaderSize = 10;
inline constexpr size_t kResolveQuerySize = 64;
// The longest gRPC address an answer may carry.
inline constexpr size_t kMaxResolvedAddress = 255;

struct ResolveDatagram {
  enum class Kind { kQuery, kAnswer };
  Kind kind = Kind::kQuery;
  uint64_t token = 0;
  std::string address;  // kAnswer: the gRPC address; kQuery: empty
};

// Whether `bytes` is a resolve datagram rather than a protocol datagram
// (its first byte is zero). An empty datagram is neither.
bool IsResolveDatagram(std::string_view bytes);

// A query carrying `token`, exactly kResolveQuerySize bytes.
std::string EncodeResolveQuery(uint64_t token);

// The answer to a query of `query_size` bytes carrying `token`: it names
// `grpc_address`. Empty when the answer would be longer than the query (no
// amplification) or the address is not a plausible "host:port".
std::optional<std::string> EncodeResolveAnswer(uint64_t token,
                                               std::string_view grpc_address,
                                               size_t query_size);

// Decodes a resolve datagram. InvalidArgument, naming the defect, for
// anything malformed: shorter than the header, not starting with zero, an
// unknown kind, a query shorter than kResolveQuerySize (unpadded: it could
// amplify), an answer whose address is not a plausible "host:port".
absl::StatusOr<ResolveDatagram> DecodeResolveDatagram(std::string_view bytes);

// A plausible "host:port": printable ASCII without spaces, at most
// kMaxResolvedAddress bytes, a port in 1..65535 after the last colon and a
// non-empty host before it. gRPC also takes names, so the host is not
// checked further.
bool LooksLikeHostPort(std::string_view address);

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_REAL_RESOLVE_DATAGRAM_H_
