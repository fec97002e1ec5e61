#include "peer/membership/broadcast_queue.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST(BroadcastQueueTest, NewerUpdateForAKeyReplacesOlder) {
  int n = 10;
  BroadcastQueue q(3, [&] { return n; });
  bool replaced = false;
  q.Queue("alice", "alive 1", [&] { replaced = true; });
  q.Queue("bob", "alive 1 bob");
  q.Queue("alice", "alive 2");
  EXPECT_TRUE(replaced);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_THAT(q.Take(0, 1000), UnorderedElementsAre("alive 2", "alive 1 bob"));
}

TEST(BroadcastQueueTest, FewestTransmitsFirstNewestFirstAmongEquals) {
  int n = 10;
  BroadcastQueue q(3, [&] { return n; });
  q.Queue("", "a");
  q.Queue("", "b");
  EXPECT_THAT(q.Take(0, 1), ElementsAre("b"));  // newest first
  q.Queue("", "c");
  // a and c have been sent 0 times, b once.
  EXPECT_THAT(q.Take(0, 2), ElementsAre("c", "a"));
  // Now every one was sent once: newest first again.
  EXPECT_THAT(q.Take(0, 3), ElementsAre("c", "b", "a"));
}

// Take() stops scanning once no queued message can fit, but still finds a
// small one behind larger ones, and forgets the sizes of messages that left.
TEST(BroadcastQueueTest, FindsSmallMessageBehindLargeOnesAndTracksSizes) {
  int n = 1;
  BroadcastQueue q(1, [&] { return n; });  // each message sent once
  q.Queue("", "tiny");
  for (int i = 0; i < 50; ++i) q.Queue("k" + std::to_string(i), "large-ish");
  // 4 bytes of room left after one large message: only "tiny" fits.
  EXPECT_THAT(q.Take(0, 13), ElementsAre("large-ish", "tiny"));
  EXPECT_EQ(q.size(), 49u);
  // Only 9-byte messages remain; 8 bytes of room take nothing.
  EXPECT_THAT(q.Take(0, 8), IsEmpty());
  EXPECT_EQ(q.Take(0, 1000).size(), 49u);
  EXPECT_EQ(q.size(), 0u);
  q.Queue("", "ab");
  EXPECT_THAT(q.Take(0, 2), ElementsAre("ab"));
}

TEST(BroadcastQueueTest, RespectsSizeLimitWithOverhead) {
  int n = 1;
  BroadcastQueue q(3, [&] { return n; });
  q.Queue("", std::string(10, 'x'));
  q.Queue("", std::string(20, 'y'));
  q.Queue("", std::string(5, 'z'));
  // Newest first: z (5+2), then y (20+2) fits in 30, x (10+2) does not.
  auto got = q.Take(2, 30);
  EXPECT_THAT(got, ElementsAre(std::string(5, 'z'), std::string(20, 'y')));
  EXPECT_TRUE(q.Take(2, 3).empty());
}

TEST(BroadcastQueueTest, RetransmitLimitGrowsWithCluster) {
  int n = 9;  // limit = 3 * ceil(log10(10)) = 3
  BroadcastQueue q(3, [&] { return n; });
  bool done = false;
  q.Queue("k", "m", [&] { done = true; });
  for (int i = 0; i < 3; ++i) EXPECT_THAT(q.Take(0, 100), ElementsAre("m"));
  EXPECT_TRUE(done);
  EXPECT_THAT(q.Take(0, 100), IsEmpty());
  n = 99;  // limit 6
  q.Queue("k", "m2");
  for (int i = 0; i < 6; ++i) EXPECT_THAT(q.Take(0, 100), ElementsAre("m2"));
  EXPECT_THAT(q.Take(0, 100), IsEmpty());
}

// An update queued with a floor is sent that many times even when the
// limit is lower (application broadcasts, UserBroadcastFloor); others keep
// the limit; a replaced update forgets its floor.
TEST(BroadcastQueueTest, AFloorSendsAnUpdateMoreOftenThanTheLimit) {
  int n = 5;  // limit 2 * ceil(log10(6)) = 2
  BroadcastQueue q(2, [&] { return n; });
  q.Queue("user:k", "kv", nullptr, /*min_transmits=*/5);
  q.Queue("", "alive");
  int kv = 0, alive = 0;
  for (int i = 0; i < 10; ++i) {
    for (const auto& m : q.Take(0, 1000)) {
      (m.str() == "kv" ? kv : alive)++;
    }
  }
  EXPECT_EQ(kv, 5);
  EXPECT_EQ(alive, 2);
  EXPECT_EQ(q.size(), 0u);
  q.Queue("user:k", "kv1", nullptr, 5);
  q.Queue("user:k", "kv2");  // replaces kv1, no floor
  kv = 0;
  for (int i = 0; i < 10; ++i) kv += static_cast<int>(q.Take(0, 1000).size());
  EXPECT_EQ(kv, 2);
}

