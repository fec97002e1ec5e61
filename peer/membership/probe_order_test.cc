#include "peer/membership/probe_order.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

void ExpectSame(const std::vector<uint32_t>& want, const ProbeOrder& got,
                uint64_t seed, int step) {
  ASSERT_EQ(want.size(), got.size()) << "seed " << seed << " step " << step;
  ASSERT_EQ(want, got.ToVector()) << "seed " << seed << " step " << step;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i], got[i])
        << "position " << i << ", seed " << seed << " step " << step;
  }
}

TEST(ProbeOrderTest, EmptyAtFirst) {
  ProbeOrder order;
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(order.size(), 0u);
  EXPECT_TRUE(order.ToVector().empty());
  EXPECT_EQ(order.Find(7), std::nullopt);
  order.Insert(0, 7);
  EXPECT_EQ(order.size(), 1u);
  EXPECT_EQ(order[0], 7u);
  EXPECT_EQ(order.Find(7), 0u);
  order.Erase(0);
  EXPECT_TRUE(order.empty());
  order.Insert(0, 8);  // usable again once empty
  EXPECT_EQ(order.ToVector(), std::vector<uint32_t>{8});
}

// Random inserts (mostly, as members are learned), erasures, finds and
// reassignments give what a std::vector gives, element by element, across
// block splits and removals.
TEST(ProbeOrderTest, BehavesAsAVectorUnderRandomOperations) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint32_t> model;
    ProbeOrder order;
    uint32_t next = 0;
    for (int step = 0; step < 6000; ++step) {
      const uint64_t op = rng() % 100;
      if (op < 75 || model.empty()) {
        const size_t pos = rng() % (model.size() + 1);
        model.insert(model.begin() + static_cast<ptrdiff_t>(pos), next);
        order.Insert(pos, next);
        ++next;
      } else if (op < 95) {
        const size_t pos = rng() % model.size();
        model.erase(model.begin() + static_cast<ptrdiff_t>(pos));
        order.Erase(pos);
      } else if (op < 98) {
        const uint32_t value = static_cast<uint32_t>(rng() % (next + 1));
        auto it = std::find(model.begin(), model.end(), value);
        std::optional<size_t> want;
        if (it != model.end()) want = static_cast<size_t>(it - model.begin());
        ASSERT_EQ(order.Find(value), want) << "seed " << seed;
      } else {
        std::shuffle(model.begin(), model.end(), rng);
        order.Assign(model);
      }
      if (step % 97 == 0) ExpectSame(model, order, seed, step);
    }
    ExpectSame(model, order, seed, -1);
    // Erased down to nothing, from the front and the back alternately.
    while (!model.empty()) {
      const size_t pos = model.size() % 2 == 0 ? 0 : model.size() - 1;
      model.erase(model.begin() + static_cast<ptrdiff_t>(pos));
      order.Erase(pos);
    }
    ExpectSame(model, order, seed, -2);
  }
}

}  // namespace
}  // namespace peerlab::membership
