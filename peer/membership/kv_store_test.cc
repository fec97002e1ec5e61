#include "peer/membership/kv_store.h"

#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

struct Node {
  explicit Node(const std::string& name, uint64_t window = kLamportWindow)
      : kv(
            name,
            [this](std::string payload, const std::string&) {
              sent.push_back(std::move(payload));
            },
            window) {}
  KvStore kv;
  std::vector<std::string> sent;
};

TEST(KvStoreTest, SetDeleteAndSpread) {
  Node a("alice"), b("bob");
  ASSERT_TRUE(a.kv.Set("color", "red").ok());
  ASSERT_EQ(a.sent.size(), 1u);
  b.kv.OnUserMessage(a.sent[0]);
  EXPECT_THAT(b.kv.Items(), ElementsAre(Pair("color", "red")));
  EXPECT_EQ(b.sent.size(), 1u);  // news is re-gossiped
  b.kv.OnUserMessage(a.sent[0]);
  EXPECT_EQ(b.sent.size(), 1u);  // old news is not
  EXPECT_TRUE(a.kv.Delete("color").ok());
  EXPECT_EQ(a.kv.Delete("color").code(), absl::StatusCode::kNotFound);
  b.kv.OnUserMessage(a.sent.back());
  EXPECT_THAT(b.kv.Items(), IsEmpty());
}

TEST(KvStoreTest, LastWriterWinsByLamportThenNode) {
  EXPECT_TRUE(NewerStamp(2, "a", 1, "z"));
  EXPECT_TRUE(NewerStamp(1, "b", 1, "a"));
  EXPECT_FALSE(NewerStamp(1, "a", 1, "a"));
  Node a("alice"), b("bob");
  ASSERT_TRUE(a.kv.Set("k", "from-alice").ok());  // (1, alice)
  ASSERT_TRUE(b.kv.Set("k", "from-bob").ok());    // (1, bob): wins the tie
  a.kv.OnUserMessage(b.sent[0]);
  b.kv.OnUserMessage(a.sent[0]);
  EXPECT_EQ(a.kv.Items().at("k"), "from-bob");
  EXPECT_EQ(b.kv.Items().at("k"), "from-bob");
  // A later write (higher lamport after seeing bob's) wins everywhere.
  ASSERT_TRUE(a.kv.Set("k", "again").ok());
  b.kv.OnUserMessage(a.sent.back());
  EXPECT_EQ(b.kv.Items().at("k"), "again");
}

TEST(KvStoreTest, PushPullStateConverges) {
  Node a("alice"), b("bob");
  ASSERT_TRUE(a.kv.Set("x", "1").ok());
  ASSERT_TRUE(a.kv.Set("y", "2").ok());
  ASSERT_TRUE(a.kv.Delete("y").ok());
  ASSERT_TRUE(b.kv.Set("z", "3").ok());
  b.kv.MergeRemoteState(a.kv.LocalState(false), false);
  a.kv.MergeRemoteState(b.kv.LocalState(false), false);
  EXPECT_EQ(a.kv.Items(), b.kv.Items());
  EXPECT_THAT(a.kv.Items(), ElementsAre(Pair("x", "1"), Pair("z", "3")));
}

TEST(KvStoreTest, GarbageIsIgnored) {
  Node a("alice");
  a.kv.OnUserMessage("\xff\xff garbage");
  a.kv.MergeRemoteState("\x01\x02", true);
  EXPECT_THAT(a.kv.Items(), IsEmpty());
}

// Issue 12: a stamp at the top of the range made the next local Set wrap
// to lamport 0 (losing to everything); and the map grew without limit.
TEST(KvStoreTest, LamportNearTheTopIsRefused) {
  Node a("alice");
  ::peer::v1::KvEntry e;
  e.set_key("k");
  e.set_value("forged");
  e.set_node("mallory");
  e.set_lamport(std::numeric_limits<uint64_t>::max());
  EXPECT_FALSE(a.kv.Merge(e));
  EXPECT_EQ(a.kv.refused(), 1u);
  EXPECT_TRUE(a.kv.Set("k", "mine").ok());
  EXPECT_EQ(a.kv.lamport(), 1u);
  EXPECT_THAT(a.kv.Items(), ElementsAre(Pair("k", "mine")));
}

