// --metrics-listen on every server binary: peerlab-bootstrap,
// peerlab-coordinator and peerlab-peer each serve GET /metrics; the test
// scrapes them over HTTP and parses the text format (base/testing/
// http_get.h), after traffic the numbers must show.
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/testing/eventually.h"
#include "base/testing/http_get.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/harness/v1/coordinator.grpc.pb.h"

namespace peerlab::testing {
namespace {

// The address of "metrics on http://ADDR/metrics" in a log; "" until then.
std::string MetricsAddressIn(const std::string& log) {
  const std::string mark = "metrics on http://";
  const size_t at = log.find(mark);
  if (at == std::string::npos) return "";
  const size_t start = at + mark.size();
  const size_t end = log.find("/metrics", start);
  if (end == std::string::npos) return "";
  return log.substr(start, end - start);
}

std::string WaitForMetricsAddress(const std::function<std::string()>& log) {
  std::string address;
  Eventually(
      [&] {
        address = MetricsAddressIn(log());
        return !address.empty();
      },
      absl::Seconds(15));
  return address;
}

absl::StatusOr<PromText> Scrape(const std::string& address,
                                const std::vector<std::string>& headers = {}) {
  auto r = HttpGet(address, "/metrics", headers);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return absl::UnavailableError(absl::StrCat("status ", r->status));
  }
  return ParsePromText(r->body);
}

TEST(MetricsE2eTest, BootstrapCountsCallsByMethodAndCode) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string token = (*dir)->File("metrics.token");
  ASSERT_TRUE(WriteFile(token, "scrape-me\n").ok());
  auto server = StartBootstrapServer(
      (*dir)->path(), {"--store", "memory:", "--metrics-listen", "127.0.0.1:0",
                       "--metrics-token-file", token});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string metrics =
      WaitForMetricsAddress([&] { return server->process->ReadStderr(); });
  ASSERT_FALSE(metrics.empty()) << server->process->ReadStderr();
  // Without the token: 401.
  auto refused = HttpGet(metrics, "/metrics");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 401);

  // A peer's first join (the store commits).
  auto bin = BinDir();
  ASSERT_TRUE(bin.ok());
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {*bin + "/peerlab-bootstrapctl", "--server",
                                     server->address};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = Subprocess::Start({.argv = argv,
                                .env = {{"PEERLAB_STATE_DIR", (*dir)->path()}},
                                .stdout_path = (*dir)->File("ctl.out"),
                                .stderr_path = (*dir)->File("ctl.err")});
    EXPECT_TRUE(p.ok());
    auto status = (*p)->Wait(absl::Seconds(10));
    return status.ok() ? status->code : -1;
  };
  EXPECT_EQ(ctl({"join", "alice", "127.0.0.1", "7001"}), 0)
      << ReadFile((*dir)->File("ctl.err")).value_or("");

  auto text = Scrape(metrics, {"Authorization: Bearer scrape-me"});
  ASSERT_TRUE(text.ok()) << text.status();
  const std::string svc = "bootstrap.v1.BootstrapData";
  EXPECT_EQ(text->Value("grpc_server_handled_total", {{"grpc_service", svc},
                                                      {"grpc_method", "Join"},
                                                      {"grpc_code", "OK"}})
                .value_or(-1),
            1);
  EXPECT_GE(text->Value("grpc_server_handling_seconds_count",
                        {{"grpc_method", "Join"}})
                .value_or(-1),
            1);
  EXPECT_EQ(text->types["grpc_server_handling_seconds"], "histogram");
  EXPECT_EQ(text->Value("peerlab_bootstrap_peers").value_or(-1), 1);
  EXPECT_GE(text->Value("peerlab_bootstrap_store_changes_total").value_or(-1),
            1);
  EXPECT_EQ(text->Value("peerlab_bootstrap_store_healthy").value_or(-1), 1);
  EXPECT_EQ(text->types["peerlab_bootstrap_store_commits_total"], "counter");
}

