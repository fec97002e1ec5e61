#include "peer/app/query_commands.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::peer {
namespace {

// Collects printed lines.
class Lines : public cli::Output {
 public:
  void ToView(absl::string_view, absl::string_view text) override {
    lines.emplace_back(text);
  }
  std::vector<std::string> lines;
};

cli::Call CallOf(std::vector<std::string> args) {
  cli::Call c;
  c.args = std::move(args);
  return c;
}

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseQueryArgsTest, Options) {
  auto p = ParseQueryArgs({"uptime", "now", "--node", "a", "--node=b", "--tag",
                           "role=^web$", "--tag=dc=east|west", "--timeout",
                           "2s", "--ack", "--relay", "2"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "uptime");
  EXPECT_EQ(p->payload, "now");
  EXPECT_THAT(p->nodes, ElementsAre("a", "b"));
  ASSERT_EQ(p->tags.size(), 2u);
  EXPECT_EQ(p->tags[0].key, "role");
  EXPECT_EQ(p->tags[0].regex, "^web$");
  EXPECT_EQ(p->tags[1].key, "dc");
  EXPECT_EQ(p->tags[1].regex, "east|west");
  EXPECT_EQ(p->timeout, absl::Seconds(2));
  EXPECT_TRUE(p->ack);
  EXPECT_EQ(p->relay, 2);

  auto plain = ParseQueryArgs({"q", "--timeout", "1.5"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->timeout, absl::Milliseconds(1500));
  EXPECT_EQ(plain->payload, "");
  EXPECT_FALSE(plain->ack);
}

TEST(ParseQueryArgsTest, RefusalsNameTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const Case cases[] = {
      {{}, "usage: query NAME"},
      {{"a", "b", "c"}, "usage: query NAME"},
      {{"q", "--node"}, "--node needs a value"},
      {{"q", "--tag", "role"}, "--tag role: want KEY=REGEX"},
      {{"q", "--tag", "=x"}, "--tag =x: want KEY=REGEX"},
      {{"q", "--timeout", "soon"}, "--timeout soon: not a duration"},
      {{"q", "--timeout", "0"}, "--timeout 0: must be in (0, 1h]"},
      {{"q", "--timeout", "2h"}, "--timeout 2h: must be in (0, 1h]"},
      {{"q", "--relay", "6"}, "--relay 6: must be in 0..5"},
      {{"q", "--relay", "x"}, "--relay x: must be in 0..5"},
      {{"q", "--ack=yes"}, "--ack takes no value"},
      {{"q", "--nodes", "a"}, "unknown option --nodes"},
  };
  for (const Case& c : cases) {
    auto p = ParseQueryArgs(c.args);
    ASSERT_FALSE(p.ok()) << c.error;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(p.status().message(), HasSubstr(c.error));
  }
}

cluster::QueryResult Result() {
  cluster::QueryResult r;
  r.matched = {"alice", "bob", "carol"};
  r.acked = {"alice", "bob"};
  r.answered = {"alice", "bob"};
  r.missing = {"carol"};
  r.elapsed = absl::Milliseconds(1234);
  r.timeout = absl::Seconds(3);
  return r;
}

TEST(QueryOutputTest, EachAnswerThenOneSummaryLine) {
  std::vector<cluster::QueryAnswer> answers(4);
  answers[0].ack = true;
  answers[0].from = "alice";
  answers[1].from = "alice";
  answers[1].payload = "up 3 days\n";
  answers[2].ack = true;
  answers[2].from = "bob";
  answers[3].from = "bob";
  answers[3].payload = "line 1\nline 2";
  answers[3].relayed = true;
  EXPECT_THAT(FormatQueryOutput(answers, Result(), /*acks=*/true),
              ElementsAre("ack from alice", "response from alice: up 3 days",
                          "ack from bob",
                          "response from bob (relayed): \n  line 1\n  line 2",
                          "summary: matched 3, acked 2, answered 2, missing 1 "
                          "(carol) in 1.234s"));
  EXPECT_EQ(FormatQueryOutput(answers, Result(), false).size(), 3u);
}

TEST(QueryCommandsTest, ReachabilityFailsNamingWhoDidNotAnswer) {
  Lines out;
  std::vector<std::string>& lines = out.lines;
  absl::Duration asked;
  cli::Command c = ReachabilityCommand([&](absl::Duration timeout) {
    asked = timeout;
    return absl::StatusOr<cluster::QueryResult>(Result());
  });
  absl::Status s = c.handler(CallOf({"--timeout", "2s"}), out);
  EXPECT_EQ(asked, absl::Seconds(2));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(),
              HasSubstr("1 of 3 members did not answer in 3s: carol"));
  EXPECT_THAT(lines, ElementsAre("acked: 2 of 3 members in 1.234s",
                                 "no answer from carol"));
}

TEST(QueryCommandsTest, ForceLeaveParsesPrune) {
  Lines out;
  std::vector<std::string>& lines = out.lines;
  std::string got;
  bool got_prune = false;
  cli::Command c = ForceLeaveCommand([&](const std::string& name, bool prune) {
    got = name;
    got_prune = prune;
    return absl::OkStatus();
  });
  EXPECT_TRUE(c.handler(CallOf({"carol", "--prune"}), out).ok());
  EXPECT_EQ(got, "carol");
  EXPECT_TRUE(got_prune);
  EXPECT_THAT(lines, ElementsAre("carol forced to leave and pruned"));
  EXPECT_EQ(c.handler(CallOf({"--purge"}), out).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace peerlab::peer
