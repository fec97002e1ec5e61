#include "peer/membership/replay_window.h"

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

TEST(ReplayWindowTest, NewReorderedSeenAndTooOld) {
  constexpr uint64_t kBits = ReplayWindow::kBits;
  ReplayWindow w;
  EXPECT_FALSE(w.Accept(0));
  EXPECT_TRUE(w.Accept(5100));
  EXPECT_FALSE(w.Accept(5100));  // seen
  EXPECT_TRUE(w.Accept(5099));   // reordered
  EXPECT_FALSE(w.Accept(5099));
  EXPECT_TRUE(w.Accept(5105));
  EXPECT_TRUE(w.Accept(5101));
  EXPECT_TRUE(w.Accept(5104));
  EXPECT_FALSE(w.Accept(5101));
  const uint64_t h = 5105;
  EXPECT_EQ(w.highest(), h);
  // The bottom of the window, and one below it.
  EXPECT_TRUE(w.Accept(h - kBits + 1));
  EXPECT_FALSE(w.Accept(h - kBits));
  // A jump beyond the window forgets everything below it; the slots the
  // slide reuses are clear.
  const uint64_t j = h + 3 * kBits;
  EXPECT_TRUE(w.Accept(j));
  EXPECT_FALSE(w.Accept(h));
  EXPECT_TRUE(w.Accept(j - kBits + 1));
  EXPECT_TRUE(w.Accept(j + 1));
  EXPECT_TRUE(w.Accept(j - 1));
  EXPECT_FALSE(w.Accept(j - 1));
}

TEST(ReplayWindowTest, EveryNumberOnceInAnyOrderWithinTheWindow) {
  ReplayWindow w;
  for (uint64_t s = 1000; s > 1000 - ReplayWindow::kBits; --s) {
    EXPECT_TRUE(w.Accept(s)) << s;
  }
  for (uint64_t s = 1000; s > 1000 - ReplayWindow::kBits; --s) {
    EXPECT_FALSE(w.Accept(s)) << s;
  }
  for (uint64_t s = 1001; s < 5000; ++s) EXPECT_TRUE(w.Accept(s)) << s;
}

TEST(ReplayGuardTest, GenerationsKindsAndTheBound) {
  using K = ReplayGuard::Kind;
  using V = ReplayGuard::Verdict;
  ReplayGuard g(2);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 5, 10), V::kNew);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 5, 10), V::kReplay);
  // Requests have their own numbers.
  EXPECT_EQ(g.Check(K::kRequest, "a", 5, 10), V::kNew);
  // A restart (newer generation) starts fresh; the older one is refused.
  EXPECT_EQ(g.Check(K::kDatagram, "a", 6, 1), V::kNew);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 5, 11), V::kOldGeneration);
  EXPECT_EQ(g.Check(K::kDatagram, "", 6, 2), V::kMissingFields);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 0, 2), V::kMissingFields);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 6, 0), V::kMissingFields);
  // At most two senders: the least recently heard goes.
  EXPECT_EQ(g.Check(K::kDatagram, "b", 1, 1), V::kNew);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 6, 2), V::kNew);
  EXPECT_EQ(g.Check(K::kDatagram, "c", 1, 1), V::kNew);  // evicts b
  EXPECT_EQ(g.size(), 2u);
  EXPECT_EQ(g.evicted(), 1u);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 6, 2), V::kReplay);  // a was kept
}

// Peek answers as Check would and records nothing (the node holds
// untagged traffic to the proven window's horizon this way).
TEST(ReplayGuardTest, PeekRecordsNothing) {
  using K = ReplayGuard::Kind;
  using V = ReplayGuard::Verdict;
  ReplayGuard g(4);
  EXPECT_EQ(g.Peek(K::kDatagram, "a", 5, 10), V::kNew);  // unknown sender
  EXPECT_EQ(g.size(), 0u);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 5, 5000), V::kNew);
  EXPECT_EQ(g.Peek(K::kDatagram, "a", 5, 5000), V::kReplay);  // seen
  EXPECT_EQ(g.Peek(K::kDatagram, "a", 5, 10), V::kReplay);    // too old
  EXPECT_EQ(g.Peek(K::kDatagram, "a", 5, 4999), V::kNew);
  EXPECT_EQ(g.Peek(K::kDatagram, "a", 5, 4999), V::kNew);  // still unseen
  EXPECT_EQ(g.Peek(K::kDatagram, "a", 4, 6000), V::kOldGeneration);
  EXPECT_EQ(g.Peek(K::kDatagram, "a", 6, 1), V::kNew);  // a restart
  EXPECT_EQ(g.Peek(K::kRequest, "a", 5, 5000), V::kNew);
  EXPECT_EQ(g.Peek(K::kDatagram, "", 5, 1), V::kMissingFields);
  EXPECT_EQ(g.Check(K::kDatagram, "a", 5, 4999), V::kNew);
}

}  // namespace
}  // namespace peerlab::membership
