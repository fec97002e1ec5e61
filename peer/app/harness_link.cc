#include "peer/app/harness_link.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "peer/runtime/backoff.h"
#include "proto/harness/v1/coordinator.grpc.pb.h"
#include "base/logging.h"
#include "test-harness/coordinator/lab_auth.h"

namespace peerlab::peer {

void HarnessSession::Set(std::string token) {
  std::lock_guard<std::mutex> lock(mu_);
  token_ = std::move(token);
}

bool HarnessSession::Matches(absl::string_view presented) const {
  std::lock_guard<std::mutex> lock(mu_);
  return !token_.empty() &&
         harness::SameSecret(
             std::string_view(presented.data(), presented.size()), token_);
}

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
  options_.session->Set("");
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
  request.set_peer_generation(options_.generation);

  // Registering again: 100 ms, doubling up to 5 s; reset once accepted.
  const runtime::BackoffPolicy retry{.initial = absl::Milliseconds(100),
                                     .max = absl::Seconds(5)};
  int attempt = 0;
  // Runs `call` with a context that the destructor can cancel; false when
  // the link is stopping.
  auto with_context = [this](grpc::ClientContext& context) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    context_ = &context;
    return true;
  };
  while (true) {
    grpc::Status status;
    // 1. The challenge: the coordinator proves it holds the lab token.
    auto peer_nonce = harness::RandomNonce();
    ::harness::v1::ChallengeResponse challenge;
    if (!peer_nonce.ok()) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            std::string(peer_nonce.status().message()));
    } else {
      grpc::ClientContext context;
      context.set_wait_for_ready(true);  // the coordinator may start later
      if (!with_context(context)) return;
      ::harness::v1::ChallengeRequest ask;
      ask.set_peer_nonce(*peer_nonce);
      status = stub->Challenge(&context, ask, &challenge);
      std::lock_guard<std::mutex> lock(mu_);
      context_ = nullptr;
    }
    bool proven = false;
    if (status.ok()) {
      proven = challenge.coordinator_nonce().size() == harness::kNonceBytes &&
               harness::SameSecret(
                   challenge.coordinator_proof(),
                   harness::CoordinatorProof(options_.token, *peer_nonce,
                                             challenge.coordinator_nonce()));
      if (!proven) {
        status = grpc::Status(
            grpc::StatusCode::PERMISSION_DENIED,
            "it does not hold this peer's lab token (its proof is wrong): "
            "give the peer the coordinator's --token-file");
      }
    }
    // 2. The registration, with this peer's proof; the session token is
    // in place before the coordinator can use it.
    if (proven) {
      request.set_coordinator_nonce(challenge.coordinator_nonce());
      request.set_peer_nonce(*peer_nonce);
      request.clear_proof();
      request.set_proof(harness::RegisterProof(options_.token, request));
      options_.session->Set(
          harness::ControlSessionToken(options_.token, request));
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      if (!with_context(context)) return;
      auto reader = stub->Register(&context, request);
      ::harness::v1::RegisterResponse response;
      bool accepted = false;
      while (reader->Read(&response)) {
        if (response.accepted() && !accepted) {
          accepted = true;
          attempt = 0;
          spdlog::info("registered with the coordinator at {} (start {})",
                       options_.coordinator, response.generation());
          std::lock_guard<std::mutex> lock(mu_);
          registered_ = true;
          cv_.notify_all();
        }
      }
      status = reader->Finish();
      options_.session->Set("");
    }
    std::unique_lock<std::mutex> lock(mu_);
    context_ = nullptr;
    registered_ = false;
    if (stopping_) return;
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      spdlog::error("the coordinator refused the registration: {}",
                    status.error_message());
      return;
    }
    const absl::Duration backoff = runtime::Backoff(++attempt, retry, 0.5);
    const std::string why =
        status.ok() ? std::string("closed") : status.error_message();
    switch (status.error_code()) {
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::PERMISSION_DENIED:
        spdlog::error("coordinator {}: {}; trying again in {}",
                      options_.coordinator, why, absl::FormatDuration(backoff));
        break;
      case grpc::StatusCode::ALREADY_EXISTS:
        spdlog::warn("coordinator {}: {}; trying again in {}",
                     options_.coordinator, why, absl::FormatDuration(backoff));
        break;
      default:
        spdlog::warn(
            "coordinator {} stream ended ({}); registering again in {}",
            options_.coordinator, why, absl::FormatDuration(backoff));
    }
    cv_.wait_for(lock, absl::ToChronoNanoseconds(backoff),
                 [this] { return stopping_; });
  }
}

}  // namespace peerlab::peer
