#include "peer/membership/real/udp_grpc_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/testing/eventually.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/runtime/event_loop.h"

namespace peerlab::membership {
namespace {

using ::peerlab::testing::Eventually;

using Mode = UdpGrpcTransport::Mode;

std::string PacketBytes(const std::string& from, uint32_t seq) {
  ::peer::v1::Packet packet;
  packet.set_from(from);
  auto* ping = packet.add_messages()->mutable_ping();
  ping->set_seq_no(seq);
  ping->set_target("someone");
  return packet.SerializeAsString();
}

// A port on 127.0.0.1 that nothing listens on (TCP and UDP) right now.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One node: a gRPC server with the membership service, an event loop, a
// transport; handlers that record packets and answer reliable requests
// (ping -> ack with the same seq_no; push_pull -> push_pull from `name`),
// or hold them unanswered when `hold` is set.
class Node {
 public:
  struct Received {
    std::string from;
    std::string bytes;
  };

  explicit Node(std::string name, Mode mode = Mode::kUdp, int udp_fd = -1,
                std::shared_ptr<runtime::FaultPlan> faults = nullptr)
      : name_(std::move(name)), loop_("mbr-" + name_) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(port, 0);
    grpc_address_ = absl::StrCat("127.0.0.1:", port);
    UdpGrpcTransport::Options options;
    options.mode = mode;
    options.udp_fd = udp_fd;
    options.grpc_address = grpc_address_;
    options.service = &service_;
    options.packet_call_timeout = absl::Seconds(2);
    options.faults = std::move(faults);
    auto t = UdpGrpcTransport::Create(&loop_, std::move(options));
    EXPECT_TRUE(t.ok()) << t.status();
    transport_ = std::move(*t);
    loop_.Call([this] {
      transport_->SetHandlers(Transport::Handlers{
          .on_packet =
              [this](const std::string& from, const std::string& bytes) {
                EXPECT_TRUE(loop_.InLoopThread());
                std::lock_guard<std::mutex> lock(mu_);
                packets_.push_back({from, bytes});
              },
          .on_reliable =
              [this](const std::string& from,
                     const ::peer::v1::ReliableRequest& request,
                     Transport::ReliableDone respond) {
                EXPECT_TRUE(loop_.InLoopThread());
                {
                  std::lock_guard<std::mutex> lock(mu_);
                  reliable_from_.push_back(from);
                  if (hold_) {
                    held_.push_back(std::move(respond));
                    return;
                  }
                }
                ::peer::v1::ReliableResponse response;
                if (request.has_ping()) {
                  response.mutable_ack()->set_seq_no(request.ping().seq_no());
                } else if (request.has_push_pull()) {
                  response.mutable_push_pull()->set_from(name_);
                } else {
                  response.mutable_empty();
                }
                respond(std::move(response));
              },
      });
    });
  }

  ~Node() {
    if (transport_) loop_.Call([this] { transport_.reset(); });
    loop_.Stop();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
  }

  UdpGrpcTransport& transport() { return *transport_; }
  runtime::EventLoop& loop() { return loop_; }
  const std::string& grpc_address() const { return grpc_address_; }
  std::string address() const { return transport_->LocalAddress(); }

