// peerlab-bootstrap: the bootstrap data service (bootstrap.v1.BootstrapData).
#include <signal.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "services/bootstrap/bootstrap_service.h"
#include "services/bootstrap/grpc_service.h"
#include "services/bootstrap/store_factory.h"
#include "services/common/logging.h"
#include "services/common/tls.h"
#include "services/common/token_file.h"

int main(int argc, char** argv) {
  CLI::App app{
      "peerlab-bootstrap: the bootstrap data service. Tells a new peer whom to "
      "contact first (gRPC API bootstrap.v1.BootstrapData, plus "
      "grpc.health.v1 and server reflection)."};
  std::string listen = "127.0.0.1:8080";
  std::string store_spec = "file:./peerlab-bootstrap.json";
  std::string admin_token_file;
  uint32_t max_peers = 3;
  uint32_t min_refill = 0;
  std::string log_level = "info";
  std::string log_file;
  std::string ready_file;
  bool store_follow_symlink = false;
  app.add_option("--listen", listen, "address to serve on (port 0: pick one)")
      ->capture_default_str();
  app.add_option("--store", store_spec,
                 "where the document lives: file:PATH, memory:, or "
                 "postgres://USER@HOST:PORT/DB (shared by replicas)")
      ->capture_default_str();
  app.add_flag("--store-follow-symlink", store_follow_symlink,
               "accept a file store PATH that is a symbolic link (it is "
               "resolved once at start; refused by default)");
  app.add_option("--admin-token-file", admin_token_file,
                 "file holding the token that Reset and UpdateConfig require "
                 "(metadata \"authorization: Bearer TOKEN\"); without it "
                 "anyone may call them");
  app.add_option("--max-peers", max_peers, "max_peers of a newly created store")
      ->capture_default_str();
  app.add_option("--min-refill-candidates", min_refill,
                 "min_refill_candidates of a newly created store")
      ->capture_default_str();
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_option("--log-file", log_file, "also log to this file");
  peerlab::TlsOptions tls;
  peerlab::AddTlsFlags(app, &tls);
  app.add_option("--ready-file", ready_file,
                 "write the bound address to this file once serving (for "
                 "scripts and tests that use port 0)");
  CLI11_PARSE(app, argc, argv);

  if (auto s = peerlab::SetUpLogging("bootstrap", log_level, log_file);
      !s.ok()) {
    std::cerr << "peerlab-bootstrap: " << s.message() << "\n";
    return 2;
  }

  peerlab::bootstrap::BootstrapService::Options options;
  if (!admin_token_file.empty()) {
    auto token = peerlab::ReadTokenFile(admin_token_file, "--admin-token-file");
    if (!token.ok()) {
      spdlog::critical("{}", token.status().message());
      return 2;
    }
    options.admin_token = *token;
  }
  options.version = PEERLAB_VERSION;

  // Signals are taken by sigwait below; block them before threads start so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ::bootstrap::v1::Config initial;
  initial.set_max_peers(max_peers);
  initial.set_min_refill_candidates(min_refill);
  auto store =
      peerlab::bootstrap::OpenStore(store_spec, initial, store_follow_symlink);
  if (!store.ok()) {
    spdlog::critical("cannot open store: {}", store.status().message());
    return 2;
  }
  auto doc = (*store)->Read();
  spdlog::info("store {}: revision {}, {} peers, max_peers {}",
               (*store)->Describe(), doc->revision(), doc->peers_size(),
               doc->config().max_peers());

  auto service = std::make_unique<peerlab::bootstrap::BootstrapService>(
      store->get(), &peerlab::Clock::Real(), options);
  peerlab::bootstrap::BootstrapGrpcService grpc_service(service.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto credentials = peerlab::MakeServerCredentials(tls);
  if (!credentials.ok()) {
    spdlog::critical("{}", credentials.status().message());
    return 2;
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, *credentials, &port);
  builder.RegisterService(&grpc_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::critical("cannot listen on {} (address in use or invalid?)",
                     listen);
    return 2;
  }
  std::string bound =
      listen.substr(0, listen.rfind(':') + 1) + std::to_string(port);
  // NOT_SERVING while the store cannot write (it refuses changes then, and
  // recovers by itself).
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  (*store)->SetHealthListener([health](const absl::Status& s) {
    if (!s.ok()) spdlog::warn("health: NOT_SERVING ({})", s.message());
    health->SetServingStatus("bootstrap.v1.BootstrapData", s.ok());
    health->SetServingStatus("", s.ok());
  });
  spdlog::info(
      "peerlab-bootstrap {} serving bootstrap.v1.BootstrapData on {} ({})",
      PEERLAB_VERSION, bound,
      !tls.enabled()            ? "plaintext"
      : tls.require_client_cert ? "mutual TLS"
                                : "TLS");
  if (service->open()) {
    spdlog::warn(
        "no --admin-token-file: Reset and UpdateConfig are open to anyone");
  } else {
    spdlog::info("admin token loaded from {}", admin_token_file);
  }
  if (!ready_file.empty()) {
    std::ofstream(ready_file) << bound << "\n";
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{} received: shutting down (in-flight calls finish)",
               strsignal(signal_number));
  (*store)->SetHealthListener(nullptr);
  server->GetHealthCheckService()->Shutdown();
  grpc_service.EndWatches();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  service.reset();
  store->reset();
  spdlog::info("stopped");
  return 0;
}
