#include "base/command_line.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "base/option_checks.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;

std::optional<int> Parse(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv;
  std::string prog = "prog";
  argv.push_back(prog.data());
  for (auto& a : args) argv.push_back(a.data());
  return ParseCommandLine(app, static_cast<int>(argv.size()), argv.data());
}

TEST(CommandLineTest, GoodArgumentsGoOn) {
  CLI::App app{"t"};
  int port = 7;
  app.add_option("--port", port)->check(PortNumber);
  EXPECT_EQ(Parse(app, {"--port", "0"}), std::nullopt);
  EXPECT_EQ(port, 0);
}

TEST(CommandLineTest, UsageErrorsExitTwo) {
  CLI::App app{"t"};
  int port = 7;
  app.add_option("--port", port)->check(PortNumber);
  EXPECT_EQ(Parse(app, {"--no-such-flag"}), kUsageExitCode);
  CLI::App app2{"t"};
  app2.add_option("--port", port)->check(PortNumber);
  EXPECT_EQ(Parse(app2, {"--port", "70000"}), kUsageExitCode);
  CLI::App app3{"t"};
  app3.add_option("--port", port)->check(PortNumber);
  EXPECT_EQ(Parse(app3, {"--port"}), kUsageExitCode);
}

TEST(CommandLineTest, HelpExitsZero) {
  CLI::App app{"t"};
  testing::internal::CaptureStdout();
  EXPECT_EQ(Parse(app, {"--help"}), 0);
  testing::internal::GetCapturedStdout();
}

TEST(CommandLineTest, HostPortTable) {
  struct Case {
    std::string address;
    int min_port;
    int want;  // -1: refused
  };
  const Case cases[] = {
      {"127.0.0.1:8080", 0, 8080},
      {"127.0.0.1:0", 0, 0},
      {"127.0.0.1:0", 1, -1},
      {"localhost:65535", 1, 65535},
      {"[::1]:9000", 0, 9000},
      {"127.0.0.1:99999", 0, -1},
      {"127.0.0.1:70000", 0, -1},
      {"127.0.0.1:-1", 0, -1},
      {"127.0.0.1:", 0, -1},
      {"127.0.0.1", 0, -1},
      {":8080", 0, -1},
      {"", 0, -1},
      {"::1:80", 0, -1},
      {"[::1]", 0, -1},
      {"[::1:80", 0, -1},
      {"host:80x", 0, -1},
      {"host:0000080", 0, -1},
  };
  for (const Case& c : cases) {
    auto port = ParseHostPort(c.address, c.min_port);
    if (c.want < 0) {
      EXPECT_FALSE(port.ok()) << c.address;
    } else {
      ASSERT_TRUE(port.ok()) << c.address << ": " << port.status();
      EXPECT_EQ(*port, c.want) << c.address;
    }
  }
}

TEST(CommandLineTest, HostPortValidatorNamesTheProblem) {
  std::string value = "127.0.0.1";
  std::string err = HostPort(value);
  EXPECT_THAT(err, HasSubstr("no port"));
  value = "127.0.0.1:99999";
  EXPECT_THAT(HostPort(value), HasSubstr("outside 0..65535"));
  value = "127.0.0.1:8080";
  EXPECT_EQ(HostPort(value), "");
}

TEST(CommandLineTest, UnknownSubcommandIsNamedWithTheValidOnes) {
  CLI::App app{"t"};
  app.require_subcommand(1);
  std::string server;
  app.add_option("--server", server);
  app.add_subcommand("list", "l");
  app.add_subcommand("join", "j");
  testing::internal::CaptureStderr();
  EXPECT_EQ(Parse(app, {"--server", "h:1", "frob"}), kUsageExitCode);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("unknown subcommand \"frob\"; valid: list, join"));

  CLI::App app2{"t"};
  app2.require_subcommand(1);
  app2.add_option("--server", server);
  app2.add_subcommand("list", "l");
  testing::internal::CaptureStderr();
  EXPECT_EQ(Parse(app2, {"--server", "h:1"}), kUsageExitCode);
  EXPECT_THAT(testing::internal::GetCapturedStderr(),
              HasSubstr("a subcommand is needed; valid: list"));
}

TEST(CommandLineTest, MemberNameTable) {
  const std::pair<std::string, bool> cases[] = {
      {"alice", true},
      {"bob-2.lab", true},
      {"zoë", true},
      {"", false},
      {"evil\nx", false},
      {"a\tb", false},
      {"esc\x1b[2J", false},
      {" lead", false},
      {"trail ", false},
      {std::string(257, 'a'), false},
      {std::string(256, 'a'), true},
  };
  for (const auto& [name, ok] : cases) {
    std::string value = name;
    EXPECT_EQ(MemberName(value).empty(), ok) << name;
  }
}

TEST(CommandLineTest, RangeMessagesPrintHumanNumbers) {
  CLI::Validator r = Range(0.001, 864000);
  std::string v = "0";
  EXPECT_EQ(r(v), "0 is outside 0.001..864000");
  v = "864000";
  EXPECT_EQ(r(v), "");
  v = "1e9";
  EXPECT_EQ(r(v), "1e9 is outside 0.001..864000");
  v = "abc";
  EXPECT_EQ(r(v), "'abc' is not a number");
  v = "nan";
  EXPECT_EQ(r(v), "'nan' is not a number");
  v = "";
  EXPECT_EQ(r(v), "'' is not a number");
  v = "5x";
  EXPECT_EQ(r(v), "'5x' is not a number");
  CLI::Validator peers = Range(1, 5000);
  v = "-1";
  EXPECT_EQ(peers(v), "-1 is outside 1..5000");
  EXPECT_EQ(HumanNumber(0.99), "0.99");
  EXPECT_EQ(HumanNumber(4194304), "4194304");
  EXPECT_EQ(HumanNumber(0.1), "0.1");
}

}  // namespace
}  // namespace peerlab
