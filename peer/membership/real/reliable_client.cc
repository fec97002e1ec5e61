#include "peer/membership/real/reliable_client.h"

#include <utility>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "peer/membership/real/membership_stream_service.h"
#include "base/grpc_status.h"

namespace peerlab::membership {

// One outgoing call; shared by the in-flight set and gRPC's callback.
struct ReliableClient::Call {
  grpc::ClientContext context;
  ::peer::v1::ReliableRequest request;
  ::peer::v1::ReliableResponse response;
  Kind kind = Kind::kReliable;
  Done done;
};

ReliableClient::ReliableClient(Options options)
    : options_(std::move(options)) {}

ReliableClient::~ReliableClient() = default;

std::shared_ptr<::peer::v1::MembershipStream::Stub> ReliableClient::StubFor(
    const std::string& grpc_addr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stubs_.find(grpc_addr);
  if (it != stubs_.end()) return it->second;
  if (stubs_.size() >= options_.max_channels) stubs_.clear();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options_.max_message_bytes);
  args.SetMaxSendMessageSize(options_.max_message_bytes);
  auto stub = std::shared_ptr<::peer::v1::MembershipStream::Stub>(
      ::peer::v1::MembershipStream::NewStub(grpc::CreateCustomChannel(
          grpc_addr,
          options_.credentials ? options_.credentials
                               : grpc::InsecureChannelCredentials(),
          args)));
  stubs_.emplace(grpc_addr, stub);
  return stub;
}

absl::Status ReliableClient::Start(const std::string& grpc_addr,
                                   ::peer::v1::ReliableRequest request,
                                   absl::Time deadline, Kind kind, Done done) {
  auto call = std::make_shared<Call>();
  call->context.set_deadline(absl::ToChronoTime(deadline));
  call->context.AddMetadata(kMemberAddrMetadata, options_.member_addr);
  if (!options_.grpc_addr.empty()) {
    call->context.AddMetadata(kGrpcAddrMetadata, options_.grpc_addr);
  }
  call->request = std::move(request);
  call->kind = kind;
  call->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return absl::UnavailableError("transport shut down");
    if (kind == Kind::kPacket) {
      if (packet_calls_ >= options_.max_packet_calls_in_flight) {
        return absl::ResourceExhaustedError(
            "too many datagrams in flight over gRPC");
      }
      ++packet_calls_;
    }
    calls_.insert(call);
  }
  auto stub = StubFor(grpc_addr);
  stub->async()->Exchange(
      &call->context, &call->request, &call->response,
      [this, call](grpc::Status status) {
        if (call->done) {
          call->done(status.ok() ? absl::StatusOr<::peer::v1::ReliableResponse>(
                                       std::move(call->response))
                                 : FromGrpcStatus(status));
        }
        // Last: once the set is empty, Shutdown may return and the client
        // may be destroyed.
        std::lock_guard<std::mutex> lock(mu_);
        calls_.erase(call);
        if (call->kind == Kind::kPacket) --packet_calls_;
        if (calls_.empty()) calls_done_.notify_all();
      });
  return absl::OkStatus();
}

void ReliableClient::Shutdown() {
  std::vector<std::shared_ptr<Call>> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    calls.assign(calls_.begin(), calls_.end());
  }
  for (auto& call : calls) call->context.TryCancel();
  calls.clear();
  std::unique_lock<std::mutex> lock(mu_);
  calls_done_.wait(lock, [this] { return calls_.empty(); });
}

}  // namespace peerlab::membership
