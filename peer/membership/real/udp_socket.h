// UdpSocket: the UDP half of the real transport. An IPv4 datagram socket
// and the thread that receives on it.
//
// Sends never block (a full socket buffer drops the datagram and says so).
// Received datagrams are handed, in arrival order, to the callback given to
// Start(), on the socket's own receive thread. That thread drains at most 256
// datagrams before it looks for Close() again.
//
// Thread-safe: SendTo() may be called from any thread, including the
// receive callback. Close() must not be called from the receive callback.
#ifndef PEERLAB_PEER_MEMBERSHIP_REAL_UDP_SOCKET_H_
#define PEERLAB_PEER_MEMBERSHIP_REAL_UDP_SOCKET_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "peer/runtime/logger.h"

namespace peerlab::membership {

class UdpSocket {
 public:
  // The largest datagram: the IPv4 UDP payload limit.
  static constexpr size_t kMaxDatagram = 65507;

  struct Options {
    // Either an already-bound IPv4 UDP socket, which is taken over (and
    // closed, even when Open fails); or, with fd = -1, a new socket bound
    // to bind_host:port (0: any free port).
    int fd = -1;
    std::string bind_host = "127.0.0.1";
    int port = 0;
    // The IPv4 address others reach this socket at; empty: the bound
    // address (which then must not be 0.0.0.0).
    std::string advertise_host;
    // Asked of the kernel for both buffers (it may cap them).
    int buffer_bytes = 4 << 20;
    // Name of the receive thread (at most 15 characters are kept).
    std::string thread_name = "mbr-udp-recv";
    // Where the receive thread logs a failure (component "membership",
    // dated by absl::Now()). Not owned; must outlive the socket. nullptr:
    // runtime::DefaultLogger().
    runtime::Logger* logger = nullptr;
  };

  // Called on the receive thread with the sender's "ip:port" and the bytes
  // (valid during the call only).
  using OnDatagram =
      std::function<void(const std::string& from, std::string_view bytes)>;

  enum class SendResult {
    kSent,
    kWouldBlock,  // socket buffer full (EAGAIN, ENOBUFS): dropped
    kBadAddress,  // `to` is not "ipv4:port"
    kClosed,      // after Close()
    kError,       // any other sendto error
  };

  // Opens (or takes over) and binds the socket. Errors: InvalidArgument
  // (not IPv4, a handed fd that is not a bound UDP socket, an advertise
  // address others cannot reach), Unavailable (socket, bind).
  static absl::StatusOr<std::unique_ptr<UdpSocket>> Open(Options options);

  // Close()s.
  ~UdpSocket();

  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // Starts the receive thread. REQUIRES: called at most once.
  absl::Status Start(OnDatagram on_datagram);

  // Sends one datagram to "ipv4:port". Never blocks.
  SendResult SendTo(const std::string& to, std::string_view bytes);

  // Stops the receive thread (waiting for the callback in progress) and
  // closes the socket. Later sends return kClosed. Idempotent.
  void Close();

  // "advertise_host:port", the address others send to.
  const std::string& local_address() const { return local_address_; }
  int port() const { return port_; }

  // Whether `address` is an "ipv4:port" SendTo accepts.
  static bool IsIpv4Address(const std::string& address);

 private:
  explicit UdpSocket(Options options);
  absl::Status Bind();
  void ReceiveLoop();

  const Options options_;
  std::string local_address_;
  int port_ = 0;
  absl::Mutex fd_mu_;  // shared by senders, exclusive to close the socket
  int fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  OnDatagram on_datagram_;
  std::thread receive_thread_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_REAL_UDP_SOCKET_H_
