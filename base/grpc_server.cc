#include "base/grpc_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "base/host_port.h"

namespace peerlab {
namespace {

std::string BindError(int err) {
  switch (err) {
    case EADDRINUSE:
      return "address already in use (another process listens on that port)";
    case EADDRNOTAVAIL:
      return "cannot assign that address (it is not an address of this "
             "machine)";
    case EACCES:
      return "permission denied (ports below 1024 need privileges)";
    default:
      return std::strerror(err);
  }
}

// Binds and listens on one address; -1 and `*err` set on failure.
int BindOne(const addrinfo& ai, int port, int* err) {
  int fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai.ai_protocol);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  int one = 1;
  // SO_REUSEADDR lets a restarted server bind past TIME_WAIT; on Linux it
  // never lets two listeners share a port. SO_REUSEPORT would, so it is not
  // set.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ai.ai_family == AF_INET6) {
    // "[::]:PORT" means every address, IPv4 too, as gRPC's own listener
    // does; any other IPv6 address means just that address.
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(ai.ai_addr);
    int v6only = IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ? 0 : 1;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, ai.ai_addr, ai.ai_addrlen);
  if (ai.ai_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
  } else if (ai.ai_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), ai.ai_addrlen) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    *err = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace

absl::StatusOr<HostAndPort> SplitHostPort(std::string_view address,
                                          std::string_view what) {
  const std::string text(address);
  auto port = ParseHostPort(text, 0);
  if (!port.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": ", port.status().message()));
  }
  std::string host = text.substr(0, text.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  return HostAndPort{host, *port};
}

uint64_t RaiseFileLimit() {
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    rlim_t target = limit.rlim_max;
    if (target == RLIM_INFINITY || target > (rlim_t{1} << 20)) {
      target = rlim_t{1} << 20;
    }
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < target) {
      limit.rlim_cur = target;
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
  });
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return limit.rlim_cur == RLIM_INFINITY
             ? (uint64_t{1} << 20)
             : static_cast<uint64_t>(limit.rlim_cur);
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(Options options) {
  auto hp = SplitHostPort(options.listen, options.what);
  if (!hp.ok()) return hp.status();
  const std::string where = absl::StrCat(options.what, " ", options.listen);

  std::unique_ptr<GrpcServer> s(new GrpcServer());
  s->what_ = options.what;
  s->log_ = runtime::ComponentLog(options.logger, "grpc-server");
  s->fd_limit_ =
      static_cast<int>(std::min<uint64_t>(RaiseFileLimit(), 1 << 30));
  s->reserved_fds_ = options.reserved_fds > 0 ? options.reserved_fds
                                              : std::max(32, s->fd_limit_ / 8);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(hp->port);
  if (int rc = ::getaddrinfo(hp->host.empty() ? nullptr : hp->host.c_str(),
                             service.c_str(), &hints, &found);
      rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": cannot resolve \"", hp->host, "\": ", ::gai_strerror(rc)));
  }
  int port = hp->port;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    int err = 0;
    int fd = BindOne(*ai, port, &err);
    if (fd < 0) {
      // A name such as localhost may also resolve to an IPv6 address the
      // machine lacks: only the first address must bind.
      if (!s->listen_fds_.empty() &&
          (err == EADDRNOTAVAIL || err == EAFNOSUPPORT)) {
        continue;
      }
      ::freeaddrinfo(found);
      for (int f : s->listen_fds_) ::close(f);
      s->listen_fds_.clear();
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": cannot listen: ", BindError(err)));
    }
    if (port == 0) port = BoundPort(fd);
    s->listen_fds_.push_back(fd);
  }
  ::freeaddrinfo(found);
  if (s->listen_fds_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": no IPv4 or IPv6 address to listen on"));
  }
  s->port_ = port;
  s->address_ = hp->host.find(':') != std::string::npos
                    ? absl::StrCat("[", hp->host, "]:", port)
                    : absl::StrCat(hp->host, ":", port);

  grpc::ServerBuilder builder;
  s->acceptor_ = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      options.credentials);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options.configure) options.configure(builder);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr) {
    return absl::InternalError(
        absl::StrCat(where,
                     ": the gRPC server did not start (credentials "
                     "or arguments refused; see gRPC's log above)"));
  }
  s->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  s->reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (s->wake_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat(where, ": eventfd: ", std::strerror(errno)));
  }
  GrpcServer* self = s.get();
  s->accept_thread_ = std::thread([self] { self->AcceptLoop(); });
  return s;
}

