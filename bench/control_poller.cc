#include "bench/control_poller.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "base/control_token.h"

namespace peerlab::bench {

ControlPoller::ControlPoller(const std::string& address,
                             const std::string& token) {
  grpc::ChannelArguments args;
  // Keep the reconnect backoff short: the peer is polled from its launch
  // on, and a refused first attempt must not delay the next by seconds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
  stub_ = ::peer::v1::PeerControl::NewStub(NewChannelWithToken(
      address, grpc::InsecureChannelCredentials(), token, args));
}

absl::StatusOr<std::vector<std::string>> ControlPoller::Execute(
    const std::string& line, absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // See the header: the call itself drives the connection attempt.
  context.set_wait_for_ready(true);
  ::peer::v1::ExecuteRequest request;
  request.set_line(line);
  ::peer::v1::ExecuteResponse response;
  const grpc::Status status = stub_->Execute(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  if (response.code() != 0) {
    return absl::UnknownError(
        absl::StrCat("\"", line, "\" failed: ", response.message()));
  }
  std::vector<std::string> out;
  out.reserve(response.output_size());
  for (const auto& l : response.output()) out.push_back(l.text());
  return out;
}

}  // namespace peerlab::bench
