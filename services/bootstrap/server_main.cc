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
#include "services/bootstrap/admin_token.h"
#include "services/bootstrap/bootstrap_service.h"
#include "services/bootstrap/grpc_service.h"
#include "services/bootstrap/store_factory.h"
#include "services/bootstrap/store_metrics.h"
#include "services/bootstrap/validation.h"
#include "base/bounded_file.h"
#include "base/command_line.h"
#include "base/grpc_server.h"
#include "base/grpc_metrics.h"
#include "base/logging.h"
#include "base/metrics_endpoint.h"
#include "base/option_checks.h"
#include "base/tls.h"

namespace {

// --store: a spec with its scheme; a bare word such as "memory" would
// otherwise name a file in the current directory.
const CLI::Validator StoreSpec(
    [](std::string& spec) -> std::string {
      if (spec == "memory:") return "";
      if (spec.starts_with("postgres://") ||
          spec.starts_with("postgresql://")) {
        return "";
      }
      if (spec.starts_with("file:")) {
        const std::string path = spec.substr(5);
        if (path.empty()) return "'file:' needs a path: file:PATH";
        absl::Status s = peerlab::CheckWritablePath(path, "file");
        return s.ok() ? "" : std::string(s.message());
      }
      return absl::StrCat("'", spec,
                          "' is not a store: file:PATH, memory: or "
                          "postgres://USER@HOST:PORT/DB");
    },
    "file:PATH|memory:|postgres://...", "store spec");

}  // namespace

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
  double join_rate = peerlab::bootstrap::ClientRateLimiter::Options().rate;
  double join_burst = peerlab::bootstrap::ClientRateLimiter::Options().burst;
  double default_lease = absl::ToDoubleSeconds(
      peerlab::bootstrap::BootstrapService::Options().default_lease);
  double max_lease = absl::ToDoubleSeconds(
      peerlab::bootstrap::BootstrapService::Options().max_lease);
  constexpr double kMaxLeaseSeconds = 30.0 * 24 * 3600;
  app.add_option("--listen", listen, "address to serve on (port 0: pick one)")
      ->check(peerlab::HostPort)
      ->capture_default_str();
  app.add_option("--store", store_spec,
                 "where the document lives: file:PATH, memory:, or "
                 "postgres://USER@HOST:PORT/DB (shared by replicas)")
      ->check(StoreSpec)
      ->capture_default_str();
  app.add_flag("--store-follow-symlink", store_follow_symlink,
               "accept a file store PATH that is a symbolic link (it is "
               "resolved once at start; refused by default)");
  app.add_option("--admin-token-file", admin_token_file,
                 "file holding the token that Reset and UpdateConfig require "
                 "(metadata \"authorization: Bearer TOKEN\"). It also "
                 "overrides entry ownership (Leave/Renew/Join of another's "
                 "entry), the join rate limit and the lease cap. Default: "
                 "$PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE, else the per-user "
                 "file STATE_DIR/bootstrap-admin.token, made (0600) on "
                 "first use and found by this user's peerlab-bootstrapctl")
      ->check(peerlab::ReadableFile);
  app.add_option("--join-rate", join_rate,
                 "Join/Refill calls per second one client address may make "
                 "on average (a token bucket; 0: no limit; the admin token "
                 "is never limited)")
      ->check(peerlab::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--join-burst", join_burst,
                 "Join/Refill calls one client address may make at once")
      ->check(peerlab::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--default-lease", default_lease,
                 "lease in seconds of an entry whose client asks for none "
                 "(Join/Refill without ttl); peers renew theirs. Only the "
                 "admin token makes entries without a lease")
      ->check(peerlab::Range(1.0, kMaxLeaseSeconds))
      ->capture_default_str();
  app.add_option("--max-lease", max_lease,
                 "longest lease in seconds a client gets: longer ttls of "
                 "Join, Refill and Renew are cut to it (not the admin's)")
      ->check(peerlab::Range(1.0, kMaxLeaseSeconds))
      ->capture_default_str();
  app.add_option("--max-peers", max_peers, "max_peers of a newly created store")
      ->check(peerlab::Range(1u, peerlab::bootstrap::kMaxMaxPeers))
      ->capture_default_str();
  app.add_option("--min-refill-candidates", min_refill,
                 "min_refill_candidates of a newly created store")
      ->check(peerlab::Range(0u, peerlab::bootstrap::kMaxMaxPeers))
      ->capture_default_str();
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->check(peerlab::LogLevel)
      ->capture_default_str();
  app.add_option("--log-file", log_file, "also log to this file")
      ->check(peerlab::WritableFile);
  peerlab::TlsOptions tls;
  peerlab::AddTlsFlags(app, &tls);
  app.add_option("--ready-file", ready_file,
                 "write the bound address to this file once serving (for "
                 "scripts and tests that use port 0)")
      ->check(peerlab::WritableFile);
  peerlab::MetricsOptions metrics_options;
  peerlab::AddMetricsFlags(app, &metrics_options);
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  if (auto s = peerlab::CheckMetricsOptions(metrics_options); !s.ok()) {
    std::cerr << "peerlab-bootstrap: " << s.message() << "\n";
    return 2;
  }

  if (auto s = peerlab::SetUpLogging("bootstrap", log_level, log_file);
      !s.ok()) {
    std::cerr << "peerlab-bootstrap: " << s.message() << "\n";
    return 2;
  }

  if (default_lease > max_lease) {
    std::cerr << "peerlab-bootstrap: --default-lease " << default_lease
              << " is longer than --max-lease " << max_lease << "\n";
    return 2;
  }
  peerlab::bootstrap::BootstrapService::Options options;
  // Always an admin token: without one nobody could administer the list
  // (the service refuses admin calls), and with "anyone may" (the old
  // default) anyone could Reset it.
  auto admin = peerlab::bootstrap::LoadServerAdminToken(admin_token_file);
  if (!admin.ok()) {
    spdlog::critical("admin token: {}", admin.status().message());
    return 2;
  }
  options.admin_token = admin->token;
  options.default_lease = absl::Seconds(default_lease);
  options.max_lease = absl::Seconds(max_lease);
  options.version = PEERLAB_VERSION;
  options.join_limit.rate = join_rate;
  options.join_limit.burst = join_burst;

  // Signals are taken by sigwait below; block them before threads start so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // the terminal closed: stop as for SIGTERM
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Before the store: a bad TLS file must not leave a new store behind.
  auto credentials = peerlab::MakeServerCredentials(tls);
  if (!credentials.ok()) {
    spdlog::critical("{}", credentials.status().message());
    return 2;
  }

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

  // Metrics: calls per RPC and code with their latencies (the gRPC
  // interceptor), the store's commits and list (served only with
  // --metrics-listen).
  peerlab::metrics::Registry registry;
  auto grpc_metrics = peerlab::GrpcServerMetrics::Create(&registry);
  auto store_metrics =
      peerlab::bootstrap::StoreMetrics::Create(&registry, store->get());
  if (!grpc_metrics.ok() || !store_metrics.ok()) {
    spdlog::critical("metrics: {}", !grpc_metrics.ok()
                                        ? grpc_metrics.status().message()
                                        : store_metrics.status().message());
    return 2;
  }

  auto service = std::make_unique<peerlab::bootstrap::BootstrapService>(
      store->get(), &peerlab::Clock::Real(), options);
  peerlab::bootstrap::BootstrapGrpcService grpc_service(service.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto started =
      peerlab::GrpcServer::Start({.listen = listen,
                                  .what = "--listen",
                                  .credentials = *credentials,
                                  .configure =
                                      [&](grpc::ServerBuilder& builder) {
                                        builder.RegisterService(&grpc_service);
                                        (*grpc_metrics)->Install(builder);
                                      },
                                  .logger = peerlab::DefaultSpdlogLogger()});
  if (!started.ok()) {
    spdlog::critical("{}", started.status().message());
    return 2;
  }
  grpc::Server* server = (*started)->server();
  const std::string bound = (*started)->address();
  // NOT_SERVING while the store cannot write (it refuses changes then, and
  // recovers by itself).
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  peerlab::bootstrap::StoreMetrics* store_gauges = store_metrics->get();
  (*store)->SetHealthListener([health, store_gauges](const absl::Status& s) {
    if (!s.ok()) spdlog::warn("health: NOT_SERVING ({})", s.message());
    store_gauges->SetHealthy(s.ok());
    health->SetServingStatus("bootstrap.v1.BootstrapData", s.ok());
    health->SetServingStatus("", s.ok());
  });
  spdlog::info(
      "peerlab-bootstrap {} serving bootstrap.v1.BootstrapData on {} ({})",
      PEERLAB_VERSION, bound,
      !tls.enabled()            ? "plaintext"
      : tls.require_client_cert ? "mutual TLS"
                                : "TLS");
  if (admin->per_user) {
    spdlog::info(
        "admin token: {} (per-user, made on first use; this user's "
        "peerlab-bootstrapctl and peers on this machine find it)",
        admin->path);
  } else {
    spdlog::info("admin token loaded from {}", admin->path);
  }
  spdlog::info("leases: {} when a client asks for none, at most {}",
               absl::FormatDuration(options.default_lease),
               absl::FormatDuration(options.max_lease));
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
  spdlog::info("{} received: shutting down (in-flight calls finish)",
               strsignal(signal_number));
  (*store)->SetHealthListener(nullptr);
  metrics_server->reset();  // its collectors read the store
  server->GetHealthCheckService()->Shutdown();
  grpc_service.EndWatches();
  (*started)->Shutdown(absl::Now() + absl::Seconds(5));
  service.reset();
  store_metrics->reset();
  store->reset();
  spdlog::info("stopped");
  return 0;
}