GrpcServer::~GrpcServer() {
  Shutdown(absl::Now());
  for (int fd : listen_fds_) ::close(fd);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
}

GrpcServer::Stats GrpcServer::stats() const {
  return Stats{.accepted = accepted_.load(),
               .refused_over_limit = refused_.load()};
}

void GrpcServer::Shutdown(absl::Time deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  if (accept_thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
    accept_thread_.join();
  }
  // No new connections from here on: clients are refused, not queued.
  for (int fd : listen_fds_) ::close(fd);
  listen_fds_.clear();
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(deadline));
    server_->Wait();
  }
}

void GrpcServer::AcceptLoop() {
  std::vector<pollfd> fds;
  fds.push_back({.fd = wake_fd_, .events = POLLIN, .revents = 0});
  for (int fd : listen_fds_) {
    fds.push_back({.fd = fd, .events = POLLIN, .revents = 0});
  }
  bool back_off = false;
  for (;;) {
    // After an accept error the listeners stay readable: wait on the wake
    // descriptor alone for a while instead of spinning on them.
    const nfds_t watched = back_off ? 1 : fds.size();
    int n = ::poll(fds.data(), watched, back_off ? 100 : -1);
    if (n < 0 && errno != EINTR) {
      back_off = true;
      continue;
    }
    if (n > 0 && fds[0].revents != 0) return;
    if (back_off) {
      back_off = false;
      continue;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0 && !AcceptFrom(fds[i].fd)) back_off = true;
    }
    if (reserve_fd_ < 0) {
      reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      back_off = true;
    }
  }
}

bool GrpcServer::AcceptFrom(int listen_fd) {
  for (;;) {
    int fd =
        ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    bool refuse = false;
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return true;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if ((err == EMFILE || err == ENFILE) && reserve_fd_ >= 0) {
        // Out of descriptors: free the reserve to take the pending
        // connection off the queue and close it, so the listener is not
        // left with a connection it can never accept.
        ::close(reserve_fd_);
        reserve_fd_ = -1;
        fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        refuse = true;
      } else {
        const absl::Time now = absl::Now();
        if (now - last_refusal_log_ >= absl::Seconds(1)) {
          log_.Warn(what_, " ", address_,
                    ": accept failed: ", std::strerror(err), " (retrying)");
          last_refusal_log_ = now;
        }
        return false;
      }
    }
    if (refuse || fd >= fd_limit_ - reserved_fds_) {
      // Counted before the close that the client sees.
      refused_.fetch_add(1, std::memory_order_seq_cst);
      ::close(fd);
      const absl::Time now = absl::Now();
      if (now - last_refusal_log_ >= absl::Seconds(1)) {
        log_.Warn(what_, " ", address_,
                  ": connection refused: too many open files (limit ",
                  fd_limit_, ", ", reserved_fds_, " kept free); ",
                  refused_.load(), " refused so far");
        last_refusal_log_ = now;
      }
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
    p.listener_fd = listen_fd;
    p.fd = fd;
    // Counted before the hand-off: the connection's first call can finish
    // (and a caller read stats()) before HandleNewConnection returns.
    accepted_.fetch_add(1, std::memory_order_relaxed);
    acceptor_->HandleNewConnection(&p);
  }
}

}  // namespace peerlab
