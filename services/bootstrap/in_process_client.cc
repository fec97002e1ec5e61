#include "services/bootstrap/in_process_client.h"

#include <utility>

#include "services/bootstrap/entry_secret.h"

namespace peerlab::bootstrap {
namespace {

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

// Runs `op` with a callback and returns what it gave, inline.
template <typename T, typename Op>
absl::StatusOr<T> Sync(Op op) {
  std::optional<absl::StatusOr<T>> out;
  op([&out](absl::StatusOr<T> r) { out.emplace(std::move(r)); });
  if (!out.has_value()) {
    return absl::UnavailableError(
        "the in-process bootstrap service did not answer inline");
  }
  return *std::move(out);
}

}  // namespace

InProcessBootstrapClient::InProcessBootstrapClient(
    BootstrapService* service, BootstrapClientOptions options)
    : service_(service), options_(std::move(options)) {}

std::unique_ptr<BootstrapApi> InProcessBootstrapClient::Connect(
    BootstrapClientOptions options) const {
  return std::make_unique<InProcessBootstrapClient>(service_,
                                                    std::move(options));
}

BootstrapService::Caller InProcessBootstrapClient::Caller() const {
  return {.token = options_.admin_token.value_or(""), .client = ""};
}

absl::StatusOr<pb::PingResponse> InProcessBootstrapClient::Ping() {
  return service_->Ping();
}

absl::StatusOr<pb::JoinResponse> InProcessBootstrapClient::Join(
    const pb::Peer& peer, std::optional<absl::Duration> ttl,
    const std::string& secret) {
  pb::JoinRequest request;
  *request.mutable_peer() = peer;
  auto sent = SecretToSend(secret, options_.admin_token.has_value());
  if (!sent.ok()) return sent.status();
  request.set_secret(*std::move(sent));
  if (ttl.has_value()) SetDuration(*ttl, request.mutable_ttl());
  return Sync<pb::JoinResponse>(
      [&](auto done) { service_->Join(request, Caller(), std::move(done)); });
}

absl::StatusOr<pb::LeaveResponse> InProcessBootstrapClient::Leave(
    const std::string& id, const std::string& secret) {
  pb::LeaveRequest request;
  request.set_id(id);
  request.set_secret(secret);
  return Sync<pb::LeaveResponse>(
      [&](auto done) { service_->Leave(request, Caller(), std::move(done)); });
}

absl::StatusOr<pb::RefillResponse> InProcessBootstrapClient::Refill(
    const pb::Peer& candidate, std::optional<absl::Duration> ttl,
    const std::string& secret) {
  pb::RefillRequest request;
  *request.mutable_candidate() = candidate;
  // As BootstrapClient::Refill: a refilled entry always has a secret.
  auto sent = SecretToSend(secret, /*admin=*/false);
  if (!sent.ok()) return sent.status();
  request.set_secret(*std::move(sent));
  if (ttl.has_value()) SetDuration(*ttl, request.mutable_ttl());
  return Sync<pb::RefillResponse>(
      [&](auto done) { service_->Refill(request, Caller(), std::move(done)); });
}

absl::StatusOr<pb::ListResponse> InProcessBootstrapClient::List() {
  return service_->List();
}

absl::StatusOr<pb::ResetResponse> InProcessBootstrapClient::Reset() {
  return Sync<pb::ResetResponse>([&](auto done) {
    service_->Reset(pb::ResetRequest(), Caller().token, std::move(done));
  });
}

absl::StatusOr<pb::UpdateConfigResponse> InProcessBootstrapClient::UpdateConfig(
    std::optional<uint32_t> max_peers,
    std::optional<uint32_t> min_refill_candidates) {
  pb::UpdateConfigRequest request;
  if (max_peers.has_value()) request.set_max_peers(*max_peers);
  if (min_refill_candidates.has_value()) {
    request.set_min_refill_candidates(*min_refill_candidates);
  }
  return Sync<pb::UpdateConfigResponse>([&](auto done) {
    service_->UpdateConfig(request, Caller().token, std::move(done));
  });
}

absl::StatusOr<pb::RenewResponse> InProcessBootstrapClient::Renew(
    const std::string& id, absl::Duration ttl, const std::string& secret) {
  pb::RenewRequest request;
  request.set_id(id);
  request.set_secret(secret);
  SetDuration(ttl, request.mutable_ttl());
  return Sync<pb::RenewResponse>(
      [&](auto done) { service_->Renew(request, Caller(), std::move(done)); });
}

}  // namespace peerlab::bootstrap
