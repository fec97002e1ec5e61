#include "base/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/grpc_metrics.h"
#include "base/grpc_server.h"
#include "base/metrics_endpoint.h"
#include "base/testing/eventually.h"
#include "base/testing/http_get.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/third_party/grpc/health/v1/health.grpc.pb.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;
using testing::HttpGet;

absl::StatusOr<std::unique_ptr<HttpServer>> Serve(std::string token = "",
                                                  unsigned max_conns = 16) {
  HttpServer::Options o;
  o.listen = "127.0.0.1:0";
  o.body = [] { return std::string("up 1\n"); };
  o.content_type = metrics::kContentType;
  o.bearer_token = std::move(token);
  o.max_connections = max_conns;
  return HttpServer::Start(std::move(o));
}

TEST(HttpServerTest, ServesGetMetricsAnd404Otherwise) {
  auto server = Serve();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string addr = (*server)->address();
  auto ok = HttpGet(addr, "/metrics");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "up 1\n");
  EXPECT_EQ(ok->headers["content-type"], metrics::kContentType);
  auto query = HttpGet(addr, "/metrics?x=1");
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->status, 200);
  for (const char* path : {"/", "/metrics/", "/metricsx", "/../metrics"}) {
    auto r = HttpGet(addr, path);
    ASSERT_TRUE(r.ok()) << path << ": " << r.status();
    EXPECT_EQ(r->status, 404) << path;
  }
  EXPECT_EQ((*server)->stats().served, 2u);
  EXPECT_EQ((*server)->stats().not_found, 4u);
}

TEST(HttpServerTest, OtherMethodsAre404) {
  auto server = Serve();
  ASSERT_TRUE(server.ok());
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons((*server)->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string req =
      "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0),
            static_cast<ssize_t>(req.size()));
  char buf[256];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_THAT(std::string(buf, n), HasSubstr(" 404 "));
}

TEST(HttpServerTest, BearerTokenRequiredWhenSet) {
  auto server = Serve("s3cret");
  ASSERT_TRUE(server.ok());
  const std::string addr = (*server)->address();
  auto none = HttpGet(addr, "/metrics");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->headers["www-authenticate"], "Bearer");
  auto wrong = HttpGet(addr, "/metrics", {"Authorization: Bearer s3creT"});
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  auto longer = HttpGet(addr, "/metrics", {"Authorization: Bearer s3cret1"});
  ASSERT_TRUE(longer.ok());
  EXPECT_EQ(longer->status, 401);
  auto right = HttpGet(addr, "/metrics", {"Authorization: Bearer s3cret"});
  ASSERT_TRUE(right.ok());
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ((*server)->stats().unauthorized, 3u);
}

TEST(HttpServerTest, APortInUseIsRefusedWithTheReason) {
  auto first = Serve();
  ASSERT_TRUE(first.ok());
  HttpServer::Options o;
  o.listen = (*first)->address();
  auto second = HttpServer::Start(o);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(),
              HasSubstr("--metrics-listen " + o.listen));
  EXPECT_THAT(second.status().message(), HasSubstr("address already in use"));
  auto r = HttpGet((*first)->address(), "/metrics");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, ConnectionsBeyondTheBoundAreClosed) {
  auto server = Serve("", /*max_conns=*/2);
  ASSERT_TRUE(server.ok());
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons((*server)->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    held.push_back(fd);
  }
  // Two idle connections held: a third is closed without an answer.
  EXPECT_TRUE(testing::Eventually([&] {
    auto r =
        HttpGet((*server)->address(), "/metrics", {}, absl::Milliseconds(500));
    return !r.ok() || r->status != 200;
  }));
  EXPECT_GE((*server)->stats().over_limit, 1u);  // counted
  for (int fd : held) ::close(fd);
  EXPECT_TRUE(testing::Eventually([&] {
    auto r = HttpGet((*server)->address(), "/metrics");
    return r.ok() && r->status == 200;
  }));
}

TEST(IsLoopbackHostTest, Table) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.3.2.1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("[::]"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example"));
}