TEST(BroadcastQueueTest, ClearRunsCallbacks) {
  int n = 3;
  BroadcastQueue q(3, [&] { return n; });
  int done = 0;
  q.Queue("a", "1", [&] { ++done; });
  q.Queue("", "2", [&] { ++done; });
  q.Clear();
  EXPECT_EQ(done, 2);
  EXPECT_EQ(q.size(), 0u);
}

// A caller-kept slot keys updates like a string key does, and queues that
// share a pool store each message once.
TEST(BroadcastQueueTest, SlotsKeyUpdatesAndPoolsShareMessages) {
  int n = 3;  // limit 3
  StringPool pool;
  BroadcastQueue::Slot slots[3];  // alice, bob (queue a); alice (queue b)
  auto slot_of = [&](uint32_t i) { return &slots[i]; };
  const uint32_t alice = 0, bob = 1, alice_b = 2;
  BroadcastQueue a(
      3, [&] { return n; }, &pool, slot_of);
  BroadcastQueue b(
      3, [&] { return n; }, &pool, slot_of);
  bool replaced = false;
  a.Queue(alice, "alive alice 1", [&] { replaced = true; });
  a.Queue(bob, "alive bob 1");
  a.Queue(alice, "alive alice 2");
  EXPECT_TRUE(replaced);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_TRUE(slots[alice].queued());
  b.Queue(alice_b, "alive alice 2");
  EXPECT_EQ(pool.size(), 2u);  // "alive alice 2" once for both queues
  EXPECT_THAT(a.Take(0, 1000),
              UnorderedElementsAre("alive alice 2", "alive bob 1"));
  EXPECT_EQ(slots[alice].transmits(), 1u);
  a.Cancel(bob);
  EXPECT_FALSE(slots[bob].queued());
  EXPECT_EQ(a.size(), 1u);
  EXPECT_THAT(a.Take(0, 1000), ElementsAre("alive alice 2"));
  EXPECT_THAT(a.Take(0, 1000), ElementsAre("alive alice 2"));
  EXPECT_FALSE(slots[alice].queued());  // sent its 3rd and last time
  EXPECT_EQ(a.size(), 0u);
  b.Clear();
  EXPECT_FALSE(slots[alice_b].queued());
  EXPECT_EQ(pool.size(), 0u);
}

// The bound (Config::max_queued_alives): past it the droppable update sent
// most goes, the oldest among equals; updates queued otherwise (a
// suspicion in a member's slot, string keys) are never dropped, and a
// droppable update that replaces a pinned one in its slot is droppable.
TEST(BroadcastQueueTest, TheBoundDropsTheDroppableSentMost) {
  int n = 10;  // limit 4 * 2 = 8
  StringPool pool;
  BroadcastQueue::Slot slots[5];
  auto slot_of = [&](uint32_t i) { return &slots[i]; };
  BroadcastQueue q(
      4, [&] { return n; }, &pool, slot_of);
  q.set_bound(2);
  q.QueueDroppable(0, pool.Intern("alive 0"));
  q.QueueDroppable(1, pool.Intern("alive 1"));
  EXPECT_THAT(q.Take(0, 7), ElementsAre("alive 1"));  // sent once
  q.Queue(2, "suspect 2");                            // pinned
  q.Queue("user", "user");                            // a string key
  EXPECT_EQ(q.dropped(), 0u);
  q.QueueDroppable(3, pool.Intern("alive 3"));
  // Three droppable: "alive 1" was sent most.
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_FALSE(slots[1].queued());
  EXPECT_EQ(q.size(), 4u);
  q.QueueDroppable(4, pool.Intern("alive 4"));
  // Equals (never sent): the oldest, "alive 0", goes.
  EXPECT_EQ(q.dropped(), 2u);
  EXPECT_FALSE(slots[0].queued());
  EXPECT_TRUE(slots[2].queued());
  // The suspicion replaced by an alive: droppable now, so three are
  // again, and the oldest of them, "alive 3", goes.
  q.QueueDroppable(2, pool.Intern("alive 2"));
  EXPECT_EQ(q.dropped(), 3u);
  EXPECT_FALSE(slots[3].queued());
  EXPECT_THAT(q.Take(0, 1000),
              UnorderedElementsAre("alive 2", "alive 4", "user"));
  // No bound: nothing dropped.
  q.set_bound(0);
  for (uint32_t i = 0; i < 5; ++i) {
    q.QueueDroppable(i, pool.Intern(absl::StrCat("alive again ", i)));
  }
  EXPECT_EQ(q.dropped(), 3u);
  EXPECT_EQ(q.size(), 6u);
}

