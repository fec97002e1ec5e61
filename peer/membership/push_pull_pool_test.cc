#include "peer/membership/push_pull_pool.h"

#include <memory>

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

std::unique_ptr<::peer::v1::PushPull> WithEntries(int n) {
  auto pp = std::make_unique<::peer::v1::PushPull>();
  for (int i = 0; i < n; ++i) {
    auto* s = pp->add_nodes();
    s->set_name("node" + std::to_string(i));
    s->set_signature(std::string(64, 's'));
  }
  pp->set_from("x");
  pp->set_join(true);
  pp->add_want("w");
  return pp;
}

void Drain() {
  while (PushPullPool::kept() > 0) PushPullPool::Take(0);
}

TEST(PushPullPoolTest, ATakenMessageIsEmptyAndTheSpentOneWhenKept) {
  Drain();
  auto spent = WithEntries(3);
  const ::peer::v1::PushPull* address = spent.get();
  PushPullPool::Give(std::move(spent));
  EXPECT_EQ(PushPullPool::kept(), 1u);
  auto pp = PushPullPool::Take(3);
  EXPECT_EQ(pp.get(), address);
  EXPECT_EQ(pp->ByteSizeLong(), 0u);  // cleared: nothing of the old content
  EXPECT_EQ(PushPullPool::kept(), 0u);
  auto fresh = PushPullPool::Take(3);  // none kept: a new one
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->ByteSizeLong(), 0u);
  PushPullPool::Give(nullptr);  // ignored
  EXPECT_EQ(PushPullPool::kept(), 0u);
}

TEST(PushPullPoolTest, TakesTheSmallestThatFitsElseTheLargest) {
  Drain();
  std::vector<const ::peer::v1::PushPull*> by_size;
  for (int n : {1, 100, 10}) {
    auto pp = WithEntries(n);
    by_size.push_back(pp.get());
    PushPullPool::Give(std::move(pp));
  }
  EXPECT_EQ(PushPullPool::Take(5).get(), by_size[2]);    // 10 entries
  EXPECT_EQ(PushPullPool::Take(500).get(), by_size[1]);  // 100, the largest
  EXPECT_EQ(PushPullPool::Take(1).get(), by_size[0]);
}

TEST(PushPullPoolTest, KeepsTheLargestWhenFull) {
  Drain();
  for (size_t i = 0; i < PushPullPool::kMaxKept; ++i) {
    PushPullPool::Give(WithEntries(10));
  }
  auto big = WithEntries(50);
  const ::peer::v1::PushPull* address = big.get();
  PushPullPool::Give(std::move(big));  // replaces a 10
  PushPullPool::Give(WithEntries(1));  // smaller than all: freed
  EXPECT_EQ(PushPullPool::kept(), PushPullPool::kMaxKept);
  EXPECT_EQ(PushPullPool::Take(40).get(), address);
  Drain();
}

}  // namespace
}  // namespace peerlab::membership
