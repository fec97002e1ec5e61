// User events on the simulator: every member of a SimCluster has a
// UserEvents on the mux's kUserEventChannel, as the peer has.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "peer/cluster/user_events.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"

namespace peerlab::cluster {
namespace {

using membership::SimCluster;

struct Recorder : UserEventListener {
  std::vector<std::string> seen;  // "FROM/NAME:PAYLOAD@LTIME"
  void OnUserEvent(const UserEvent& e) override {
    seen.push_back(
        absl::StrCat(e.from, "/", e.name, ":", e.payload, "@", e.ltime));
  }
};

// A SimCluster whose members run UserEvents (order_delay 2 s unless
// given).
UserEventsOptions Default() {
  UserEventsOptions o;
  o.order_delay = absl::Seconds(2);
  return o;
}

// A SimCluster whose members run UserEvents.
class EventCluster {
 public:
  EventCluster(int n, uint64_t seed, double loss,
               UserEventsOptions o = Default()) {
    SimCluster::Options co;
    co.nodes = n;
    co.seed = seed;
    co.loss = loss;
    // LAN: retransmit_mult 4 makes a missed broadcast vanishingly rare
    // (LOCAL's 2 leaves some to push/pull, which comes after the order
    // delay); the order delay is ten gossip rounds.
    co.config = membership::Config::Lan();
    co.channels = [this, o](int i, membership::DelegateMux& mux,
                            runtime::Scheduler* scheduler) mutable {
      o.node = "node" + std::to_string(i);
      auto& slot = members_[i];
      slot.recorder = std::make_unique<Recorder>();
      slot.events = std::make_unique<UserEvents>(
          o, scheduler, mux.SenderFor(membership::kUserEventChannel),
          [this, i] {
            return cluster_->node(i).MaxBroadcastBytes() -
                   membership::kMuxHeaderBytes;
          });
      slot.events->AddListener(slot.recorder.get());
      (void)mux.Register(membership::kUserEventChannel, slot.events.get());
    };
    cluster_ = std::make_unique<SimCluster>(co);
    // The reliable path, for events larger than a datagram.
    for (auto& [i, slot] : members_) slot.events->Attach(&cluster_->node(i));
  }
  ~EventCluster() {
    // The nodes go first (they hold the mux, which points at the events).
    cluster_.reset();
  }
  SimCluster& c() { return *cluster_; }
  UserEvents& events(int i) { return *members_.at(i).events; }
  const std::vector<std::string>& seen(int i) {
    return members_.at(i).recorder->seen;
  }
  // Sends on node i's loop.
  void Send(int i, const std::string& name, const std::string& payload,
            bool coalesce = false) {
    cluster_->net().scheduler(i)->Post([this, i, name, payload, coalesce] {
      auto t = events(i).Send(name, payload, coalesce);
      EXPECT_TRUE(t.ok()) << t.status();
    });
  }
  absl::Duration Bound() {
    return membership::PushPullScale(
               cluster_->node(0).config().push_pull_interval,
               cluster_->size()) *
           2;
  }

