#include "peer/app/harness_link.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proto/harness/v1/coordinator.grpc.pb.h"
#include "services/common/logging.h"

namespace peerlab::peer {

HarnessLink::HarnessLink(Options options) : options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

HarnessLink::~HarnessLink() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (context_) context_->TryCancel();
  }
  cv_.notify_all();
  thread_.join();
}

absl::Status HarnessLink::WaitRegistered(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                   [this] { return registered_; })) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "not registered with the coordinator at ", options_.coordinator,
      " within ", absl::FormatDuration(timeout)));
}

void HarnessLink::Loop() {
  auto channel = grpc::CreateChannel(options_.coordinator,
                                     options_.credentials
                                         ? options_.credentials
                                         : grpc::InsecureChannelCredentials());
  auto stub = ::harness::v1::Coordinator::NewStub(channel);
  ::harness::v1::RegisterRequest request;
  request.set_name(options_.name);
  request.set_control_address(options_.control_address);
  request.set_version(PEERLAB_VERSION);
  request.set_pid(::getpid());
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  request.set_host(host);

  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);  // the coordinator may start later
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      context_ = &context;
    }
    auto reader = stub->Register(&context, request);
    ::harness::v1::RegisterResponse response;
    bool accepted = false;
    while (reader->Read(&response)) {
      if (response.accepted() && !accepted) {
        accepted = true;
        backoff = absl::Milliseconds(100);
        spdlog::info("registered with the coordinator at {} (start {})",
                     options_.coordinator, response.generation());
        std::lock_guard<std::mutex> lock(mu_);
        registered_ = true;
        cv_.notify_all();
      }
    }
    grpc::Status status = reader->Finish();
    std::unique_lock<std::mutex> lock(mu_);
    context_ = nullptr;
    registered_ = false;
    if (stopping_) return;
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      spdlog::error("the coordinator refused the registration: {}",
                    status.error_message());
      return;
    }
    spdlog::warn("coordinator {} stream ended ({}); registering again in {}",
                 options_.coordinator,
                 status.ok() ? std::string("closed") : status.error_message(),
                 absl::FormatDuration(backoff));
    cv_.wait_for(lock, absl::ToChronoNanoseconds(backoff),
                 [this] { return stopping_; });
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

}  // namespace peerlab::peer
