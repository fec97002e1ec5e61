#include "test-harness/check/kv_check.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness::check {
namespace {

using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1000);
absl::Time T(double s) { return kStart + absl::Seconds(s); }

KvHistory::Write Add(const std::string& peer, const std::string& key,
                     const std::string& value, uint64_t lamport, double at) {
  return {.peer = peer,
          .key = key,
          .value = value,
          .lamport = lamport,
          .at = T(at)};
}
KvHistory::Write Del(const std::string& peer, const std::string& key,
                     uint64_t lamport, double at) {
  return {.peer = peer,
          .key = key,
          .deleted = true,
          .lamport = lamport,
          .at = T(at)};
}

// alice wrote x=1 then bob x=2 (newer), carol y=3 then deleted it.
KvHistory Base() {
  KvHistory h;
  h.start = kStart;
  h.writes = {Add("alice", "x", "1", 1, 1), Add("bob", "x", "2", 2, 2),
              Add("carol", "y", "3", 1, 1), Del("carol", "y", 2, 3)};
  std::map<std::string, KvEntry> m = {
      {"x", {.value = "2", .lamport = 2, .node = "bob"}},
      {"y", {.lamport = 2, .node = "carol", .deleted = true}}};
  for (const char* p : {"alice", "bob", "carol"}) {
    h.final_maps[p] = m;
    h.healthy_since[p] = T(0);
  }
  return h;
}

TEST(KvCheckTest, Passes) {
  CheckResult r = CheckKv(Base());
  EXPECT_TRUE(r.ok) << FormatCheckResult(r);
  EXPECT_EQ(r.summary,
            "3 healthy peers hold the same 1 keys, the last of 4 acknowledged "
            "writes");
}

TEST(KvCheckTest, TableOfHistories) {
  struct Case {
    std::string name;
    std::function<void(KvHistory&)> change;
    bool ok;
    std::string says;
  };
  const Case cases[] = {
      {"a tombstone forgotten on one peer is no difference",
       [](KvHistory& h) { h.final_maps["bob"].erase("y"); }, true, ""},
      {"maps differ",
       [](KvHistory& h) {
         h.final_maps["carol"]["x"] = {
             .value = "1", .lamport = 1, .node = "alice"};
       },
       false,
       "key x: alice has \"2\" (lamport 2, bob), carol has \"1\" (lamport 1, "
       "alice)"},
      {"a key missing on one peer",
       [](KvHistory& h) { h.final_maps["bob"].erase("x"); }, false,
       "key x: alice has \"2\" (lamport 2, bob), bob has none"},
      {"the last write lost everywhere",
       [](KvHistory& h) {
         for (auto& [p, m] : h.final_maps) {
           m["x"] = {.value = "1", .lamport = 1, .node = "alice"};
         }
       },
       false,
       "key x: the last write broadcastadd by bob of \"2\" (lamport 2) at 2 "
       "s; the healthy peers hold \"1\" (lamport 1, alice)"},
      {"a lost write of a writer killed later is allowed",
       [](KvHistory& h) {
         for (auto& [p, m] : h.final_maps) {
           m["x"] = {.value = "1", .lamport = 1, .node = "alice"};
         }
         h.healthy_since.erase("bob");
         h.final_maps.erase("bob");
       },
       true, ""},
      {"a delete lost everywhere",
       [](KvHistory& h) {
         for (auto& [p, m] : h.final_maps) {
           m["y"] = {.value = "3", .lamport = 1, .node = "carol"};
         }
       },
       false, "key y: the last write broadcastdel by carol (lamport 2)"},
      {"a value nobody wrote",
       [](KvHistory& h) {
         for (auto& [p, m] : h.final_maps) {
           m["z"] = {.value = "9", .lamport = 7, .node = "bob"};
         }
       },
       false,
       "key z: the healthy peers hold \"9\" (lamport 7, bob), which no "
       "broadcastadd of the run wrote"},
      {"a value of a write whose outcome is unknown",
       [](KvHistory& h) {
         h.writes.push_back({.peer = "bob",
                             .key = "z",
                             .value = "9",
                             .acknowledged = false,
                             .at = T(4)});
         for (auto& [p, m] : h.final_maps) {
           m["z"] = {.value = "9", .lamport = 7, .node = "bob"};
         }
       },
       true, ""},
      {"the same stamp with another value",
       [](KvHistory& h) {
         for (auto& [p, m] : h.final_maps) {
           m["x"] = {.value = "5", .lamport = 2, .node = "bob"};
         }
       },
       false, "a key holds another value than its write"},
      {"no map read", [](KvHistory& h) { h.final_maps.clear(); }, false,
       "no healthy peer's map was read"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    KvHistory h = Base();
    c.change(h);
    CheckResult r = CheckKv(h);
    EXPECT_EQ(r.ok, c.ok) << FormatCheckResult(r);
    if (!c.says.empty()) {
      EXPECT_THAT(r.counterexample + r.summary, HasSubstr(c.says))
          << FormatCheckResult(r);
    }
  }
}

TEST(KvCheckTest, WritesOfSteps) {
  auto w = KvWritesOfStep("alice", "broadcastadd k hello  world", true,
                          {"k = hello world (lamport 4)"}, T(1));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].key, "k");
  EXPECT_EQ(w[0].value, "hello world");
  EXPECT_EQ(w[0].lamport, 4u);
  EXPECT_TRUE(w[0].acknowledged);
  w = KvWritesOfStep("alice", "broadcastadd k v", false, {}, T(1));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_FALSE(w[0].acknowledged);
  w = KvWritesOfStep("bob", "broadcastdel a b", true,
                     {"deleted a (lamport 5), b (lamport 6)"}, T(1));
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].key, "a");
  EXPECT_EQ(w[0].lamport, 5u);
  EXPECT_TRUE(w[0].deleted);
  EXPECT_EQ(w[1].key, "b");
  EXPECT_EQ(w[1].lamport, 6u);
  EXPECT_TRUE(KvWritesOfStep("bob", "msg hi", true, {}, T(1)).empty());
}

TEST(KvCheckTest, ParsesStampedLists) {
  auto m = ParseKvList(
      {"a @3 bob = x y", "b @4 alice deleted", "c @1 al = ", "1 key(s)"});
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ(m->at("a"), (KvEntry{.value = "x y", .lamport = 3, .node = "bob"}));
  EXPECT_EQ(m->at("b"),
            (KvEntry{.lamport = 4, .node = "alice", .deleted = true}));
  EXPECT_EQ(m->at("c").value, "");
  EXPECT_FALSE(ParseKvList({"a = x"}).ok());
  EXPECT_FALSE(ParseKvList({"a @x bob = 1"}).ok());
}

}  // namespace
}  // namespace peerlab::harness::check
