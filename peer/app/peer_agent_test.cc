// The peer's side of the agent: members as the agent shows them, and log
// lines of logView as records.
#include "peer/app/peer_agent.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::peer {
namespace {

using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(PeerAgentTest, MemberStatusAndTagsComeFromTheMember) {
  membership::Member m{.name = "bob",
                       .addr = "127.0.0.1:7001",
                       .meta = "chat=127.0.0.1:9;role=web",
                       .incarnation = 4,
                       .generation = 17,
                       .state = membership::MemberState::kDead,
                       .state_change = absl::FromUnixSeconds(1700000000)};
  ::peer::v1::AgentMember a = ToAgentMember(m);
  EXPECT_EQ(a.name(), "bob");
  EXPECT_EQ(a.address(), "127.0.0.1:7001");
  EXPECT_EQ(a.status(), ::peer::v1::AgentMember::FAILED);
  EXPECT_THAT(a.tags(), UnorderedElementsAre(Pair("chat", "127.0.0.1:9"),
                                             Pair("role", "web")));
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

}  // namespace
}  // namespace peerlab::peer