  void set_hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
  }
  std::vector<Received> packets() {
    std::lock_guard<std::mutex> lock(mu_);
    return packets_;
  }
  std::vector<std::string> reliable_from() {
    std::lock_guard<std::mutex> lock(mu_);
    return reliable_from_;
  }
  std::vector<Transport::ReliableDone> TakeHeld() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(held_);
  }

  void Send(const std::string& to, std::string bytes) {
    loop_.Call([&] { transport_->SendPacket(to, std::move(bytes)); });
  }

  // Sends on the reliable path and waits for `done`; returns its result
  // and how long it took.
  std::pair<absl::StatusOr<::peer::v1::ReliableResponse>, absl::Duration>
  Reliable(const std::string& to, ::peer::v1::ReliableRequest request,
           absl::Duration timeout) {
    struct Result {
      std::mutex mu;
      bool done = false;
      absl::StatusOr<::peer::v1::ReliableResponse> value =
          absl::UnknownError("unset");
    };
    auto result = std::make_shared<Result>();
    const absl::Time start = absl::Now();
    loop_.Call([&] {
      transport_->SendReliable(
          to, std::move(request), timeout,
          [this, result](absl::StatusOr<::peer::v1::ReliableResponse> r) {
            EXPECT_TRUE(loop_.InLoopThread());
            std::lock_guard<std::mutex> lock(result->mu);
            result->value = std::move(r);
            result->done = true;
          });
    });
    const bool finished = Eventually(
        [&] {
          std::lock_guard<std::mutex> lock(result->mu);
          return result->done;
        },
        timeout + absl::Seconds(10));
    EXPECT_TRUE(finished) << "done never ran";
    std::lock_guard<std::mutex> lock(result->mu);
    return {result->value, absl::Now() - start};
  }

 private:
  const std::string name_;
  MembershipStreamService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string grpc_address_;
  runtime::EventLoop loop_;
  std::unique_ptr<UdpGrpcTransport> transport_;

  std::mutex mu_;
  bool hold_ = false;
  std::vector<Received> packets_;
  std::vector<std::string> reliable_from_;
  std::vector<Transport::ReliableDone> held_;
};

::peer::v1::ReliableRequest PingRequest(uint32_t seq) {
  ::peer::v1::ReliableRequest request;
  request.mutable_ping()->set_seq_no(seq);
  return request;
}

TEST(UdpGrpcTransportTest, PacketsBothWays) {
  Node a("a"), b("b");
  EXPECT_EQ(a.address(), absl::StrCat("127.0.0.1:", a.transport().udp_port()));
  a.Send(b.address(), PacketBytes("a", 1));
  b.Send(a.address(), PacketBytes("b", 2));
  ASSERT_TRUE(Eventually([&] { return b.packets().size() == 1; }));
  ASSERT_TRUE(Eventually([&] { return a.packets().size() == 1; }));
  EXPECT_EQ(b.packets()[0].from, a.address());
  EXPECT_EQ(b.packets()[0].bytes, PacketBytes("a", 1));
  EXPECT_EQ(a.packets()[0].from, b.address());
  EXPECT_EQ(a.packets()[0].bytes, PacketBytes("b", 2));
  EXPECT_EQ(a.transport().stats().packets_sent, 1u);
  EXPECT_EQ(b.transport().stats().packets_received, 1u);
  // Hearing from a node makes the transport learn its gRPC address.
  ASSERT_TRUE(Eventually(
      [&] { return !b.transport().ReliableAddressOf(a.address()).empty(); }));
  EXPECT_EQ(b.transport().ReliableAddressOf(a.address()), a.grpc_address());
}

// The fault plan shapes what a node sends, below the seal: a one-way
// block, duplicates, and a delay served by a loop timer.
TEST(UdpGrpcTransportTest, FaultPlanBlocksOneWayDuplicatesAndDelays) {
  auto plan = std::make_shared<runtime::FaultPlan>();
  Node a("a", Mode::kUdp, -1, plan), b("b");
  runtime::FaultRule block;
  block.block = true;
  ASSERT_TRUE(plan->Set(b.address(), block).ok());
  for (uint32_t i = 0; i < 3; ++i) a.Send(b.address(), PacketBytes("a", i));
  b.Send(a.address(), PacketBytes("b", 9));  // the other way flows
  ASSERT_TRUE(Eventually([&] { return a.packets().size() == 1; }));
  EXPECT_TRUE(b.packets().empty());
  EXPECT_EQ(a.transport().stats().dropped_by_faults, 3u);
  EXPECT_EQ(plan->stats().blocked, 3u);

  plan->ClearAll();
  runtime::FaultRule dup;
  dup.duplicate = 1.0;
  ASSERT_TRUE(plan->Set("*", dup).ok());
  a.Send(b.address(), PacketBytes("a", 10));
  ASSERT_TRUE(Eventually([&] { return b.packets().size() == 2; }));
  EXPECT_EQ(b.packets()[0].bytes, b.packets()[1].bytes);

  plan->ClearAll();
  runtime::FaultRule delay;
  delay.delay = absl::Milliseconds(150);
  ASSERT_TRUE(plan->Set(b.address(), delay).ok());
  const absl::Time start = absl::Now();
  a.Send(b.address(), PacketBytes("a", 11));
  ASSERT_TRUE(Eventually([&] { return b.packets().size() == 3; }));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_EQ(plan->stats().delayed, 1u);
}

