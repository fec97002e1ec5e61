#include "peer/membership/string_pool.h"

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

}  // namespace
}  // namespace peerlab::membership
