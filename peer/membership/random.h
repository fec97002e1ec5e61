// Random: the protocol's seeded source of random choices, so that a
// simulation with the same seed makes the same choices.
#ifndef PEERLAB_PEER_MEMBERSHIP_RANDOM_H_
#define PEERLAB_PEER_MEMBERSHIP_RANDOM_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace peerlab::membership {

// Not thread-safe: owned by one node, used from its scheduler's tasks.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, n). REQUIRES: n > 0.
  uint64_t Uniform(uint64_t n) {
    return std::uniform_int_distribution<uint64_t>(0, n - 1)(engine_);
  }
  // Uniform in [0, 1).
  double UniformDouble() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    std::shuffle(v.begin(), v.end(), engine_);
  }
  uint64_t Next() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_RANDOM_H_
