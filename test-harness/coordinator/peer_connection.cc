#include "test-harness/coordinator/peer_connection.h"

#include "absl/strings/str_cat.h"
#include "base/grpc_status.h"

namespace peerlab::harness {
namespace {

std::shared_ptr<grpc::ChannelCredentials>& Credentials() {
  static auto* credentials = new std::shared_ptr<grpc::ChannelCredentials>();
  return *credentials;
}

}  // namespace

PeerLinkFactory GrpcPeerLinks() {
  return [](const ::harness::v1::PeerInfo& peer, std::string token,
            PeerLink::Callbacks callbacks) -> std::unique_ptr<PeerLink> {
    return std::make_unique<PeerConnection>(
        peer.control_address(), std::move(token), std::move(callbacks));
  };
}

void PeerConnection::Authorize(grpc::ClientContext* context) const {
  if (!token_.empty())
    context->AddMetadata("authorization", "Bearer " + token_);
}

void PeerConnection::SetChannelCredentials(
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  Credentials() = std::move(credentials);
}

PeerConnection::PeerConnection(const std::string& control_address,
                               std::string token, Callbacks callbacks)
    : token_(std::move(token)), callbacks_(std::move(callbacks)) {
  grpc::ChannelArguments args;
  // One connection per peer, not shared with other channels to it.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  channel_ = grpc::CreateCustomChannel(
      control_address,
      Credentials() ? Credentials() : grpc::InsecureChannelCredentials(), args);
  stub_ = ::peer::v1::PeerControl::NewStub(channel_);
  watch_thread_ = std::thread([this] { Watch(); });
}

PeerConnection::~PeerConnection() {
  Close();
  watch_thread_.join();
}

void PeerConnection::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  watch_context_.TryCancel();
  for (grpc::ClientContext* c : executing_) c->TryCancel();
}

void PeerConnection::Watch() {
  ::peer::v1::WatchViewsRequest request;
  request.set_include_history(true);
  bool closed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed = closed_;
  }
  // Not under mu_: the callback takes its owner's lock, which the owner
  // may hold while it calls Close() (a lock-order inversion otherwise).
  if (closed) {
    callbacks_.ended(absl::CancelledError("closed"));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The peer registered once serving, but the channel may still be
    // connecting.
    watch_context_.set_wait_for_ready(true);
    Authorize(&watch_context_);
  }
  auto reader = stub_->WatchViews(&watch_context_, request);
  ::peer::v1::WatchViewsResponse response;
  while (reader->Read(&response)) callbacks_.lines(response);
  callbacks_.ended(FromGrpcStatus(reader->Finish()));
}

absl::StatusOr<::peer::v1::ExecuteResponse> PeerConnection::Execute(
    const std::string& line, absl::Time deadline) {
  return Call(line, deadline, /*quiet=*/false);
}

absl::StatusOr<::peer::v1::ExecuteResponse> PeerConnection::Probe(
    const std::string& line, absl::Time deadline) {
  return Call(line, deadline, /*quiet=*/true);
}

absl::StatusOr<::peer::v1::ExecuteResponse> PeerConnection::Call(
    const std::string& line, absl::Time deadline, bool quiet) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  context.set_wait_for_ready(true);
  Authorize(&context);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::CancelledError("connection closed");
    executing_.insert(&context);
  }
  ::peer::v1::ExecuteRequest request;
  request.set_line(line);
  request.set_quiet(quiet);
  ::peer::v1::ExecuteResponse response;
  grpc::Status status = stub_->Execute(&context, request, &response);
  {
    std::lock_guard<std::mutex> lock(mu_);
    executing_.erase(&context);
  }
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace peerlab::harness