TEST(MetricsEndpointTest, NonLoopbackNeedsAToken) {
  EXPECT_TRUE(CheckMetricsOptions({}).ok());
  EXPECT_TRUE(CheckMetricsOptions({"127.0.0.1:0", ""}).ok());
  auto s = CheckMetricsOptions({"0.0.0.0:9100", ""});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--metrics-token-file is required"));
  auto dir = testing::TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string token = (*dir)->File("token");
  std::ofstream(token) << "t0ken\n";
  EXPECT_TRUE(CheckMetricsOptions({"0.0.0.0:9100", token}).ok());
  EXPECT_FALSE(CheckMetricsOptions({"", token}).ok());
}

TEST(MetricsEndpointTest, ServesTheRegistryWithItsToken) {
  metrics::Registry registry;
  auto c = registry.AddCounter("hits_total", "hits");
  ASSERT_TRUE(c.ok());
  (*c)->Get().Increment(7);
  auto dir = testing::TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string token = (*dir)->File("token");
  std::ofstream(token) << "t0ken\n";
  auto server = StartMetricsServer({"127.0.0.1:0", token}, &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  auto r = HttpGet((*server)->address(), "/metrics",
                   {"Authorization: Bearer t0ken"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200);
  auto parsed = testing::ParsePromText(r->body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->types["hits_total"], "counter");
  EXPECT_EQ(*parsed->Value("hits_total"), 7);
  auto off = StartMetricsServer({}, &registry);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, nullptr);
}

// Refused scrapes (a missing or wrong token) are counted in a metric of
// the endpoint's own, beside the registry's.
TEST(MetricsEndpointTest, RefusedScrapesAreCountedInAMetric) {
  metrics::Registry registry;
  auto dir = testing::TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string token = (*dir)->File("token");
  std::ofstream(token) << "t0ken\n";
  auto server = StartMetricsServer({"127.0.0.1:0", token}, &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  for (const char* bad : {"", "Authorization: Bearer nope"}) {
    std::vector<std::string> headers;
    if (*bad) headers.push_back(bad);
    auto r = HttpGet((*server)->address(), "/metrics", headers);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 401);
  }
  auto r = HttpGet((*server)->address(), "/metrics",
                   {"Authorization: Bearer t0ken"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200);
  auto parsed = testing::ParsePromText(r->body);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->types["peerlab_metrics_refused_total"], "counter");
  EXPECT_EQ(
      parsed
          ->Value("peerlab_metrics_refused_total", {{"reason", "unauthorized"}})
          .value_or(-1),
      2);
  EXPECT_EQ(
      parsed->Value("peerlab_metrics_refused_total", {{"reason", "over_limit"}})
          .value_or(-1),
      0);
}

// A health service that always answers SERVING.
class Healthy : public grpc::health::v1::Health::Service {
  grpc::Status Check(grpc::ServerContext*,
                     const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse* response) override {
    response->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
  grpc::Status Watch(
      grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
      grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>*) override {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no watch");
  }
};

TEST(GrpcServerMetricsTest, CountsCallsByMethodAndCode) {
  metrics::Registry registry;
  auto m = GrpcServerMetrics::Create(&registry);
  ASSERT_TRUE(m.ok()) << m.status();
  Healthy healthy;
  auto server =
      GrpcServer::Start({.listen = "127.0.0.1:0",
                         .credentials = grpc::InsecureServerCredentials(),
                         .configure = [&](grpc::ServerBuilder& b) {
                           b.RegisterService(&healthy);
                           (*m)->Install(b);
                         }});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      (*server)->address(), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    auto reader = stub->Watch(&ctx, req);
    grpc::health::v1::HealthCheckResponse resp;
    while (reader->Read(&resp)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  auto parsed = testing::ParsePromText(registry.Render());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::string svc = "grpc.health.v1.Health";
  EXPECT_EQ(
      *parsed->Value("grpc_server_handled_total", {{"grpc_service", svc},
                                                   {"grpc_method", "Check"},
                                                   {"grpc_code", "OK"}}),
      2);
  EXPECT_EQ(*parsed->Value("grpc_server_handled_total",
                           {{"grpc_method", "Watch"},
                            {"grpc_type", "server_stream"},
                            {"grpc_code", "NotFound"}}),
            1);
  EXPECT_EQ(*parsed->Value("grpc_server_handling_seconds_count",
                           {{"grpc_method", "Check"}}),
            2);
  EXPECT_EQ(
      *parsed->Value("grpc_server_started_total", {{"grpc_method", "Check"}}),
      2);
}

}  // namespace
}  // namespace peerlab
