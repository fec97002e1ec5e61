#include "peer/membership/sim/sim_seed.h"

#include <cstdlib>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace peerlab::membership::sim {

uint64_t SimSeed(uint64_t fallback) {
  const char* env = std::getenv("PEERLAB_SIM_SEED");
  if (env == nullptr) return fallback;
  const absl::string_view value(env);
  if (value == "random") {
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
  }
  uint64_t seed;
  if (absl::SimpleAtoi(value, &seed)) return seed;
  return fallback;
}

}  // namespace peerlab::membership::sim
