#include "peer/cli/shell_runner.h"

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RunProgramTest, CapturesStdoutAndStderrInOrder) {
  std::vector<std::string> lines;
  absl::Status s = RunProgram(
      {"/bin/sh", "-c", "echo one; echo two >&2; printf three"},
      {.on_line = [&](const std::string& l) { lines.push_back(l); }});
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(lines, ElementsAre("one", "two", "three"));
}

TEST(RunProgramTest, ExitStatusBecomesTheStatus) {
  absl::Status s = RunProgram({"/bin/sh", "-c", "exit 3"}, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("exited with status 3"));
  EXPECT_TRUE(RunProgram({"true"}, {}).ok());
}

TEST(RunProgramTest, MissingProgramIsNotFound) {
  EXPECT_EQ(RunProgram({"/nonexistent/program"}, {}).code(),
            absl::StatusCode::kNotFound);
}

TEST(RunProgramTest, TimeoutKillsTheProgramAndItsChildren) {
  absl::Time start = absl::Now();
  absl::Status s = RunProgram({"/bin/sh", "-c", "sleep 30 & sleep 30"},
                              {.timeout = absl::Milliseconds(200)});
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(RunProgramTest, NoShellMeansNoExpansion) {
  std::vector<std::string> lines;
  ASSERT_TRUE(
      RunProgram({"echo", "$HOME", "*"},
                 {.on_line = [&](const std::string& l) { lines.push_back(l); }})
          .ok());
  EXPECT_THAT(lines, ElementsAre("$HOME *"));
}

}  // namespace
}  // namespace peerlab::cli
