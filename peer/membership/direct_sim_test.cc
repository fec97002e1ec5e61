// Direct user messages (Memberlist::SendUserMessage) and force-leave
// (Memberlist::ForceLeave) in the simulator.
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;
using ::testing::HasSubstr;

const std::string kKey(32, 'K');

// Records direct messages; answers with `answer`.
class RecordingDelegate : public Delegate {
 public:
  void OnUserMessage(const std::string&) override {}
  std::string LocalState(bool) override { return ""; }
  void MergeRemoteState(const std::string&, bool) override {}
  absl::Status OnDirectMessage(const DirectMessage& m) override {
    got.push_back(m);
    return answer;
  }
  std::vector<DirectMessage> got;
  absl::Status answer;
};

SimCluster::Options Opts(int n, uint64_t seed, bool encrypted = true) {
  SimCluster::Options o;
  o.nodes = n;
  o.seed = seed;
  if (encrypted) o.keys = {kKey};
  return o;
}

struct Fixture {
  explicit Fixture(SimCluster::Options o) : c(std::move(o)) {
    delegates.resize(c.size());
    for (int i = 0; i < c.size(); ++i) c.SetDelegate(i, &delegates[i]);
    c.StartAll();
    converged = c.RunUntil([&] { return c.Converged(); }, absl::Seconds(30));
  }
  // Sends and runs until `done` ran; its status.
  absl::Status Send(int from, const std::string& to, uint32_t channel,
                    std::string payload) {
    std::optional<absl::Status> result;
    c.node(from).SendUserMessage(to, channel, std::move(payload),
                                 [&](absl::Status s) { result = s; });
    c.RunUntil([&] { return result.has_value(); }, absl::Seconds(20));
    return result.value_or(absl::DeadlineExceededError("no answer"));
  }
  SimCluster c;
  std::vector<RecordingDelegate> delegates;
  bool converged = false;
};

TEST(DirectMessageSimTest, DeliveredWithTheProvenSenderAndLargerThanADatagram) {
  const uint64_t seed = SimSeed(3);
  PEERLAB_SIM_TRACE_SEED(seed);
  Fixture f(Opts(3, seed));
  ASSERT_TRUE(f.converged);
  const std::string big(20000, 'x');  // ~14 datagrams
  EXPECT_TRUE(f.Send(1, "node2", 7, big).ok());
  ASSERT_EQ(f.delegates[2].got.size(), 1u);
  const DirectMessage& m = f.delegates[2].got[0];
  EXPECT_EQ(m.from, "node1");
  EXPECT_TRUE(m.proven);
  EXPECT_EQ(m.channel, 7u);
  EXPECT_EQ(m.payload, big);
  EXPECT_EQ(m.from_generation, f.c.node(1).LocalNode().generation);
  // To itself: delivered here.
  EXPECT_TRUE(f.Send(1, "node1", 3, "me").ok());
  ASSERT_EQ(f.delegates[1].got.size(), 1u);
  EXPECT_EQ(f.delegates[1].got[0].from, "node1");
  EXPECT_EQ(f.c.node(2).stats().user_messages_received, 1u);
}

TEST(DirectMessageSimTest, FailuresComeBackAsStatus) {
  const uint64_t seed = SimSeed(4);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster::Options o = Opts(3, seed);
  o.config.max_user_message_bytes = 1000;
  o.config.max_user_messages_in_flight = 1;
  Fixture f(o);
  ASSERT_TRUE(f.converged);
  EXPECT_EQ(f.Send(0, "nobody", 1, "x").code(), absl::StatusCode::kNotFound);
  absl::Status big = f.Send(0, "node1", 1, std::string(1001, 'x'));
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.message(), HasSubstr("1001 bytes"));
  // The receiver's refusal comes back.
  f.delegates[1].answer = absl::UnimplementedError("no such channel");
  absl::Status refused = f.Send(0, "node1", 9, "x");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(refused.message(), HasSubstr("no such channel"));
  // One in flight at most: the second is refused at once.
  std::optional<absl::Status> first, second;
  f.c.node(0).SendUserMessage("node2", 1, "a",
                              [&](absl::Status s) { first = s; });
  f.c.node(0).SendUserMessage("node2", 1, "b",
                              [&](absl::Status s) { second = s; });
  f.c.RunUntil([&] { return first && second; }, absl::Seconds(5));
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->ok()) << *first;
  EXPECT_EQ(second->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GE(f.c.node(0).stats().user_messages_refused, 2u);
  // A crashed member: the call fails (its deadline), not silently.
  f.c.Crash(2);
  EXPECT_FALSE(f.Send(0, "node2", 1, "x").ok());
}

TEST(DirectMessageSimTest, TheMuxRoutesByChannel) {
  const uint64_t seed = SimSeed(8);
  PEERLAB_SIM_TRACE_SEED(seed);
  std::vector<RecordingDelegate> on7(2);
  SimCluster::Options o = Opts(2, seed);
  o.channels = [&](int i, DelegateMux& mux, runtime::Scheduler*) {
    (void)mux.Register(7, &on7[i]);
  };
  SimCluster c(o);
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(30)));
  auto send = [&](uint32_t channel) {
    std::optional<absl::Status> result;
    c.node(0).SendUserMessage("node1", channel, "hi",
                              [&](absl::Status s) { result = s; });
    c.RunUntil([&] { return result.has_value(); }, absl::Seconds(5));
    return result.value_or(absl::DeadlineExceededError("no answer"));
  };
  EXPECT_TRUE(send(7).ok());
  ASSERT_EQ(on7[1].got.size(), 1u);
  EXPECT_EQ(on7[1].got[0].from, "node0");
  absl::Status other = send(9);
  EXPECT_EQ(other.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(other.message(), HasSubstr("no component on channel 9"));
  EXPECT_EQ(send(300).code(), absl::StatusCode::kNotFound);
}