// Reliable calls under the plan: a block or `fail` fails at once, `hang`
// answers at the call's deadline, a delay starts the call later.
TEST(UdpGrpcTransportTest, FaultPlanFailsHangsOrDelaysReliableCalls) {
  auto plan = std::make_shared<runtime::FaultPlan>();
  Node a("a", Mode::kUdp, -1, plan), b("b");
  a.transport().SetReliableAddress(b.address(), b.grpc_address());
  auto [ok, took_ok] =
      a.Reliable(b.address(), PingRequest(1), absl::Seconds(5));
  ASSERT_TRUE(ok.ok()) << ok.status();

  runtime::FaultRule block;
  block.block = true;
  ASSERT_TRUE(plan->Set(b.grpc_address(), block).ok());  // by its gRPC address
  auto [blocked, took_blocked] =
      a.Reliable(b.address(), PingRequest(2), absl::Seconds(5));
  EXPECT_TRUE(absl::IsUnavailable(blocked.status())) << blocked.status();
  EXPECT_NE(blocked.status().message().find("blocked by a fault rule"),
            std::string::npos);
  EXPECT_LT(took_blocked, absl::Seconds(3));  // not the call's 5 s deadline

  plan->ClearAll();
  runtime::FaultRule hang;
  hang.call = runtime::CallFault::kHang;
  ASSERT_TRUE(plan->Set(b.address(), hang).ok());
  auto [hung, took_hung] =
      a.Reliable(b.address(), PingRequest(3), absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsDeadlineExceeded(hung.status())) << hung.status();
  EXPECT_GE(took_hung, absl::Milliseconds(300));

  plan->ClearAll();
  runtime::FaultRule delay;
  delay.delay = absl::Milliseconds(200);
  ASSERT_TRUE(plan->Set(b.address(), delay).ok());
  auto [late, took_late] =
      a.Reliable(b.address(), PingRequest(4), absl::Seconds(5));
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(late->ack().seq_no(), 4u);
  EXPECT_GE(took_late, absl::Milliseconds(200));
  EXPECT_EQ(b.reliable_from().size(), 2u);  // the ping before and this one
  EXPECT_EQ(a.transport().stats().faulted_calls, 2u);

  // One way: a blocks b, so a does not answer b's calls either.
  plan->ClearAll();
  runtime::FaultRule block_b;
  block_b.block = true;
  ASSERT_TRUE(plan->Set(b.address(), block_b).ok());
  b.transport().SetReliableAddress(a.address(), a.grpc_address());
  auto [unanswered, took_unanswered] =
      b.Reliable(a.address(), PingRequest(5), absl::Seconds(5));
  EXPECT_TRUE(absl::IsUnavailable(unanswered.status())) << unanswered.status();
  EXPECT_TRUE(a.reliable_from().empty());
}

TEST(UdpGrpcTransportTest, LargestDatagramArrivesLargerIsDroppedAndCounted) {
  Node a("a"), b("b");
  std::string largest(UdpGrpcTransport::kMaxDatagram, 'x');
  a.Send(b.address(), largest);
  a.Send(b.address(), std::string(UdpGrpcTransport::kMaxDatagram + 1, 'y'));
  a.Send(b.address(), "after");
  ASSERT_TRUE(Eventually([&] { return b.packets().size() == 2; }));
  EXPECT_EQ(b.packets()[0].bytes, largest);
  EXPECT_EQ(b.packets()[1].bytes, "after");
  EXPECT_EQ(a.transport().stats().dropped_oversize, 1u);
  EXPECT_EQ(a.transport().stats().packets_sent, 2u);
}

TEST(UdpGrpcTransportTest, BadAddressesAreDroppedAndCounted) {
  Node a("a");
  a.Send("not-an-address", "x");
  a.Send("localhost:7946", "x");  // IPv4 literals only
  a.Send("127.0.0.1:0", "x");
  a.Send("127.0.0.1:70000", "x");
  EXPECT_EQ(a.transport().stats().dropped_bad_address, 4u);
}

