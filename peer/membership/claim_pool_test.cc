#include "peer/membership/claim_pool.h"

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "peer/membership/node_state.h"

namespace peerlab::membership {
namespace {

ClaimPool::Claim MakeClaim(StringPool& strings, const std::string& name,
                           uint64_t incarnation) {
  return {.name = strings.Intern(name),
          .addr = strings.Intern(name + ":7946"),
          .id = strings.Intern("id-" + name),
          .meta = strings.Intern("meta"),
          .public_key = strings.Intern("key-" + name),
          .signature =
              strings.Intern("sig-" + name + "-" + std::to_string(incarnation)),
          .incarnation = incarnation,
          .generation = 7};
}

// A record holds one Ref, N² records in a simulation.
static_assert(sizeof(ClaimPool::Ref) == 4);
static_assert(sizeof(internal::NodeState) <= 16);

TEST(ClaimPoolTest, EqualClaimsShareOneCopy) {
  StringPool strings;
  ClaimPool pool(&strings);
  ClaimPool::Ref a = pool.Intern(MakeClaim(strings, "node-1", 1));
  ClaimPool::Ref b = pool.Intern(MakeClaim(strings, "node-1", 1));
  EXPECT_EQ(a.index(), b.index());
  EXPECT_EQ(&*a, &*b);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(a->name, "node-1");
  EXPECT_EQ(a->addr, "node-1:7946");
  EXPECT_EQ(a->id, "id-node-1");
  EXPECT_EQ(a->meta, "meta");
  EXPECT_EQ(a->public_key, "key-node-1");
  EXPECT_EQ(a->signature, "sig-node-1-1");
  EXPECT_EQ(a->incarnation, 1u);
  EXPECT_EQ(a->generation, 7u);
}

TEST(ClaimPoolTest, AnyFieldMakesAnotherClaim) {
  StringPool strings;
  ClaimPool pool(&strings);
  const ClaimPool::Claim base = MakeClaim(strings, "n", 1);
  std::vector<ClaimPool::Claim> variants(8, base);
  variants[0].name = strings.Intern("m");
  variants[1].addr = strings.Intern("elsewhere:1");
  variants[2].id = strings.Intern("id-2");
  variants[3].meta = strings.Intern("other meta");
  variants[4].public_key = strings.Intern("key-2");
  variants[5].signature = strings.Intern("sig-2");
  variants[6].incarnation = 2;
  variants[7].generation = 8;
  ClaimPool::Ref first = pool.Intern(base);
  std::vector<ClaimPool::Ref> refs;
  for (const ClaimPool::Claim& v : variants) {
    refs.push_back(pool.Intern(v));
    EXPECT_NE(refs.back().index(), first.index());
  }
  EXPECT_EQ(pool.size(), 9u);
}

// A name keeps its number while some claim holds it (every incarnation
// of the member the same); a name no claim holds any more gives its number
// to the next new name, so the numbers stay dense.
TEST(ClaimPoolTest, NamesAreNumberedDenselyWhileAClaimHoldsThem) {
  StringPool strings;
  ClaimPool pool(&strings);
  EXPECT_EQ(pool.name_numbers_end(), 1u);
  ClaimPool::Ref a1 = pool.Intern(MakeClaim(strings, "a", 1));
  ClaimPool::Ref b = pool.Intern(MakeClaim(strings, "b", 1));
  EXPECT_EQ(a1->name_number, 1u);
  EXPECT_EQ(b->name_number, 2u);
  EXPECT_EQ(pool.NameNumber(strings.IndexOf("b")), 2u);
  EXPECT_EQ(pool.NameNumber(strings.IndexOf("nobody")), 0u);
  EXPECT_EQ(pool.name_numbers_end(), 3u);
  ClaimPool::Ref a2 = pool.Intern(MakeClaim(strings, "a", 2));
  EXPECT_EQ(a2->name_number, 1u);
  a1 = ClaimPool::Ref();
  EXPECT_EQ(pool.NameNumber(strings.IndexOf("a")), 1u);  // a2 holds it
  a2 = ClaimPool::Ref();
  EXPECT_EQ(pool.NameNumber(strings.IndexOf("a")), 0u);
  ClaimPool::Ref c = pool.Intern(MakeClaim(strings, "c", 1));
  EXPECT_EQ(c->name_number, 1u);  // a's
  EXPECT_EQ(pool.name_numbers_end(), 3u);
  // A claim without a name (never a member's) has no number.
  ClaimPool::Claim nameless = MakeClaim(strings, "d", 1);
  nameless.name = StringPool::Ref();
  EXPECT_EQ(pool.Intern(nameless)->name_number, 0u);
}

TEST(ClaimPoolTest, LastRefFreesTheClaimAndItsStrings) {
  StringPool strings;
  ClaimPool pool(&strings);
  {
    ClaimPool::Ref a = pool.Intern(MakeClaim(strings, "x", 3));
    EXPECT_EQ(strings.size(), 6u);  // the claim holds its strings
    {
      ClaimPool::Ref copy = a;
      ClaimPool::Ref moved = std::move(copy);
      EXPECT_EQ(moved->name, "x");
      EXPECT_EQ(pool.size(), 1u);
    }
    EXPECT_EQ(pool.size(), 1u);
    EXPECT_EQ(a->incarnation, 3u);
    ClaimPool::Ref b = pool.Intern(MakeClaim(strings, "y", 1));
    a = b;  // x's claim has no holder left
    EXPECT_EQ(pool.size(), 1u);
    EXPECT_EQ(a->name, "y");
  }
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(strings.size(), 0u);
}

TEST(ClaimPoolTest, EmptyClaimIsNeverStored) {
  StringPool strings;
  ClaimPool pool(&strings);
  ClaimPool::Ref e = pool.Intern(ClaimPool::Claim());
  ClaimPool::Ref d;
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.index(), 0u);
  EXPECT_EQ(d->name, "");
  EXPECT_EQ(d->incarnation, 0u);
  EXPECT_EQ(pool.size(), 0u);
  ClaimPool::Ref only_incarnation = pool.Intern({.incarnation = 1});
  EXPECT_FALSE(only_incarnation.empty());  // not the empty claim
}

TEST(ClaimPoolTest, EditingACopyLeavesTheSharedClaimAlone) {
  StringPool strings;
  ClaimPool pool(&strings);
  ClaimPool::Ref a = pool.Intern(MakeClaim(strings, "n", 1));
  ClaimPool::Ref b = a;  // two records of one member
  ClaimPool::Claim edited = *b;
  edited.incarnation = 2;
  b = pool.Intern(std::move(edited));
  EXPECT_EQ(a->incarnation, 1u);
  EXPECT_EQ(b->incarnation, 2u);
  EXPECT_EQ(a->name.index(), b->name.index());  // one name string
  EXPECT_EQ(pool.size(), 2u);
}

TEST(ClaimPoolTest, FreedClaimsGiveTheirPlaceToNewOnes) {
  StringPool strings;
  ClaimPool pool(&strings);
  for (int round = 0; round < 50; ++round) {
    std::vector<ClaimPool::Ref> refs;
    for (int i = 0; i < 2000; ++i) {
      refs.push_back(pool.Intern(MakeClaim(strings, std::to_string(i), round)));
    }
    EXPECT_EQ(refs[1234]->name, "1234");
    EXPECT_EQ(refs[1234]->incarnation, static_cast<uint64_t>(round));
    EXPECT_EQ(pool.size(), 2000u);
  }
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(strings.size(), 0u);
}

TEST(ClaimPoolTest, AVerifiedClaimIsFoundBySignatureUntilItsLastRefGoes) {
  StringPool strings;
  ClaimPool pool(&strings);
  StringPool::Ref notice;
  EXPECT_TRUE(pool.FindVerifiedAlive("sig-n-1", &notice).empty());
  {
    ClaimPool::Ref a = pool.Intern(MakeClaim(strings, "n", 1));
    ClaimPool::Ref b = pool.Intern(MakeClaim(strings, "m", 1));  // not marked
    EXPECT_TRUE(pool.FindVerifiedAlive("sig-n-1", &notice).empty());
    pool.MarkVerifiedAlive(a, strings.Intern("notice of n"));
    ClaimPool::Ref found = pool.FindVerifiedAlive("sig-n-1", &notice);
    EXPECT_EQ(found.index(), a.index());
    EXPECT_EQ(notice, "notice of n");
    EXPECT_TRUE(pool.FindVerifiedAlive("sig-m-1", &notice).empty());
    EXPECT_TRUE(pool.FindVerifiedAlive("no such signature", &notice).empty());
    notice = StringPool::Ref();
    a = ClaimPool::Ref();
    EXPECT_EQ(pool.size(), 2u);  // `found` holds it
    found = ClaimPool::Ref();
    EXPECT_EQ(pool.size(), 1u);
    // Forgotten with the claim, and its notice freed.
    EXPECT_TRUE(pool.FindVerifiedAlive("sig-n-1", &notice).empty());
    EXPECT_EQ(strings.IndexOf("notice of n"), 0u);
    // The same claim interned again is not verified until marked again.
    a = pool.Intern(MakeClaim(strings, "n", 1));
    EXPECT_TRUE(pool.FindVerifiedAlive("sig-n-1", &notice).empty());
  }
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(strings.size(), 0u);
}

// Real peers may run several memberlists in one process, each with its own
// pools on its own thread: they share only the process-wide tables, whose
// slots are taken and given back under a lock (run under TSan to see a
// race; without it, a lost slot or a claim read with another thread's
// fields fails the checks).
TEST(ClaimPoolTest, PoolsOnDifferentThreadsAreIndependent) {
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      StringPool strings;
      ClaimPool pool(&strings);
      for (int round = 0; round < 20; ++round) {
        std::vector<ClaimPool::Ref> refs;
        for (int i = 0; i < 500; ++i) {
          refs.push_back(
              pool.Intern(MakeClaim(strings, absl::StrCat("t", t, "-", i),
                                    static_cast<uint64_t>(round))));
        }
        for (int i = 0; i < 500; ++i) {
          if (refs[i]->name != absl::StrCat("t", t, "-", i) ||
              refs[i]->incarnation != static_cast<uint64_t>(round)) {
            ++failures[t];
          }
        }
        if (pool.size() != 500u) ++failures[t];
      }
      if (pool.size() != 0u || strings.size() != 0u) ++failures[t];
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << t;
}

}  // namespace
}  // namespace peerlab::membership
