#include "base/metrics_endpoint.h"

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/command_line.h"
#include "base/host_port.h"
#include "base/option_checks.h"
#include "base/token_file.h"

namespace peerlab {

void AddMetricsFlags(CLI::App& app, MetricsOptions* options) {
  app.add_option("--metrics-listen", options->listen,
                 "serve Prometheus metrics (GET /metrics, text format "
                 "0.0.4) on HOST:PORT (port 0: pick one). Off by default; an "
                 "address other than loopback needs --metrics-token-file")
      ->check(HostPort);
  app.add_option("--metrics-token-file", options->token_file,
                 "file holding the bearer token a scrape of "
                 "--metrics-listen must send (\"Authorization: Bearer "
                 "TOKEN\"); required for a non-loopback address")
      ->check(ReadableFile);
}

absl::Status CheckMetricsOptions(const MetricsOptions& options) {
  if (options.listen.empty()) {
    if (!options.token_file.empty()) {
      return absl::InvalidArgumentError(
          "--metrics-token-file: needs --metrics-listen");
    }
    return absl::OkStatus();
  }
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  if (options.token_file.empty() && !IsLoopbackHost(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics-listen ", options.listen,
        ": not a loopback address, so --metrics-token-file is required (a "
        "scrape must send its bearer token)"));
  }
  if (!options.token_file.empty()) {
    auto token = ReadTokenFile(options.token_file, "--metrics-token-file");
    if (!token.ok()) return token.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsServer(
    const MetricsOptions& options, const metrics::Registry* registry) {
  if (auto s = CheckMetricsOptions(options); !s.ok()) return s;
  if (options.listen.empty()) return std::unique_ptr<HttpServer>();
  HttpServer::Options http;
  http.listen = options.listen;
  http.what = "--metrics-listen";
  http.path = "/metrics";
  http.content_type = metrics::kContentType;
  // The server's counters come after the registry's: the server is made
  // below, so the body finds it through `self` (empty until then).
  auto self = std::make_shared<std::atomic<const HttpServer*>>(nullptr);
  http.body = [registry, self] {
    std::string out = registry->Render();
    if (const HttpServer* server = self->load()) {
      const HttpServer::Stats st = server->stats();
      metrics::Family f;
      f.name = "peerlab_metrics_refused_total";
      f.help =
          "connections and requests to --metrics-listen refused, by reason";
      f.type = metrics::Type::kCounter;
      f.samples = {
          {{{"reason", "unauthorized"}}, static_cast<double>(st.unauthorized)},
          {{{"reason", "over_limit"}}, static_cast<double>(st.over_limit)},
          {{{"reason", "not_loopback"}}, static_cast<double>(st.not_loopback)}};
      out += metrics::RenderText({f});
    }
    return out;
  };
  if (!options.token_file.empty()) {
    auto token = ReadTokenFile(options.token_file, "--metrics-token-file");
    if (!token.ok()) return token.status();
    http.bearer_token = *token;
  }
  auto server = HttpServer::Start(std::move(http));
  if (server.ok()) self->store(server->get());
  return server;
}

}  // namespace peerlab
