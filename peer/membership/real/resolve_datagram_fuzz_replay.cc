// Runs the resolve-datagram fuzz target on seeded random inputs and on
// mutations of valid queries and answers, so that the target is built and
// exercised by every test run, not only in clang fuzzing builds. Prints the
// seed; exit 0 on success (a crash or an abort fails the test).
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "peer/membership/real/resolve_datagram.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  const uint64_t seed = argc > 1 ? std::stoull(argv[1]) : 20261207;
  std::mt19937_64 rng(seed);
  const std::string valid[] = {
      peerlab::membership::EncodeResolveQuery(rng()),
      *peerlab::membership::EncodeResolveAnswer(rng(), "10.1.2.3:50051", 64)};
  int runs = 0;
  for (int i = 0; i < 100000; ++i, ++runs) {
    std::string input;
    if (i % 2 == 0) {
      input = valid[rng() % 2];
      const int flips = 1 + rng() % 6;
      for (int f = 0; f < flips; ++f) input[rng() % input.size()] = char(rng());
      if (rng() % 3 == 0) input.resize(rng() % (input.size() + 1));
    } else {
      input.resize(rng() % 300);
      for (char& c : input) c = char(rng());
      if (!input.empty() && rng() % 2 == 0) input[0] = '\0';
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
  std::printf("resolve_datagram_fuzz_replay: %d inputs, seed %llu: no crash\n",
              runs, static_cast<unsigned long long>(seed));
  return 0;
}
