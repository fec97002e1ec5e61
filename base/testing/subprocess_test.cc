#include "base/testing/subprocess.h"

#include <signal.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::testing {
namespace {

using ::testing::HasSubstr;

TEST(SubprocessTest, CapturesOutputEnvironmentAndExitCode) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  Subprocess::Options options;
  options.argv = {"/bin/sh", "-c", "echo out $PEERLAB_X; echo err >&2; exit 3"};
  options.env = {{"PEERLAB_X", "hello"}};
  options.stdout_path = (*dir)->File("out");
  options.stderr_path = (*dir)->File("err");
  auto p = Subprocess::Start(options);
  ASSERT_TRUE(p.ok()) << p.status();
  auto exit = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 3);
  EXPECT_FALSE(exit->success());
  EXPECT_EQ((*p)->ReadStdout(), "out hello\n");
  EXPECT_EQ((*p)->ReadStderr(), "err\n");
  EXPECT_FALSE((*p)->Signal(SIGTERM).ok());  // already reaped
}

TEST(SubprocessTest, ReportsExecFailure) {
  Subprocess::Options options;
  options.argv = {"/nonexistent/program"};
  auto p = Subprocess::Start(options);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("/nonexistent/program"));
}

TEST(SubprocessTest, WaitTimesOutThenSignalEndsIt) {
  Subprocess::Options options;
  options.argv = {"/bin/sleep", "60"};
  auto p = Subprocess::Start(options);
  ASSERT_TRUE(p.ok()) << p.status();
  auto early = (*p)->Wait(absl::Milliseconds(50));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE((*p)->Running());
  ASSERT_TRUE((*p)->Signal(SIGTERM).ok());
  auto exit = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGTERM);
}

TEST(SubprocessTest, WaitForFileLineFailsEarlyWhenTheProcessEnds) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string ready = (*dir)->File("ready");
  Subprocess::Options options;
  options.argv = {"/bin/sh", "-c", "echo broken >&2; exit 2"};
  options.stderr_path = (*dir)->File("err");
  auto p = Subprocess::Start(options);
  ASSERT_TRUE(p.ok());
  auto line = WaitForFileLine(ready, absl::Seconds(30), p->get());
  EXPECT_EQ(line.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(line.status().message(), HasSubstr("exit code 2"));
  EXPECT_THAT(line.status().message(), HasSubstr("broken"));

  options.argv = {"/bin/sh", "-c",
                  "printf 'addr' > " + ready + "; printf ':1\\n' >> " + ready};
  auto q = Subprocess::Start(options);
  ASSERT_TRUE(q.ok());
  auto ok = WaitForFileLine(ready, absl::Seconds(10));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, "addr:1\n");
}

TEST(TempDirTest, RemovedOnDestruction) {
  std::string path;
  {
    auto dir = TempDir::Create("peerlab-tempdir-test");
    ASSERT_TRUE(dir.ok());
    path = (*dir)->path();
    ASSERT_TRUE(WriteFile((*dir)->File("x"), "data").ok());
    EXPECT_EQ(ReadFile((*dir)->File("x")).value_or(""), "data");
  }
  EXPECT_EQ(ReadFile(path + "/x").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace peerlab::testing