::peer::v1::KvEntry Forged(uint64_t lamport) {
  ::peer::v1::KvEntry e;
  e.set_key("k");
  e.set_value("forged");
  e.set_node("mallory");
  e.set_lamport(lamport);
  return e;
}

// Issue 13: one entry at exactly kMaxLamport was accepted; the next local
// write was kMaxLamport + 1, which every other member refused, so writes
// never converged again. Now a time more than the window above the clock
// is ignored and counted, and later writes converge.
TEST(KvStoreTest, LamportJumpBeyondTheWindowIsIgnored) {
  Node a("alice"), b("bob");
  ASSERT_TRUE(a.kv.Set("k", "v1").ok());
  b.kv.OnUserMessage(a.sent.back());
  const uint64_t jump = a.kv.lamport() + (uint64_t{1} << 33);
  for (uint64_t t : {kMaxLamport, jump}) {
    EXPECT_FALSE(a.kv.Merge(Forged(t))) << t;  // failed before: accepted
    EXPECT_FALSE(b.kv.Merge(Forged(t))) << t;
  }
  EXPECT_EQ(a.kv.lamport_jumps_ignored(), 2u);
  EXPECT_EQ(a.kv.refused(), 0u);
  EXPECT_EQ(a.kv.lamport(), 1u);
  ASSERT_TRUE(a.kv.Set("k", "v2").ok());
  b.kv.OnUserMessage(a.sent.back());
  EXPECT_THAT(b.kv.Items(), ElementsAre(Pair("k", "v2")));
  ASSERT_TRUE(b.kv.Set("k", "v3").ok());
  a.kv.OnUserMessage(b.sent.back());
  EXPECT_THAT(a.kv.Items(), ElementsAre(Pair("k", "v3")));
  // A legitimate jump (a late joiner, a long partition) within the window.
  Node late("carol");
  EXPECT_TRUE(late.kv.Merge(Forged(kLamportWindow)));
  EXPECT_EQ(late.kv.lamport(), kLamportWindow);
  EXPECT_EQ(late.kv.lamport_jumps_ignored(), 0u);
}

// The local clock saturates: at kMaxLamport a write is refused and nothing
// is sent (before, it went out at kMaxLamport + 1 and was refused
// everywhere).
TEST(KvStoreTest, LocalWriteAtTheCapIsRefusedAndNotSent) {
  Node a("alice", std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(a.kv.Merge(Forged(kMaxLamport)));
  const size_t sent = a.sent.size();
  absl::Status s = a.kv.Set("x", "y");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(a.kv.Delete("k").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(a.kv.lamport(), kMaxLamport);  // failed before: kMaxLamport + 1
  EXPECT_EQ(a.sent.size(), sent);
  EXPECT_THAT(a.kv.Items(), ElementsAre(Pair("k", "forged")));
}

TEST(KvStoreTest, EntriesFromTheNetworkAreBounded) {
  Node a("alice");
  for (size_t i = 0; i < kMaxKvEntries + 10; ++i) {
    ::peer::v1::KvEntry e;
    e.set_key("k" + std::to_string(i));
    e.set_value("v");
    e.set_node("mallory");
    e.set_lamport(1);
    a.kv.Merge(e);
  }
  EXPECT_EQ(a.kv.entries().size(), kMaxKvEntries);
  EXPECT_EQ(a.kv.refused(), 10u);
  ::peer::v1::KvEntry big;
  big.set_key(std::string(kMaxKvKeyBytes + 1, 'k'));
  big.set_node("mallory");
  big.set_lamport(2);
  EXPECT_FALSE(a.kv.Merge(big));
}

}  // namespace
}  // namespace peerlab::membership
