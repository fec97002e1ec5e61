#include "bench/control_poller.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "base/testing/eventually.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"

namespace peerlab::bench {
namespace {

using ::peerlab::testing::Eventually;

using ::peerlab::testing::BinDir;
using ::peerlab::testing::PeerProcessOptions;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;
using ::peerlab::testing::WaitForFileLine;

// A TCP port free on 127.0.0.1 right now.
int FreeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return 0;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Regression: the poller's first calls are refused (the peer is not
// listening yet), as when membership_compare polls a peer from its launch.
// Once the peer serves, the next polls must reach it at once; with
// fail-fast calls the channel stayed in TRANSIENT_FAILURE until gRPC's 5 s
// backup poller noticed the connection, and the peer was seen seconds late.
TEST(ControlPollerTest, ReachesAPeerThatStartsAfterTheFirstPolls) {
  auto tmp = TempDir::Create("control-poller");
  ASSERT_TRUE(tmp.ok()) << tmp.status();
  auto bin_dir = BinDir();
  ASSERT_TRUE(bin_dir.ok()) << bin_dir.status();
  const int port = FreeTcpPort();
  ASSERT_NE(port, 0);

  ControlPoller poller(absl::StrCat("127.0.0.1:", port),
                       peerlab::testing::TestControlToken());
  // Nobody listens: refused, within the call's deadline.
  const absl::Time before = absl::Now();
  EXPECT_FALSE(poller.Execute("echo hi", absl::Milliseconds(100)).ok());
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));

  auto peer = Subprocess::Start(
      PeerProcessOptions(*bin_dir, (*tmp)->path(), "p",
                         {"--serve", "--no-init", "--bind", "127.0.0.1",
                          "--grpc-port", absl::StrCat(port)}));
  ASSERT_TRUE(peer.ok()) << peer.status();
  // Keep polling as the tool does (short calls, short pauses) while it
  // starts; then it must answer within a second of serving.
  auto ready = WaitForFileLine(absl::StrCat((*tmp)->path(), "/p.ready"),
                               absl::Seconds(30), peer->get());
  ASSERT_TRUE(ready.ok()) << ready.status();
  const absl::Time serving = absl::Now();
  absl::StatusOr<std::vector<std::string>> out =
      absl::UnavailableError("not called");
  Eventually(
      [&] {
        out = poller.Execute("echo hi", absl::Milliseconds(100));
        return out.ok();
      },
      absl::Seconds(10));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_LT(absl::Now() - serving, absl::Seconds(1));
  ASSERT_FALSE(out->empty());
  EXPECT_EQ(out->front(), "hi");
}

}  // namespace
}  // namespace peerlab::bench
