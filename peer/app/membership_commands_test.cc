// MembershipHost waiting for the membership loop: a completion that the
// loop drops (the node deleted by memberlistdelete while a join waits) ends
// the wait.
#include "peer/app/membership_commands.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "peer/cli/test_output.h"

namespace peerlab::peer {
namespace {

// A UDP socket on a free loopback port that receives and never answers.
class SilentUdp {
 public:
  SilentUdp() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentUdp() { ::close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  // Whether a datagram arrives within `timeout`.
  bool Receives(absl::Duration timeout) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1,
                  static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(MembershipCommandsTest, JoinWaitingWhenTheNodeIsDeletedEnds) {
  membership::MembershipStreamService service;
  RealNodeEnv real;
  real.bind = "127.0.0.1";
  real.grpc_address = [] { return std::string("127.0.0.1:1"); };
  real.take_reserved_socket = [] { return -1; };
  real.service = &service;
  // Leaked if the join never returns (the old waiter): the joining thread
  // is then stuck for good and must not outlive it.
  auto* host = new MembershipHost(
      MembershipHost::Env{.name = "alice", .insecure_gossip = true},
      std::make_unique<runtime::ThreadHostLoop>("membership"),
      RealNodeFactory(real));
  auto* commands = new MembershipCommands(host, {});
  cli::Registry registry;
  cli::ConfigRegistry config;
  ASSERT_TRUE(commands->Register(registry, config).ok());
  ASSERT_TRUE(host->Create().ok());
  ASSERT_TRUE(host->Start().ok());

  // The join asks the silent address for its gRPC address, and waits.
  SilentUdp silent;
  auto result = std::make_shared<absl::StatusOr<int>>(absl::UnknownError(""));
  auto returned = std::make_shared<absl::Notification>();
  std::thread joiner([host, result, returned, to = silent.address()] {
    *result = host->Join({to});
    returned->Notify();
  });
  ASSERT_TRUE(silent.Receives(absl::Seconds(5)))
      << "the join never asked the silent member";
  // Deleting the node drops the join's completion (the transport is gone
  // before its cancellation runs).
  cli::CapturingOutput out;
  ASSERT_TRUE(registry.Execute("memberlistdelete", out).ok());

  if (!returned->WaitForNotificationWithTimeout(absl::Seconds(5))) {
    joiner.detach();
    FAIL() << "Join still waits 5 s after its node was deleted";
  }
  joiner.join();
  EXPECT_EQ(result->status().code(), absl::StatusCode::kCancelled)
      << result->status();
  delete commands;
  delete host;
}

// The key/value commands print each write's stamp, and `broadcastlist
// stamps` every entry with its stamp (tombstones included): `check kv` of
// the harness reads both; plain `broadcastlist` is unchanged.
TEST(MembershipCommandsTest, KeyValueCommandsPrintTheirStamps) {
  membership::MembershipStreamService service;
  RealNodeEnv real;
  real.bind = "127.0.0.1";
  real.grpc_address = [] { return std::string("127.0.0.1:1"); };
  real.take_reserved_socket = [] { return -1; };
  real.service = &service;
  MembershipHost host(
      MembershipHost::Env{.name = "alice", .insecure_gossip = true},
      std::make_unique<runtime::ThreadHostLoop>("membership"),
      RealNodeFactory(real));
  MembershipCommands commands(&host, {});
  cli::Registry registry;
  cli::ConfigRegistry config;
  ASSERT_TRUE(commands.Register(registry, config).ok());
  ASSERT_TRUE(host.Create().ok());
  ASSERT_TRUE(host.Start().ok());
  auto run = [&](const std::string& line) {
    cli::CapturingOutput out;
    absl::Status s = registry.Execute(line, out);
    EXPECT_TRUE(s.ok()) << line << ": " << s;
    return out.lines();
  };
  EXPECT_EQ(run("broadcastadd a hello  world"),
            std::vector<std::string>{"a = hello world (lamport 1)"});
  run("broadcastadd b 2");
  run("broadcastadd c 3");
  EXPECT_EQ(run("broadcastdel b c"),
            std::vector<std::string>{"deleted b (lamport 4), c (lamport 5)"});
  EXPECT_EQ(run("broadcastlist"),
            (std::vector<std::string>{"a = hello world", "1 key(s)"}));
  EXPECT_EQ(run("broadcastlist stamps"),
            (std::vector<std::string>{"a @1 alice = hello world",
                                      "b @4 alice deleted",
                                      "c @5 alice deleted", "3 key(s)"}));
  cli::CapturingOutput out;
  EXPECT_FALSE(registry.Execute("broadcastlist stamp", out).ok());
}

}  // namespace
}  // namespace peerlab::peer
