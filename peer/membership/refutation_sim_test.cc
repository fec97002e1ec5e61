// A refutation that some member missed: it must still reach that member
// long before the next push/pull (the nemesis found members holding a
// refuted suspicion for a whole push/pull period).
#include <set>

#include "gtest/gtest.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;

// Whether node `observer` holds `target` live at `incarnation` or above.
bool HoldsLiveAtLeast(SimCluster& c, int observer, int target,
                      uint64_t incarnation) {
  for (const Member& m : c.node(observer).Members()) {
    if (m.name == c.name(target)) {
      return m.state == MemberState::kAlive && m.incarnation >= incarnation;
    }
  }
  return false;
}

// x is cut off until the others suspect it, then comes back and refutes
// (incarnation 2); z hears nothing while the refutation spreads, so it
// still holds "x suspect, incarnation 1" (or dead, if its timer ran out)
// when its ears open again. Its next accusation of x (its suspicion
// gossip, the suspect it sends with its last ping before declaring x dead,
// its dead) reaches x with the old incarnation: x must answer with its
// current alive. Before, x ignored the stale accusation ("old news"), its
// ack made z start the suspicion over, and z held x suspect at
// incarnation 1 until a push/pull (here 10 minutes away).
TEST(RefutationSimTest, AMemberThatMissedTheRefutationGetsItFromTheAccused) {
  for (uint64_t base = 1; base <= 5; ++base) {
    const uint64_t seed = SimSeed(base);
    PEERLAB_SIM_TRACE_SEED(seed);
    const int n = 5, x = 1, z = 4;
    SimCluster::Options o;
    o.nodes = n;
    o.seed = seed;
    o.config = Config::Local();
    o.config.push_pull_interval = absl::Minutes(10);
    SimCluster c(o);
    c.StartAll();
    ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(30)));
    const uint64_t before = c.node(x).LocalNode().incarnation;

    c.net().Partition({{x}});
    ASSERT_TRUE(c.RunUntil([&] { return c.Sees(z, x, MemberState::kSuspect); },
                           absl::Seconds(30)));
    // x comes back; z hears nobody until the refutation has spread.
    c.net().Heal();
    for (int i = 0; i < n; ++i) {
      if (i != z) c.net().Cut(i, z);
    }
    ASSERT_TRUE(
        c.RunUntil([&] { return c.node(x).LocalNode().incarnation > before; },
                   absl::Seconds(10)));
    c.RunFor(absl::Seconds(1));  // the refutation's retransmissions end
    ASSERT_FALSE(HoldsLiveAtLeast(c, z, x, before + 1))
        << "z got the refutation through the cut";
    for (int i = 0; i < n; ++i) {
      if (i != z) c.net().Uncut(i, z);
    }
    // Well within one push/pull period.
    // Well within one push/pull period, every member (z, and any other
    // that missed the refutation too) holds x alive at its new incarnation.
    EXPECT_TRUE(c.RunUntil(
        [&] {
          for (int i = 0; i < n; ++i) {
            if (i != x && !HoldsLiveAtLeast(c, i, x, before + 1)) return false;
          }
          return true;
        },
        absl::Seconds(30)))
        <<
        [&] {
          std::string out;
          for (int i = 0; i < n; ++i) {
            for (const Member& m : c.node(i).AllMembers()) {
              if (m.name == c.name(x)) {
                out += c.name(i) + " holds x " +
                       std::string(StateName(m.state)) + " incarnation " +
                       std::to_string(m.incarnation) + "; ";
              }
            }
          }
          return out;
        }()
        << "x is at " << c.node(x).LocalNode().incarnation;
    EXPECT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(30)));
  }
}

}  // namespace
}  // namespace peerlab::membership
