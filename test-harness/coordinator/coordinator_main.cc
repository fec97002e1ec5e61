// peerlab-coordinator: the test harness's coordinator (harness.v1.Coordinator,
// plus grpc.health.v1 and server reflection). Peers started with
// `--test --coordinator ADDR` register here; peerlab-test starts runs.
#include <signal.h>

#include <fstream>
#include <iostream>

#include "CLI/CLI.hpp"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "services/common/logging.h"
#include "services/common/tls.h"
#include "test-harness/coordinator/coordinator_service.h"
#include "test-harness/coordinator/peer_connection.h"

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
      ->capture_default_str();
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_option("--log-file", log_file, "also log to this file");
  app.add_option("--ready-file", ready_file,
                 "write the bound address to this file once serving");
  std::string control_token_file;
  app.add_option("--control-token-file", control_token_file,
                 "token to send to peers' PeerControl (needed for peers "
                 "bound to a non-loopback address)");
  peerlab::TlsOptions tls;
  peerlab::AddTlsFlags(app, &tls);
  CLI11_PARSE(app, argc, argv);
  if (!control_token_file.empty()) {
    std::ifstream in(control_token_file);
    std::string token;
    if (!std::getline(in, token) || token.empty()) {
      std::cerr << "peerlab-coordinator: cannot read a token from "
                << control_token_file << "\n";
      return 2;
    }
    peerlab::harness::PeerConnection::SetControlToken(token);
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

  peerlab::harness::CoordinatorService service;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // A peer whose machine vanishes without closing its connection is noticed
  // by keepalive; a stopped (SIGSTOP) peer must survive a short stop, so
  // the interval is generous.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  int port = 0;
  builder.AddListeningPort(listen, *server_credentials, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::critical("cannot listen on {} (address in use or invalid?)",
                     listen);
    return 2;
  }
  std::string bound =
      listen.substr(0, listen.rfind(':') + 1) + std::to_string(port);
  server->GetHealthCheckService()->SetServingStatus(
      ::harness::v1::Coordinator::service_full_name(), true);
  spdlog::info("peerlab-coordinator {} serving harness.v1.Coordinator on {}",
               PEERLAB_VERSION, bound);
  if (!ready_file.empty()) std::ofstream(ready_file) << bound << "\n";

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{} received: shutting down", strsignal(signal_number));
  server->GetHealthCheckService()->Shutdown();
  service.Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  spdlog::info("stopped");
  return 0;
}
