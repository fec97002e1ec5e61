#include "peer/membership/real/udp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace peerlab::membership {
namespace {

// "a.b.c.d:port" -> sockaddr_in.
bool ParseIpv4(const std::string& address, sockaddr_in* out) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return false;
  }
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(port));
  return ::inet_pton(AF_INET, address.substr(0, colon).c_str(),
                     &out->sin_addr) == 1;
}

std::string FormatIpv4(const sockaddr_in& addr) {
  char host[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, host, sizeof(host));
  return absl::StrCat(host, ":", ntohs(addr.sin_port));
}

}  // namespace

bool UdpSocket::IsIpv4Address(const std::string& address) {
  sockaddr_in unused;
  return ParseIpv4(address, &unused);
}

UdpSocket::UdpSocket(Options options) : options_(std::move(options)) {}

UdpSocket::~UdpSocket() { Close(); }

absl::StatusOr<std::unique_ptr<UdpSocket>> UdpSocket::Open(Options options) {
  std::unique_ptr<UdpSocket> socket(new UdpSocket(std::move(options)));
  socket->fd_ = socket->options_.fd;  // ours from here on: Close() closes it
  if (absl::Status s = socket->Bind(); !s.ok()) return s;
  return socket;
}

absl::Status UdpSocket::Bind() {
  if (fd_ >= 0) {
    int type = 0;
    socklen_t len = sizeof(type);
    sockaddr_in bound{};
    socklen_t blen = sizeof(bound);
    if (::getsockopt(fd_, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
        type != SOCK_DGRAM ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen) != 0 ||
        bound.sin_family != AF_INET) {
      return absl::InvalidArgumentError(
          "transport: udp_fd is not a bound IPv4 UDP socket");
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
  } else {
    sockaddr_in addr{};
    if (!ParseIpv4(absl::StrCat(options_.bind_host, ":1"), &addr)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "transport: \"", options_.bind_host, "\" is not an IPv4 address"));
    }
    addr.sin_port = htons(static_cast<uint16_t>(options_.port));
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      return absl::UnavailableError(
          absl::StrCat("transport: socket: ", std::strerror(errno)));
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::UnavailableError(
          absl::StrCat("transport: bind ", options_.bind_host, ":",
                       options_.port, ": ", std::strerror(errno)));
    }
  }
  const int buffer = options_.buffer_bytes;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));

  sockaddr_in bound{};
  socklen_t blen = sizeof(bound);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(bound.sin_port);
  std::string host = options_.advertise_host;
  if (host.empty()) {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &bound.sin_addr, buf, sizeof(buf));
    host = buf;
  }
  sockaddr_in check{};
  if (host == "0.0.0.0" || !ParseIpv4(absl::StrCat(host, ":1"), &check)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "transport: advertise address \"", host,
        "\" is not an IPv4 address others can reach; set advertise_host"));
  }
  local_address_ = absl::StrCat(host, ":", port_);
  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::UnavailableError(
        absl::StrCat("transport: pipe: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status UdpSocket::Start(OnDatagram on_datagram) {
  if (receive_thread_.joinable() || fd_ < 0) {
    return absl::FailedPreconditionError(
        "transport: the UDP socket is closed or already receiving");
  }
  on_datagram_ = std::move(on_datagram);
  receive_thread_ = std::thread([this] { ReceiveLoop(); });
  return absl::OkStatus();
}

UdpSocket::SendResult UdpSocket::SendTo(const std::string& to,
                                        std::string_view bytes) {
  sockaddr_in dest;
  if (!ParseIpv4(to, &dest)) return SendResult::kBadAddress;
  absl::ReaderMutexLock lock(&fd_mu_);
  if (fd_ < 0) return SendResult::kClosed;
  const ssize_t n =
      ::sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT,
               reinterpret_cast<const sockaddr*>(&dest), sizeof(dest));
  if (n >= 0) return SendResult::kSent;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
    return SendResult::kWouldBlock;
  }
  return SendResult::kError;
}

void UdpSocket::ReceiveLoop() {
  pthread_setname_np(pthread_self(),
                     options_.thread_name.substr(0, 15).c_str());
  std::vector<char> buf(kMaxDatagram + 1);
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
  for (;;) {
    const int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      runtime::ComponentLog(options_.logger, "membership")
          .Error("transport: poll: ", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;  // Close
    if (fds[0].revents == 0) continue;
    // Drain a bounded batch, then look at the wake pipe again.
    for (int i = 0; i < 256; ++i) {
      sockaddr_in src{};
      socklen_t len = sizeof(src);
      // fd_ changes only in Close(), after this thread has been joined.
      const ssize_t r = ::recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&src), &len);
      if (r < 0) {
        if (errno == EINTR) continue;
        // EAGAIN: drained. Anything else (a queued ICMP error) is not
        // about the next datagram: poll again.
        break;
      }
      on_datagram_(FormatIpv4(src),
                   std::string_view(buf.data(), static_cast<size_t>(r)));
    }
  }
}

void UdpSocket::Close() {
  if (receive_thread_.joinable()) {
    const char byte = 1;
    while (::write(wake_pipe_[1], &byte, 1) < 0 && errno == EINTR) {
    }
    receive_thread_.join();
  }
  {
    absl::WriterMutexLock lock(&fd_mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  for (int& p : wake_pipe_) {
    if (p >= 0) ::close(p);
    p = -1;
  }
}

}  // namespace peerlab::membership
