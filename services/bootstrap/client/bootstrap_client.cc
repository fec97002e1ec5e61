#include "services/bootstrap/client/bootstrap_client.h"

#include <algorithm>
#include <cstdlib>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "peer/runtime/backoff.h"
#include "services/bootstrap/entry_secret.h"

namespace peerlab::bootstrap {

namespace pb = ::bootstrap::v1;

namespace {

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

int ClampMillis(absl::Duration d) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 3'600'000));
}

}  // namespace

void WatchStopper::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

bool WatchStopper::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

bool WatchStopper::Attach(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  context_ = context;
  return true;
}

void WatchStopper::Detach() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

std::string BootstrapClient::ResolveAddress(const std::string& address) {
  if (!address.empty()) return address;
  const char* env = std::getenv(kServerEnvVar);
  if (env != nullptr && *env != '\0') return env;
  return kDefaultServerAddress;
}

std::unique_ptr<BootstrapApi> BootstrapClient::Connect(Options options) const {
  return std::make_unique<BootstrapClient>(std::move(options));
}

BootstrapClient::BootstrapClient(Options options)
    : options_(std::move(options)), address_(ResolveAddress(options_.address)) {
  grpc::ChannelArguments args;
  // gRPC's own reconnect backoff starts at 1 s; keep it no slower than our
  // retry schedule, or retries would fail fast against a channel that is
  // still waiting to reconnect. Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC
  // takes it as the minimum connect timeout (20 s by default), and at our
  // first sleep (100 ms) every attempt against a server slow to finish the
  // handshake (a loaded machine) gave up ("timed out before receiving
  // SETTINGS frame", "tcp handshaker shutdown"); the call's deadline bounds
  // a connection that hangs.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              ClampMillis(options_.initial_backoff));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              ClampMillis(options_.max_backoff));
  channel_ = grpc::CreateCustomChannel(address_,
                                       options_.credentials
                                           ? options_.credentials
                                           : grpc::InsecureChannelCredentials(),
                                       args);
  stub_ = pb::BootstrapData::NewStub(channel_);
}

void BootstrapClient::PrepareContext(grpc::ClientContext& context,
                                     absl::Time deadline) const {
  if (deadline != absl::InfiniteFuture()) {
    context.set_deadline(absl::ToChronoTime(deadline));
  }
  if (options_.admin_token.has_value()) {
    context.AddMetadata("authorization",
                        absl::StrCat("Bearer ", *options_.admin_token));
  }
}

absl::Duration BootstrapClient::Backoff(int attempt) {
  thread_local absl::BitGen gen;
  return runtime::Backoff(attempt,
                          {.initial = options_.initial_backoff,
                           .max = options_.max_backoff,
                           .multiplier = options_.backoff_multiplier,
                           .jitter = options_.jitter},
                          gen);
}

template <typename Response>
absl::StatusOr<Response> BootstrapClient::Call(
    const std::function<grpc::Status(grpc::ClientContext&, Response*)>&
        attempt) {
  const absl::Time deadline = absl::Now() + options_.deadline;
  const int max_attempts = std::max(1, options_.max_attempts);
  for (int n = 1;; ++n) {
    grpc::ClientContext context;
    PrepareContext(context, deadline);
    Response response;
    absl::Status status = FromGrpcStatus(attempt(context, &response));
    if (status.ok()) return response;
    if (status.code() != absl::StatusCode::kUnavailable || n >= max_attempts) {
      return status;
    }
    const absl::Duration sleep = Backoff(n);
    if (absl::Now() + sleep >= deadline) return status;
    if (options_.on_retry) options_.on_retry(n, status, sleep);
    absl::SleepFor(sleep);
  }
}

absl::StatusOr<pb::PingResponse> BootstrapClient::Ping() {
  pb::PingRequest request;
  return Call<pb::PingResponse>(
      [&](grpc::ClientContext& context, pb::PingResponse* response) {
        return stub_->Ping(&context, request, response);
      });
}

absl::StatusOr<pb::JoinResponse> BootstrapClient::Join(
    const pb::Peer& peer, std::optional<absl::Duration> ttl,
    const std::string& secret) {
  pb::JoinRequest request;
  *request.mutable_peer() = peer;
  auto sent = SecretToSend(secret, options_.admin_token.has_value());
  if (!sent.ok()) return sent.status();
  request.set_secret(*std::move(sent));
  if (ttl.has_value()) SetDuration(*ttl, request.mutable_ttl());
  return Call<pb::JoinResponse>(
      [&](grpc::ClientContext& context, pb::JoinResponse* response) {
        return stub_->Join(&context, request, response);
      });
}

