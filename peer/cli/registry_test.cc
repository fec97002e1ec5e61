#include "peer/cli/registry.h"

#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/cli/test_output.h"

namespace peerlab::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Command Greet() {
  return {.name = "greet",
          .group = "demo",
          .usage = "greet NAME",
          .summary = "says hello",
          .min_args = 1,
          .max_args = 1,
          .handler = [](const Call& call, Output& out) {
            out.Print("hello, " + call.args[0]);
            return absl::OkStatus();
          }};
}

TEST(RegistryTest, RegisterAndExecute) {
  Registry r;
  ASSERT_TRUE(r.Register(Greet()).ok());
  CapturingOutput out;
  ASSERT_TRUE(r.Execute("/greet 'big world'", out).ok());
  EXPECT_THAT(out.lines(), ElementsAre("hello, big world"));
  EXPECT_THAT(out.views(), ElementsAre("outputView"));
}

TEST(RegistryTest, DuplicateAndBadNamesAreRefused) {
  Registry r;
  ASSERT_TRUE(r.Register(Greet()).ok());
  EXPECT_EQ(r.Register(Greet()).code(), absl::StatusCode::kAlreadyExists);
  Command bad = Greet();
  bad.name = "two words";
  EXPECT_EQ(r.Register(bad).code(), absl::StatusCode::kInvalidArgument);
  bad = Greet();
  bad.name = "other";
  bad.handler = nullptr;
  EXPECT_EQ(r.Register(bad).code(), absl::StatusCode::kInvalidArgument);
  bad = Greet();
  bad.name = "other";
  bad.group = "";
  EXPECT_EQ(r.Register(bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, UnknownCommandSuggestsClosestNames) {
  Registry r;
  ASSERT_TRUE(r.Register(Greet()).ok());
  Command m = Greet();
  m.name = "memberlist";
  ASSERT_TRUE(r.Register(m).ok());
  m.name = "memberlistjoin";
  ASSERT_TRUE(r.Register(m).ok());
  CapturingOutput out;
  absl::Status s = r.Execute("membrlist", out);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("unknown command \"membrlist\"; did you mean: "
                        "memberlist"));
  EXPECT_THAT(r.Suggest("grete"), ElementsAre("greet"));
  EXPECT_THAT(std::string(r.Execute("zzzzzzzz", out).message()),
              HasSubstr("type help"));
}

TEST(RegistryTest, WrongArgumentCountGivesUsage) {
  Registry r;
  ASSERT_TRUE(r.Register(Greet()).ok());
  CapturingOutput out;
  absl::Status none = r.Execute("greet", out);
  EXPECT_EQ(none.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(none.message(), "usage: greet NAME");
  EXPECT_EQ(r.Execute("greet a b", out).message(), "usage: greet NAME");
  EXPECT_TRUE(out.lines().empty());
}

TEST(RegistryTest, HandlerErrorsAndThrowsNeverEscape) {
  Registry r;
  ASSERT_TRUE(r.Register({.name = "fail",
                          .group = "demo",
                          .handler =
                              [](const Call&, Output&) {
                                return absl::UnavailableError("down");
                              }})
                  .ok());
  ASSERT_TRUE(r.Register({.name = "throw",
                          .group = "demo",
                          .handler = [](const Call&, Output&) -> absl::Status {
                            throw std::runtime_error("boom");
                          }})
                  .ok());
  CapturingOutput out;
  EXPECT_EQ(r.Execute("fail", out), absl::UnavailableError("down"));
  absl::Status thrown = r.Execute("throw", out);
  EXPECT_EQ(thrown.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(thrown.message()), HasSubstr("boom"));
}

TEST(RegistryTest, ParseErrorsAndEmptyLines) {
  Registry r;
  CapturingOutput out;
  EXPECT_TRUE(r.Execute("", out).ok());
  EXPECT_TRUE(r.Execute("   ", out).ok());
  EXPECT_EQ(r.Execute("echo \"open", out).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, GroupsAndCommandsAreSorted) {
  Registry r;
  Command c = Greet();
  c.name = "b";
  c.group = "zeta";
  ASSERT_TRUE(r.Register(c).ok());
  c.name = "a";
  c.group = "alpha";
  ASSERT_TRUE(r.Register(c).ok());
  EXPECT_THAT(r.Groups(), ElementsAre("alpha", "zeta"));
  ASSERT_EQ(r.Commands().size(), 2u);
  EXPECT_EQ(r.Commands()[0].name, "a");
  ASSERT_TRUE(r.Find("a").has_value());
  EXPECT_FALSE(r.Find("c").has_value());
}

TEST(RegistryTest, FallbackTakesTypedLinesThatAreNotCommands) {
  Registry r;
  ASSERT_TRUE(r.Register(Greet()).ok());
  std::vector<std::string> taken;
  r.SetFallback(
      [&](absl::string_view line, Output&) -> std::optional<absl::Status> {
        if (line == "decline") return std::nullopt;
        taken.emplace_back(line);
        return absl::OkStatus();
      });
  CapturingOutput out;
  EXPECT_TRUE(r.Execute("  hello there, don't panic", out).ok());
  EXPECT_TRUE(r.Execute("greet you", out).ok());  // a command stays one
  EXPECT_EQ(r.Execute("/hello", out).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.Execute("hello", out, /*depth=*/1).code(),
            absl::StatusCode::kNotFound);  // scripts: a typo is an error
  EXPECT_EQ(r.Execute("hello", out, 0, /*remote=*/true).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(r.Execute("decline", out).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(taken, ElementsAre("hello there, don't panic"));
  EXPECT_THAT(out.lines(), ElementsAre("hello, you"));
}

// issue 12: a one-word line close to a command is a typo, not a message
// for everybody; `msg WORD` still sends it.
TEST(RegistryTest, FallbackRefusesAWordCloseToACommand) {
  Registry r;
  for (const char* name : {"chatmembers", "memberlist", "help", "quit"}) {
    Command c = Greet();
    c.name = name;
    c.min_args = 0;
    ASSERT_TRUE(r.Register(c).ok());
  }
  std::vector<std::string> taken;
  r.SetFallback(
      [&](absl::string_view line, Output&) -> std::optional<absl::Status> {
        taken.emplace_back(line);
        return absl::OkStatus();
      });
  CapturingOutput out;
  absl::Status s = r.Execute("chatmembrs", out);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("did you mean: chatmembers"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("msg chatmembrs"));
  EXPECT_EQ(r.Execute(" memberlsit ", out).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.Execute("qit", out).code(), absl::StatusCode::kNotFound);
  // Ordinary words and sentences are messages.
  for (const char* line : {"hello", "hi", "ok", "yes", "thanks",
                           "chatmembrs are here", "quiet please"}) {
    EXPECT_TRUE(r.Execute(line, out).ok()) << line;
  }
  EXPECT_THAT(taken, ElementsAre("hello", "hi", "ok", "yes", "thanks",
                                 "chatmembrs are here", "quiet please"));
}

}  // namespace
}  // namespace peerlab::cli
