#include "peer/membership/string_pool.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

TEST(StringPoolTest, EqualStringsShareOneCopy) {
  StringPool pool;
  StringPool::Ref a = pool.Intern("node-1");
  StringPool::Ref b = pool.Intern(std::string("node-") + "1");
  EXPECT_EQ(&a.str(), &b.str());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "node-1");
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.bytes(), 6u);
  StringPool::Ref c = pool.Intern("node-2");
  EXPECT_NE(a, c);
  EXPECT_EQ(pool.size(), 2u);
}

TEST(StringPoolTest, LastRefFreesTheString) {
  StringPool pool;
  {
    StringPool::Ref a = pool.Intern("x");
    {
      StringPool::Ref copy = a;
      StringPool::Ref moved = std::move(copy);
      EXPECT_EQ(moved, "x");
      EXPECT_EQ(pool.size(), 1u);
    }
    EXPECT_EQ(pool.size(), 1u);
    EXPECT_EQ(a.str(), "x");
  }
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.bytes(), 0u);
}

TEST(StringPoolTest, AssignmentMovesTheCounts) {
  StringPool pool;
  StringPool::Ref a = pool.Intern("a");
  StringPool::Ref b = pool.Intern("b");
  a = b;  // "a" has no holder left
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(a, "b");
  a = StringPool::Ref();
  b = StringPool::Ref();
  EXPECT_EQ(pool.size(), 0u);
}

TEST(StringPoolTest, EmptyIsNeverStored) {
  StringPool pool;
  StringPool::Ref e = pool.Intern("");
  StringPool::Ref d;
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e, d);
  EXPECT_EQ(d.str(), "");
  EXPECT_EQ(pool.size(), 0u);
}

TEST(StringPoolTest, ManyHoldersOfManyStrings) {
  StringPool pool;
  std::vector<StringPool::Ref> refs;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1000; ++i) {
      refs.push_back(pool.Intern("member-" + std::to_string(i)));
    }
  }
  EXPECT_EQ(pool.size(), 1000u);
  refs.erase(refs.begin(), refs.begin() + 2000);
  EXPECT_EQ(pool.size(), 1000u);
  refs.clear();
  EXPECT_EQ(pool.size(), 0u);
}

// A member record holds six Refs, N² records in a simulation.
static_assert(sizeof(StringPool::Ref) == 4);

TEST(StringPoolTest, TwoPoolsKeepTheirOwnCopies) {
  StringPool a_pool, b_pool;
  StringPool::Ref a = a_pool.Intern("same");
  StringPool::Ref b = b_pool.Intern("same");
  EXPECT_EQ(a, b);                // equal strings
  EXPECT_NE(&a.str(), &b.str());  // two copies, one per pool
  a = StringPool::Ref();
  EXPECT_EQ(a_pool.size(), 0u);
  EXPECT_EQ(b_pool.size(), 1u);
  EXPECT_EQ(b.str(), "same");
}

TEST(StringPoolTest, IndexOfFindsAStoredStringWithoutStoringOne) {
  StringPool pool, other;
  StringPool::Ref a = pool.Intern("alice");
  StringPool::Ref b = other.Intern("alice");
  EXPECT_NE(a.index(), 0u);
  EXPECT_EQ(pool.IndexOf("alice"), a.index());
  EXPECT_EQ(other.IndexOf("alice"), b.index());
  EXPECT_NE(a.index(), b.index());  // one index per pool's copy
  EXPECT_EQ(pool.Intern("alice").index(), a.index());
  EXPECT_EQ(pool.IndexOf("bob"), 0u);
  EXPECT_EQ(pool.IndexOf(""), 0u);
  EXPECT_EQ(pool.size(), 1u);  // IndexOf stored nothing
  a = StringPool::Ref();
  EXPECT_EQ(pool.IndexOf("alice"), 0u);  // freed with its last Ref
}

TEST(StringPoolTest, FreedStringsGiveTheirPlaceToNewOnes) {
  StringPool pool;
  for (int round = 0; round < 100; ++round) {
    std::vector<StringPool::Ref> refs;
    for (int i = 0; i < 2000; ++i) {
      refs.push_back(
          pool.Intern(std::to_string(round) + "/" + std::to_string(i)));
    }
    EXPECT_EQ(refs[1234].str(), std::to_string(round) + "/1234");
    EXPECT_EQ(pool.size(), 2000u);
  }
  EXPECT_EQ(pool.size(), 0u);
}

}  // namespace
}  // namespace peerlab::membership
