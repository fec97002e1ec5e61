#include "base/peer_address_file.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;

class PeerAddressFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::filesystem::temp_directory_path().string() +
                       "/peerlab-peer-address-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ::setenv("PEERLAB_STATE_DIR", (dir_ + "/state").c_str(), 1);
    ::unsetenv(kRpcAddrEnv);
  }
  void TearDown() override {
    ::unsetenv("PEERLAB_STATE_DIR");
    ::unsetenv(kRpcAddrEnv);
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(PeerAddressFileTest, APeersFileIsItsOwnersAndGoesWithIt) {
  auto file = PeerAddressFile::Create("alice", "127.0.0.1:4001");
  ASSERT_TRUE(file.ok()) << file.status();
  const std::string path = (*file)->path();
  EXPECT_EQ(path, dir_ + "/state/nodes/alice/grpc.addr");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto peer = ReadPeerAddressFile(path);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->name, "alice");
  EXPECT_EQ(peer->address, "127.0.0.1:4001");
  EXPECT_EQ(peer->pid, ::getpid());
  file->reset();
  EXPECT_NE(::stat(path.c_str(), &st), 0);
}

TEST_F(PeerAddressFileTest, TheOrderIsFlagEnvPeerThenTheOnlyPeer) {
  // Nothing: what was tried is named.
  auto none = ResolvePeerAddress("", "");
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();
  EXPECT_THAT(none.status().message(), HasSubstr("no --rpc-addr"));
  EXPECT_THAT(none.status().message(), HasSubstr("PEERLAB_RPC_ADDR"));
  EXPECT_THAT(none.status().message(), HasSubstr("/nodes/*/grpc.addr"));

  auto alice = PeerAddressFile::Create("alice", "127.0.0.1:4001");
  ASSERT_TRUE(alice.ok());
  auto only = ResolvePeerAddress("", "");
  ASSERT_TRUE(only.ok()) << only.status();
  EXPECT_EQ(only->address, "127.0.0.1:4001");
  EXPECT_EQ(only->name, "alice");

  auto bob = PeerAddressFile::Create("bob", "127.0.0.1:4002");
  ASSERT_TRUE(bob.ok());
  auto several = ResolvePeerAddress("", "");
  EXPECT_TRUE(absl::IsInvalidArgument(several.status()));
  EXPECT_THAT(several.status().message(), HasSubstr("(alice, bob)"));
  EXPECT_THAT(several.status().message(), HasSubstr("--peer NAME"));
  auto named = ResolvePeerAddress("", "bob");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->address, "127.0.0.1:4002");
  auto missing = ResolvePeerAddress("", "carol");
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_THAT(missing.status().message(), HasSubstr("peer carol"));

  ::setenv(kRpcAddrEnv, "127.0.0.1:5000", 1);
  EXPECT_EQ(ResolvePeerAddress("", "bob")->address, "127.0.0.1:5000");
  EXPECT_EQ(ResolvePeerAddress("127.0.0.1:6000", "bob")->address,
            "127.0.0.1:6000");
}

TEST_F(PeerAddressFileTest, AKilledPeersFileIsSkipped) {
  // A process that wrote a file and died without removing it.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto file = PeerAddressFile::Create("ghost", "127.0.0.1:4009");
    file->release();  // leaked: never removed
    ::_exit(file.ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const std::string path = dir_ + "/state/nodes/ghost/grpc.addr";
  EXPECT_TRUE(absl::IsNotFound(ReadPeerAddressFile(path).status()));
  auto peers = FindLocalPeers();
  ASSERT_TRUE(peers.ok());
  EXPECT_TRUE(peers->empty());
  // A malformed file is refused, naming it.
  std::ofstream(path) << "garbage";
  EXPECT_THAT(ReadPeerAddressFile(path).status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace peerlab