// Ids are 24 bits: when they run out, the queued updates are numbered
// again in the same order, their slots follow, and a Take in progress
// keeps its own.
TEST(BroadcastQueueTest, RunningOutOfIdsKeepsTheOrder) {
  int n = 999;  // limit 9
  BroadcastQueue::Slot slots[4];
  BroadcastQueue q(
      3, [&] { return n; }, nullptr, [&](uint32_t i) { return &slots[i]; });
  q.SkipIdsForTest(3);
  q.Queue(0, "a");
  q.Queue("", "s");  // an unkeyed update among them
  q.Queue(1, "b");
  EXPECT_THAT(q.Take(0, 1), ElementsAre("b"));  // b sent once
  q.Queue(2, "c");                              // renumbered first
  q.Queue(3, "d");
  EXPECT_EQ(q.size(), 5u);
  EXPECT_THAT(q.Take(0, 5), ElementsAre("d", "c", "s", "a", "b"));
  q.Cancel(2);
  EXPECT_FALSE(slots[2].queued());
  EXPECT_EQ(slots[1].transmits(), 2u);
  EXPECT_THAT(q.Take(0, 5), ElementsAre("d", "s", "a", "b"));
  EXPECT_EQ(slots[3].transmits(), 2u);
}

// An on_done that Take runs may queue when the ids are about to run out:
// the renumbering waits until the Take is over.
TEST(BroadcastQueueTest, NoRenumberingDuringATake) {
  int n = 9;  // limit 1
  BroadcastQueue::Slot slots[3];
  BroadcastQueue q(
      1, [&] { return n; }, nullptr, [&](uint32_t i) { return &slots[i]; });
  q.SkipIdsForTest(2);
  q.Queue(0, "w");
  q.Queue("k", "x", [&] { q.Queue(1, "y"); });
  EXPECT_THAT(q.Take(0, 1), ElementsAre("x"));  // sent its only time
  EXPECT_TRUE(slots[1].queued());
  EXPECT_THAT(q.Take(0, 1), ElementsAre("y"));
  q.Queue(2, "v");  // renumbered first
  EXPECT_THAT(q.Take(0, 100), ElementsAre("v", "w"));
  EXPECT_EQ(q.size(), 0u);
  for (const auto& slot : slots) EXPECT_FALSE(slot.queued());
}

// An on_done that a replacement runs may queue for the same slot or key
// again (a done callback of UpdateMeta updating the metadata once more):
// that update, made after the one being queued, stays, and the one being
// queued counts as replaced at once. Before, both stayed, the slot tracked
// only the second (`q.size() Which is: 2`, 4 with the string key), and the
// first, when it finished, ran the second's on_done and cleared its slot.
TEST(BroadcastQueueTest, AnUpdateQueuedByAReplacedOnesOnDoneStays) {
  BroadcastQueue::Slot slots[1];
  BroadcastQueue q(
      3, [] { return 10; }, nullptr, [&](uint32_t i) { return &slots[i]; });
  bool replaced = false;
  q.Queue(0, "a", [&] { q.Queue(0, "b"); });
  q.Queue(0, "c", [&] { replaced = true; });
  EXPECT_TRUE(replaced);
  EXPECT_EQ(q.size(), 1u);
  q.Queue("k", "x", [&] { q.Queue("k", "y"); });
  q.Queue("k", "z");
  EXPECT_EQ(q.size(), 2u);
  EXPECT_THAT(q.Take(0, 100), UnorderedElementsAre("b", "y"));
  q.Cancel(0);
  EXPECT_FALSE(slots[0].queued());
  EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace peerlab::membership
