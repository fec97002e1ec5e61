#include "base/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/host_port.h"

namespace peerlab {

struct HttpServerCallbacks {
  static MHD_Result Access(void* cls, MHD_Connection* connection,
                           const char* url, const char* method,
                           const char* /*version*/, const char* /*upload_data*/,
                           size_t* upload_data_size, void** request) {
    // A body (a POST) is not read: the answer is queued at once, and
    // libmicrohttpd closes the connection after it.
    (void)upload_data_size;
    (void)request;
    return static_cast<MHD_Result>(
        static_cast<HttpServer*>(cls)->HandleRequest(connection, url, method));
  }
  // Called at each accept, before a connection is set up (the daemon's
  // thread): the connection bound and the loopback rule, each refusal
  // counted. libmicrohttpd's own limit sits above ours, so ours decides
  // (and counts).
  static MHD_Result Accept(void* cls, const struct sockaddr* addr,
                           socklen_t addrlen) {
    auto* s = static_cast<HttpServer*>(cls);
    if (s->open_connections_ >= s->options_.max_connections) {
      ++s->over_limit_;
      return MHD_NO;
    }
    if (s->options_.bearer_token.empty() && !IsLoopbackClient(addr, addrlen)) {
      ++s->not_loopback_;
      return MHD_NO;
    }
    return MHD_YES;
  }
  static void Notify(void* cls, MHD_Connection*, void** /*socket_context*/,
                     MHD_ConnectionNotificationCode code) {
    auto* s = static_cast<HttpServer*>(cls);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      ++s->open_connections_;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED &&
               s->open_connections_ > 0) {
      --s->open_connections_;
    }
  }
  static bool IsLoopbackClient(const struct sockaddr* addr, socklen_t len) {
    if (addr == nullptr) return false;
    if (addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
      if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        return in6->sin6_addr.s6_addr[12] == 127;
      }
    }
    return false;
  }
};

namespace {

std::string BindError(int err) {
  switch (err) {
    case EADDRINUSE:
      return "address already in use";
    case EADDRNOTAVAIL:
      return "cannot assign that address (it is not an address of this "
             "machine)";
    case EACCES:
      return "permission denied (ports below 1024 need privileges)";
    default:
      return std::strerror(err);
  }
}

bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::string& other = a.size() == b.size() ? b : a;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ other[i]);
  }
  return diff == 0;
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  if (absl::AsciiStrToLower(h) == "localhost") return true;
  in_addr a4{};
  if (::inet_pton(AF_INET, h.c_str(), &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;
  }
  in6_addr a6{};
  if (::inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&a6);
  }
  return false;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Options options) {
  const std::string where = absl::StrCat(options.what, " ", options.listen);
  auto port = ParseHostPort(options.listen, 0);
  if (!port.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", port.status().message()));
  }
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(*port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                             service.c_str(), &hints, &found);
      rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": cannot resolve \"", host, "\": ", ::gai_strerror(rc)));
  }
  const addrinfo* ai = found;
  while (ai != nullptr && ai->ai_family != AF_INET &&
         ai->ai_family != AF_INET6) {
    ai = ai->ai_next;
  }
  if (ai == nullptr) {
    ::freeaddrinfo(found);
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": no IPv4 or IPv6 address to listen on"));
  }
  int fd =
      ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    const int err = errno;
    ::freeaddrinfo(found);
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": cannot listen: ", std::strerror(err)));
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    const int err = errno;
    ::close(fd);
    ::freeaddrinfo(found);
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": cannot listen: ", BindError(err)));
  }
  ::freeaddrinfo(found);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port =
      bound.ss_family == AF_INET
          ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
          : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);

  std::unique_ptr<HttpServer> s(new HttpServer());
  s->options_ = std::move(options);
  s->listen_fd_ = fd;
  s->port_ = bound_port;
  s->address_ = host.find(':') != std::string::npos
                    ? absl::StrCat("[", host, "]:", bound_port)
                    : absl::StrCat(host, ":", bound_port);
  const unsigned timeout_s = static_cast<unsigned>(std::max<int64_t>(
      1, absl::ToInt64Seconds(s->options_.connection_timeout)));
  s->daemon_ = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD, 0, &HttpServerCallbacks::Accept, s.get(),
      &HttpServerCallbacks::Access, s.get(), MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_CONNECTION_LIMIT, s->options_.max_connections + 1,
      MHD_OPTION_NOTIFY_CONNECTION, &HttpServerCallbacks::Notify, s.get(),
      MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->options_.request_memory,
      MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    ::close(fd);
    s->listen_fd_ = -1;
    return absl::InternalError(
        absl::StrCat(where, ": libmicrohttpd did not start"));
  }
  return s;
}

HttpServer::~HttpServer() {
  // libmicrohttpd closes the listening socket it was given.
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

HttpServer::Stats HttpServer::stats() const {
  return {served_.load(), unauthorized_.load(), not_found_.load(),
          over_limit_.load(), not_loopback_.load()};
}

int HttpServer::HandleRequest(MHD_Connection* connection, const char* url,
                              const char* method) {
  const std::string m = method != nullptr ? method : "";
  const bool head = m == "HEAD";
  // The path without a query string.
  std::string path = url != nullptr ? url : "";
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  if ((m != "GET" && !head) || path != options_.path) {
    not_found_.fetch_add(1);
    return Respond(connection, MHD_HTTP_NOT_FOUND, "not found\n",
                   "text/plain; charset=utf-8", head);
  }
  if (!options_.bearer_token.empty()) {
    const char* auth = MHD_lookup_connection_value(
        connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const std::string want = "Bearer " + options_.bearer_token;
    if (auth == nullptr || !ConstantTimeEqual(auth, want)) {
      unauthorized_.fetch_add(1);
      return Respond(connection, MHD_HTTP_UNAUTHORIZED,
                     "a bearer token is required\n",
                     "text/plain; charset=utf-8", head);
    }
  }
  served_.fetch_add(1);
  return Respond(connection, MHD_HTTP_OK,
                 options_.body ? options_.body() : std::string(),
                 options_.content_type, head);
}

int HttpServer::Respond(MHD_Connection* connection, unsigned status,
                        const std::string& body,
                        const std::string& content_type, bool head) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                          content_type.c_str());
  if (status == MHD_HTTP_UNAUTHORIZED) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                            "Bearer");
  }
  (void)head;  // libmicrohttpd sends no body to a HEAD request
  const MHD_Result r = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return r;
}

}  // namespace peerlab
