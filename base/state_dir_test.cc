#include "base/state_dir.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/peerlab-state-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    const char* old = std::getenv("PEERLAB_STATE_DIR");
    if (old != nullptr) old_ = old, had_old_ = true;
  }
  void TearDown() override {
    if (had_old_)
      ::setenv("PEERLAB_STATE_DIR", old_.c_str(), 1);
    else
      ::unsetenv("PEERLAB_STATE_DIR");
    std::filesystem::remove_all(root_);
  }
  std::string root_;
  std::string old_;
  bool had_old_ = false;
};

int ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return st.st_mode & 07777;
}

TEST_F(StateDirTest, CreatesThePrivateDirectoryNamedByTheEnvironment) {
  std::string want = root_ + "/a/b/peerlab";
  ::setenv("PEERLAB_STATE_DIR", (want + "/").c_str(), 1);
  auto dir = UserStateDir();
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, want);
  EXPECT_EQ(ModeOf(want), 0700);
  EXPECT_EQ(ModeOf(root_ + "/a"), 0700);
}

TEST_F(StateDirTest, RefusesADirectoryOthersCanWrite) {
  std::string dir = root_ + "/open";
  ASSERT_EQ(::mkdir(dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  ::setenv("PEERLAB_STATE_DIR", dir.c_str(), 1);
  auto got = UserStateDir();
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("writable by group or others"));
}

TEST_F(StateDirTest, SubdirectoryNamesAreOneComponent) {
  EXPECT_TRUE(PrivateSubdirectory(root_, "alice").ok());
  EXPECT_EQ(ModeOf(root_ + "/alice"), 0700);
  EXPECT_FALSE(PrivateSubdirectory(root_, "../x").ok());
  EXPECT_FALSE(PrivateSubdirectory(root_, "..").ok());
  EXPECT_FALSE(PrivateSubdirectory(root_, "").ok());
}

// --state-dir names the parent directly (UserStateDir is not asked): a
// parent others can write (another user could swap "nodes" for their own
// directory between the check and the use) is refused like
// $PEERLAB_STATE_DIR is.
TEST_F(StateDirTest, SubdirectoryOfADirectoryOthersCanWriteIsRefused) {
  std::string open = root_ + "/open";
  ASSERT_EQ(::mkdir(open.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(open.c_str(), 01777), 0);
  auto got = PrivateSubdirectory(open, "nodes");
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("writable by group or others"));
  EXPECT_EQ(ModeOf(open + "/nodes"), -1);  // nothing made there
}

TEST_F(StateDirTest, SecretFileIsCreatedOnceWithMode0600) {
  std::string path = root_ + "/key";
  int made = 0;
  auto make = [&] {
    ++made;
    return std::string("secret-1");
  };
  auto first = ReadOrCreateSecretFile(path, 64, make, "group key");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "secret-1");
  EXPECT_EQ(ModeOf(path), 0600);
  auto again = ReadOrCreateSecretFile(
      path, 64, [] { return std::string("other"); }, "group key");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "secret-1");
  EXPECT_EQ(made, 1);
}

TEST_F(StateDirTest, RacingCreatorsAllReadTheSameSecret) {
  std::string path = root_ + "/key";
  std::atomic<int> counter{0};
  std::vector<std::string> seen(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto got = ReadOrCreateSecretFile(
          path, 64, [&] { return "s" + std::to_string(counter++); }, "k");
      seen[i] = got.ok() ? *got : got.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : seen) EXPECT_EQ(s, seen[0]);
  EXPECT_EQ(std::filesystem::directory_iterator(root_)->path(), path)
      << "no temporary file is left behind";
}

TEST_F(StateDirTest, ASecretFileOthersCanReadIsRefused) {
  std::string path = root_ + "/key";
  ASSERT_TRUE(ReadOrCreateSecretFile(
                  path, 64, [] { return "x"; }, "k")
                  .ok());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto got = ReadOrCreateSecretFile(
      path, 64, [] { return "y"; }, "group key");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(got.status().message(), HasSubstr("chmod 600"));
}

TEST_F(StateDirTest, AnOversizedSecretFileIsRefused) {
  std::string path = root_ + "/key";
  ASSERT_TRUE(ReadOrCreateSecretFile(
                  path, 4, [] { return "x"; }, "k")
                  .ok());
  auto got = ReadOrCreateSecretFile(
      root_ + "/big", 4, [] { return std::string(100, 'x'); }, "k");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace peerlab
