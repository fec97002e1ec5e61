#include "test-harness/nemesis/nemesis.h"

#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness::nemesis {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Peers(int n) {
  std::vector<std::string> peers;
  for (int i = 1; i <= n; ++i) peers.push_back(absl::StrCat("p", i));
  return peers;
}

std::vector<std::string> Lines(const std::vector<Action>& actions) {
  std::vector<std::string> lines;
  for (const auto& a : actions) {
    lines.push_back(
        absl::StrCat(absl::ToInt64Milliseconds(a.at), "ms ", a.ToString()));
  }
  return lines;
}

// "kill,stop every 1s..3s for 30s [max N]".
Plan Spec(const std::string& text) {
  std::vector<std::string> w = absl::StrSplit(text, ' ');
  Plan plan;
  for (absl::string_view name : absl::StrSplit(w[0], ',')) {
    for (Fault f : {Fault::kKill, Fault::kStop, Fault::kPartition, Fault::kLoss,
                    Fault::kDelay, Fault::kOneway}) {
      if (name == FaultName(f)) plan.faults.push_back(f);
    }
  }
  std::vector<std::string> range = absl::StrSplit(w[2], "..");
  EXPECT_TRUE(absl::ParseDuration(range[0], &plan.min_interval));
  EXPECT_TRUE(absl::ParseDuration(range[1], &plan.max_interval));
  EXPECT_TRUE(absl::ParseDuration(w[4], &plan.duration));
  if (w.size() > 6) {
    EXPECT_TRUE(absl::SimpleAtoi(w[6], &plan.max_faulted));
  }
  return plan;
}

TEST(ScheduleTest, SameSeedSameSchedule) {
  Plan spec =
      Spec("kill,stop,partition,loss,delay,oneway every 1s..3s for 30s");
  auto a = Schedule(spec, Peers(20), 42);
  auto b = Schedule(spec, Peers(20), 42);
  auto c = Schedule(spec, Peers(20), 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(Lines(*a), Lines(*b));
  EXPECT_NE(Lines(*a), Lines(*c));
  EXPECT_GE(a->size(), 20u);  // 10+ faults and their heals
}

// The exact schedule of one seed: a change here changes what `--seed`
// replays, so it must be deliberate.
TEST(ScheduleTest, ReplaysExactly) {
  auto s = Schedule(
      Spec("kill,stop,partition,loss,delay,oneway every 1s..2s for 6s"),
      Peers(5), 7);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(absl::StrJoin(Lines(*s), "\n"),
            "1792ms kill p3\n"
            "3682ms netem p2 loss 40%\n"
            "3703ms start p3\n"
            "3703ms p3 init\n"
            "4723ms netem p4 loss 40%\n"
            "5064ms netem p2 clear\n"
            "6000ms netem p4 clear");
}

TEST(ScheduleTest, Refuses) {
  const std::tuple<std::string, int, std::string> cases[] = {
      {"kill every 1s..2s for 6s", 2, "no strict minority"},
      {"kill every 1s..2s for 6s", 0, "no peers"},
      {"kill every 1s..2s for 6s max 4", 3, "more than the 3 peers"},
      {"oneway every 1s..2s for 6s max 1", 1, "needs 2 peers"},
  };
  for (const auto& [text, n, error] : cases) {
    SCOPED_TRACE(text);
    auto s = Schedule(Spec(text), Peers(n), 1);
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(error));
  }
  // Asked for: two peers, one at a time; a strict minority of a group.
  EXPECT_TRUE(
      Schedule(Spec("kill every 1s..2s for 6s max 1"), Peers(2), 1).ok());
  auto on = Schedule(Spec("kill,partition every 100ms..200ms for 5s"),
                     {"p2", "p4", "p6"}, 1);
  ASSERT_TRUE(on.ok());
  for (const auto& a : *on) {
    for (const auto& p : a.affected) {
      EXPECT_TRUE(p == "p2" || p == "p4" || p == "p6") << a.ToString();
    }
  }
}

