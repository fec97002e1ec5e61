// The sealed forms members exchange when gossip is encrypted (what
// encryption.cc sends and expects), as functions, for the node itself and
// for tools and tests that act as a key holder (the simulator's insider).
//
// A sealed datagram is Packet{encrypted, label, version}; `encrypted` holds
// the serialized Packet with its label, the sender's name, restart
// generation and sequence number (the receiver's replay window) appended,
// sealed with the primary key; the seal's additional data is a purpose
// ("peerlab gossip packet", "... request", "... response"), a zero byte and
// the group label. Requests and answers on the reliable path likewise.
// Datagrams and requests to a member whose node key the sealer knows end,
// inside the seal, with a sender tag (see Sealer): proof for the receiver's
// replay window that the named sealer made them.
//
// Pure functions (the nonce is random); thread-safe.
#ifndef PEERLAB_PEER_MEMBERSHIP_SEALING_H_
#define PEERLAB_PEER_MEMBERSHIP_SEALING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/identity/node_key.h"
#include "peer/membership/keyring.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

// Who seals, for the receiver's replay window (replay_window.h): a name,
// its restart generation, and a number that grows with every datagram (and,
// separately, every request) it seals.
//
// With `pair_key` (PairKey of the sealer's node key and the receiver's),
// the sealed bytes end with a SenderTag for `receiver`: what proves to the
// receiver that this sealer, not another holder of the group key, sealed
// them (its replay window moves only then). Empty: no tag (the sealer does
// not know the receiver's node key yet, e.g. a join's first request).
struct Sealer {
  std::string name;
  uint64_t generation = 0;
  uint64_t seq = 0;
  std::string receiver;
  std::string pair_key;
};

// What a sealed message is, bound into its sender tag.
enum class SealKind : char { kDatagram = 'd', kRequest = 'r' };

// The key two members share: SHA-256 over a domain, both Ed25519 public
// keys (in byte order) and the X25519 secret of their node keys
// (identity::NodeKey::SharedSecret). The same from either side. Errors as
// SharedSecret (a public key that is no usable point).
absl::StatusOr<std::string> PairKey(const identity::NodeKey& own,
                                    const identity::PublicKey& peer);
// 16 bytes: HMAC-SHA256 under `pair_key` of a domain, `kind`, the
// receiver's name and `covered` (the serialized message before the tag),
// truncated.
std::string SenderTag(absl::string_view pair_key, SealKind kind,
                      absl::string_view receiver, absl::string_view covered);
inline constexpr size_t kSenderTagSize = 16;
// Bytes the tag field adds (tag 25: two bytes, length, kSenderTagSize).
inline constexpr int kSenderTagFieldBytes = 3 + kSenderTagSize;
// Whether `plain` (an opened Packet or ReliableRequest) ends with a sender
// tag that `pair_key` made for `receiver` over everything before it.
// Constant-time comparison.
bool SenderTagValid(absl::string_view pair_key, SealKind kind,
                    absl::string_view receiver, absl::string_view plain);

// A datagram: `packet` is a serialized Packet (EncodePacket).
std::string SealDatagram(const Keyring& ring, const std::string& label,
                         std::string packet, const Sealer& sealer);
// At most how many bytes SealDatagram adds to a packet, for a label and a
// sealer name of these sizes.
int SealedDatagramOverhead(size_t label_bytes, size_t name_bytes);
// Opens what SealDatagram made (the outer Packet parsed); the inner
// serialized Packet. Errors as Keyring::Decrypt.
absl::StatusOr<std::string> OpenDatagram(const Keyring& ring,
                                         const std::string& label,
                                         const ::peer::v1::Packet& outer);

// A request on the reliable path: `request` gets the label, the version
// and the sealer's fields, and is sealed whole.
::peer::v1::ReliableRequest SealRequest(const Keyring& ring,
                                        const std::string& label,
                                        ::peer::v1::ReliableRequest request,
                                        const Sealer& sealer);
absl::StatusOr<std::string> OpenRequest(
    const Keyring& ring, const std::string& label,
    const ::peer::v1::ReliableRequest& outer);

// An answer: `response` gets the label and version, and is sealed whole.
::peer::v1::ReliableResponse SealResponse(
    const Keyring& ring, const std::string& label,
    ::peer::v1::ReliableResponse response);
// Opens a sealed answer. PermissionDenied when no key opens it,
// InvalidArgument when what opens is no ReliableResponse.
absl::StatusOr<::peer::v1::ReliableResponse> OpenResponse(
    const Keyring& ring, const std::string& label,
    const ::peer::v1::ReliableResponse& outer);

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_SEALING_H_
