#include "peer/membership/kv_store.h"

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

}  // namespace
}  // namespace peerlab::membership
