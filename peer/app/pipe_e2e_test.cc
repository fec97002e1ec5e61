// End-to-end tests of the peer without a terminal: the real peerlab-peer
// against the real peerlab-bootstrap, fed through a pipe, --exec, --script
// and a FIFO, ended by `exit`, end of input and SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "base/testing/eventually.h"
#include "base/testing/subprocess.h"

namespace peerlab::peer {
namespace {

using ::peerlab::testing::Eventually;

using ::peerlab::peer::e2e::ShellQuote;
using ::peerlab::testing::ExitStatus;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::WaitForFileLine;
using ::peerlab::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kDeadline = absl::Seconds(15);

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class PipeE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("peerlab-pipe-e2e"));
  }

  // peerlab-peer alice --no-init --bootstrap ADDR, then `extra`.
  std::vector<std::string> PeerArgv(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {absl::StrCat(bin_, "/peerlab-peer"),
                                     "alice", "--no-init", "--bootstrap",
                                     bootstrap_.address};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  Subprocess::Options Options(std::vector<std::string> argv) {
    Subprocess::Options o;
    o.argv = std::move(argv);
    o.stdout_path = dir_->File(absl::StrCat("run", runs_, ".stdout"));
    o.stderr_path = dir_->File(absl::StrCat("run", runs_, ".stderr"));
    o.env["HOME"] = dir_->path();
    ++runs_;
    return o;
  }

  // Runs `printf %s INPUT | peerlab-peer alice ... EXTRA` through /bin/sh
  // and waits for it to end.
  void RunPiped(const std::string& input, const std::vector<std::string>& extra,
                ExitStatus* status, std::string* out, std::string* err) {
    std::vector<std::string> quoted;
    for (const std::string& word : PeerArgv(extra)) {
      quoted.push_back(ShellQuote(word));
    }
    std::string script = absl::StrCat("printf %s ", ShellQuote(input), " | ",
                                      absl::StrJoin(quoted, " "));
    auto process = Subprocess::Start(Options({"/bin/sh", "-c", script}));
    ASSERT_TRUE(process.ok()) << process.status();
    auto ended = (*process)->Wait(kDeadline);
    ASSERT_TRUE(ended.ok()) << ended.status() << "\n"
                            << (*process)->ReadStderr();
    *status = *ended;
    *out = (*process)->ReadStdout();
    *err = (*process)->ReadStderr();
  }

  int runs_ = 0;
};

TEST_F(PipeE2eTest, HelpAndAnUnknownCommandThroughAPipe) {
  ExitStatus status;
  std::string out, err;
  ASSERT_NO_FATAL_FAILURE(RunPiped("help\nnosuch\n", {}, &status, &out, &err));
  EXPECT_TRUE(status.exited && status.code == 1) << status.ToString();
  std::vector<std::string> lines = Lines(out);
  EXPECT_THAT(lines, ::testing::Contains("cli: exit help log")) << out;
  EXPECT_THAT(lines, ::testing::Contains("script: echo execute shell sleep"))
      << out;
  EXPECT_THAT(lines, ::testing::Contains(
                         "error: unknown command \"nosuch\"; type help for "
                         "the list"))
      << out;
  // No prompt, no colours on a pipe; logs go to stderr.
  EXPECT_THAT(out, Not(HasSubstr("alice>")));
  EXPECT_THAT(out, Not(HasSubstr("\x1b[")));
  EXPECT_THAT(err, HasSubstr("peer alice"));
}

TEST_F(PipeE2eTest, EveryLineSucceedsExitsZero) {
  ExitStatus status;
  std::string out, err;
  ASSERT_NO_FATAL_FAILURE(RunPiped("echo one\n# a comment\n\n   \n/echo two\n",
                                   {}, &status, &out, &err));
  EXPECT_TRUE(status.success()) << status.ToString() << "\n" << err;
  EXPECT_THAT(Lines(out), ElementsAre("one", "two"));
}

