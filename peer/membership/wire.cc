#include "peer/membership/wire.h"

#include "absl/strings/str_cat.h"
#include "peer/identity/node_key.h"
#include "peer/membership/protocol_version.h"

namespace peerlab::membership {
namespace {

int VarintSize(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void AppendField(std::string& out, int field, const std::string& bytes) {
  out.push_back(static_cast<char>((field << 3) | 2));  // length-delimited
  AppendVarint(out, bytes.size());
  out += bytes;
}

// Packet.version (field 21, varint) = kProtocolVersion: tag, value.
void AppendVersion(std::string& out) {
  AppendVarint(out, ::peer::v1::Packet::kVersionFieldNumber << 3);
  AppendVarint(out, kProtocolVersion);
}

int VersionSize() {
  return VarintSize(::peer::v1::Packet::kVersionFieldNumber << 3) +
         VarintSize(kProtocolVersion);
}

}  // namespace

int FramedSize(int size) { return 1 + VarintSize(size) + size; }

std::string EncodeMessage(const ::peer::v1::Message& message) {
  return message.SerializeAsString();
}

std::string EncodeAliveMessage(const ::peer::v1::Alive& alive) {
  // Message { alive = 5 }: the field's tag and length, then the Alive.
  const std::string body = alive.SerializeAsString();
  std::string out;
  out.reserve(FramedSize(static_cast<int>(body.size())));
  AppendField(out, ::peer::v1::Message::kAliveFieldNumber, body);
  return out;
}

std::string EncodeNoticeMessage(const ::peer::v1::Alive& alive) {
  ::peer::v1::Message m;
  auto* n = m.mutable_notice();
  n->set_node(alive.node());
  n->set_generation(alive.generation());
  n->set_incarnation(alive.incarnation());
  return m.SerializeAsString();
}

std::string EncodePacket(const std::string& from,
                         const std::vector<std::string>& messages) {
  std::string out;
  size_t total = FramedSize(static_cast<int>(from.size())) + VersionSize();
  for (const auto& m : messages)
    total += FramedSize(static_cast<int>(m.size()));
  out.reserve(total);
  for (const auto& m : messages) AppendField(out, 1, m);
  if (!from.empty()) AppendField(out, 2, from);
  AppendVersion(out);
  return out;
}

int PacketHeaderSize(const std::string& from) {
  return (from.empty() ? 0 : FramedSize(static_cast<int>(from.size()))) +
         VersionSize();
}

absl::Status DecodePacketInto(const std::string& bytes, int max_size,
                              ::peer::v1::Packet* packet) {
  packet->Clear();
  if (bytes.empty()) return absl::InvalidArgumentError("empty datagram");
  if (static_cast<int>(bytes.size()) > max_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "datagram of ", bytes.size(), " bytes exceeds ", max_size));
  }
  if (!packet->ParseFromString(bytes)) {
    return absl::InvalidArgumentError("malformed or truncated datagram");
  }
  int known = 0;
  for (const auto& m : packet->messages()) {
    if (m.body_case() != ::peer::v1::Message::BODY_NOT_SET) ++known;
  }
  if (known == 0) {
    return absl::InvalidArgumentError("datagram holds no known message");
  }
  return absl::OkStatus();
}

absl::StatusOr<::peer::v1::Packet> DecodePacket(const std::string& bytes,
                                                int max_size) {
  ::peer::v1::Packet packet;
  if (auto s = DecodePacketInto(bytes, max_size, &packet); !s.ok()) return s;
  return packet;
}

namespace {

// A varint at `*pos` of `in`; false when truncated or longer than 10 bytes.
bool ReadVarint(absl::string_view in, size_t* pos, uint64_t* value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *value = v;
      return true;
    }
  }
  return false;
}

}  // namespace

void CoordinateToProto(const Coordinate& c, ::peer::v1::Coordinate* out) {
  out->mutable_vec()->Assign(c.vec.begin(), c.vec.end());
  out->set_error(c.error);
  out->set_adjustment(c.adjustment);
  out->set_height(c.height);
}

absl::StatusOr<Coordinate> CoordinateFromProto(const ::peer::v1::Coordinate& c,
                                               const CoordinateConfig& config) {
  if (c.vec_size() != config.dimensionality) {
    return absl::InvalidArgumentError(absl::StrCat("coordinate of dimension ",
                                                   c.vec_size(), ", expected ",
                                                   config.dimensionality));
  }
  Coordinate out;
  out.vec.assign(c.vec().begin(), c.vec().end());
  out.error = c.error();
  out.adjustment = c.adjustment();
  out.height = c.height();
  if (auto s = CheckCoordinate(out, config); !s.ok()) return s;
  return out;
}

int EncodedMessageKind(absl::string_view message) {
  size_t pos = 0;
  uint64_t tag = 0;
  if (!ReadVarint(message, &pos, &tag)) return 0;
  const uint64_t field = tag >> 3;
  return field > static_cast<uint64_t>(INT32_MAX) ? 0 : static_cast<int>(field);
}

