// peerlab-test end to end on a script of the new language: twenty peers in
// groups and ranges, a step on all of them, a parallel block (the real
// binaries on loopback).
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

}  // namespace
}  // namespace peerlab::harness
