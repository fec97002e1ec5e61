// Runs the libFuzzer target on seeded random inputs and on mutations of
// valid packets, so that the target is built and exercised by every test
// run, not only in clang fuzzing builds. Prints the seed; exit 0 on success
// (a crash fails the test).
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "peer/membership/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  const uint64_t seed = argc > 1 ? std::stoull(argv[1]) : 20261125;
  std::mt19937_64 rng(seed);
  peer::v1::Message alive;
  alive.mutable_alive()->set_node("alice");
  alive.mutable_alive()->set_addr("127.0.0.1:7946");
  alive.mutable_alive()->set_meta(std::string(100, 'm'));
  peer::v1::Message ping;
  ping.mutable_ping()->set_seq_no(7);
  ping.mutable_ping()->set_target("bob");
  alive.mutable_alive()->set_generation(1765000000000);
  alive.mutable_alive()->set_incarnation(3);
  const std::string valid = peerlab::membership::EncodePacket(
      "carol", {peerlab::membership::EncodeMessage(alive),
                peerlab::membership::EncodeMessage(ping),
                peerlab::membership::EncodeNoticeMessage(alive.alive())});
  int runs = 0;
  for (int i = 0; i < 200000; ++i, ++runs) {
    std::string input;
    if (i % 2 == 0) {
      input = valid;
      int flips = 1 + rng() % 8;
      for (int f = 0; f < flips; ++f) input[rng() % input.size()] = char(rng());
      if (rng() % 3 == 0) input.resize(rng() % input.size());
    } else {
      input.resize(rng() % 256);
      for (char& c : input) c = char(rng());
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
  std::printf("wire_fuzz_replay: %d inputs, seed %llu: no crash\n", runs,
              static_cast<unsigned long long>(seed));
  return 0;
}
