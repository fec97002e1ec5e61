// A mass join in the simulator: Config::max_queued_alives (gossip.cc).
// Every member joins member 0 at once; each learns every other, and
// without a bound each queues a notice about each (N per member) and
// sends each 4 * ceil(log10(N + 1)) times, mostly to members that know
// already. Here the bound is set low (64) so that a few hundred members
// show what it does at 10,000 with the default 1,024. Assertions in
// protocol time; the seed is printed on failure (PEERLAB_SIM_SEED=N).
#include <algorithm>
#include <cstdint>
#include <iostream>

#include "gtest/gtest.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;

constexpr int kNoticeKind = 10;  // Message.notice (membership.proto)

struct JoinFigures {
  bool converged = false;
  double gossip_periods = 0;    // start to all know all
  double notices_per_pair = 0;  // notices sent / (N * (N - 1))
  uint64_t dropped = 0;         // Stats::alive_notices_dropped, summed
  uint64_t drop_catch_ups = 0;  // Stats::drop_catch_ups, summed
  size_t max_queued = 0;        // the longest queue at the end
};

JoinFigures MassJoin(int n, int bound, uint64_t seed) {
  SimCluster::Options o;
  o.nodes = n;
  o.seed = seed;
  o.config = Config::Lan();
  o.config.max_queued_alives = bound;
  SimCluster c(o);
  JoinFigures f;
  const absl::Duration period = o.config.gossip_interval;
  c.StartAll();
  const absl::Time start = c.Now();
  f.converged =
      c.RunUntil([&] { return c.AllKnowAllFast(); }, absl::Seconds(60));
  f.gossip_periods = (c.Now() - start) / period;
  // Then until every queue has drained (or 60 s more).
  c.RunUntil(
      [&] {
        for (int i = 0; i < n; ++i) {
          if (c.node(i).NumQueuedBroadcasts() > 0) return false;
        }
        return true;
      },
      absl::Seconds(60));
  uint64_t notices = 0;
  for (int i = 0; i < n; ++i) {
    const Stats& s = c.node(i).stats();
    notices += s.sent_by_kind[kNoticeKind].messages;
    f.dropped += s.alive_notices_dropped;
    f.drop_catch_ups += s.drop_catch_ups;
    f.max_queued = std::max(f.max_queued, c.node(i).NumQueuedBroadcasts());
  }
  f.notices_per_pair = static_cast<double>(notices) / n / (n - 1);
  std::cout << n << " members, bound " << bound << ": all know all after "
            << f.gossip_periods << " gossip periods, " << f.notices_per_pair
            << " notices sent per member learned, " << f.dropped << " dropped, "
            << f.drop_catch_ups << " catch-ups\n";
  return f;
}

// 400 members, at most 64 notices queued: all know all within two
// epidemic times (the retransmit limit in gossip periods, 12 here: the
// catch-up push/pulls after a drop start one to two of them after it)
// and a few periods, and each member learned costs at most 5 notices
// sent in all, until every queue has drained (without the bound: 4 *
// ceil(log10(401)) = 12 each, almost all to members that knew already;
// with it, seed 1: 3.6, all know all after 15 periods, against 9).
TEST(StormSimTest, ABoundedQueueConvergesWithFewerNotices) {
  const uint64_t seed = SimSeed(1);
  PEERLAB_SIM_TRACE_SEED(seed);
  const JoinFigures f = MassJoin(400, 64, seed);
  ASSERT_TRUE(f.converged) << "not all know all after 60 s";
  const int epidemic = RetransmitLimit(Config::Lan().retransmit_mult, 400);
  EXPECT_LE(f.gossip_periods, 2 * epidemic + 6);
  EXPECT_LE(f.notices_per_pair, 5.0);
  EXPECT_GT(f.dropped, 0u);
  EXPECT_GT(f.drop_catch_ups, 0u);
  EXPECT_EQ(f.max_queued, 0u);
}

// Below the bound nothing is dropped and no push/pull is added: groups of
// up to max_queued_alives members run as memberlist's queue does.
TEST(StormSimTest, BelowTheBoundNothingIsDropped) {
  const uint64_t seed = SimSeed(2);
  PEERLAB_SIM_TRACE_SEED(seed);
  const JoinFigures f = MassJoin(60, 64, seed);
  ASSERT_TRUE(f.converged);
  EXPECT_EQ(f.dropped, 0u);
  EXPECT_EQ(f.drop_catch_ups, 0u);
}

}  // namespace
}  // namespace peerlab::membership