TEST(MetricsE2eTest, CoordinatorCountsRunsAndVerdicts) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  auto bin = BinDir();
  ASSERT_TRUE(bin.ok());
  const std::string lab_token = (*dir)->File("lab.token");
  ASSERT_TRUE(WriteFile(lab_token, "lab-token\n").ok());
  auto coordinator = Subprocess::Start(
      {.argv = {*bin + "/peerlab-coordinator", "--listen", "127.0.0.1:0",
                "--ready-file", (*dir)->File("ready"), "--token-file",
                lab_token, "--metrics-listen", "127.0.0.1:0"},
       .env = {{"PEERLAB_STATE_DIR", (*dir)->path()}},
       .stdout_path = (*dir)->File("coordinator.out"),
       .stderr_path = (*dir)->File("coordinator.err")});
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  auto ready = WaitForFileLine((*dir)->File("ready"), absl::Seconds(15),
                               coordinator->get());
  ASSERT_TRUE(ready.ok()) << ready.status();
  const std::string address(absl::StripAsciiWhitespace(*ready));
  const std::string metrics =
      WaitForMetricsAddress([&] { return (*coordinator)->ReadStderr(); });
  ASSERT_FALSE(metrics.empty()) << (*coordinator)->ReadStderr();

  // A run whose peer never registers: it ends in ERROR.
  auto stub = ::harness::v1::Coordinator::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer lab-token");
  ::harness::v1::StartRunRequest request;
  request.set_script_text("ghost echo hi\n");
  request.mutable_options()->set_peer_wait_timeout_ms(100);
  ::harness::v1::StartRunResponse response;
  grpc::Status s = stub->StartRun(&context, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();

  absl::StatusOr<PromText> text;
  EXPECT_TRUE(Eventually(
      [&] {
        text = Scrape(metrics);
        return text.ok() &&
               text->Value("peerlab_coordinator_runs_finished_total",
                           {{"state", "error"}})
                       .value_or(0) == 1;
      },
      absl::Seconds(10)))
      << (text.ok() ? "" : text.status().ToString());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->Value("peerlab_coordinator_runs_started_total").value_or(-1),
            1);
  EXPECT_EQ(text->Value("peerlab_coordinator_runs_active").value_or(-1), 0);
  EXPECT_EQ(text->Value("grpc_server_handled_total",
                        {{"grpc_method", "StartRun"}, {"grpc_code", "OK"}})
                .value_or(-1),
            1);
  EXPECT_EQ(text->types["peerlab_coordinator_steps_total"], "counter");
}

TEST(MetricsE2eTest, PeerExportsMembershipAndChat) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  auto server = StartBootstrapServer((*dir)->path(), {"--store", "memory:"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto peer = StartPeerProcess(
      (*dir)->path(), "alice",
      {"--serve", "--bootstrap", server->address, "--state-dir", (*dir)->path(),
       "--metrics-listen", "127.0.0.1:0"});
  ASSERT_TRUE(peer.ok()) << peer.status();
  const std::string metrics = WaitForMetricsAddress(
      [&] { return ReadFile((*dir)->File("alice.log")).value_or(""); });
  ASSERT_FALSE(metrics.empty());
  absl::StatusOr<PromText> text;
  EXPECT_TRUE(Eventually(
      [&] {
        text = Scrape(metrics);
        // The node is made, then started (itself alive, incarnation 1).
        return text.ok() &&
               text->Value("peerlab_membership_node").value_or(0) == 1 &&
               text->Value("memberlist_node_instances",
                           {{"node_state", "alive"}})
                       .value_or(0) == 1 &&
               text->Value("peerlab_chat_senders").ok();
      },
      absl::Seconds(10)))
      << (text.ok() ? "" : text.status().ToString());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->Value("memberlist_node_instances", {{"node_state", "alive"}})
                .value_or(-1),
            1);
  EXPECT_EQ(text->types["memberlist_msg_alive_total"], "counter");
  EXPECT_EQ(text->Value("memberlist_incarnation").value_or(-1), 1);
  EXPECT_EQ(text->Value("peerlab_chat_sent_total").value_or(-1), 0);
  // Other paths: 404.
  auto other = HttpGet(metrics, "/");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status, 404);
}

}  // namespace
}  // namespace peerlab::testing
