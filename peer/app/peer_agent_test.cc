// The peer's side of the agent: members as the agent shows them, and log
// lines of logView as records.
#include "peer/app/peer_agent.h"

#include <barrier>
#include <future>
#include <memory>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/membership/real/membership_stream_service.h"
#include "peer/runtime/host_loop.h"

namespace peerlab::peer {
namespace {

using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(PeerAgentTest, MemberStatusAndTagsComeFromTheMember) {
  membership::Member m{.name = "bob",
                       .addr = "127.0.0.1:7001",
                       .meta = "chat=127.0.0.1:9;id=x;tag.role=web",
                       .incarnation = 4,
                       .generation = 17,
                       .state = membership::MemberState::kDead,
                       .state_change = absl::FromUnixSeconds(1700000000)};
  ::peer::v1::AgentMember a = ToAgentMember(m);
  EXPECT_EQ(a.name(), "bob");
  EXPECT_EQ(a.address(), "127.0.0.1:7001");
  EXPECT_EQ(a.status(), ::peer::v1::AgentMember::FAILED);
  // Tags are the "tag.K" fields (cluster/tags.h); the peer's own fields
  // (the chat address, its id) are not tags.
  EXPECT_THAT(a.tags(), UnorderedElementsAre(Pair("role", "web")));
  EXPECT_EQ(a.incarnation(), 4u);
  EXPECT_EQ(a.generation(), 17u);
  EXPECT_EQ(a.status_since().seconds(), 1700000000);
  m.state = membership::MemberState::kLeft;
  EXPECT_EQ(ToAgentMember(m).status(), ::peer::v1::AgentMember::LEFT);
}

TEST(PeerAgentTest, LogLinesOfLogViewBecomeRecords) {
  auto r = ParseLogLine("info  [alice] member bob joined (127.0.0.1:7001)");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->level(), "info");
  EXPECT_EQ(r->component(), "alice");
  EXPECT_EQ(r->text(), "member bob joined (127.0.0.1:7001)");
  auto w = ParseLogLine("warning [membership] x] y");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->level(), "warn");
  EXPECT_EQ(w->text(), "x] y");
  EXPECT_FALSE(ParseLogLine("hello world").has_value());
  EXPECT_FALSE(ParseLogLine("").has_value());
  EXPECT_FALSE(ParseLogLine("info [unclosed").has_value());
}

// A real membership node alone on loopback, with the agent over it.
class PeerAgentQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RealNodeEnv real;
    real.bind = "127.0.0.1";
    real.grpc_address = [] { return std::string("127.0.0.1:1"); };
    real.take_reserved_socket = [] { return -1; };
    real.service = &service_;
    host_ = std::make_unique<MembershipHost>(
        MembershipHost::Env{.name = "alice", .insecure_gossip = true},
        std::make_unique<runtime::ThreadHostLoop>("membership"),
        RealNodeFactory(real));
    ASSERT_TRUE(host_->Create().ok());
    ASSERT_TRUE(host_->Start().ok());
    agent_ = std::make_unique<PeerAgent>(host_.get(), &views_);
  }

  // A query with an ack and a minute-long timeout.
  absl::StatusOr<agent::AgentService::QueryCall> SlowQuery() {
    ::peer::v1::AgentQueryRequest request;
    request.set_name("slow");
    request.set_request_ack(true);
    request.mutable_timeout()->set_seconds(60);
    return agent_->service().Query(request);
  }

  // The first item of `queue`, waiting up to 10 s (the query's own
  // timeout is a minute).
  static std::optional<::peer::v1::AgentQueryResponse> First(
      agent::QueryQueue& queue) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (absl::Now() < give_up) {
      auto batch = queue.Pop(absl::Milliseconds(100));
      if (!batch.items.empty()) return batch.items[0];
      if (batch.ended) break;
    }
    return std::nullopt;
  }

  // Waits up to 10 s for the end of `queue`; its status.
  static absl::Status End(agent::QueryQueue& queue) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (absl::Now() < give_up) {
      auto batch = queue.Pop(absl::Milliseconds(100));
      if (batch.ended) return batch.status;
    }
    return absl::DeadlineExceededError("the query's call did not end in 10 s");
  }

  membership::MembershipStreamService service_;
  cli::ViewHub views_;
  std::unique_ptr<MembershipHost> host_;
  std::unique_ptr<PeerAgent> agent_;
};

