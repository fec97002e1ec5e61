#include "base/grpc_metrics.h"

#include <string>

#include "absl/time/clock.h"

namespace peerlab {
namespace {

std::pair<std::string, std::string> SplitMethod(const char* full) {
  std::string m = full != nullptr ? full : "";
  if (!m.empty() && m[0] == '/') m.erase(0, 1);
  const size_t slash = m.find('/');
  if (slash == std::string::npos) return {"unknown", m};
  return {m.substr(0, slash), m.substr(slash + 1)};
}

const char* TypeName(grpc::experimental::ServerRpcInfo::Type type) {
  using T = grpc::experimental::ServerRpcInfo::Type;
  switch (type) {
    case T::UNARY:
      return "unary";
    case T::CLIENT_STREAMING:
      return "client_stream";
    case T::SERVER_STREAMING:
      return "server_stream";
    case T::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GrpcServerMetrics* metrics,
                     grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics),
        method_(info->method()),
        type_(TypeName(info->type())),
        start_(absl::Now()) {
    metrics_->Started(method_, type_);
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using H = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(H::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      metrics_->Handled(method_, type_, status.error_code(),
                        absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  GrpcServerMetrics* const metrics_;
  const char* const method_;
  const char* const type_;
  const absl::Time start_;
};

class MetricsInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcServerMetrics* metrics)
      : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info);
  }

 private:
  GrpcServerMetrics* const metrics_;
};

}  // namespace

const char* GrpcCodeName(int code) {
  static const char* kNames[] = {"OK",
                                 "Canceled",
                                 "Unknown",
                                 "InvalidArgument",
                                 "DeadlineExceeded",
                                 "NotFound",
                                 "AlreadyExists",
                                 "PermissionDenied",
                                 "ResourceExhausted",
                                 "FailedPrecondition",
                                 "Aborted",
                                 "OutOfRange",
                                 "Unimplemented",
                                 "Internal",
                                 "Unavailable",
                                 "DataLoss",
                                 "Unauthenticated"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) {
    return "Unknown";
  }
  return kNames[code];
}

absl::StatusOr<std::unique_ptr<GrpcServerMetrics>> GrpcServerMetrics::Create(
    metrics::Registry* registry) {
  std::unique_ptr<GrpcServerMetrics> m(new GrpcServerMetrics());
  auto started = registry->AddCounter(
      "grpc_server_started_total", "RPCs started on the server",
      {"grpc_service", "grpc_method", "grpc_type"});
  if (!started.ok()) return started.status();
  auto handled = registry->AddCounter(
      "grpc_server_handled_total",
      "RPCs completed on the server, by status code",
      {"grpc_service", "grpc_method", "grpc_type", "grpc_code"});
  if (!handled.ok()) return handled.status();
  auto seconds = registry->AddHistogram(
      "grpc_server_handling_seconds",
      "time from the start of an RPC to its status being sent",
      {"grpc_service", "grpc_method", "grpc_type"},
      metrics::DefaultLatencyBounds());
  if (!seconds.ok()) return seconds.status();
  m->started_ = *started;
  m->handled_ = *handled;
  m->seconds_ = *seconds;
  return m;
}

void GrpcServerMetrics::Install(grpc::ServerBuilder& builder) {
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      creators;
  creators.push_back(std::make_unique<MetricsInterceptorFactory>(this));
  builder.experimental().SetInterceptorCreators(std::move(creators));
}

void GrpcServerMetrics::Started(const char* method, const char* type) {
  auto [service, name] = SplitMethod(method);
  started_->WithLabels({service, name, type}).Increment();
}

void GrpcServerMetrics::Handled(const char* method, const char* type, int code,
                                double seconds) {
  auto [service, name] = SplitMethod(method);
  handled_->WithLabels({service, name, type, GrpcCodeName(code)}).Increment();
  seconds_->WithLabels({service, name, type}).Observe(seconds);
}

}  // namespace peerlab
