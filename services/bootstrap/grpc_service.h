// BootstrapGrpcService: the gRPC face of BootstrapService (callback API).
// It only converts: metadata to an admin token, absl::Status to grpc::Status,
// store notifications to Watch stream writes. No handler blocks.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_GRPC_SERVICE_H_
#define PEERLAB_SERVICES_BOOTSTRAP_GRPC_SERVICE_H_

#include <mutex>
#include <set>

#include "proto/bootstrap/v1/bootstrap.grpc.pb.h"
#include "services/bootstrap/bootstrap_service.h"

namespace peerlab::bootstrap {

class WatchReactor;

class BootstrapGrpcService final : public pb::BootstrapData::CallbackService {
 public:
  // `service` must outlive this object.
  explicit BootstrapGrpcService(BootstrapService* service);
  ~BootstrapGrpcService() override;

  // Ends every Watch stream with OK and refuses new ones (UNAVAILABLE).
  // Call before grpc::Server::Shutdown so shutdown does not wait for them.
  void EndWatches();

  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context,
                                 const pb::PingRequest* request,
                                 pb::PingResponse* response) override;
  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* context,
                                 const pb::JoinRequest* request,
                                 pb::JoinResponse* response) override;
  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* context,
                                  const pb::LeaveRequest* request,
                                  pb::LeaveResponse* response) override;
  grpc::ServerUnaryReactor* Refill(grpc::CallbackServerContext* context,
                                   const pb::RefillRequest* request,
                                   pb::RefillResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const pb::ListRequest* request,
                                 pb::ListResponse* response) override;
  grpc::ServerUnaryReactor* Reset(grpc::CallbackServerContext* context,
                                  const pb::ResetRequest* request,
                                  pb::ResetResponse* response) override;
  grpc::ServerUnaryReactor* UpdateConfig(
      grpc::CallbackServerContext* context,
      const pb::UpdateConfigRequest* request,
      pb::UpdateConfigResponse* response) override;
  grpc::ServerUnaryReactor* Renew(grpc::CallbackServerContext* context,
                                  const pb::RenewRequest* request,
                                  pb::RenewResponse* response) override;
  grpc::ServerWriteReactor<pb::WatchResponse>* Watch(
      grpc::CallbackServerContext* context,
      const pb::WatchRequest* request) override;

 private:
  friend class WatchReactor;
  void Forget(WatchReactor* reactor);

  BootstrapService* const service_;
  std::recursive_mutex mu_;
  bool ending_ = false;
  std::set<WatchReactor*> watches_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_GRPC_SERVICE_H_
