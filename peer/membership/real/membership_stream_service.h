// MembershipStreamService: the server side of the membership's reliable path
// (service peer.v1.MembershipStream, callback API), registered once on the
// peer's gRPC server.
//
// A gRPC server's services are fixed when it starts, while a membership (and
// its transport) is created, shut down and deleted at run time by commands.
// So this service is not owned by the transport: it lives as long as the
// server, and a transport attaches itself as the Sink while it runs. With no
// sink attached, calls fail at once with UNAVAILABLE.
//
// Callers identify themselves with metadata (set by UdpGrpcTransport):
//   peerlab-member-addr  the caller's membership address (what it reports
//                        as Transport::LocalAddress()),
//   peerlab-grpc-addr    the caller's gRPC address, so that the receiver
//                        learns how to reach it on the reliable path.
#ifndef PEERLAB_PEER_MEMBERSHIP_REAL_MEMBERSHIP_STREAM_SERVICE_H_
#define PEERLAB_PEER_MEMBERSHIP_REAL_MEMBERSHIP_STREAM_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/peer/v1/membership.grpc.pb.h"

namespace peerlab::membership {

// Metadata keys (lower case, as gRPC requires).
inline constexpr char kMemberAddrMetadata[] = "peerlab-member-addr";
inline constexpr char kGrpcAddrMetadata[] = "peerlab-grpc-addr";

class MembershipStreamService final
    : public ::peer::v1::MembershipStream::CallbackService {
 public:
  // Answers one call. Copyable; call it once (later calls, and calls after
  // the RPC was cancelled or the sink detached, are no-ops). Thread-safe,
  // and safe to call after this service is destroyed.
  using Responder =
      std::function<void(absl::StatusOr<::peer::v1::ReliableResponse>)>;

  struct Caller {
    std::string member_addr;  // metadata, else the TCP peer "ip:port"
    std::string grpc_addr;    // metadata; empty when not sent
  };

  // Where calls go. OnExchange runs on a gRPC thread and must not block.
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void OnExchange(const Caller& caller,
                            const ::peer::v1::ReliableRequest& request,
                            Responder responder) = 0;
  };

  MembershipStreamService();
  // Finishes unanswered calls with UNAVAILABLE. REQUIRES: no sink attached.
  ~MembershipStreamService() override;

  // Sends every later call to `sink` (not owned), replacing any other.
  // Thread-safe.
  void Attach(Sink* sink);
  // If `sink` is attached: detaches it, waits until no OnExchange into it is
  // running, and finishes every call not yet answered with UNAVAILABLE.
  // Afterwards `sink` is never called again. Thread-safe; must not be called
  // from inside OnExchange.
  void Detach(Sink* sink);

  grpc::ServerUnaryReactor* Exchange(
      grpc::CallbackServerContext* context,
      const ::peer::v1::ReliableRequest* request,
      ::peer::v1::ReliableResponse* response) override;

 private:
  class CallTable;
  class Reactor;

  absl::Mutex mu_;  // held (shared) around OnExchange, exclusive to detach
  Sink* sink_ ABSL_GUARDED_BY(mu_) = nullptr;
  const std::shared_ptr<CallTable> calls_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_REAL_MEMBERSHIP_STREAM_SERVICE_H_
