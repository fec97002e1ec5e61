// UdpGrpcTransport: the real Transport. Datagrams go over a UDP socket; the
// reliable path is gRPC (peer.v1.MembershipStream/Exchange) on the peer's
// gRPC server. For networks that block UDP, Mode::kGrpcOnly carries the
// datagrams over gRPC too.
//
// Addresses. Every node has one membership address, the string the protocol
// uses for it (Alive.addr, PushNodeState.addr, the `to` of every send, the
// `from` of every receive):
//   kUdp:      "ip:udp_port", the gossip address (what the bootstrap list
//              and `memberlistjoin` carry);
//   kGrpcOnly: "host:grpc_port", the gRPC address.
// In kUdp mode the reliable path needs the node's gRPC address, which is a
// different port. The transport keeps an address book, gossip -> gRPC,
// filled without the protocol's help:
//   1. every reliable call carries the caller's gossip and gRPC addresses as
//      metadata (see membership_stream_service.h), so a receiver learns the
//      caller;
//   2. a node answers a "resolve" datagram on its UDP port with its gRPC
//      address. A reliable send to an address not in the book (the first
//      push/pull of a join) resolves it first, retrying the query until the
//      call's timeout; and the first datagram from an unknown address makes
//      the transport query it in the background, so the book already holds
//      every member heard from when a fallback probe is needed;
//   3. SetReliableAddress() for anything learned otherwise.
// No port arithmetic. The resolve datagrams never reach the protocol and
// cannot amplify traffic (resolve_datagram.h).
//
// Parts, one file per concern: the socket and its receive thread
// (udp_socket.h), the resolve datagrams as a pure codec
// (resolve_datagram.h), the address book on the scheduler's time
// (address_book.h), and the reliable path's client side (reliable_client.h).
// This class joins them: it waits for addresses to resolve before reliable
// calls, carries datagrams over gRPC in kGrpcOnly mode, serves incoming
// calls, and counts everything.
//
// Threads. kUdp mode has one receive thread (named); gRPC callbacks run on
// gRPC's threads. Both only post tasks to the scheduler: handlers always run
// as scheduler tasks.
#ifndef PEERLAB_PEER_MEMBERSHIP_REAL_UDP_GRPC_TRANSPORT_H_
#define PEERLAB_PEER_MEMBERSHIP_REAL_UDP_GRPC_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "peer/membership/real/address_book.h"
#include "peer/membership/real/membership_stream_service.h"
#include "peer/membership/real/reliable_client.h"
#include "peer/membership/real/udp_socket.h"
#include "peer/membership/transport.h"
#include "peer/runtime/fault_plan.h"
#include "peer/runtime/logger.h"
#include "peer/runtime/scheduler.h"
#include "proto/peer/v1/membership.grpc.pb.h"