TEST_F(PipeE2eTest, ExecFlagsRunInOrderBeforeStandardInput) {
  ExitStatus status;
  std::string out, err;
  ASSERT_NO_FATAL_FAILURE(RunPiped("echo c\n",
                                   {"--exec", "echo a", "--exec", "echo b"},
                                   &status, &out, &err));
  EXPECT_TRUE(status.success()) << status.ToString() << "\n" << err;
  EXPECT_THAT(Lines(out), ElementsAre("a", "b", "c"));
}

TEST_F(PipeE2eTest, FailingScriptLineNamesFileAndLine) {
  const std::string script = dir_->File("failing.cmd");
  ASSERT_TRUE(
      WriteFile(script, "echo first\n# comment\n\nnosuch arg\necho never\n")
          .ok());
  ExitStatus status;
  std::string out, err;
  ASSERT_NO_FATAL_FAILURE(
      RunPiped("echo after\n", {"--script", script}, &status, &out, &err));
  EXPECT_TRUE(status.exited && status.code == 1) << status.ToString();
  std::vector<std::string> lines = Lines(out);
  ASSERT_GE(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0], "first");
  EXPECT_THAT(lines[1], HasSubstr(absl::StrCat(script, ":4")));
  EXPECT_THAT(lines[1], HasSubstr("unknown command \"nosuch\""));
  EXPECT_THAT(out, Not(HasSubstr("never")));
  // Standard input still runs after the script (like a shell), and the exit
  // code remembers the failure.
  EXPECT_EQ(lines.back(), "after");
}

TEST_F(PipeE2eTest, ExitCodeFromTheExitCommand) {
  ExitStatus status;
  std::string out, err;
  ASSERT_NO_FATAL_FAILURE(
      RunPiped("echo before\nexit 3\necho after\n", {}, &status, &out, &err));
  EXPECT_TRUE(status.exited && status.code == 3) << status.ToString();
  EXPECT_THAT(Lines(out), ElementsAre("before"));
}

TEST_F(PipeE2eTest, SigtermEndsAServingPeer) {
  const std::string ready = dir_->File("serve.ready");
  auto process =
      Subprocess::Start(Options(PeerArgv({"--serve", "--ready-file", ready})));
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_TRUE(WaitForFileLine(ready, kDeadline, process->get()).ok());
  absl::Time sent = absl::Now();
  ASSERT_TRUE((*process)->Signal(SIGTERM).ok());
  auto ended = (*process)->Wait(kDeadline);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->success()) << ended->ToString();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(5));
  EXPECT_THAT((*process)->ReadStderr(), HasSubstr("leaving"));
}

// Standard input stays open (a FIFO nobody closes): SIGTERM must still end
// the peer promptly, between two lines.
TEST_F(PipeE2eTest, SigtermEndsAPeerReadingAnOpenPipe) {
  const std::string fifo = dir_->File("input.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opened read-write so that opening never blocks and the peer never sees
  // end of input.
  int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  const std::string ready = dir_->File("fifo.ready");
  std::vector<std::string> quoted;
  for (const std::string& word : PeerArgv({"--ready-file", ready})) {
    quoted.push_back(ShellQuote(word));
  }
  auto process = Subprocess::Start(
      Options({"/bin/sh", "-c",
               absl::StrCat("exec ", absl::StrJoin(quoted, " "), " <",
                            ShellQuote(fifo))}));
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_TRUE(WaitForFileLine(ready, kDeadline, process->get()).ok());

  const std::string line = "echo still reading\n";
  ASSERT_EQ(::write(writer, line.data(), line.size()),
            static_cast<ssize_t>(line.size()));
  Eventually(
      [&] {
        return absl::StrContains((*process)->ReadStdout(), "still reading");
      },
      kDeadline);
  ASSERT_THAT((*process)->ReadStdout(), HasSubstr("still reading"));

  absl::Time sent = absl::Now();
  ASSERT_TRUE((*process)->Signal(SIGTERM).ok());  // the shell exec'd the peer
  auto ended = (*process)->Wait(kDeadline);
  ::close(writer);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(ended->success()) << ended->ToString();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(5));
}

}  // namespace
}  // namespace peerlab::peer
