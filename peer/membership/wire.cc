#include "peer/membership/wire.h"

#include "absl/strings/str_cat.h"

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

std::string EncodePacket(const std::string& from,
                         const std::vector<std::string>& messages) {
  std::string out;
  size_t total = FramedSize(static_cast<int>(from.size()));
  for (const auto& m : messages)
    total += FramedSize(static_cast<int>(m.size()));
  out.reserve(total);
  for (const auto& m : messages) AppendField(out, 1, m);
  if (!from.empty()) AppendField(out, 2, from);
  return out;
}

int PacketHeaderSize(const std::string& from) {
  return from.empty() ? 0 : FramedSize(static_cast<int>(from.size()));
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

}  // namespace peerlab::membership