void ForEachPacketMessage(absl::string_view packet,
                          const std::function<void(int, size_t)>& f) {
  size_t pos = 0;
  while (pos < packet.size()) {
    uint64_t tag = 0;
    if (!ReadVarint(packet, &pos, &tag)) return;
    uint64_t len = 0;
    switch (tag & 7) {
      case 0:  // varint
        if (!ReadVarint(packet, &pos, &len)) return;
        continue;
      case 1:  // fixed64
        pos += 8;
        continue;
      case 5:  // fixed32
        pos += 4;
        continue;
      case 2:  // length-delimited
        if (!ReadVarint(packet, &pos, &len) || len > packet.size() - pos) {
          return;
        }
        if ((tag >> 3) == 1) {  // Packet.messages
          f(EncodedMessageKind(packet.substr(pos, len)), len);
        }
        pos += len;
        continue;
      default:
        return;
    }
  }
}

namespace {

void AppendFixed64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void AppendBytes(std::string& out, absl::string_view bytes) {
  AppendFixed64(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

constexpr absl::string_view kAliveDomain("peerlab.v1.alive\0", 17);
constexpr absl::string_view kLeaveDomain("peerlab.v1.leave\0", 17);
constexpr absl::string_view kQuarantineDomain("peerlab.v1.quarantine\0", 22);

}  // namespace

std::string AliveClaim(const ::peer::v1::Alive& alive) {
  std::string out;
  out.reserve(kAliveDomain.size() + 7 * 8 + alive.node().size() +
              alive.addr().size() + alive.meta().size() + alive.id().size() +
              alive.public_key().size());
  out.append(kAliveDomain.data(), kAliveDomain.size());
  AppendBytes(out, alive.node());
  AppendFixed64(out, alive.generation());
  AppendFixed64(out, alive.incarnation());
  AppendBytes(out, alive.addr());
  AppendBytes(out, alive.meta());
  AppendBytes(out, alive.id());
  AppendBytes(out, alive.public_key());
  return out;
}

std::string LeaveClaim(absl::string_view node, uint64_t generation,
                       uint64_t incarnation) {
  std::string out(kLeaveDomain.data(), kLeaveDomain.size());
  AppendBytes(out, node);
  AppendFixed64(out, generation);
  AppendFixed64(out, incarnation);
  return out;
}

std::string QuarantineClaim(const ::peer::v1::Dead& dead) {
  std::string out(kQuarantineDomain.data(), kQuarantineDomain.size());
  AppendBytes(out, dead.node());
  AppendFixed64(out, dead.generation());
  AppendFixed64(out, dead.incarnation());
  AppendFixed64(out, static_cast<uint64_t>(dead.quarantine_at_ms()));
  AppendBytes(out, dead.from());
  return out;
}

absl::Status SignAlive(const identity::NodeKey& key, ::peer::v1::Alive& alive) {
  alive.set_public_key(key.public_key().bytes());
  auto signature = key.Sign(AliveClaim(alive));
  if (!signature.ok()) return signature.status();
  alive.set_signature(*std::move(signature));
  return absl::OkStatus();
}

absl::Status SignLeave(const identity::NodeKey& key, ::peer::v1::Dead& dead) {
  auto signature =
      key.Sign(LeaveClaim(dead.node(), dead.generation(), dead.incarnation()));
  if (!signature.ok()) return signature.status();
  dead.set_signature(*std::move(signature));
  return absl::OkStatus();
}

absl::Status SignQuarantine(const identity::NodeKey& key,
                            ::peer::v1::Dead& dead) {
  auto signature = key.Sign(QuarantineClaim(dead));
  if (!signature.ok()) return signature.status();
  dead.set_signature(*std::move(signature));
  return absl::OkStatus();
}

bool SignatureCache::Check(absl::string_view public_key,
                           absl::string_view claim, absl::string_view signature,
                           bool* verified, bool may_verify) {
  if (verified) *verified = false;
  if (public_key.size() != identity::kPublicKeySize ||
      signature.size() != identity::kSignatureSize) {
    return false;
  }
  std::string entry;
  entry.reserve(public_key.size() + signature.size() + claim.size());
  entry.append(public_key.data(), public_key.size());
  entry.append(signature.data(), signature.size());
  entry.append(claim.data(), claim.size());
  if (verified_.contains(entry)) return true;
  if (!may_verify) return false;
  auto key = identity::PublicKey::FromBytes(public_key);
  if (!key.ok()) return false;
  if (verified) *verified = true;
  if (!identity::Verify(*key, claim, signature).ok()) return false;
  if (verified_.size() >= capacity_) {
    verified_.clear();
    ++resets_;
  }
  verified_.insert(std::move(entry));
  return true;
}

}  // namespace peerlab::membership