TEST(UdpGrpcTransportTest, ControlDatagramsNeverReachTheProtocol) {
  Node a("a");
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in dest{};
  dest.sin_family = AF_INET;
  dest.sin_port = htons(static_cast<uint16_t>(a.transport().udp_port()));
  dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto send = [&](const std::string& bytes) {
    ::sendto(fd, bytes.data(), bytes.size(), 0,
             reinterpret_cast<sockaddr*>(&dest), sizeof(dest));
  };
  send(std::string(1, '\0'));                             // too short
  send(std::string("\0\x07", 2) + std::string(62, 'z'));  // unknown kind
  send(std::string("\0\x01", 2) + std::string(8, 't'));   // unpadded query
  send(std::string("\0\x02", 2) + std::string(8, 't') + "1.2.3.4:5");  // spoof
  // A padded query is answered with the gRPC address and the echoed token.
  std::string query(64, '\0');
  query[1] = 1;
  query.replace(2, 8, "TOKEN123");
  send(query);
  char buf[128];
  const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  ASSERT_GT(n, 10);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(buf[1], 2);
  EXPECT_EQ(std::string(buf + 2, 8), "TOKEN123");
  EXPECT_EQ(std::string(buf + 10, n - 10), a.grpc_address());
  ::close(fd);
  EXPECT_TRUE(Eventually(
      [&] { return a.transport().stats().received_malformed == 4u; }));
  a.loop().Call([] {});  // flush posted tasks
  EXPECT_TRUE(a.packets().empty());
  EXPECT_EQ(a.transport().ReliableAddressOf("127.0.0.1:1"), "");
}

TEST(UdpGrpcTransportTest, ReliableBothWays) {
  Node a("a"), b("b");
  // a has never heard of b: the gRPC address is resolved over UDP first.
  auto [r1, t1] = a.Reliable(b.address(), PingRequest(7), absl::Seconds(5));
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_TRUE(r1->has_ack());
  EXPECT_EQ(r1->ack().seq_no(), 7u);
  EXPECT_EQ(a.transport().ReliableAddressOf(b.address()), b.grpc_address());
  EXPECT_GE(a.transport().stats().resolve_answers_received, 1u);
  // b saw the call as coming from a's membership address, and learned a's
  // gRPC address from it.
  ASSERT_EQ(b.reliable_from().size(), 1u);
  EXPECT_EQ(b.reliable_from()[0], a.address());
  EXPECT_EQ(b.transport().ReliableAddressOf(a.address()), a.grpc_address());

  ::peer::v1::ReliableRequest push;
  push.mutable_push_pull()->set_from("b");
  push.mutable_push_pull()->set_join(true);
  auto [r2, t2] = b.Reliable(a.address(), push, absl::Seconds(5));
  ASSERT_TRUE(r2.ok()) << r2.status();
  ASSERT_TRUE(r2->has_push_pull());
  EXPECT_EQ(r2->push_pull().from(), "a");
  EXPECT_EQ(a.reliable_from().at(0), b.address());

  // Many concurrent calls share the cached channel.
  constexpr int kCalls = 200;
  std::atomic<int> ok{0};
  a.loop().Call([&] {
    for (int i = 0; i < kCalls; ++i) {
      a.transport().SendReliable(
          b.address(), PingRequest(i), absl::Seconds(10),
          [&ok, i](absl::StatusOr<::peer::v1::ReliableResponse> r) {
            if (r.ok() && r->ack().seq_no() == static_cast<uint32_t>(i)) ++ok;
          });
    }
  });
  ASSERT_TRUE(Eventually([&] { return ok == kCalls; }));
}

