// BootstrapGrpcService: the gRPC face of BootstrapService (callback API).
// It only converts: metadata to an admin token, absl::Status to grpc::Status,
// store notifications to Watch stream writes. No handler blocks.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_GRPC_SERVICE_H_
#define PEERLAB_SERVICES_BOOTSTRAP_GRPC_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "absl/time/time.h"
#include "proto/bootstrap/v1/bootstrap.grpc.pb.h"
#include "services/bootstrap/bootstrap_service.h"

namespace peerlab::bootstrap {

class WatchReactor;

class BootstrapGrpcService final : public pb::BootstrapData::CallbackService {
 public:
  // Bounds on Watch streams, which any client can open.
  struct Options {
    // Open Watch streams at most; one more is refused with
    // RESOURCE_EXHAUSTED. A dropped stream counts until gRPC is done with it.
    size_t max_watchers = 100;
    // Bytes of documents (protobuf size) queued for one stream, beyond the
    // one being written. A stream whose reader falls further behind is ended
    // with ABORTED (see bootstrap.proto, Watch). At least two of the largest
    // documents (validation.h), so that a reader that is merely slow keeps up.
    size_t max_queued_bytes = 8 * 1024 * 1024;
    // A stream whose one write in flight has not completed for this long
    // (its reader takes nothing, not even the final status) is cancelled,
    // freeing its slot and buffers. Checked every stall_check.
    absl::Duration max_write_stall = absl::Seconds(30);
    absl::Duration stall_check = absl::Seconds(1);
  };

  // `service` must outlive this object. Starts a thread that cancels stalled
  // Watch streams; the destructor stops it.
  explicit BootstrapGrpcService(BootstrapService* service)
      : BootstrapGrpcService(service, Options()) {}
  BootstrapGrpcService(BootstrapService* service, Options options);
  ~BootstrapGrpcService() override;

  // Ends every Watch stream with OK and refuses new ones (UNAVAILABLE).
  // Call before grpc::Server::Shutdown so shutdown does not wait for them.
  void EndWatches();

  // For tests and logs: open Watch streams, and streams ended because their
  // reader fell behind (or refused because too many were open).
  size_t watchers();
  uint64_t watchers_dropped() const { return dropped_.load(); }
  uint64_t watchers_refused() const { return refused_.load(); }
  uint64_t watchers_cancelled() const { return cancelled_.load(); }

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
  void StallLoop();

  BootstrapService* const service_;
  const Options options_;
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> cancelled_{0};
  std::mutex stall_mu_;
  std::condition_variable stall_wake_;
  bool stall_stop_ = false;
  std::thread stall_thread_;  // last: starts after everything it uses
  std::recursive_mutex mu_;
  bool ending_ = false;
  std::set<WatchReactor*> watches_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_GRPC_SERVICE_H_
