// ReliableClient: the client side of the reliable path
// (peer.v1.MembershipStream/Exchange), for the UDP transport.
//
// One channel per gRPC address, shared by every call to that node (at most
// `max_channels`; beyond, the cache is cleared and channels are made again).
// Every call carries the caller's membership address and, in UDP mode, its
// gRPC address as metadata, so the receiver learns how to call back (see
// membership_stream_service.h). Calls that carry a datagram (grpc_only mode)
// are limited in number: a slow receiver cannot make them pile up.
//
// Thread-safe. `done` callbacks run on gRPC's threads, never inside Start();
// the transport posts them to its scheduler.
#ifndef PEERLAB_PEER_MEMBERSHIP_REAL_RELIABLE_CLIENT_H_
#define PEERLAB_PEER_MEMBERSHIP_REAL_RELIABLE_CLIENT_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "proto/peer/v1/membership.grpc.pb.h"

namespace peerlab::membership {

class ReliableClient {
 public:
  struct Options {
    // Sent with every call: the caller's membership address, and (UDP mode)
    // the gRPC address it serves the reliable path on (empty: not sent).
    std::string member_addr;
    std::string grpc_addr;
    // Channel credentials (base/tls.h); nullptr: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    // Calls carrying a datagram that may be in flight at once.
    int max_packet_calls_in_flight = 1024;
    // Cached channels before the cache is cleared.
    size_t max_channels = 16384;
    // Largest message either way (a push/pull of a large cluster).
    int max_message_bytes = 64 << 20;
  };

  enum class Kind {
    kReliable,  // a request that expects its answer
    kPacket,    // a datagram carried over gRPC (grpc_only mode)
  };

  // The call's outcome: the response, or the call's status mapped to
  // absl::Status (Cancelled after Shutdown).
  using Done =
      std::function<void(absl::StatusOr<::peer::v1::ReliableResponse>)>;

  explicit ReliableClient(Options options);
  // REQUIRES: Shutdown() has returned (the destructor does not wait).
  ~ReliableClient();

  ReliableClient(const ReliableClient&) = delete;
  ReliableClient& operator=(const ReliableClient&) = delete;

  // Starts a call to `grpc_addr` that ends by `deadline`; `done` runs once
  // when it ends. Refused, without calling `done`: Unavailable after
  // Shutdown, ResourceExhausted for a kPacket call beyond
  // max_packet_calls_in_flight.
  absl::Status Start(const std::string& grpc_addr,
                     ::peer::v1::ReliableRequest request, absl::Time deadline,
                     Kind kind, Done done);

  // Refuses later calls, cancels those in flight, and waits until gRPC has
  // finished each (their `done` has run). Idempotent.
  void Shutdown();

 private:
  struct Call;

  std::shared_ptr<::peer::v1::MembershipStream::Stub> StubFor(
      const std::string& grpc_addr);

  const Options options_;
  std::mutex mu_;
  std::condition_variable calls_done_;
  bool shut_down_ = false;
  std::unordered_map<std::string,
                     std::shared_ptr<::peer::v1::MembershipStream::Stub>>
      stubs_;
  std::set<std::shared_ptr<Call>> calls_;  // in flight
  int packet_calls_ = 0;                   // of calls_
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_REAL_RELIABLE_CLIENT_H_
