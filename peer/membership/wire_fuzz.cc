// libFuzzer target for the datagram decoder and the message handlers'
// inputs: any bytes must decode or be refused, never crash.
//
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
//     -DPEERLAB_FUZZ=ON && cmake --build build-fuzz --target wire_fuzz
//   build-fuzz/bin/wire_fuzz -max_total_time=60
//
// Without PEERLAB_FUZZ the same function is linked into wire_fuzz_replay,
// which feeds it seeded random and mutated packets (a ctest).
#include <cstddef>
#include <cstdint>
#include <string>

#include "peer/membership/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  auto packet = peerlab::membership::DecodePacket(
      bytes, peerlab::membership::kMaxDatagram);
  if (packet.ok()) {
    // Re-encoding what was decoded must round-trip.
    std::vector<std::string> messages;
    for (const auto& m : packet->messages()) {
      messages.push_back(peerlab::membership::EncodeMessage(m));
    }
    std::string again =
        peerlab::membership::EncodePacket(packet->from(), messages);
    auto back = peerlab::membership::DecodePacket(
        again, peerlab::membership::kMaxDatagram + 64);
    if (!back.ok() || back->messages_size() != packet->messages_size()) {
      __builtin_trap();
    }
  }
  return 0;
}
