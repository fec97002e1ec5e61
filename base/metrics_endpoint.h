// --metrics-listen and --metrics-token-file, as every server binary takes
// them (peerlab-peer, peerlab-bootstrap, peerlab-coordinator): off by
// default; a loopback address needs nothing, any other address needs a
// bearer token (a non-loopback address without one is a usage error, exit
// code 2). The token file is read with ReadTokenFile (base/token_file.h);
// scrapers send "Authorization: Bearer TOKEN".
#ifndef PEERLAB_BASE_METRICS_ENDPOINT_H_
#define PEERLAB_BASE_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "base/http_server.h"
#include "base/metrics.h"

namespace peerlab {

struct MetricsOptions {
  std::string listen;      // HOST:PORT; empty: no metrics endpoint
  std::string token_file;  // empty: no token (loopback only)
};

// Adds --metrics-listen (HOST:PORT) and --metrics-token-file (a readable
// file) to `app`, writing to `options`.
void AddMetricsFlags(CLI::App& app, MetricsOptions* options);

// InvalidArgument (a usage error: exit 2) for a --metrics-listen that is
// not loopback without --metrics-token-file, and for --metrics-token-file
// without --metrics-listen; the token file's own errors.
absl::Status CheckMetricsOptions(const MetricsOptions& options);

// Serves `registry` (not owned; must outlive the server) as GET /metrics on
// options.listen, followed by the server's own refusals:
// peerlab_metrics_refused_total{reason="unauthorized"|"over_limit"|
// "not_loopback"} (HttpServer::Stats). nullptr (and OK) when options.listen is empty. Errors as
// CheckMetricsOptions and HttpServer::Start.
absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsServer(
    const MetricsOptions& options, const metrics::Registry* registry);

}  // namespace peerlab

#endif  // PEERLAB_BASE_METRICS_ENDPOINT_H_
