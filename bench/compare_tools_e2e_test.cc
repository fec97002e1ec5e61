// The side-by-side tools run for real (cluster_compare with two peerlab-peer
// processes on the host's loopback, no serf, no network namespace): what
// their shared options (compare_options.h) do beyond the checks of
// base/options_e2e_test.cc.
#include <sys/stat.h>

#include <string>

#include "absl/time/time.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::bench {
namespace {

using ::peerlab::testing::BinDir;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(CompareToolsE2eTest, LogDirIsMadeWhenMissingWithOneDirectoryPerRun) {
  auto bin = BinDir();
  ASSERT_TRUE(bin.ok()) << bin.status();
  auto dir = TempDir::Create("compare-tools");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string logs = (*dir)->File("logs");  // does not exist yet
  auto p = Subprocess::Start(
      {.argv = {*bin + "/cluster_compare", "--no-netns", "--systems", "peerlab",
                "--nodes", "2", "--repeat", "1", "--events", "0", "--queries",
                "0", "--loss-queries", "0", "--log-dir", logs},
       // The peers' state directory (node keys, group key) under the test's.
       .env = {{"HOME", (*dir)->File("home")},
               {"PEERLAB_STATE_DIR", ""},
               {"XDG_STATE_HOME", ""}},
       .stdout_path = (*dir)->File("out"),
       .stderr_path = (*dir)->File("err")});
  ASSERT_TRUE(p.ok()) << p.status();
  auto exit = (*p)->Wait(absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << (*p)->ReadStderr();
  EXPECT_TRUE(IsDirectory(logs)) << (*p)->ReadStderr();
  // Each system and repetition has its own, so none overwrites another's.
  EXPECT_TRUE(IsDirectory(logs + "/peerlab-r0"));
  struct stat st;
  EXPECT_EQ(::stat((logs + "/peerlab-r0/peerlab1.log").c_str(), &st), 0);
}

}  // namespace
}  // namespace peerlab::bench
