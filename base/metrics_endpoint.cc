#include "base/metrics_endpoint.h"

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
  http.body = [registry] { return registry->Render(); };
  if (!options.token_file.empty()) {
    auto token = ReadTokenFile(options.token_file, "--metrics-token-file");
    if (!token.ok()) return token.status();
    http.bearer_token = *token;
  }
  return HttpServer::Start(std::move(http));
}

}  // namespace peerlab
