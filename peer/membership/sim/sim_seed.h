// Seeds for simulation tests: reproducible by default, replayable on failure.
//
//   const uint64_t seed = SimSeed(42);   // 42, or $PEERLAB_SIM_SEED
//   PEERLAB_SIM_TRACE_SEED(seed);        // printed if the test fails
//
// PEERLAB_SIM_SEED=N replays seed N; PEERLAB_SIM_SEED=random picks a fresh one
// each run (to hunt for failing seeds; the trace prints the one used).
#ifndef PEERLAB_PEER_MEMBERSHIP_SIM_SIM_SEED_H_
#define PEERLAB_PEER_MEMBERSHIP_SIM_SIM_SEED_H_

#include <cstdint>
#include <string>

namespace peerlab::membership::sim {

// The seed a simulation should use: $PEERLAB_SIM_SEED if set (a decimal
// number, or "random"), else `fallback`. An unparsable value is ignored.
uint64_t SimSeed(uint64_t fallback);

}  // namespace peerlab::membership::sim

// In a gtest test body: records `seed` as the test's "sim_seed" property (in
// the XML report) and adds it to the message of every failure in the
// enclosing scope, with the command-line hint to replay it. The including
// file must include <gtest/gtest.h>.
#define PEERLAB_SIM_TRACE_SEED(seed)                                 \
  ::testing::Test::RecordProperty("sim_seed", std::to_string(seed)); \
  SCOPED_TRACE(::testing::Message()                                  \
               << "simulation seed " << (seed)                       \
               << " (replay with PEERLAB_SIM_SEED=" << (seed) << ")")

#endif  // PEERLAB_PEER_MEMBERSHIP_SIM_SIM_SEED_H_
