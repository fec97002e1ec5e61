#include "peer/app/faults_commands.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/cli/test_output.h"

namespace peerlab::peer {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FaultsCommandTest : public ::testing::Test {
 protected:
  FaultsCommandTest()
      : command_(FaultsCommand(
            {.plan = plan_,
             .resolve = [](const std::string& name)
                 -> absl::StatusOr<std::vector<std::string>> {
               if (name == "bob") {
                 return std::vector<std::string>{"127.0.0.1:4001",
                                                 "127.0.0.1:5001"};
               }
               return absl::NotFoundError("no such member");
             },
             .self =
                 [] { return "gossip=127.0.0.1:4000 grpc=127.0.0.1:5000"; }})) {
  }

  absl::Status Run(std::vector<std::string> args) {
    cli::Call call{.command = "faults", .args = std::move(args)};
    out_ = std::make_unique<cli::CapturingOutput>();
    return command_.handler(call, *out_);
  }
  std::vector<std::string> Lines() { return out_->lines(); }

  std::shared_ptr<runtime::FaultPlan> plan_ =
      std::make_shared<runtime::FaultPlan>();
  cli::Command command_;
  std::unique_ptr<cli::CapturingOutput> out_;
};

TEST_F(FaultsCommandTest, EachVerbSetsItsField) {
  struct Row {
    std::vector<std::string> args;
    std::string dest;
    std::string rule;
  };
  const std::vector<Row> rows = {
      {{"drop", "10.0.0.2:7946", "10%"}, "10.0.0.2:7946", "drop 10%"},
      {{"delay", "10.0.0.2:7946", "20ms", "5ms"},
       "10.0.0.2:7946",
       "drop 10%, delay 20ms ±5ms"},
      {{"dup", "*", "5%"}, "*", "dup 5%"},
      {{"reorder", "*", "2.5%", "30ms"}, "*", "dup 5%, reorder 2.5% hold 30ms"},
      {{"block", "10.0.0.3:7946"}, "10.0.0.3:7946", "block"},
      {{"fail", "10.0.0.4:7946"}, "10.0.0.4:7946", "calls fail"},
      {{"hang", "10.0.0.4:7946"}, "10.0.0.4:7946", "calls hang"},
      {{"DELAY", "10.0.0.4:7946", "1s"},
       "10.0.0.4:7946",
       "delay 1s, calls hang"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.args[0] + " " + row.args[1]);
    ASSERT_TRUE(Run(row.args).ok());
    EXPECT_EQ(plan_->Rules().at(row.dest).ToString(), row.rule);
  }
  ASSERT_TRUE(Run({"list"}).ok());
  EXPECT_THAT(Lines(), Contains("faults 10.0.0.3:7946: block"));
  EXPECT_THAT(Lines().back(), HasSubstr("datagrams: 0 decided"));
}

TEST_F(FaultsCommandTest, ANameStandsForEveryAddressOfTheMember) {
  ASSERT_TRUE(Run({"block", "bob"}).ok());
  EXPECT_THAT(Lines(), ElementsAre("faults bob (127.0.0.1:4001, "
                                   "127.0.0.1:5001): block"));
  EXPECT_TRUE(plan_->Blocks("127.0.0.1:4001"));
  EXPECT_TRUE(plan_->Blocks("127.0.0.1:5001"));
  ASSERT_TRUE(Run({"clear", "bob"}).ok());
  EXPECT_TRUE(plan_->empty());
  absl::Status unknown = Run({"block", "ghost"});
  EXPECT_TRUE(absl::IsNotFound(unknown)) << unknown;
  EXPECT_THAT(unknown.message(), HasSubstr("a member this peer knows"));
}

TEST_F(FaultsCommandTest, ClearListAndSelf) {
  ASSERT_TRUE(Run({"block", "10.0.0.3:7946"}).ok());
  ASSERT_TRUE(Run({"drop", "*", "50%"}).ok());
  ASSERT_TRUE(Run({"clear", "10.0.0.3:7946"}).ok());
  EXPECT_THAT(Lines(),
              ElementsAre("faults cleared for 10.0.0.3:7946 (1 rule)"));
  ASSERT_TRUE(Run({}).ok());  // list
  EXPECT_THAT(Lines().front(), "faults *: drop 50%");
  ASSERT_TRUE(Run({"clear"}).ok());
  EXPECT_TRUE(plan_->empty());
  ASSERT_TRUE(Run({"list"}).ok());
  EXPECT_EQ(Lines().front(), "faults: none");
  ASSERT_TRUE(Run({"self"}).ok());
  EXPECT_THAT(Lines(),
              ElementsAre("gossip=127.0.0.1:4000 grpc=127.0.0.1:5000"));
}

TEST_F(FaultsCommandTest, BadInputIsRefusedInOneLine) {
  struct Row {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Row> rows = {
      {{"drop", "*", "10"}, "no percentage"},
      {{"drop", "*", "101%"}, "no percentage"},
      {{"drop", "*", "-1%"}, "no percentage"},
      {{"drop", "*"}, "usage"},
      {{"delay", "*", "soon"}, "no time"},
      {{"delay", "*", "-5ms"}, "no time"},
      {{"delay", "*", "20ms", "2h"}, "no time"},
      {{"block"}, "usage"},
      {{"block", "*", "now"}, "usage"},
      {{"explode", "*"}, "unknown faults verb"},
      {{"list", "x"}, "usage"},
      {{"clear", "a", "b"}, "usage"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.args.empty() ? "" : row.args[0]);
    absl::Status s = Run(row.args);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_THAT(s.message(), HasSubstr(row.message));
    EXPECT_EQ(s.message().find('\n'), absl::string_view::npos);
  }
  EXPECT_TRUE(plan_->empty());
}

TEST_F(FaultsCommandTest, TooManyRulesAreRefused) {
  plan_ = std::make_shared<runtime::FaultPlan>(
      runtime::FaultPlan::Options{.max_rules = 1});
  command_ = FaultsCommand({.plan = plan_});
  ASSERT_TRUE(Run({"block", "10.0.0.3:7946"}).ok());
  absl::Status s = Run({"block", "10.0.0.4:7946"});
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
}

TEST(FaultSeedTest, FollowsTheHarnessSeedAndTheName) {
  ::setenv("PEERLAB_SEED", "42", 1);
  EXPECT_EQ(FaultSeed("alice"), FaultSeed("alice"));
  EXPECT_NE(FaultSeed("alice"), FaultSeed("bob"));
  ::unsetenv("PEERLAB_SEED");
}

}  // namespace
}  // namespace peerlab::peer
