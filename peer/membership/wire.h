// Wire codec: peer.v1 membership messages to bytes and back. Pure functions,
// no I/O; fuzzed by wire_fuzz.cc.
//
// A datagram is a serialized peer.v1.Packet. Packets are assembled from
// already-encoded messages (the broadcast queue keeps them encoded), framed
// exactly as protobuf frames `repeated Message messages = 1`, so sizes are
// known before sending.
#ifndef PEERLAB_PEER_MEMBERSHIP_WIRE_H_
#define PEERLAB_PEER_MEMBERSHIP_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/identity/node_key.h"
#include "peer/membership/coordinate.h"
#include "peer/membership/member.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

// MemberState (member.h) to and from its wire form (defined in member.cc).
::peer::v1::MemberState ToProto(MemberState state);
MemberState FromProto(::peer::v1::MemberState state);

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
// A Message holding the AliveNotice of `alive` (its node, generation and
// incarnation): what a member relays instead of another's signed alive.
std::string EncodeNoticeMessage(const ::peer::v1::Alive& alive);

// A packet holding `messages` (each an EncodeMessage result) from `from`,
// with Packet.version = kProtocolVersion (protocol_version.h).
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

// A coordinate to and from its wire form. From the wire: InvalidArgument
// (CheckCoordinate's) unless it has `config`'s dimension, finite fields
// and fields within bounds; the dimension is checked before anything is
// copied.
void CoordinateToProto(const Coordinate& c, ::peer::v1::Coordinate* out);
absl::StatusOr<Coordinate> CoordinateFromProto(const ::peer::v1::Coordinate& c,
                                               const CoordinateConfig& config);

// The kind of an encoded Message (EncodeMessage's output): the field number
// of its oneof body, read from its first tag; 0 when unreadable. No parse.
int EncodedMessageKind(absl::string_view message);
// Calls f(kind, encoded_size) for each message framed in a serialized
// Packet (its `messages` fields), reading only tags and lengths; stops at
// the first malformed field. For statistics: cheap, never crashes.
void ForEachPacketMessage(absl::string_view packet,
                          const std::function<void(int, size_t)>& f);

// --- Signed claims about oneself (see docs/security.md) ---
//
// A member signs, with its own Ed25519 key (peer/identity), what it says
// about itself: its alive (which carries its public key) and its leave.
// The signed bytes start with a domain prefix, so a signature over one kind
// of claim, or over anything else the key signs, never passes for another;
// every field is length-prefixed or fixed-size, so no two claims share
// their bytes.

// The bytes an alive's signature covers: "peerlab.v1.alive\0", then node,
// generation, incarnation, addr, meta, id and public_key.
std::string AliveClaim(const ::peer::v1::Alive& alive);
// The bytes a leave's signature covers: "peerlab.v1.leave\0", then node,
// generation and incarnation.
std::string LeaveClaim(absl::string_view node, uint64_t generation,
                       uint64_t incarnation);
// The bytes a quarantine declaration's signature covers (a dead with
// quarantine_at_ms, dead.from the declarer; docs/membership.md, "Timed
// quarantine"): "peerlab.v1.quarantine\0", then node, generation,
// incarnation, quarantine_at_ms and the declarer. Signed with the
// declarer's key, so a member naming others as declarers cannot make
// them count.
std::string QuarantineClaim(const ::peer::v1::Dead& dead);
// Sets alive.public_key to `key`'s and alive.signature to its signature of
// AliveClaim. Internal only when OpenSSL fails.
absl::Status SignAlive(const identity::NodeKey& key, ::peer::v1::Alive& alive);
// Sets dead.signature (a leave: dead.from == dead.node) to `key`'s
// signature of LeaveClaim.
absl::Status SignLeave(const identity::NodeKey& key, ::peer::v1::Dead& dead);
// Sets dead.signature (a quarantine declaration of dead.from) to `key`'s
// signature of QuarantineClaim.
absl::Status SignQuarantine(const identity::NodeKey& key,
                            ::peer::v1::Dead& dead);

// Signatures already verified, so each claim costs one Ed25519
// verification however often it is heard (gossip repeats every update, and
// push/pull repeats whole tables). Keyed by (public key, signed bytes,
// signature), so a hit is exactly as good as verifying again. Holds at most
// `capacity` entries; when full it starts again empty (counted in
// resets()). Not thread-safe: one node's scheduler, or one simulator
// thread.
class SignatureCache {
 public:
  explicit SignatureCache(size_t capacity) : capacity_(capacity) {}
  // Whether `signature` is `public_key`'s (raw bytes) signature of
  // `claim`: from the cache, or verified (and remembered when valid).
  // `*verified` (optional) is set when an Ed25519 verification ran.
  // With `may_verify` false, only the cache answers (false, with
  // `*verified` false, for what it does not hold).
  bool Check(absl::string_view public_key, absl::string_view claim,
             absl::string_view signature, bool* verified = nullptr,
             bool may_verify = true);
  size_t size() const { return verified_.size(); }
  uint64_t resets() const { return resets_; }

 private:
  size_t capacity_;
  absl::flat_hash_set<std::string> verified_;
  uint64_t resets_ = 0;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_WIRE_H_
