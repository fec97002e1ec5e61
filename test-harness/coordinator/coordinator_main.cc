// peerlab-coordinator: the test harness's coordinator (harness.v1.Coordinator,
// plus grpc.health.v1 and server reflection). Peers started with
// `--test --coordinator ADDR` register here; peerlab-test starts runs.
#include <signal.h>

#include <fstream>
#include <iostream>

#include "CLI/CLI.hpp"
#include "base/command_line.h"
#include "base/grpc_metrics.h"
#include "base/grpc_server.h"
#include "base/logging.h"
#include "base/metrics_endpoint.h"
#include "base/option_checks.h"
#include "base/tls.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "test-harness/coordinator/coordinator_service.h"
#include "test-harness/coordinator/lab_auth.h"
#include "test-harness/coordinator/peer_connection.h"
#include "test-harness/coordinator/run_metrics.h"

int main(int argc, char** argv) {
  CLI::App app{
      "peerlab-coordinator: coordinator of multi-peer test runs "
      "(harness.v1.Coordinator). Peers register with it "
      "(peerlab-peer NAME --test --coordinator ADDR); peerlab-test runs "
      "scripts through it."};
  std::string listen = "127.0.0.1:8081";
  std::string log_level = "info";
  std::string log_file;
  std::string ready_file;
  app.add_option("--listen", listen, "address to serve on (port 0: pick one)")
      ->check(peerlab::HostPort)
      ->capture_default_str();
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->check(peerlab::LogLevel)
      ->capture_default_str();
  app.add_option("--log-file", log_file, "also log to this file")
      ->check(peerlab::WritableFile);
  app.add_option("--ready-file", ready_file,
                 "write the bound address to this file once serving")
      ->check(peerlab::WritableFile);
  std::string token_file;
  app.add_option("--token-file", token_file,
                 "the lab token: peers prove it to register, clients send it "
                 "(default: <state dir>/coordinator.token, made when "
                 "missing)")
      ->check(peerlab::ReadableFile);
  peerlab::TlsOptions tls;
  peerlab::AddTlsFlags(app, &tls);
  peerlab::MetricsOptions metrics_options;
  peerlab::AddMetricsFlags(app, &metrics_options);
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  if (auto s = peerlab::CheckMetricsOptions(metrics_options); !s.ok()) {
    std::cerr << "peerlab-coordinator: " << s.message() << "\n";
    return 2;
  }
  auto lab_token = peerlab::harness::LoadLabToken(token_file, "--token-file");
  if (!lab_token.ok()) {
    std::cerr << "peerlab-coordinator: " << lab_token.status().message()
              << "\n";
    return 2;
  }

  if (auto s = peerlab::SetUpLogging("coordinator", log_level, log_file);
      !s.ok()) {
    std::cerr << "peerlab-coordinator: " << s.message() << "\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // the terminal closed: stop as for SIGTERM
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // After blocking the signals: gRPC may start threads. One flag set
  // serves the server and the channels to peers' PeerControl.
  auto server_credentials = peerlab::MakeServerCredentials(tls);
  auto channel_credentials = peerlab::MakeChannelCredentials(tls);
  for (const absl::Status& s :
       {server_credentials.status(), channel_credentials.status()}) {
    if (!s.ok()) {
      std::cerr << "peerlab-coordinator: " << s.message() << "\n";
      return 2;
    }
  }
  peerlab::harness::PeerConnection::SetChannelCredentials(*channel_credentials);

  // Metrics (served only with --metrics-listen): calls per RPC and code
  // with latencies, and the runs, steps and verdicts. Declared before the
  // service: runs report to them until the service is gone.
  peerlab::metrics::Registry registry;
  auto grpc_metrics = peerlab::GrpcServerMetrics::Create(&registry);
  auto run_metrics = peerlab::harness::RunMetrics::Create(&registry);
  if (!grpc_metrics.ok() || !run_metrics.ok()) {
    spdlog::critical("metrics: {}", !grpc_metrics.ok()
                                        ? grpc_metrics.status().message()
                                        : run_metrics.status().message());
    return 2;
  }
  peerlab::harness::CoordinatorService service(*std::move(lab_token));
  service.SetRunObserver(
      [m = run_metrics->get()](const std::shared_ptr<peerlab::harness::Run>&
                                   run) { m->Observe(run); });
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto started = peerlab::GrpcServer::Start(
      {.listen = listen,
       .what = "--listen",
       .credentials = *server_credentials,
       .configure =
           [&](grpc::ServerBuilder& builder) {
             // A peer whose machine vanishes without closing its connection is
             // noticed by keepalive; a stopped (SIGSTOP) peer must survive a
             // short stop, so the interval is generous.
             builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
             builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
             builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                                        1);
             builder.AddChannelArgument(
                 GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
             builder.RegisterService(&service);
             (*grpc_metrics)->Install(builder);
           },
       .logger = peerlab::DefaultSpdlogLogger()});
  if (!started.ok()) {
    spdlog::critical("{}", started.status().message());
    return 2;
  }
  grpc::Server* server = (*started)->server();
  const std::string bound = (*started)->address();
  server->GetHealthCheckService()->SetServingStatus(
      ::harness::v1::Coordinator::service_full_name(), true);
  spdlog::info("peerlab-coordinator {} serving harness.v1.Coordinator on {}",
               PEERLAB_VERSION, bound);
  auto metrics_server =
      peerlab::StartMetricsServer(metrics_options, &registry);
  if (!metrics_server.ok()) {
    spdlog::critical("{}", metrics_server.status().message());
    (*started)->Shutdown(absl::Now());
    return 2;
  }
  if (*metrics_server) {
    spdlog::info("metrics on http://{}/metrics{}",
                 (*metrics_server)->address(),
                 metrics_options.token_file.empty() ? "" : " (bearer token)");
  }
  if (!ready_file.empty()) {
    std::ofstream ready(ready_file);
    ready << bound << "\n";
    if (!ready.flush()) {
      spdlog::critical("--ready-file {}: cannot write it", ready_file);
      (*started)->Shutdown(absl::Now());
      return 2;
    }
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{} received: shutting down", strsignal(signal_number));
  metrics_server->reset();
  server->GetHealthCheckService()->Shutdown();
  service.Shutdown();
  (*started)->Shutdown(absl::Now() + absl::Seconds(2));
  spdlog::info("stopped");
  return 0;
}
