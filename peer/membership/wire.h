// Wire codec: peer.v1 membership messages to bytes and back. Pure functions,
// no I/O; fuzzed by wire_fuzz.cc.
//
// A datagram is a serialized peer.v1.Packet. Packets are assembled from
// already-encoded messages (the broadcast queue keeps them encoded), framed
// exactly as protobuf frames `repeated Message messages = 1`, so sizes are
// known before sending.
#ifndef PEERLAB_PEER_MEMBERSHIP_WIRE_H_
#define PEERLAB_PEER_MEMBERSHIP_WIRE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

// The largest UDP payload; larger datagrams are refused as oversized.
inline constexpr int kMaxDatagram = 65507;

// Bytes a message of `size` bytes costs inside a packet (tag + length).
int FramedSize(int size);
// Upper bound of FramedSize(size) - size for any size below 64 KiB.
inline constexpr int kFrameOverhead = 4;

std::string EncodeMessage(const ::peer::v1::Message& message);
// EncodeMessage of a Message holding `alive`, without copying it into one
// (a join's merge encodes one per member learned).
std::string EncodeAliveMessage(const ::peer::v1::Alive& alive);

// A packet holding `messages` (each an EncodeMessage result) from `from`.
std::string EncodePacket(const std::string& from,
                         const std::vector<std::string>& messages);
// Size EncodePacket would produce for `from` and no messages.
int PacketHeaderSize(const std::string& from);

// Decodes a datagram. InvalidArgument for empty, oversized (> max_size),
// unparsable input, or a packet with no known message; never crashes on any
// input. Unknown message kinds (a newer sender) are skipped.
// As DecodePacket, into `*packet` (cleared first; it may live on an Arena,
// which is how the protocol decodes every datagram without a heap allocation
// per field).
absl::Status DecodePacketInto(const std::string& bytes, int max_size,
                              ::peer::v1::Packet* packet);

absl::StatusOr<::peer::v1::Packet> DecodePacket(const std::string& bytes,
                                                int max_size);

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_WIRE_H_
