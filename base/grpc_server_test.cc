#include "base/grpc_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/third_party/grpc/health/v1/health.grpc.pb.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;

// A health service that always answers SERVING.
class Healthy : public grpc::health::v1::Health::Service {
  grpc::Status Check(grpc::ServerContext*,
                     const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse* response) override {
    response->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
};

absl::StatusOr<std::unique_ptr<GrpcServer>> StartOn(const std::string& listen,
                                                    int reserved_fds = 0) {
  static Healthy* healthy = new Healthy();
  return GrpcServer::Start({.listen = listen,
                            .credentials = grpc::InsecureServerCredentials(),
                            .configure =
                                [](grpc::ServerBuilder& builder) {
                                  builder.RegisterService(healthy);
                                },
                            .reserved_fds = reserved_fds});
}

// True when a Check on the server's health service answers SERVING.
bool Answers(const std::string& address) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

TEST(SplitHostPortTest, NeedsAPortInRange) {
  auto ok = SplitHostPort("127.0.0.1:8080", "--listen");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->host, "127.0.0.1");
  EXPECT_EQ(ok->port, 8080);
  auto v6 = SplitHostPort("[::1]:0", "--listen");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
                          "127.0.0.1:-1", "127.0.0.1:http", "[::1]", "::1"}) {
    auto r = SplitHostPort(bad, "--listen");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("--listen")) << bad;
  }
}

TEST(GrpcServerTest, ServesOnTheBoundPort) {
  auto server = StartOn("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_NE((*server)->port(), 0);
  EXPECT_EQ((*server)->address(),
            absl::StrCat("127.0.0.1:", (*server)->port()));
  EXPECT_TRUE(Answers((*server)->address()));
  EXPECT_GE((*server)->stats().accepted, 1u);
}

TEST(GrpcServerTest, APortInUseIsRefusedAndTheFirstServerStillAnswers) {
  auto first = StartOn("127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = StartOn((*first)->address());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("already in use"));
  EXPECT_THAT(second.status().message(), HasSubstr((*first)->address()));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Answers((*first)->address()));
}

TEST(GrpcServerTest, AnAddressOfAnotherMachineSaysSo) {
  auto server = StartOn("192.0.2.1:0");  // TEST-NET-1, never local
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("not an address of this"));
}

TEST(GrpcServerTest, ConnectionsBeyondTheBoundAreClosedAndCounted) {
  // Every descriptor "reserved": each connection is refused at once.
  auto server = StartOn("127.0.0.1:0", /*reserved_fds=*/1 << 30);
  ASSERT_TRUE(server.ok()) << server.status();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((*server)->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  char byte;
  EXPECT_EQ(::read(fd, &byte, 1), 0);  // closed by the server
  ::close(fd);
  EXPECT_EQ((*server)->stats().refused_over_limit, 1u);
  EXPECT_EQ((*server)->stats().accepted, 0u);
}

TEST(GrpcServerTest, ShutdownStopsAcceptingAndIsIdempotent) {
  auto server = StartOn("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  (*server)->Shutdown(absl::Now() + absl::Seconds(1));
  (*server)->Shutdown(absl::Now());
  auto again = StartOn(address);  // the port is free again
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(RaiseFileLimitTest, SoftLimitReachesTheHardLimit) {
  const uint64_t limit = RaiseFileLimit();
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(limit, now.rlim_cur);
  if (now.rlim_max != RLIM_INFINITY && now.rlim_max <= (rlim_t{1} << 20)) {
    EXPECT_EQ(now.rlim_cur, now.rlim_max);
  }
}

}  // namespace
}  // namespace peerlab
