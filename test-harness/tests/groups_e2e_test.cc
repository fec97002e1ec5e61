// peerlab-test end to end with twenty real peers on loopback: a script of
// the new language (groups and ranges, a step on all of them, a parallel
// block), and issue 17's flip-flop of one peer's ingress
// (test-harness/scenarios/flipflop-20.cmd).
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

using ::peerlab::testing::BinDir;
using ::peerlab::testing::ReadFile;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// On failure: the report folder stays (its path is printed) and every
// peer's standard output (its init lines, member events and chat view) and
// the bootstrap log are printed, so a rare failure can be read.
void KeepReport(::peerlab::testing::TempDir& dir) {
  dir.Keep();
  std::cerr << "report folder and logs kept in " << dir.File("runs") << "\n";
  std::vector<std::string> files;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(dir.File("runs"),
                                                               error);
       !error && it != std::filesystem::recursive_directory_iterator();
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    const bool peer_out = it->path().extension() == ".out" &&
                          name != "bootstrap.out" && name != "coordinator.out";
    if (it->path().parent_path().filename() == "logs" &&
        (peer_out || name == "bootstrap.log")) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    auto text = ReadFile(file);
    if (!text.ok()) continue;
    constexpr size_t kTail = 8 * 1024;
    std::cerr << "---- " << file << " ----\n"
              << (text->size() > kTail
                      ? "...\n" + text->substr(text->size() - kTail)
                      : *text)
              << "\n";
  }
}

TEST(GroupsE2eTest, TwentyPeersWithGroupsAndAParallelBlockPass) {
  auto bin = BinDir();
  ASSERT_TRUE(bin.ok()) << bin.status();
  auto dir = TempDir::Create("peerlab-groups-e2e");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::Cleanup keep = [&] {
    if (::testing::Test::HasFailure()) KeepReport(**dir);
  };
  const absl::Time start = absl::Now();
  auto p =
      Subprocess::Start({.argv = {*bin + "/peerlab-test", "run", "--report-dir",
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

// Issue 17, real processes: 20 peers, p20's ingress blocked by the peers'
// own fault layer (oneway p[1..19] -> p20, no root) for 3 s, restored for
// 2 s, three times; check membership fails if any healthy peer was ever
// declared dead by a healthy one, or if the final tables disagree (within
// 16 s of the last heal: p20 may hold a refuted suspicion until its next
// push/pull, see the script).
TEST(FlipFlopE2eTest, NoHealthyPeerIsDeclaredDeadWhileOneFlipFlops) {
  auto bin = BinDir();
  ASSERT_TRUE(bin.ok()) << bin.status();
  auto dir = TempDir::Create("peerlab-flipflop-e2e");
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::Cleanup keep = [&] {
    if (::testing::Test::HasFailure()) KeepReport(**dir);
  };
  const absl::Time start = absl::Now();
  auto p = Subprocess::Start(
      {.argv = {*bin + "/peerlab-test", "run", "--report-dir",
                (*dir)->File("runs"), "--timeout", "16",
                std::string(PEERLAB_SOURCE_DIR) +
                    "/test-harness/scenarios/flipflop-20.cmd"},
       .stdout_path = (*dir)->File("out.txt"),
       .stderr_path = (*dir)->File("err.txt")});
  ASSERT_TRUE(p.ok()) << p.status();
  auto exit = (*p)->Wait(absl::Seconds(90));
  ASSERT_TRUE(exit.ok()) << "peerlab-test hangs: " << exit.status();
  const std::string out = (*p)->ReadStdout();
  EXPECT_EQ(exit->code, 0) << out << (*p)->ReadStderr();
  // The assertion of the issue: no false removal during the run
  // ("check membership: FAILED: N time(s) a healthy peer declared a healthy
  // one dead" otherwise), then agreement of the 19 healthy peers while p20
  // is deaf: the quarantine holds a member that keeps flapping out, so p20
  // is faulty for the whole run and the check runs in its last deaf phase.
  EXPECT_THAT(out, HasSubstr("check membership: OK: 19 healthy peer(s) "
                             "agree on 19 live member(s)"));
  EXPECT_THAT(out, HasSubstr("none of a healthy peer by a healthy one"));
  // The fault bit: p20 was suspected.
  EXPECT_THAT(out, HasSubstr("p1 logView >= 1 \"~member p20 is suspect\""));
  EXPECT_THAT(out, HasSubstr("Verdict: PASSED"));
  // 13 s of faults, about 1 s to start, check membership at most 16 s
  // (4-15 s seen): 30 s. The bound is against a hang, not a speed claim:
  // 40 s left a 10 s margin, which a loaded machine running two tests at
  // once eats (the harness runs of 5-9 s took up to 13.7 s so).
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));
}

}  // namespace
}  // namespace peerlab::harness
