// A small HTTP server for GET /metrics, on Debian's libmicrohttpd (not a
// hand-written HTTP server): the peer, peerlab-bootstrap and
// peerlab-coordinator serve their Prometheus metrics through it
// (base/metrics_endpoint.h).
//
// The listening socket is peerlab's (bound as GrpcServer binds: no
// SO_REUSEPORT, so a port in use is refused with the reason), handed to
// libmicrohttpd, which serves it from one internal thread with poll/epoll.
// Bounded: at most `max_connections` connections at once (more are closed
// at accept), `connection_timeout` of idleness closes one, a request's
// headers must fit `request_memory` bytes. Only GET (and HEAD) of `path`
// is served; every other path or method gets 404. With a `bearer_token`,
// a request without "Authorization: Bearer TOKEN" gets 401 (compared in
// constant time). Without one, only loopback clients are served (a
// connection from elsewhere is closed at accept). Every refusal is
// counted (stats(): unauthorized, over_limit, not_loopback).
#ifndef PEERLAB_BASE_HTTP_SERVER_H_
#define PEERLAB_BASE_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace peerlab {

class HttpServer {
 public:
  struct Options {
    // HOST:PORT to listen on (port 0: pick a free one). The first address
    // the host resolves to is used.
    std::string listen;
    // Names the address in messages ("--metrics-listen").
    std::string what = "--metrics-listen";
    // The one path served.
    std::string path = "/metrics";
    // The body of a GET of `path`, and its Content-Type. Called on the
    // server's thread, one request at a time; must not block for long.
    std::function<std::string()> body;
    std::string content_type = "text/plain; charset=utf-8";
    // Empty: no authorization asked for.
    std::string bearer_token;
    unsigned max_connections = 16;
    absl::Duration connection_timeout = absl::Seconds(10);
    size_t request_memory = 32 * 1024;
  };

  // Counters (monotonic; any thread).
  struct Stats {
    uint64_t served = 0;        // 200s
    uint64_t unauthorized = 0;  // 401s: no or a wrong bearer token
    uint64_t not_found = 0;     // 404s
    // Connections closed at accept: max_connections were open; a client
    // not on loopback while no bearer_token is set.
    uint64_t over_limit = 0;
    uint64_t not_loopback = 0;
  };

  // Binds and starts serving. InvalidArgument for a malformed address or
  // one that does not resolve; FailedPrecondition "address already in use"
  // and the like from bind/listen; Internal when libmicrohttpd does not
  // start. Errors name `what` and the address.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Options options);

  // Stops accepting, closes every connection and joins the thread.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address, "HOST:PORT" (the real port when 0 was asked for).
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  Stats stats() const;

 private:
  HttpServer() = default;
  friend struct HttpServerCallbacks;
  // One request: GET/HEAD of the path, the token; an MHD_Result.
  int HandleRequest(MHD_Connection* connection, const char* url,
                    const char* method);
  int Respond(MHD_Connection* connection, unsigned status,
              const std::string& body, const std::string& content_type,
              bool head);

  Options options_;
  std::string address_;
  int port_ = 0;
  int listen_fd_ = -1;
  MHD_Daemon* daemon_ = nullptr;
  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> unauthorized_{0};
  std::atomic<uint64_t> not_found_{0};
  std::atomic<uint64_t> over_limit_{0};
  std::atomic<uint64_t> not_loopback_{0};
  unsigned open_connections_ = 0;  // the daemon's thread only
};

// True for a listen address on this machine only: 127.0.0.0/8, ::1,
// "localhost" (any case). "0.0.0.0", "[::]" and every other address are
// not.
bool IsLoopbackHost(const std::string& host);

}  // namespace peerlab

#endif  // PEERLAB_BASE_HTTP_SERVER_H_
