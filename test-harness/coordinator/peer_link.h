// PeerLink: the runner's line to one running peer (one registration), as an
// interface, so that the runner can be driven without gRPC servers.
//
// The real link is PeerConnection (peer.v1.PeerControl over gRPC); tests use
// a fake (step_runner_test.cc). A link hands every view line of the peer to
// `Callbacks::lines` (history first, in order) and runs command lines.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_PEER_LINK_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_PEER_LINK_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/harness/v1/coordinator.pb.h"
#include "proto/peer/v1/control.pb.h"

namespace peerlab::harness {

class PeerLink {
 public:
  // Called on the link's own thread for every message of the peer's view
  // stream, in order; `ended` once, last, when the stream is over (peer
  // gone or Close), with the stream's status.
  struct Callbacks {
    std::function<void(const ::peer::v1::WatchViewsResponse&)> lines;
    std::function<void(const absl::Status&)> ended;
  };

  // Close(), then waits until no callback is running or will run.
  virtual ~PeerLink() = default;

  // Runs one command line on the peer, waiting at most until `deadline`.
  // The transport's failure (peer unreachable, deadline, Close) is the
  // error; the command's own outcome is in the response. Thread-safe.
  virtual absl::StatusOr<::peer::v1::ExecuteResponse> Execute(
      const std::string& line, absl::Time deadline) = 0;

  // As Execute, for the runner's own probes (`memberlistdigest`): the peer
  // answers without writing the output to its views (ExecuteRequest.quiet),
  // so probing never changes what filters count. The default is Execute.
  virtual absl::StatusOr<::peer::v1::ExecuteResponse> Probe(
      const std::string& line, absl::Time deadline) {
    return Execute(line, deadline);
  }

  // Ends the view stream and every Execute in flight. Thread-safe;
  // idempotent.
  virtual void Close() = 0;
};

// Opens a link to registration `peer` (peer.control_address()), carrying
// `token` (the registration's session token, lab_auth.h) on every call.
// The callbacks must stay valid until the link is destroyed.
using PeerLinkFactory = std::function<std::unique_ptr<PeerLink>(
    const ::harness::v1::PeerInfo& peer, std::string token,
    PeerLink::Callbacks callbacks)>;

// The real links: PeerConnection over gRPC.
PeerLinkFactory GrpcPeerLinks();

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_PEER_LINK_H_
