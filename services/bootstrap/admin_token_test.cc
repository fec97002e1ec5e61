#include "services/bootstrap/admin_token.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "gtest/gtest.h"

namespace peerlab::bootstrap {
namespace {

// Points PEERLAB_STATE_DIR at a fresh directory for one test.
class AdminTokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/peerlab-admin-token-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0700);
    ::setenv("PEERLAB_STATE_DIR", dir_.c_str(), 1);
    ::unsetenv(kAdminTokenFileEnv);
  }
  void TearDown() override {
    ::unsetenv("PEERLAB_STATE_DIR");
    std::system(("rm -rf " + dir_).c_str());
  }
  std::string dir_;
};

// A server started without --admin-token-file let anyone administer it;
// now it makes (once) a per-user token that only its user can read, and
// that user's tools on this machine find it.
TEST_F(AdminTokenFileTest, TheServerMakesAPerUserTokenThatLocalToolsFind) {
  EXPECT_TRUE(FindAdminToken("", "127.0.0.1:8080")->token.empty());
  auto server = LoadServerAdminToken("");
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(server->per_user);
  EXPECT_EQ(server->path, dir_ + "/bootstrap-admin.token");
  EXPECT_EQ(server->token.size(), 64u);
  struct stat st;
  ASSERT_EQ(::stat(server->path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A restart keeps it.
  EXPECT_EQ(LoadServerAdminToken("")->token, server->token);
  for (const char* local : {"127.0.0.1:8080", "localhost:1", "[::1]:5",
                            "ipv4:127.0.0.2:9", "dns:///localhost:80"}) {
    auto found = FindAdminToken("", local);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->token, server->token) << local;
  }
  // Never sent to another machine.
  for (const char* remote :
       {"10.0.0.1:8080", "lab-host:8080", "[2001:db8::1]:5"}) {
    EXPECT_TRUE(FindAdminToken("", remote)->token.empty()) << remote;
  }
}

TEST_F(AdminTokenFileTest, AnExplicitFileOrTheEnvironmentWins) {
  const std::string file = dir_ + "/given.token";
  std::ofstream(file) << "given-token\n";
  EXPECT_EQ(LoadServerAdminToken(file)->token, "given-token");
  EXPECT_FALSE(LoadServerAdminToken(file)->per_user);
  EXPECT_EQ(FindAdminToken(file, "10.0.0.1:1")->token, "given-token");
  ::setenv(kAdminTokenFileEnv, file.c_str(), 1);
  EXPECT_EQ(LoadServerAdminToken("")->token, "given-token");
  EXPECT_EQ(FindAdminToken("", "10.0.0.1:1")->token, "given-token");
  ::unsetenv(kAdminTokenFileEnv);
  struct stat st;
  EXPECT_NE(::stat((dir_ + "/bootstrap-admin.token").c_str(), &st), 0);
  EXPECT_FALSE(LoadServerAdminToken(dir_ + "/missing").ok());
}

TEST_F(AdminTokenFileTest, APerUserTokenOthersMayReadIsRefused) {
  ASSERT_TRUE(LoadServerAdminToken("").ok());
  const std::string path = dir_ + "/bootstrap-admin.token";
  ::chmod(path.c_str(), 0644);
  auto server = LoadServerAdminToken("");
  EXPECT_EQ(server.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(FindAdminToken("", "127.0.0.1:1").ok());
}

TEST(IsLoopbackAddressTest, Table) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:8080"));
  EXPECT_TRUE(IsLoopbackAddress("127.255.0.9:1"));
  EXPECT_TRUE(IsLoopbackAddress("LOCALHOST:1"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:1"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackAddress("[::2]:1"));
  EXPECT_FALSE(IsLoopbackAddress("localhost.evil.example:1"));
  EXPECT_FALSE(IsLoopbackAddress(""));
}

}  // namespace
}  // namespace peerlab::bootstrap