 private:
  struct Slot {
    std::unique_ptr<Recorder> recorder;
    std::unique_ptr<UserEvents> events;
  };
  std::map<int, Slot> members_;  // before cluster_: destroyed after it
  std::unique_ptr<SimCluster> cluster_;
};

TEST(UserEventsSimTest, EveryMemberGetsEveryEventOnceInTheSameOrder) {
  const uint64_t seed = membership::sim::SimSeed(71);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 10;
  EventCluster ec(n, seed, 0.05);
  SimCluster& c = ec.c();
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllKnowAll(); }, ec.Bound()));
  // Bursts from several members, some at the same moment (concurrent
  // Lamport times), one member twice in a row (causal order).
  std::set<std::string> sent;
  for (int round = 0; round < 3; ++round) {
    for (int i : {0, 3, 7}) {
      ec.Send(i, "deploy", absl::StrCat("r", round, "-", i));
      sent.insert(absl::StrCat("r", round, "-", i));
    }
    ec.Send(5, "step", absl::StrCat("a", round));
    ec.Send(5, "step", absl::StrCat("b", round));
    sent.insert(absl::StrCat("a", round));
    sent.insert(absl::StrCat("b", round));
    c.RunFor(absl::Milliseconds(150));
  }
  auto all_have = [&] {
    for (int i = 0; i < n; ++i) {
      if (ec.seen(i).size() < sent.size()) return false;
    }
    return true;
  };
  ASSERT_TRUE(c.RunUntil(all_have, ec.Bound()));
  c.RunFor(absl::Seconds(5));  // nothing more may come
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(ec.seen(i).size(), sent.size()) << "node" << i;
    EXPECT_EQ(ec.seen(i), ec.seen(0)) << "node" << i << " saw another order";
    EXPECT_EQ(
        std::set<std::string>(ec.seen(i).begin(), ec.seen(i).end()).size(),
        sent.size());
    EXPECT_EQ(ec.events(i).stats().out_of_order, 0u) << "node" << i;
  }
  // node5's a<round> comes before its b<round>: Lamport order.
  for (int round = 0; round < 3; ++round) {
    auto pos = [&](const std::string& p) {
      for (size_t k = 0; k < ec.seen(0).size(); ++k) {
        if (ec.seen(0)[k].find(":" + p + "@") != std::string::npos) return k;
      }
      return ec.seen(0).size();
    };
    EXPECT_LT(pos(absl::StrCat("a", round)), pos(absl::StrCat("b", round)));
  }
}

TEST(UserEventsSimTest, ALateJoinerGetsRecentEventsReplayed) {
  const uint64_t seed = membership::sim::SimSeed(72);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  EventCluster ec(n, seed, 0.0);
  SimCluster& c = ec.c();
  const int late = n - 1;
  c.Start(0);
  for (int i = 1; i < late; ++i) c.StartAndJoin(i, 0);
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 0; i < late; ++i) {
          if (c.node(i).NumAlive() != late) return false;
        }
        return true;
      },
      ec.Bound()));
  for (int k = 0; k < 4; ++k) ec.Send(k % late, "e", absl::StrCat(k));
  ASSERT_TRUE(c.RunUntil([&] { return ec.seen(0).size() == 4; }, ec.Bound()));
  c.RunFor(absl::Seconds(5));  // the broadcasts are long done
  c.StartAndJoin(late, 1);
  ASSERT_TRUE(
      c.RunUntil([&] { return ec.seen(late).size() == 4; }, ec.Bound()));
  EXPECT_EQ(ec.seen(late), ec.seen(0));
  // And it takes part from then on.
  ec.Send(late, "e", "from-late");
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 0; i < n; ++i) {
          if (ec.seen(i).size() != 5) return false;
        }
        return true;
      },
      ec.Bound()));
  EXPECT_EQ(ec.seen(late), ec.seen(0));
}

TEST(UserEventsSimTest, CoalescedEventsDeliverOnlyTheNewest) {
  const uint64_t seed = membership::sim::SimSeed(73);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 6;
  UserEventsOptions o = Default();
  o.coalesce_period = absl::Seconds(4);
  o.quiescent_period = absl::Seconds(2);
  EventCluster ec(n, seed, 0.0, o);
  SimCluster& c = ec.c();
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllKnowAll(); }, ec.Bound()));
  for (int k = 1; k <= 5; ++k) {
    ec.Send(1, "config", absl::StrCat("v", k), /*coalesce=*/true);
    c.RunFor(absl::Milliseconds(100));
  }
  ec.Send(0, "other", "x");
  c.RunFor(absl::Seconds(12));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(ec.seen(i).size(), 2u)
        << "node" << i << ": " << absl::StrJoin(ec.seen(i), ", ");
    // The uncoalesced event first (the others wait for their period).
    EXPECT_EQ(ec.seen(i)[0].rfind("node0/other:x@", 0), 0u) << ec.seen(i)[0];
    EXPECT_EQ(ec.seen(i)[1], "node1/config:v5@5") << "node" << i;
    EXPECT_EQ(ec.events(i).stats().coalesced, 4u) << "node" << i;
  }
}