TEST(UdpGrpcTransportTest, ReliableToUnreachableFailsWithinTheTimeout) {
  Node a("a");
  const absl::Duration timeout = absl::Milliseconds(500);
  // No node at that UDP port: the address never resolves.
  const std::string nobody = absl::StrCat("127.0.0.1:", ClosedPort());
  auto [r1, t1] = a.Reliable(nobody, PingRequest(1), timeout);
  EXPECT_EQ(r1.status().code(), absl::StatusCode::kDeadlineExceeded)
      << r1.status();
  EXPECT_GE(t1, timeout);
  EXPECT_LT(t1, timeout + absl::Seconds(1));
  EXPECT_GE(a.transport().stats().resolve_queries_sent, 2u);  // retried

  // Known gRPC address, nothing listening: connection refused, at once.
  const std::string gone = absl::StrCat("127.0.0.1:", ClosedPort());
  a.transport().SetReliableAddress(gone,
                                   absl::StrCat("127.0.0.1:", ClosedPort()));
  auto [r2, t2] = a.Reliable(gone, PingRequest(2), timeout);
  EXPECT_FALSE(r2.ok());
  EXPECT_TRUE(r2.status().code() == absl::StatusCode::kUnavailable ||
              r2.status().code() == absl::StatusCode::kDeadlineExceeded)
      << r2.status();
  EXPECT_LT(t2, timeout + absl::Seconds(1));

  // A node that never answers: the deadline.
  Node b("b");
  b.set_hold(true);
  auto [r3, t3] = a.Reliable(b.address(), PingRequest(3), timeout);
  EXPECT_EQ(r3.status().code(), absl::StatusCode::kDeadlineExceeded)
      << r3.status();
  EXPECT_GE(t3, timeout);
  EXPECT_LT(t3, timeout + absl::Seconds(1));
  // Answering the cancelled call later is a harmless no-op.
  for (auto& respond : b.TakeHeld()) {
    b.loop().Call([&] { respond(::peer::v1::ReliableResponse()); });
  }
  EXPECT_EQ(a.transport().stats().reliable_failed, 3u);
}

TEST(UdpGrpcTransportTest, GrpcOnlyModeCarriesPacketsAndReliableCalls) {
  Node a("a", Mode::kGrpcOnly), b("b", Mode::kGrpcOnly);
  EXPECT_EQ(a.address(), a.grpc_address());
  EXPECT_EQ(a.transport().udp_port(), 0);
  a.Send(b.address(), PacketBytes("a", 11));
  b.Send(a.address(), PacketBytes("b", 12));
  ASSERT_TRUE(Eventually([&] { return b.packets().size() == 1; }));
  ASSERT_TRUE(Eventually([&] { return a.packets().size() == 1; }));
  EXPECT_EQ(b.packets()[0].from, a.grpc_address());
  EXPECT_EQ(b.packets()[0].bytes, PacketBytes("a", 11));
  EXPECT_EQ(a.packets()[0].from, b.grpc_address());
  EXPECT_EQ(a.packets()[0].bytes, PacketBytes("b", 12));
  // Only Packet messages can be carried; other bytes are counted.
  a.Send(b.address(), "\xff\xff garbage");
  EXPECT_EQ(a.transport().stats().dropped_not_a_packet, 1u);
  a.Send(b.address(), std::string(UdpGrpcTransport::kMaxDatagram + 1, 'y'));
  EXPECT_EQ(a.transport().stats().dropped_oversize, 1u);

  auto [r, t] = a.Reliable(b.address(), PingRequest(5), absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ack().seq_no(), 5u);
  EXPECT_EQ(b.reliable_from().at(0), a.grpc_address());
  auto [r2, t2] = b.Reliable(a.address(), PingRequest(6), absl::Seconds(5));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->ack().seq_no(), 6u);
}

TEST(UdpGrpcTransportTest, TakesOverAnAlreadyBoundSocket) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  Node a("a", Mode::kUdp, fd);
  EXPECT_EQ(a.transport().udp_port(), ntohs(addr.sin_port));
  Node b("b");
  b.Send(a.address(), PacketBytes("b", 1));
  ASSERT_TRUE(Eventually([&] { return a.packets().size() == 1; }));
}

