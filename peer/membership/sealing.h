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
//
// Pure functions (the nonce is random); thread-safe.
#ifndef PEERLAB_PEER_MEMBERSHIP_SEALING_H_
#define PEERLAB_PEER_MEMBERSHIP_SEALING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "peer/membership/keyring.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

// Who seals, for the receiver's replay window (replay_window.h): a name,
// its restart generation, and a number that grows with every datagram (and,
// separately, every request) it seals.
struct Sealer {
  std::string name;
  uint64_t generation = 0;
  uint64_t seq = 0;
};

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
