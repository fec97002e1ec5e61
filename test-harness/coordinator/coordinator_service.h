// CoordinatorService: harness.v1.Coordinator (proto/harness/v1/
// coordinator.proto) on the gRPC callback API. Keeps the peer registry and
// the runs (the latest kMaxFinishedRuns finished ones are kept for their
// summaries). Register and WatchRun streams hold no thread while idle.
// Live registrations and runs in progress are bounded (kMaxRegistrations,
// kMaxActiveRuns), as are the registry's ended peers (PeerRegistry) and the
// challenges waiting for their Register (kMaxPendingChallenges).
//
// Authentication (lab_auth.h): Register needs a proof made with the lab
// token over a challenge this service issued; every client call (all but
// Challenge and Register) needs "authorization: Bearer TOKEN". Refusals
// are UNAUTHENTICATED, logged and counted (refused()).
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_COORDINATOR_SERVICE_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_COORDINATOR_SERVICE_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "proto/harness/v1/coordinator.grpc.pb.h"
#include "test-harness/coordinator/peer_registry.h"
#include "test-harness/coordinator/run.h"

namespace peerlab::harness {

class RegisterReactor;

class CoordinatorService final
    : public ::harness::v1::Coordinator::CallbackService {
 public:
  static constexpr size_t kMaxFinishedRuns = 64;
  // Live Register streams (remote parties open them): beyond it a new one
  // is refused with RESOURCE_EXHAUSTED and a log line.
  static constexpr size_t kMaxRegistrations = 4096;
  // Runs not finished yet (each has a thread): beyond it StartRun is
  // refused with RESOURCE_EXHAUSTED and a log line.
  static constexpr size_t kMaxActiveRuns = 32;
  // Challenges issued and not used yet: beyond it the oldest is dropped
  // (its Register is refused; the peer asks again), with a log line.
  static constexpr size_t kMaxPendingChallenges = 4096;
  // How long a challenge stays valid.
  static constexpr absl::Duration kChallengeLifetime = absl::Seconds(30);

  // `lab_token`: the token every peer and client must prove or send.
  // REQUIRES: not empty.
  explicit CoordinatorService(std::string lab_token);
  // Cancels the runs still going and waits for them. REQUIRES: the server
  // has shut down.
  ~CoordinatorService() override;

  // Ends every Register stream (peers see the coordinator go) and cancels
  // the runs. Call before grpc::Server::Shutdown. Thread-safe; idempotent.
  void Shutdown();

  // Called with each run StartRun accepted, before it starts (metrics:
  // run_metrics.h). Set before serving; not thread-safe against StartRun.
  void SetRunObserver(
      std::function<void(const std::shared_ptr<Run>&)> observer) {
    run_observer_ = std::move(observer);
  }

  PeerRegistry& registry() { return registry_; }
  // The run with `id`, or null.
  std::shared_ptr<Run> FindRun(const std::string& id);

  // Calls refused for want of a valid token or proof so far.
  uint64_t refused() const { return refused_.load(); }

  grpc::ServerUnaryReactor* Challenge(
      grpc::CallbackServerContext* context,
      const ::harness::v1::ChallengeRequest* request,
      ::harness::v1::ChallengeResponse* response) override;
  grpc::ServerWriteReactor<::harness::v1::RegisterResponse>* Register(
      grpc::CallbackServerContext* context,
      const ::harness::v1::RegisterRequest* request) override;
  grpc::ServerUnaryReactor* ListPeers(
      grpc::CallbackServerContext* context,
      const ::harness::v1::ListPeersRequest* request,
      ::harness::v1::ListPeersResponse* response) override;
  grpc::ServerUnaryReactor* StartRun(
      grpc::CallbackServerContext* context,
      const ::harness::v1::StartRunRequest* request,
      ::harness::v1::StartRunResponse* response) override;
  grpc::ServerWriteReactor<::harness::v1::RunEvent>* WatchRun(
      grpc::CallbackServerContext* context,
      const ::harness::v1::WatchRunRequest* request) override;
  grpc::ServerUnaryReactor* ResolveFault(
      grpc::CallbackServerContext* context,
      const ::harness::v1::ResolveFaultRequest* request,
      ::harness::v1::ResolveFaultResponse* response) override;
  grpc::ServerUnaryReactor* CancelRun(
      grpc::CallbackServerContext* context,
      const ::harness::v1::CancelRunRequest* request,
      ::harness::v1::CancelRunResponse* response) override;
  grpc::ServerUnaryReactor* GetSummary(
      grpc::CallbackServerContext* context,
      const ::harness::v1::GetSummaryRequest* request,
      ::harness::v1::RunSummary* response) override;
  grpc::ServerUnaryReactor* ListRuns(
      grpc::CallbackServerContext* context,
      const ::harness::v1::ListRunsRequest* request,
      ::harness::v1::ListRunsResponse* response) override;

 private:
  friend class RegisterReactor;
  void ForgetRegistration(RegisterReactor* reactor);
  // Drops the oldest finished runs beyond kMaxFinishedRuns. REQUIRES mu_.
  void TrimRunsLocked();
  // OK when the call carries the lab token as its bearer token; otherwise
  // UNAUTHENTICATED (logged, counted). Constant time in the token.
  grpc::Status CheckClient(const grpc::CallbackServerContext& context,
                           const char* method);
  // OK when `request` proves the lab token over a challenge issued and not
  // used yet (it is used up, valid or not).
  grpc::Status CheckRegistration(const grpc::CallbackServerContext& context,
                                 const ::harness::v1::RegisterRequest& request);
  // Logs a refusal: the first ones, then one in 100.
  void LogRefusal(const std::string& what, const std::string& who);

  const std::string lab_token_;
  std::atomic<uint64_t> refused_{0};
  std::function<void(const std::shared_ptr<Run>&)> run_observer_;

  // Challenges issued: coordinator nonce -> when it expires; oldest first
  // in challenge_order_.
  std::mutex challenges_mu_;
  std::map<std::string, absl::Time> challenges_;
  std::deque<std::string> challenge_order_;
  uint64_t challenges_dropped_ = 0;

  PeerRegistry registry_;
  std::mutex mu_;
  bool shutting_down_ = false;
  std::set<RegisterReactor*> registrations_;
  std::map<std::string, std::shared_ptr<Run>> runs_;
  std::deque<std::string> run_order_;  // oldest first
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_COORDINATOR_SERVICE_H_
