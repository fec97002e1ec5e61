// CoordinatorService: harness.v1.Coordinator (proto/harness/v1/
// coordinator.proto) on the gRPC callback API. Keeps the peer registry and
// the runs (the latest kMaxFinishedRuns finished ones are kept for their
// summaries). Register and WatchRun streams hold no thread while idle.
// Live registrations and runs in progress are bounded (kMaxRegistrations,
// kMaxActiveRuns), as are the registry's ended peers (PeerRegistry).
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_COORDINATOR_SERVICE_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_COORDINATOR_SERVICE_H_

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

  CoordinatorService();
  // Cancels the runs still going and waits for them. REQUIRES: the server
  // has shut down.
  ~CoordinatorService() override;

  // Ends every Register stream (peers see the coordinator go) and cancels
  // the runs. Call before grpc::Server::Shutdown. Thread-safe; idempotent.
  void Shutdown();

  PeerRegistry& registry() { return registry_; }
  // The run with `id`, or null.
  std::shared_ptr<Run> FindRun(const std::string& id);

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

  PeerRegistry registry_;
  std::mutex mu_;
  bool shutting_down_ = false;
  std::set<RegisterReactor*> registrations_;
  std::map<std::string, std::shared_ptr<Run>> runs_;
  std::deque<std::string> run_order_;  // oldest first
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_COORDINATOR_SERVICE_H_