TEST(DirectMessageSimTest, OpenModeSaysTheSenderIsNotProven) {
  const uint64_t seed = SimSeed(5);
  PEERLAB_SIM_TRACE_SEED(seed);
  Fixture f(Opts(2, seed, /*encrypted=*/false));
  ASSERT_TRUE(f.converged);
  EXPECT_TRUE(f.Send(0, "node1", 2, "hi").ok());
  ASSERT_EQ(f.delegates[1].got.size(), 1u);
  EXPECT_EQ(f.delegates[1].got[0].from, "node0");
  EXPECT_FALSE(f.delegates[1].got[0].proven);
}

// Runs until every live node but `target` holds it in `state` (or forgot
// it, when `forgotten`).
bool AllHold(SimCluster& c, int target, MemberState state, bool forgotten) {
  for (int i = 0; i < c.size(); ++i) {
    if (i == target || c.crashed(i)) continue;
    bool found = false;
    for (const Member& m : c.node(i).AllMembers()) {
      if (m.name != c.name(target)) continue;
      found = true;
      if (forgotten || m.state != state) return false;
    }
    if (!found && !forgotten) return false;
  }
  return true;
}

TEST(ForceLeaveSimTest, AFailedMemberIsLeftEverywhereAndPruneForgetsIt) {
  const uint64_t seed = SimSeed(6);
  PEERLAB_SIM_TRACE_SEED(seed);
  Fixture f(Opts(5, seed));
  ASSERT_TRUE(f.converged);
  // Alive: refused with the reason.
  absl::Status alive = f.c.node(0).ForceLeave("node3", false);
  EXPECT_EQ(alive.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(alive.message(), HasSubstr("node3 is alive"));
  EXPECT_EQ(f.c.node(0).ForceLeave("nobody", false).code(),
            absl::StatusCode::kNotFound);
  f.c.Crash(3);
  f.c.Crash(4);
  ASSERT_TRUE(f.c.RunUntil(
      [&] {
        return AllHold(f.c, 3, MemberState::kDead, false) &&
               AllHold(f.c, 4, MemberState::kDead, false);
      },
      absl::Seconds(60)));
  ASSERT_TRUE(f.c.node(0).ForceLeave("node3", false).ok());
  EXPECT_TRUE(
      f.c.RunUntil([&] { return AllHold(f.c, 3, MemberState::kLeft, false); },
                   absl::Seconds(5)));
  ASSERT_TRUE(f.c.node(1).ForceLeave("node4", true).ok());
  EXPECT_TRUE(
      f.c.RunUntil([&] { return AllHold(f.c, 4, MemberState::kDead, true); },
                   absl::Seconds(5)));
  // A left member is pruned on request.
  ASSERT_TRUE(f.c.node(2).ForceLeave("node3", true).ok());
  EXPECT_TRUE(
      f.c.RunUntil([&] { return AllHold(f.c, 3, MemberState::kDead, true); },
                   absl::Seconds(5)));
  EXPECT_GE(f.c.node(2).stats().forced_leaves, 2u);
  // The group goes on: a restarted node3 joins again.
  f.c.Restart(3, 0);
  EXPECT_TRUE(
      f.c.RunUntil([&] { return AllHold(f.c, 3, MemberState::kAlive, false); },
                   absl::Seconds(30)));
}

TEST(ForceLeaveSimTest, ALiveMemberIsNeverEvicted) {
  // Node 0, cut off, holds the others dead and forces node 2's leave; once
  // healed, the members that hold node 2 alive ignore it, node 2 refutes,
  // and it ends alive everywhere (node 0 included).
  const uint64_t seed = SimSeed(7);
  PEERLAB_SIM_TRACE_SEED(seed);
  Fixture f(Opts(4, seed));
  ASSERT_TRUE(f.converged);
  f.c.net().Partition({{0}, {1, 2, 3}});
  ASSERT_TRUE(f.c.RunUntil([&] { return f.c.Sees(0, 2, MemberState::kDead); },
                           absl::Seconds(60)));
  ASSERT_TRUE(f.c.node(0).ForceLeave("node2", false).ok());
  EXPECT_TRUE(f.c.Sees(0, 2, MemberState::kLeft));
  f.c.net().Heal();
  ASSERT_TRUE(f.c.RunUntil([&] { return f.c.Converged(); }, absl::Seconds(60)));
  for (int i = 0; i < 4; ++i) {
    if (i != 2) EXPECT_TRUE(f.c.Sees(i, 2, MemberState::kAlive)) << i;
  }
  uint64_t ignored = 0;
  for (int i = 1; i < 4; ++i) ignored += f.c.node(i).stats().forced_leaves;
  EXPECT_EQ(ignored, 0u);
}

}  // namespace
}  // namespace peerlab::membership