absl::StatusOr<pb::LeaveResponse> BootstrapClient::Leave(
    const std::string& id, const std::string& secret) {
  pb::LeaveRequest request;
  request.set_id(id);
  request.set_secret(secret);
  return Call<pb::LeaveResponse>(
      [&](grpc::ClientContext& context, pb::LeaveResponse* response) {
        return stub_->Leave(&context, request, response);
      });
}

absl::StatusOr<pb::RefillResponse> BootstrapClient::Refill(
    const pb::Peer& candidate, std::optional<absl::Duration> ttl,
    const std::string& secret) {
  pb::RefillRequest request;
  *request.mutable_candidate() = candidate;
  auto sent = SecretToSend(secret, /*admin=*/false);
  if (!sent.ok()) return sent.status();
  request.set_secret(*std::move(sent));
  if (ttl.has_value()) SetDuration(*ttl, request.mutable_ttl());
  return Call<pb::RefillResponse>(
      [&](grpc::ClientContext& context, pb::RefillResponse* response) {
        return stub_->Refill(&context, request, response);
      });
}

absl::StatusOr<pb::ListResponse> BootstrapClient::List() {
  pb::ListRequest request;
  return Call<pb::ListResponse>(
      [&](grpc::ClientContext& context, pb::ListResponse* response) {
        return stub_->List(&context, request, response);
      });
}

absl::StatusOr<pb::ResetResponse> BootstrapClient::Reset() {
  pb::ResetRequest request;
  return Call<pb::ResetResponse>(
      [&](grpc::ClientContext& context, pb::ResetResponse* response) {
        return stub_->Reset(&context, request, response);
      });
}

absl::StatusOr<pb::UpdateConfigResponse> BootstrapClient::UpdateConfig(
    std::optional<uint32_t> max_peers,
    std::optional<uint32_t> min_refill_candidates) {
  pb::UpdateConfigRequest request;
  if (max_peers.has_value()) request.set_max_peers(*max_peers);
  if (min_refill_candidates.has_value()) {
    request.set_min_refill_candidates(*min_refill_candidates);
  }
  return Call<pb::UpdateConfigResponse>(
      [&](grpc::ClientContext& context, pb::UpdateConfigResponse* response) {
        return stub_->UpdateConfig(&context, request, response);
      });
}

absl::StatusOr<pb::RenewResponse> BootstrapClient::Renew(
    const std::string& id, absl::Duration ttl, const std::string& secret) {
  pb::RenewRequest request;
  request.set_id(id);
  request.set_secret(secret);
  SetDuration(ttl, request.mutable_ttl());
  return Call<pb::RenewResponse>(
      [&](grpc::ClientContext& context, pb::RenewResponse* response) {
        return stub_->Renew(&context, request, response);
      });
}

absl::Status BootstrapClient::Watch(
    const std::function<void(const pb::Document&)>& on_document,
    WatchStopper* stopper) {
  const int max_attempts = std::max(1, options_.max_attempts);
  for (int n = 1;; ++n) {
    grpc::ClientContext context;
    PrepareContext(context, absl::InfiniteFuture());
    if (stopper != nullptr && !stopper->Attach(&context)) {
      return absl::OkStatus();
    }
    auto reader = stub_->Watch(&context, pb::WatchRequest());
    pb::WatchResponse response;
    bool got_any = false;
    while (reader->Read(&response)) {
      got_any = true;
      on_document(response.document());
    }
    absl::Status status = FromGrpcStatus(reader->Finish());
    if (stopper != nullptr) stopper->Detach();
    if (stopper != nullptr && stopper->stopped()) return absl::OkStatus();
    if (status.ok() || got_any ||
        status.code() != absl::StatusCode::kUnavailable || n >= max_attempts) {
      return status;
    }
    const absl::Duration sleep = Backoff(n);
    if (options_.on_retry) options_.on_retry(n, status, sleep);
    absl::SleepFor(sleep);
  }
}

}  // namespace peerlab::bootstrap
