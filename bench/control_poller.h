// ControlPoller: runs command lines on a peerlab-peer through
// peer.v1.PeerControl.Execute, from before the peer serves until it ends,
// for tools that poll many peers in one loop (membership_compare).
//
// Why a class of its own: a gRPC channel whose calls fail fast (the
// default) only makes progress on a connection attempt while a call is
// being waited on. A poller whose first calls were refused (the peer not
// listening yet) then finds the channel in TRANSIENT_FAILURE on every later
// call, each failing at once, while the reconnection itself is only driven
// by gRPC's backup poller, every 5 s (GRPC_CLIENT_CHANNEL_BACKUP_POLL_
// INTERVAL_MS). A peer that served after 0.2 s was then seen after 5, 10 or
// 45 s. Calls here wait for the channel to be ready (bounded by their
// deadline), so the attempt is driven by the call itself.
#ifndef PEERLAB_BENCH_CONTROL_POLLER_H_
#define PEERLAB_BENCH_CONTROL_POLLER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/peer/v1/control.grpc.pb.h"

namespace peerlab::bench {

class ControlPoller {
 public:
  // A plaintext channel to the PeerControl service at `address`
  // ("host:port"), reconnecting every 10-50 ms while the peer is down;
  // every call carries `token` ("authorization: Bearer TOKEN") when it is
  // not empty.
  explicit ControlPoller(const std::string& address,
                         const std::string& token = "");

  // Runs `line` and returns the texts of its output lines. Waits up to
  // `timeout` in all, connecting included. Errors: DeadlineExceeded or
  // Unavailable (the peer not serving within `timeout`), the command's own
  // failure (Unknown, with its message), other RPC errors as they come.
  absl::StatusOr<std::vector<std::string>> Execute(const std::string& line,
                                                   absl::Duration timeout);

 private:
  std::unique_ptr<::peer::v1::PeerControl::Stub> stub_;
};

}  // namespace peerlab::bench

#endif  // PEERLAB_BENCH_CONTROL_POLLER_H_
