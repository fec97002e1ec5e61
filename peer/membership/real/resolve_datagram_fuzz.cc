// libFuzzer target for the resolve-datagram decoder: any bytes decode to a
// datagram or an InvalidArgument, never a crash; a decoded query always
// gets an answer no longer than itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "peer/membership/real/resolve_datagram.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = peerlab::membership::DecodeResolveDatagram(bytes);
  if (decoded.ok() &&
      decoded->kind == peerlab::membership::ResolveDatagram::Kind::kQuery) {
    auto answer = peerlab::membership::EncodeResolveAnswer(
        decoded->token, "127.0.0.1:50051", size);
    if (answer && answer->size() > size) std::abort();  // amplification
  }
  return 0;
}