namespace peerlab::membership {

class UdpGrpcTransport final : public Transport,
                               private MembershipStreamService::Sink {
 public:
  enum class Mode {
    kUdp,       // datagrams over UDP, reliable path over gRPC
    kGrpcOnly,  // everything over gRPC; no UDP socket
  };

  // The largest datagram: the IPv4 UDP payload limit. Larger sends are
  // dropped (and counted) in both modes.
  static constexpr size_t kMaxDatagram = UdpSocket::kMaxDatagram;

  struct Options {
    Mode mode = Mode::kUdp;

    // kUdp: the socket. Either an already-bound IPv4 UDP socket, which the
    // transport takes over (and closes), e.g. the one PeerApp reserved at
    // start; or, with udp_fd = -1, a new socket bound to
    // udp_bind_host:udp_port (0: any free port).
    int udp_fd = -1;
    std::string udp_bind_host = "127.0.0.1";
    int udp_port = 0;
    // The IPv4 address other nodes reach this one at; empty: the socket's
    // bound address (which then must not be 0.0.0.0).
    std::string advertise_host;

    // "host:port" of the gRPC server on which `service` is registered, as
    // other nodes reach it. Required.
    std::string grpc_address;
    // The server side of the reliable path (not owned; must outlive the
    // transport). The transport attaches itself on Create and detaches on
    // Shutdown. Required.
    MembershipStreamService* service = nullptr;
    // Credentials of the gRPC channels to other nodes (see
    // base/tls.h); nullptr: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;

    // kGrpcOnly: deadline of the call that carries one datagram, and how
    // many such calls may be in flight before datagrams are dropped.
    absl::Duration packet_call_timeout = absl::Seconds(1);
    int max_packet_calls_in_flight = 1024;
    // kUdp: interval between resolve queries while a reliable send waits.
    absl::Duration resolve_retry_interval = absl::Milliseconds(100);
    // kUdp: asked of the kernel for the socket's buffers (it may cap them).
    int socket_buffer_bytes = 4 << 20;
    // Name of the receive thread (at most 15 characters are kept).
    std::string thread_name = "mbr-udp-recv";
    // The node's fault plan (peer/runtime/fault_plan.h), shared with the
    // peer's `faults` command; nullptr: none. Applied to what this node
    // sends: every datagram (sealed already; kGrpcOnly too), by its
    // membership address, and every reliable call, by the callee's
    // membership and gRPC addresses (a block or `fail` fails it at once
    // with Unavailable, `hang` answers DeadlineExceeded at its deadline, a
    // delay starts it later). Held-back datagrams are sent by scheduler
    // timers, never by sleeping. Resolve datagrams obey block rules only,
    // and so do the answers to calls from a blocked caller (Unavailable),
    // which are this node's traffic to it.
    std::shared_ptr<runtime::FaultPlan> faults;
    // Where the transport logs (not owned; must outlive it). nullptr:
    // runtime::DefaultLogger(). MakeNodeParts gives the node's.
    runtime::Logger* logger = nullptr;
  };

  // Counters, for the `memberlist` views, logs and tests.
  struct Stats {
    uint64_t packets_sent = 0;
    uint64_t packets_received = 0;
    uint64_t bytes_sent = 0;
    uint64_t bytes_received = 0;
    uint64_t dropped_oversize = 0;     // sends over kMaxDatagram
    uint64_t dropped_would_block = 0;  // socket buffer full (EAGAIN)
    uint64_t dropped_after_shutdown = 0;
    uint64_t dropped_bad_address = 0;     // `to` not "ipv4:port"
    uint64_t dropped_too_many_calls = 0;  // kGrpcOnly in-flight limit
    uint64_t dropped_not_a_packet = 0;    // kGrpcOnly: bytes not a Packet
    uint64_t dropped_by_faults = 0;       // the fault plan's drops, blocks
    uint64_t faulted_calls = 0;           // reliable calls failed or hung
    uint64_t send_errors = 0;             // other sendto / call failures
    uint64_t received_malformed = 0;      // bad resolve datagrams
    uint64_t reliable_sent = 0;
    uint64_t reliable_failed = 0;
    uint64_t reliable_received = 0;
    uint64_t resolve_queries_sent = 0;
    uint64_t resolve_answers_received = 0;
  };

  // Opens the socket (kUdp), starts the receive thread and attaches to
  // `options.service`. `scheduler` (not owned) must outlive the transport.
  // Errors: InvalidArgument (bad options), Unavailable (socket, bind).
  static absl::StatusOr<std::unique_ptr<UdpGrpcTransport>> Create(
      runtime::Scheduler* scheduler, Options options);

  // Shutdown()s. REQUIRES: called on the scheduler's thread (a task) or
  // after the scheduler has stopped; tasks the transport posted and that
  // have not run yet then do nothing.
  ~UdpGrpcTransport() override;

  // Transport. SetHandlers, SendPacket and SendReliable: REQUIRES called
  // from tasks of the scheduler (SendPacket is in fact thread-safe).
  void SetHandlers(Handlers handlers) override;
  std::string LocalAddress() const override;
  void SendPacket(const std::string& to, std::string bytes) override;
  void SendReliable(const std::string& to, ::peer::v1::ReliableRequest request,
                    absl::Duration timeout, ReliableDone done) override;
  // Stops the receive thread, closes the socket, detaches from the service
  // (unanswered incoming calls fail with UNAVAILABLE), cancels outgoing
  // calls (their `done` runs as a task with Cancelled) and waits until
  // gRPC has returned every one of them. Later sends are dropped, later
  // SendReliable calls fail with Unavailable. Idempotent; thread-safe; may
  // be called from a task.
  void Shutdown() override;

  // kUdp: records that the node at membership address `member_addr` serves
  // the reliable path at `grpc_addr`. Thread-safe.
  void SetReliableAddress(const std::string& member_addr,
                          const std::string& grpc_addr);
  // The address book's entry for `member_addr`, if any. Thread-safe.
  std::string ReliableAddressOf(const std::string& member_addr) const;

  Mode mode() const { return options_.mode; }
  // kUdp: the bound UDP port; kGrpcOnly: 0.
  int udp_port() const { return udp_port_; }
  Stats stats() const;

 private:
  struct Waiter;  // a reliable send waiting for its address to resolve
  struct Counters;

  UdpGrpcTransport(runtime::Scheduler* scheduler, Options options);
  absl::Status Open();
  // On the receive thread.
  void OnDatagram(const std::string& from, std::string_view bytes);
  void HandleResolveDatagram(const std::string& from, std::string_view bytes);
  void SendResolveQuery(const std::string& member_addr);
  // Loop tasks for waiting reliable sends.
  void RetryResolve(const std::string& member_addr);
  void Resolved(const std::string& member_addr);
  void ExpireWaiter(const std::string& member_addr, uint64_t waiter_id);

  // Starts a reliable call (`done` set) or a datagram carried over gRPC.
  void StartCall(const std::string& grpc_addr,
                 ::peer::v1::ReliableRequest request, absl::Time deadline,
                 ReliableDone done);
  void SendPacketOverGrpc(const std::string& to, const std::string& bytes);
  // SendPacket and SendReliable once the fault plan let them through.
  void SendPacketNow(const std::string& to, const std::string& bytes);
  void SendReliableNow(const std::string& to,
                       ::peer::v1::ReliableRequest request,
                       absl::Duration timeout, ReliableDone done);
  // Whether the fault plan blocks `to` (resolve datagrams).
  bool Blocked(const std::string& to) const;
  // scheduler_->After, doing nothing once the transport is destroyed.
  void AfterGuarded(absl::Duration delay, std::function<void()> task);

  // MembershipStreamService::Sink.
  void OnExchange(const MembershipStreamService::Caller& caller,
                  const ::peer::v1::ReliableRequest& request,
                  MembershipStreamService::Responder responder) override;

  // Posts `task` so that it does nothing once the transport is destroyed.
  void PostGuarded(std::function<void()> task);

  runtime::Scheduler* const scheduler_;
  const Options options_;
  const uint64_t resolve_token_;  // echoed by answers; filters spoofs
  std::string local_address_;
  int udp_port_ = 0;
  std::unique_ptr<UdpSocket> socket_;  // kUdp
  AddressBook book_;
  std::unique_ptr<ReliableClient> client_;
  std::shared_ptr<const Handlers> handlers_;  // set once, before traffic
  std::atomic<bool> shut_down_{false};
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // see PostGuarded
  std::unique_ptr<Counters> counters_;

  mutable std::mutex mu_;
  // Reliable sends waiting for an address, by member address.
  std::map<std::string, std::vector<std::shared_ptr<Waiter>>> waiting_;
  std::set<std::string> retrying_;  // member addresses with a retry timer
  uint64_t next_waiter_id_ = 1;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_REAL_UDP_GRPC_TRANSPORT_H_