TEST(UdpGrpcTransportTest, CreateRejectsBadOptions) {
  runtime::EventLoop loop;
  MembershipStreamService service;
  UdpGrpcTransport::Options no_service;
  no_service.grpc_address = "127.0.0.1:1";
  EXPECT_EQ(UdpGrpcTransport::Create(&loop, no_service).status().code(),
            absl::StatusCode::kInvalidArgument);
  UdpGrpcTransport::Options any;
  any.grpc_address = "127.0.0.1:1";
  any.service = &service;
  any.udp_bind_host = "0.0.0.0";  // and no advertise_host
  EXPECT_EQ(UdpGrpcTransport::Create(&loop, any).status().code(),
            absl::StatusCode::kInvalidArgument);
  UdpGrpcTransport::Options bad_fd = any;
  bad_fd.udp_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(UdpGrpcTransport::Create(&loop, bad_fd).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(::fcntl(bad_fd.udp_fd, F_GETFD), 0);  // closed even on error
}

TEST(UdpGrpcTransportTest, ShutdownWithTrafficInFlight) {
  Node a("a"), b("b");
  // Learn b's gRPC address first, so calls start at once.
  ASSERT_TRUE(
      a.Reliable(b.address(), PingRequest(0), absl::Seconds(5)).first.ok());
  b.set_hold(true);  // b keeps every later call unanswered

  constexpr int kCalls = 50;
  std::atomic<int> finished{0};
  std::atomic<int> failed{0};
  std::atomic<bool> stop_flood{false};
  std::thread flood([&] {
    // Datagrams both ways from a foreign thread until shutdown.
    while (!stop_flood) {
      a.loop().Post([&] { a.transport().SendPacket(b.address(), "ping"); });
      b.loop().Post([&] { b.transport().SendPacket(a.address(), "pong"); });
      std::this_thread::yield();
    }
  });
  a.loop().Call([&] {
    for (int i = 0; i < kCalls; ++i) {
      a.transport().SendReliable(
          b.address(), PingRequest(i + 1), absl::Seconds(30),
          [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
            if (!r.ok()) ++failed;
            ++finished;
          });
    }
  });
  ASSERT_TRUE(
      Eventually([&] { return b.reliable_from().size() >= kCalls + 1; }));

  // b shuts down with the calls unanswered: they fail at a, fast.
  b.loop().Call([&] { b.transport().Shutdown(); });
  ASSERT_TRUE(Eventually([&] { return finished == kCalls; }, absl::Seconds(5)));
  EXPECT_EQ(failed, kCalls);

  // a shuts down with calls in flight to a node that holds them.
  Node c("c");
  c.set_hold(true);
  ASSERT_TRUE(a.Reliable(c.address(), PingRequest(0), absl::Milliseconds(300))
                  .first.status()
                  .code() == absl::StatusCode::kDeadlineExceeded);
  finished = 0;
  failed = 0;
  a.loop().Call([&] {
    for (int i = 0; i < kCalls; ++i) {
      a.transport().SendReliable(
          c.address(), PingRequest(i + 1), absl::Seconds(30),
          [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
            if (!r.ok()) ++failed;
            ++finished;
          });
    }
    // Also one waiting for an address that never resolves.
    a.transport().SendReliable(
        absl::StrCat("127.0.0.1:", ClosedPort()), PingRequest(99),
        absl::Seconds(30), [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
          EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
          ++failed;
          ++finished;
        });
  });
  a.loop().Call([&] { a.transport().Shutdown(); });
  ASSERT_TRUE(
      Eventually([&] { return finished == kCalls + 1; }, absl::Seconds(5)));
  EXPECT_EQ(failed, kCalls + 1);
  stop_flood = true;
  flood.join();
  // Run the sends the flood had posted before reading the counter: each
  // one still counts as dropped (the test raced with them: 4015 vs 3997).
  a.loop().Call([] {});

  // After shutdown: sends are dropped, reliable sends fail.
  const uint64_t dropped = a.transport().stats().dropped_after_shutdown;
  a.Send(b.address(), "late");
  EXPECT_EQ(a.transport().stats().dropped_after_shutdown, dropped + 1);
  auto [late, t] = a.Reliable(b.address(), PingRequest(1), absl::Seconds(1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  // Held responders of c answered after a has gone: no-ops.
  for (auto& respond : c.TakeHeld()) {
    c.loop().Call([&] { respond(::peer::v1::ReliableResponse()); });
  }
}

TEST(UdpGrpcTransportTest, ServiceWithoutATransportAnswersUnavailable) {
  MembershipStreamService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  auto stub = ::peer::v1::MembershipStream::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  ::peer::v1::ReliableResponse response;
  grpc::Status status = stub->Exchange(&context, PingRequest(1), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  server->Shutdown();
}

}  // namespace
}  // namespace peerlab::membership
