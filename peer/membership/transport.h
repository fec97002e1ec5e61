// Transport: how the protocol reaches other nodes. Two paths, as in
// memberlist: best-effort datagrams (probes and gossip) and a reliable
// request/response (push/pull anti-entropy, the fallback probe).
//
// Implementations: UdpGrpcTransport (real UDP socket + gRPC on the peer's
// gRPC port; or gRPC only, for networks that block UDP) and the simulator's
// SimTransport. TransportWrapper forwards every call, so a fault-injecting
// test double overrides one method.
#ifndef PEERLAB_PEER_MEMBERSHIP_TRANSPORT_H_
#define PEERLAB_PEER_MEMBERSHIP_TRANSPORT_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

class Transport {
 public:
  using ReliableDone =
      std::function<void(absl::StatusOr<::peer::v1::ReliableResponse>)>;

  struct Handlers {
    // A datagram arrived from `from` ("host:port"). Bytes are not yet
    // decoded: malformed input is the protocol's to count and drop.
    std::function<void(const std::string& from, const std::string& bytes)>
        on_packet;
    // A reliable request arrived; call `respond` exactly once (it may be
    // called later, from a task of the same scheduler).
    std::function<void(const std::string& from,
                       const ::peer::v1::ReliableRequest& request,
                       ReliableDone respond)>
        on_reliable;
  };

  virtual ~Transport() = default;

  // Installs the handlers. Handlers always run as tasks of the node's
  // scheduler. REQUIRES: called once, before any traffic.
  virtual void SetHandlers(Handlers handlers) = 0;

  // "host:port" other nodes use to reach this one.
  virtual std::string LocalAddress() const = 0;

  // Sends one datagram; may be lost, duplicated or reordered. Never blocks.
  virtual void SendPacket(const std::string& to, std::string bytes) = 0;

  // Sends a request on the reliable path; `done` runs as a task of the
  // node's scheduler with the response, or Unavailable/DeadlineExceeded.
  virtual void SendReliable(const std::string& to,
                            ::peer::v1::ReliableRequest request,
                            absl::Duration timeout, ReliableDone done) = 0;

  // Stops sending and receiving; later sends are dropped, pending reliable
  // calls complete with Cancelled/Unavailable.
  virtual void Shutdown() = 0;
};

// Forwards every call to another transport (not owned).
class TransportWrapper : public Transport {
 public:
  explicit TransportWrapper(Transport* target) : target_(target) {}
  void SetHandlers(Handlers handlers) override {
    target_->SetHandlers(std::move(handlers));
  }
  std::string LocalAddress() const override { return target_->LocalAddress(); }
  void SendPacket(const std::string& to, std::string bytes) override {
    target_->SendPacket(to, std::move(bytes));
  }
  void SendReliable(const std::string& to, ::peer::v1::ReliableRequest request,
                    absl::Duration timeout, ReliableDone done) override {
    target_->SendReliable(to, std::move(request), timeout, std::move(done));
  }
  void Shutdown() override { target_->Shutdown(); }

 private:
  Transport* target_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_TRANSPORT_H_