// Over many seeds, sizes and mixes: sorted; never more than the allowed
// number faulted at once; at most one network-wide fault; every fault healed
// by the end, with the heal matching the fault; only targets are touched.
TEST(ScheduleTest, Invariants) {
  const std::string mixes[] = {
      "kill,stop,partition,loss,delay,oneway every 200ms..1s for 20s",
      "partition every 100ms..300ms for 10s",
      "kill,stop every 100ms..2s for 10s max 2",
      "oneway,partition every 100ms..200ms for 5s",
      "partition,stop every 100ms..200ms for 5s",
  };
  for (const std::string& mix : mixes) {
    for (int n : {3, 4, 5, 9, 20}) {
      for (uint64_t seed = 0; seed < 40; ++seed) {
        SCOPED_TRACE(absl::StrCat(mix, " n=", n, " seed=", seed));
        Plan spec = Spec(mix);
        auto s = Schedule(spec, Peers(n), seed);
        ASSERT_TRUE(s.ok()) << s.status();
        const int allowed = spec.max_faulted ? spec.max_faulted : (n - 1) / 2;
        std::set<std::string> allowed_peers;
        for (auto& p : Peers(n)) allowed_peers.insert(p);
        std::map<int, std::vector<std::string>> open;  // fault id -> victims
        std::map<int, Action::Kind> kinds;
        int network = 0;
        absl::Duration last = absl::ZeroDuration();
        for (const Action& a : *s) {
          ASSERT_GE(a.at, last) << a.ToString();
          last = a.at;
          ASSERT_LE(a.at, spec.duration);
          for (const auto& p : a.affected) {
            ASSERT_TRUE(allowed_peers.count(p)) << a.ToString();
          }
          const bool network_wide = a.kind == Action::Kind::kPartition ||
                                    a.kind == Action::Kind::kOneway;
          if (!a.heal) {
            ASSERT_FALSE(open.count(a.fault_id));
            open[a.fault_id] = a.affected;
            kinds[a.fault_id] = a.kind;
            if (network_wide) ++network;
            ASSERT_LE(network, 1) << a.ToString();
            size_t faulted = 0;
            std::set<std::string> all;
            for (auto& [id, v] : open) all.insert(v.begin(), v.end());
            faulted = all.size();
            ASSERT_LE(faulted, static_cast<size_t>(allowed)) << a.ToString();
            ASSERT_EQ(all.size(),
                      [&] {
                        size_t sum = 0;
                        for (auto& [id, v] : open) sum += v.size();
                        return sum;
                      }())
                << "a peer under two faults: " << a.ToString();
          } else {
            ASSERT_TRUE(open.count(a.fault_id)) << a.ToString();
            ASSERT_EQ(open[a.fault_id], a.affected) << a.ToString();
            using K = Action::Kind;
            K fault = kinds[a.fault_id];
            switch (a.kind) {
              case K::kStart:
                ASSERT_EQ(fault, K::kKill);
                continue;  // the init follows
              case K::kCommand:
                ASSERT_EQ(fault, K::kKill);
                ASSERT_EQ(a.args, std::vector<std::string>{"init"});
                break;
              case K::kCont:
                ASSERT_EQ(fault, K::kStop);
                break;
              case K::kHeal:
                ASSERT_TRUE(fault == K::kPartition || fault == K::kOneway);
                --network;
                break;
              case K::kNetem:
                ASSERT_EQ(fault, K::kNetem);
                ASSERT_EQ(a.args, std::vector<std::string>{"clear"});
                break;
              default:
                FAIL() << "not a heal: " << a.ToString();
            }
            open.erase(a.fault_id);
          }
        }
        EXPECT_TRUE(open.empty()) << "left broken: " << open.size();
      }
    }
  }
}

TEST(ScheduleTest, PartitionSplitsEveryPeerIntoTwoSides) {
  auto s = Schedule(Spec("partition every 100ms..200ms for 5s"), Peers(7), 3);
  ASSERT_TRUE(s.ok());
  int partitions = 0;
  for (const auto& a : *s) {
    if (a.kind != Action::Kind::kPartition) continue;
    ++partitions;
    ASSERT_EQ(a.groups.size(), 2u);
    EXPECT_LE(a.groups[0].size(), 3u);  // a strict minority of 7
    EXPECT_EQ(a.groups[0].size() + a.groups[1].size(), 7u);
  }
  EXPECT_GT(partitions, 5);
}

TEST(SeedForTest, MixesTheLine) {
  EXPECT_EQ(SeedFor(1, 10), SeedFor(1, 10));
  EXPECT_NE(SeedFor(1, 10), SeedFor(1, 11));
  EXPECT_NE(SeedFor(1, 10), SeedFor(2, 10));
}

}  // namespace
}  // namespace peerlab::harness::nemesis