// Issue 16 (Serf's events must fit 512 bytes; ours had to fit one
// datagram): an event of 40 KiB travels as a small gossiped announcement
// whose body every member fetches on the reliable path, and reaches every
// member exactly once at 5 % datagram loss; a member that joins later gets
// it through push/pull replay (the announcement in the state, the body
// fetched from a member that holds it).
TEST(UserEventsSimTest, AFortyKiBEventReachesEveryMemberOnceAtFivePercentLoss) {
  const uint64_t seed = membership::sim::SimSeed(74);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 10;
  UserEventsOptions o = Default();
  o.max_event_bytes = 64 << 10;
  EventCluster ec(n, seed, 0.05, o);
  SimCluster& c = ec.c();
  const int late = n - 1;
  c.Start(0);
  for (int i = 1; i < late; ++i) c.StartAndJoin(i, 0);
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 0; i < late; ++i) {
          if (c.node(i).NumAlive() != late) return false;
        }
        return true;
      },
      ec.Bound()));
  std::string big(40 << 10, 'x');
  for (size_t k = 0; k < big.size(); ++k)
    big[k] = static_cast<char>('a' + k % 26);
  ec.Send(3, "blob", big);
  ec.Send(5, "small", "s");
  const std::string want_big = absl::StrCat("node3/blob:", big, "@");
  auto has_big = [&](int i) {
    int count = 0;
    for (const std::string& e : ec.seen(i)) {
      if (e.rfind(want_big, 0) == 0) ++count;
    }
    return count;
  };
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 0; i < late; ++i) {
          if (has_big(i) != 1 || ec.seen(i).size() != 2) return false;
        }
        return true;
      },
      ec.Bound()))
      << "node0 has " << ec.seen(0).size() << " events";
  c.RunFor(absl::Seconds(10));  // nothing more may come
  for (int i = 0; i < late; ++i) {
    EXPECT_EQ(has_big(i), 1) << "node" << i;
    EXPECT_EQ(ec.seen(i).size(), 2u) << "node" << i;
    EXPECT_EQ(ec.seen(i), ec.seen(0)) << "node" << i;
  }
  // The late joiner: replayed through push/pull, fetched, once.
  c.StartAndJoin(late, 1);
  ASSERT_TRUE(c.RunUntil([&] { return has_big(late) == 1; }, ec.Bound()));
  c.RunFor(absl::Seconds(10));
  EXPECT_EQ(ec.seen(late), ec.seen(0));
  uint64_t fetched = 0;
  for (int i = 0; i < n; ++i) fetched += ec.events(i).stats().bodies_fetched;
  EXPECT_EQ(fetched, static_cast<uint64_t>(n - 1));  // all but the sender
}

TEST(UserEventsSimTest, AnEventOverTheLimitIsRefusedNamingSizeAndLimit) {
  const uint64_t seed = membership::sim::SimSeed(75);
  UserEventsOptions o = Default();
  o.max_event_bytes = 64 << 10;
  EventCluster ec(2, seed, 0.0, o);
  SimCluster& c = ec.c();
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.AllKnowAll(); }, ec.Bound()));
  absl::Status status;
  c.net().scheduler(0)->Post([&] {
    status = ec.events(0)
                 .Send("e", std::string((64 << 10) + 1, 'x'), false)
                 .status();
  });
  c.RunFor(absl::Milliseconds(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("65538 bytes"), std::string::npos) << status;
  EXPECT_NE(status.message().find("at most 65536"), std::string::npos)
      << status;
}

}  // namespace
}  // namespace peerlab::cluster