// The peer shuts down mid-query: the call ends at once (Unavailable), and
// Close does not wait for the query's timeout (before, a detached thread
// held the backend's lock until the query ended).
TEST_F(PeerAgentQueryTest, ThePeersEndEndsARunningQueryAtOnce) {
  auto call = SlowQuery();
  ASSERT_TRUE(call.ok()) << call.status();
  auto first = First(*call->queue);
  ASSERT_TRUE(first.has_value()) << "no ack within 10 s";
  EXPECT_EQ(first->ack().from(), "alice");
  auto closed = std::async(std::launch::async, [&] { agent_->Close(); });
  ASSERT_EQ(closed.wait_for(std::chrono::seconds(10)),
            std::future_status::ready)
      << "Close still waits 10 s into a 60 s query";
  EXPECT_TRUE(absl::IsUnavailable(End(*call->queue)));
  agent_.reset();
  host_.reset();
}

// The caller goes away mid-query: EndQuery ends the query, whose summary
// comes at once; the place it held is free.
TEST_F(PeerAgentQueryTest, EndingTheCallEndsTheQuery) {
  auto call = SlowQuery();
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_TRUE(First(*call->queue).has_value());
  agent_->service().EndQuery(call->id);
  EXPECT_TRUE(End(*call->queue).ok());
  EXPECT_TRUE(agent_->service()
                  .Query(::peer::v1::AgentQueryRequest())
                  .status()
                  .code() == absl::StatusCode::kInvalidArgument);
}

// The node is deleted mid-query (memberlistdelete): the host drops the
// query's callbacks, and the call ends Unavailable instead of waiting.
TEST_F(PeerAgentQueryTest, DeletingTheNodeEndsARunningQuery) {
  auto call = SlowQuery();
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_TRUE(First(*call->queue).has_value());
  ASSERT_TRUE(host_->Delete().ok());
  EXPECT_TRUE(absl::IsUnavailable(End(*call->queue)));
  // Without a node the cluster layer refuses: the call's status.
  auto refused = SlowQuery();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
}

// Two callers remove the same tag at once: both succeed (removing a tag
// that is not set is no error, agent.proto), whichever comes second.
// Before, the backend checked that the tag was set, then asked the host
// to remove it, which answered NotFound when the other removal had come
// in between.
TEST_F(PeerAgentQueryTest, ConcurrentRemovalsOfOneTagBothSucceed) {
  constexpr int kRounds = 100;
  ::peer::v1::AgentTagsRequest set;
  (*set.mutable_set())["role"] = "web";
  ::peer::v1::AgentTagsRequest remove;
  remove.add_remove("role");
  std::barrier both(2);
  auto remover = [&](int* failures, std::string* first) {
    for (int i = 0; i < kRounds; ++i) {
      both.arrive_and_wait();  // the tag is set
      auto r = agent_->service().Tags(remove);
      if (!r.ok()) {
        if (++*failures == 1) *first = r.status().ToString();
      } else {
        EXPECT_FALSE(r->tags().contains("role"));
      }
      both.arrive_and_wait();  // both removals are done
    }
  };
  int failures[2] = {0, 0};
  std::string first[2];
  std::thread other(remover, &failures[1], &first[1]);
  for (int i = 0; i < kRounds; ++i) {
    EXPECT_TRUE(agent_->service().Tags(set).ok());
    both.arrive_and_wait();
    auto r = agent_->service().Tags(remove);
    if (!r.ok() && ++failures[0] == 1) first[0] = r.status().ToString();
    both.arrive_and_wait();
  }
  other.join();
  EXPECT_EQ(failures[0] + failures[1], 0)
      << "of " << 2 * kRounds << " removals: " << first[0] << " " << first[1];
  EXPECT_TRUE(host_->LocalTags().empty());
}

}  // namespace
}  // namespace peerlab::peer
