// PeerConnection: the harness's line to one running peer (one generation):
// commands through peer.v1.PeerControl/Execute, and every line of every view
// through one WatchViews stream (history first), handed to a callback.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_PEER_CONNECTION_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_PEER_CONNECTION_H_

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "proto/peer/v1/control.grpc.pb.h"
#include "test-harness/coordinator/peer_link.h"

namespace peerlab::harness {

// The real PeerLink. The callbacks run on the connection's watch thread.
class PeerConnection : public PeerLink {
 public:
  using Callbacks = PeerLink::Callbacks;

  // Credentials of the channels to peers (the coordinator's --tls-*, see
  // base/tls.h); nullptr (the default): plaintext. Call once,
  // before the first connection; not synchronized with connections.
  static void SetChannelCredentials(
      std::shared_ptr<grpc::ChannelCredentials> credentials);

  // Connects to `control_address` and starts watching every view. Every
  // call carries "authorization: Bearer TOKEN" when `token` is not empty:
  // the registration's session token (lab_auth.h, ControlSessionToken),
  // which the peer accepts while it is registered; no other token is ever
  // sent. The callbacks must stay valid until the destructor returns.
  PeerConnection(const std::string& control_address, std::string token,
                 Callbacks callbacks);
  // Close(), then waits for the watch thread.
  ~PeerConnection() override;

  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  // Runs one command line on the peer, waiting at most until `deadline`.
  // The RPC's failure (peer unreachable, deadline, Close) is the error; the
  // command's own outcome is in the response. Thread-safe.
  absl::StatusOr<::peer::v1::ExecuteResponse> Execute(
      const std::string& line, absl::Time deadline) override;
  // Execute with ExecuteRequest.quiet.
  absl::StatusOr<::peer::v1::ExecuteResponse> Probe(
      const std::string& line, absl::Time deadline) override;

  // Cancels the watch stream and every Execute in flight. Thread-safe;
  // idempotent.
  void Close() override;

 private:
  void Watch();
  void Authorize(grpc::ClientContext* context) const;
  absl::StatusOr<::peer::v1::ExecuteResponse> Call(const std::string& line,
                                                   absl::Time deadline,
                                                   bool quiet);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::peer::v1::PeerControl::Stub> stub_;
  const std::string token_;
  Callbacks callbacks_;

  std::mutex mu_;
  bool closed_ = false;
  grpc::ClientContext watch_context_;
  std::set<grpc::ClientContext*> executing_;
  std::thread watch_thread_;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_PEER_CONNECTION_H_
