#include "services/bootstrap/admin_token.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "gtest/gtest.h"

namespace peerlab::bootstrap {
namespace {

// A TCP socket listening on a free port of [::] (IPv4 too): returns the
// descriptor and sets *port; -1 on failure.
int ListenAnywhere(int* port) {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int off = 0;
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_any;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd, 1) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(a.sin6_port);
  return fd;
}

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
  int port = 0;
  const int fd = ListenAnywhere(&port);  // "the server", of this user
  ASSERT_GE(fd, 0);
  const std::string p = std::to_string(port);
  for (const std::string& local :
       {"127.0.0.1:" + p, "localhost:" + p, "[::1]:" + p, "ipv4:127.0.0.2:" + p,
        "dns:///localhost:" + p}) {
    auto found = FindAdminToken("", local);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->token, server->token) << local;
  }
  // Never sent to another machine.
  for (const char* remote :
       {"10.0.0.1:8080", "lab-host:8080", "[2001:db8::1]:5"}) {
    EXPECT_TRUE(FindAdminToken("", remote)->token.empty()) << remote;
  }
  ::close(fd);
  // Nothing listens there any more: nobody to send it to.
  EXPECT_TRUE(FindAdminToken("", "127.0.0.1:" + p)->token.empty());
}

// Another local user listening on the server's port (its own bootstrap
// server, or one bound while this user's was down) must not be sent this
// user's per-user admin token: it could then Reset this user's server.
TEST_F(AdminTokenFileTest, ThePerUserTokenIsNotSentToAnotherUsersListener) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to listen as another user";
  ASSERT_TRUE(LoadServerAdminToken("").ok());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // another user's server
    int port = 0;
    if (::setuid(65534) != 0) ::_exit(1);
    const int fd = ListenAnywhere(&port);
    if (fd < 0) ::_exit(1);
    if (::write(ready[1], &port, sizeof port) != sizeof port) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  int port = 0;
  const bool got = ::read(ready[0], &port, sizeof port) == sizeof port;
  ::close(ready[0]);
  ::close(ready[1]);
  if (got) {
    auto found = FindAdminToken("", "127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_TRUE(found->token.empty())
        << "the per-user admin token would go to uid 65534's listener";
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(got);
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
