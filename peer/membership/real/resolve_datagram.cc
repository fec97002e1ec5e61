#include "peer/membership/real/resolve_datagram.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace peerlab::membership {
namespace {

constexpr char kQueryKind = 1;
constexpr char kAnswerKind = 2;

std::string Header(char kind, uint64_t token) {
  std::string out(kResolveHeaderSize, '\0');
  out[1] = kind;
  for (int i = 0; i < 8; ++i) {
    out[2 + i] = static_cast<char>((token >> (8 * i)) & 0xff);
  }
  return out;
}

uint64_t TokenOf(std::string_view bytes) {
  uint64_t token = 0;
  for (int i = 0; i < 8; ++i) {
    token |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[2 + i]))
             << (8 * i);
  }
  return token;
}

}  // namespace

bool IsResolveDatagram(std::string_view bytes) {
  return !bytes.empty() && bytes[0] == '\0';
}

std::string EncodeResolveQuery(uint64_t token) {
  std::string query = Header(kQueryKind, token);
  query.resize(kResolveQuerySize, '\0');
  return query;
}

std::optional<std::string> EncodeResolveAnswer(uint64_t token,
                                               std::string_view grpc_address,
                                               size_t query_size) {
  if (!LooksLikeHostPort(grpc_address)) return std::nullopt;
  std::string answer = Header(kAnswerKind, token);
  answer.append(grpc_address);
  if (answer.size() > query_size) return std::nullopt;
  return answer;
}

absl::StatusOr<ResolveDatagram> DecodeResolveDatagram(std::string_view bytes) {
  if (bytes.size() < kResolveHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resolve datagram of ", bytes.size(), " bytes: shorter than its ",
        kResolveHeaderSize, "-byte header"));
  }
  if (bytes[0] != '\0') {
    return absl::InvalidArgumentError(
        "not a resolve datagram (first byte not zero)");
  }
  ResolveDatagram out;
  out.token = TokenOf(bytes);
  if (bytes[1] == kQueryKind) {
    if (bytes.size() < kResolveQuerySize) {
      return absl::InvalidArgumentError(
          absl::StrCat("resolve query of ", bytes.size(),
                       " bytes: unpadded (want ", kResolveQuerySize, ")"));
    }
    out.kind = ResolveDatagram::Kind::kQuery;
    return out;
  }
  if (bytes[1] == kAnswerKind) {
    const std::string_view address = bytes.substr(kResolveHeaderSize);
    if (!LooksLikeHostPort(address)) {
      return absl::InvalidArgumentError(
          "resolve answer without a plausible host:port");
    }
    out.kind = ResolveDatagram::Kind::kAnswer;
    out.address = std::string(address);
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("resolve datagram of unknown kind ",
                   static_cast<int>(static_cast<unsigned char>(bytes[1]))));
}

bool LooksLikeHostPort(std::string_view s) {
  if (s.empty() || s.size() > kMaxResolvedAddress) return false;
  const size_t colon = s.rfind(':');
  int port = 0;
  if (colon == std::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(
          absl::string_view(s.data() + colon + 1, s.size() - colon - 1),
          &port) ||
      port <= 0 || port > 65535) {
    return false;
  }
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace peerlab::membership
