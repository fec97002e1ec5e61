// libFuzzer target for the decryption path: any bytes must open or be
// refused by a keyring, never crash, and garbage must never open.
//
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++
//     -DPEERLAB_FUZZ=ON   (one line)
//   cmake --build build-fuzz --target keyring_fuzz
//   build-fuzz/bin/keyring_fuzz -max_total_time=60
//
// Without PEERLAB_FUZZ the same function is linked into keyring_test, which
// feeds it random and mutated sealed messages.
#include <cstddef>
#include <cstdint>
#include <string>

#include "peer/membership/keyring.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using peerlab::membership::Keyring;
  static const Keyring* ring = [] {
    auto r = Keyring::Create({std::string(32, 'a'), std::string(32, 'b')});
    return new Keyring(*std::move(r));
  }();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto plain = ring->Decrypt(bytes, "fuzz");
  // Forging a 16-byte GCM tag by chance does not happen.
  if (plain.ok()) __builtin_trap();
  return 0;
}
