// Metrics of a gRPC server, by method and status code, as
// go-grpc-prometheus names them (so dashboards made for those work):
//   grpc_server_started_total{grpc_service,grpc_method,grpc_type}
//   grpc_server_handled_total{grpc_service,grpc_method,grpc_type,grpc_code}
//   grpc_server_handling_seconds{grpc_service,grpc_method,grpc_type}
//     (a histogram: from the call's start to its status being sent)
// An interceptor counts every call of the server it is installed on
// (peerlab-bootstrap, peerlab-coordinator). Method names come from the
// server's own services; the families are bounded anyway
// (metrics::Registry's max_series).
#ifndef PEERLAB_BASE_GRPC_METRICS_H_
#define PEERLAB_BASE_GRPC_METRICS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"

namespace peerlab {

// Owned by the program; must outlive the server it is installed on.
// Thread-safe (the families are).
class GrpcServerMetrics {
 public:
  // Registers the three families in `registry` (not owned; must outlive
  // this). Errors as metrics::Registry::Add* (a name already taken).
  static absl::StatusOr<std::unique_ptr<GrpcServerMetrics>> Create(
      metrics::Registry* registry);

  // Installs the interceptor on `builder` (it replaces interceptors set
  // before: peerlab sets no others).
  void Install(grpc::ServerBuilder& builder);

  // For the interceptor: a call of `method` ("/pkg.Service/Method") of
  // `type` started / ended with `code` after `seconds`.
  void Started(const char* method, const char* type);
  void Handled(const char* method, const char* type, int code, double seconds);

 private:
  GrpcServerMetrics() = default;
  metrics::CounterFamily* started_ = nullptr;
  metrics::CounterFamily* handled_ = nullptr;
  metrics::HistogramFamily* seconds_ = nullptr;
};

// The name of a gRPC status code as go-grpc-prometheus prints it ("OK",
// "InvalidArgument", "Unavailable"...).
const char* GrpcCodeName(int code);

}  // namespace peerlab

#endif  // PEERLAB_BASE_GRPC_METRICS_H_
