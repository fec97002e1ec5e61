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
  explicit Node(const std::string& name)
      : kv(name, [this](std::string payload, const std::string&) {
          sent.push_back(std::move(payload));
        }) {}
  KvStore kv;
  std::vector<std::string> sent;
};

TEST(KvStoreTest, SetDeleteAndSpread) {
  Node a("alice"), b("bob");
  a.kv.Set("color", "red");
  ASSERT_EQ(a.sent.size(), 1u);
  b.kv.OnUserMessage(a.sent[0]);
  EXPECT_THAT(b.kv.Items(), ElementsAre(Pair("color", "red")));
  EXPECT_EQ(b.sent.size(), 1u);  // news is re-gossiped
  b.kv.OnUserMessage(a.sent[0]);
  EXPECT_EQ(b.sent.size(), 1u);  // old news is not
  EXPECT_TRUE(a.kv.Delete("color"));
  EXPECT_FALSE(a.kv.Delete("color"));
  b.kv.OnUserMessage(a.sent.back());
  EXPECT_THAT(b.kv.Items(), IsEmpty());
}

TEST(KvStoreTest, LastWriterWinsByLamportThenNode) {
  EXPECT_TRUE(NewerStamp(2, "a", 1, "z"));
  EXPECT_TRUE(NewerStamp(1, "b", 1, "a"));
  EXPECT_FALSE(NewerStamp(1, "a", 1, "a"));
  Node a("alice"), b("bob");
  a.kv.Set("k", "from-alice");  // (1, alice)
  b.kv.Set("k", "from-bob");    // (1, bob): wins the tie
  a.kv.OnUserMessage(b.sent[0]);
  b.kv.OnUserMessage(a.sent[0]);
  EXPECT_EQ(a.kv.Items().at("k"), "from-bob");
  EXPECT_EQ(b.kv.Items().at("k"), "from-bob");
  // A later write (higher lamport after seeing bob's) wins everywhere.
  a.kv.Set("k", "again");
  b.kv.OnUserMessage(a.sent.back());
  EXPECT_EQ(b.kv.Items().at("k"), "again");
}

TEST(KvStoreTest, PushPullStateConverges) {
  Node a("alice"), b("bob");
  a.kv.Set("x", "1");
  a.kv.Set("y", "2");
  a.kv.Delete("y");
  b.kv.Set("z", "3");
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
  a.kv.Set("k", "mine");
  EXPECT_EQ(a.kv.lamport(), 1u);
  EXPECT_THAT(a.kv.Items(), ElementsAre(Pair("k", "mine")));
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
