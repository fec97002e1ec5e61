// MembershipHost waiting for the membership loop: a completion that the
// loop drops (the node deleted by memberlistdelete while a join waits) ends
// the wait.
#include "peer/app/membership_commands.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "peer/cli/test_output.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/spdlog.h"

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

// Records which members each event reached it for.
class RecordingListener : public membership::EventListener {
 public:
  void OnJoin(const membership::Member& m) override { Add("joined " + m.name); }
  void OnLeave(const membership::Member& m) override { Add("left " + m.name); }
  bool Has(const std::string& event) {
    std::lock_guard<std::mutex> lock(mu_);
    return std::find(events_.begin(), events_.end(), event) != events_.end();
  }

 private:
  void Add(const std::string& event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
  }
  std::mutex mu_;
  std::vector<std::string> events_;
};

// A log sink noting, for each line naming `event`'s member, whether the
// listener had the event by then.
class OrderSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit OrderSink(RecordingListener* listener) : listener_(listener) {}
  std::vector<std::string> lines;  // "LINE: told" or "LINE: not told yet"

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    if (text.find("member bob") == std::string::npos) return;
    std::string event =
        text.find("joined") != std::string::npos ? "joined bob" : "left bob";
    lines.push_back(text +
                    (listener_->Has(event) ? ": told" : ": not told yet"));
  }
  void flush_() override {}

 private:
  RecordingListener* listener_;
};

// The harness waits for "member X joined" in a peer's log and then sends a
// chat message: by the time the line is written, the chat (a listener)
// must have been told, or the message misses X (partition-3-2.cmd: e never
// showed c's "after heal" sent right after c logged "member e joined").
TEST(MembershipHostTest, MemberLinesAreLoggedAfterTheListenersWereTold) {
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
  RecordingListener listener;
  host.AddListener(&listener);
  auto sink = std::make_shared<OrderSink>(&listener);
  auto logger = std::make_shared<spdlog::logger>("order", sink);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  membership::Member bob{.name = "bob", .addr = "127.0.0.1:7001"};
  host.OnJoin(bob);
  bob.state = membership::MemberState::kDead;
  host.OnLeave(bob);
  spdlog::set_default_logger(previous);
  EXPECT_EQ(sink->lines, (std::vector<std::string>{
                             "member bob joined (127.0.0.1:7001): told",
                             "member bob failed (declared dead): told"}));
}

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

// A real node "alice" on loopback (insecure gossip) with the commands
// and the memberlist.* settings registered.
RealNodeEnv LoopbackEnv(membership::MembershipStreamService* service) {
  RealNodeEnv real;
  real.bind = "127.0.0.1";
  real.grpc_address = [] { return std::string("127.0.0.1:1"); };
  real.take_reserved_socket = [] { return -1; };
  real.service = service;
  return real;
}

struct Alice {
  Alice() { EXPECT_TRUE(commands.Register(registry, config).ok()); }
  membership::MembershipStreamService service;
  MembershipHost host{
      MembershipHost::Env{.name = "alice", .insecure_gossip = true},
      std::make_unique<runtime::ThreadHostLoop>("membership"),
      RealNodeFactory(LoopbackEnv(&service))};
  MembershipCommands commands{&host, {}};
  cli::Registry registry;
  cli::ConfigRegistry config;
};

// The key/value commands print each write's stamp, and `broadcastlist
// stamps` every entry with its stamp (tombstones included): `check kv` of
// the harness reads both; plain `broadcastlist` is unchanged.
TEST(MembershipCommandsTest, KeyValueCommandsPrintTheirStamps) {
  Alice alice;
  MembershipHost& host = alice.host;
  cli::Registry& registry = alice.registry;
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

// memberlist.max_queued_alives reaches the node's Config (the gossip
// queue's bound, docs/membership.md): set, then memberlistcreate; a
// negative value is refused naming the key; a profile sets it back to 1,024.
TEST(MembershipCommandsTest, MaxQueuedAlivesReachesTheNode) {
  Alice alice;
  MembershipHost& host = alice.host;
  cli::ConfigRegistry& config = alice.config;
  EXPECT_EQ(*config.Get("memberlist.max_queued_alives"), "1024");
  absl::Status bad = config.Set("memberlist.max_queued_alives", "-1");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("memberlist.max_queued_alives"),
            std::string::npos)
      << bad;
  ASSERT_TRUE(config.Set("memberlist.max_queued_alives", "77").ok());
  ASSERT_TRUE(host.Create().ok());
  auto bound =
      host.WithNode([](membership::Memberlist& n) -> absl::StatusOr<int> {
        return n.config().max_queued_alives;
      });
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(*bound, 77);
  ASSERT_TRUE(config.Set("memberlist.profile", "lan").ok());
  EXPECT_EQ(*config.Get("memberlist.max_queued_alives"), "1024");
}

}  // namespace
}  // namespace peerlab::peer
