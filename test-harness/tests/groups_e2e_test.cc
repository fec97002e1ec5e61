// peerlab-test end to end on a script of the new language: twenty peers in
// groups and ranges, a step on all of them, a parallel block (the real
// binaries on loopback).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "base/testing/subprocess.h"

namespace peerlab::harness {
namespace {

using ::peerlab::testing::BinDir;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(GroupsE2eTest, TwentyPeersWithGroupsAndAParallelBlockPass) {
  auto bin = BinDir();
  ASSERT_TRUE(bin.ok()) << bin.status();
  auto dir = TempDir::Create("peerlab-groups-e2e");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const absl::Time start = absl::Now();
  auto p = Subprocess::Start(
      {.argv = {*bin + "/peerlab-test", "run", "--report-dir",
                (*dir)->File("runs"), "--timeout", "20",
                std::string(PEERLAB_SOURCE_DIR) +
                    "/test-harness/tests/twenty_peers.cmd"},
       .stdout_path = (*dir)->File("out.txt"),
       .stderr_path = (*dir)->File("err.txt")});
  ASSERT_TRUE(p.ok()) << p.status();
  auto exit = (*p)->Wait(absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << "peerlab-test hangs: " << exit.status();
  const std::string out = (*p)->ReadStdout();
  EXPECT_EQ(exit->code, 0) << out << (*p)->ReadStderr();
  EXPECT_THAT(out, HasSubstr("Verdict: PASSED"));
  EXPECT_THAT(out, Not(HasSubstr("FAILED")));
  EXPECT_THAT(out, HasSubstr("steps, 20 peers"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
}

}  // namespace
}  // namespace peerlab::harness
