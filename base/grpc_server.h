// The one way peerlab starts a gRPC server (peerlab-bootstrap,
// peerlab-coordinator, the peer's --grpc-port server).
//
// The listening socket is peerlab's, not gRPC's: it is bound here without
// SO_REUSEPORT (gRPC 1.51 sets it, so a second server on a port in use
// would serve beside the first), so a port in use is refused with the real
// reason, and an accept thread of its own hands each connection to gRPC
// (ExternalConnectionAcceptor). That thread also keeps the process clear of
// EMFILE, after which gRPC 1.51's own listener never accepts again: it
// refuses (closes at once) a connection that would leave fewer than
// `reserved_fds` descriptors free, and when accept() still fails with
// EMFILE/ENFILE it closes a descriptor kept in reserve, accepts and closes
// the pending connection, and takes the reserve back, so the listener keeps
// going. Each refusal is counted and logged (at most once a second).
#ifndef PEERLAB_BASE_GRPC_SERVER_H_
#define PEERLAB_BASE_GRPC_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "peer/runtime/logger.h"

namespace peerlab {

// "HOST:PORT" or "[V6]:PORT" split into host and port; InvalidArgument
// naming `what` when the port is missing, not a number or above 65535.
struct HostAndPort {
  std::string host;
  int port = 0;
};
absl::StatusOr<HostAndPort> SplitHostPort(std::string_view address,
                                          std::string_view what);

// Raises the soft RLIMIT_NOFILE to the hard limit (capped at 1<<20) once per
// process and returns the soft limit now in force. Thread-safe.
uint64_t RaiseFileLimit();

class GrpcServer {
 public:
  struct Options {
    // HOST:PORT to listen on; port 0 picks a free one.
    std::string listen;
    // Names the address in messages ("--listen", "--grpc-port").
    std::string what = "--listen";
    std::shared_ptr<grpc::ServerCredentials> credentials;
    // Registers services and channel arguments on the builder. It must not
    // add listening ports.
    std::function<void(grpc::ServerBuilder&)> configure;
    // Descriptors kept free: a connection accepted with fewer left is
    // closed at once. 0: max(32, soft limit / 8).
    int reserved_fds = 0;
    // Where refusals are logged (component "grpc-server"; not owned, must
    // outlive the server). nullptr: runtime::DefaultLogger() (stderr at
    // warning); programs pass base/logging.h's DefaultSpdlogLogger().
    runtime::Logger* logger = nullptr;
  };

  // Counters (monotonic; any thread).
  struct Stats {
    uint64_t accepted = 0;
    uint64_t refused_over_limit = 0;  // closed for want of descriptors
  };

  // Raises the file limit (RaiseFileLimit), binds, starts the gRPC server
  // and the accept thread. Errors name `what`, the address and the reason:
  // InvalidArgument for a malformed address, FailedPrecondition "address
  // already in use" and the like from bind/listen, Internal when gRPC does
  // not start.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(Options options);

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;
  // Shutdown(now) unless done already.
  ~GrpcServer();

  grpc::Server* server() const { return server_.get(); }
  int port() const { return port_; }
  // HOST:PORT with the bound port, HOST as given.
  const std::string& address() const { return address_; }
  Stats stats() const;

  // Stops accepting, then shuts the gRPC server down (calls still running
  // at `deadline` are cancelled) and waits for it. Idempotent; not from a
  // gRPC callback thread.
  void Shutdown(absl::Time deadline);

 private:
  GrpcServer() = default;
  void AcceptLoop();
  // Accepts until the queue is empty; false after an error (back off).
  bool AcceptFrom(int listen_fd);

  std::vector<int> listen_fds_;
  int wake_fd_ = -1;  // eventfd that stops the accept thread
  int reserve_fd_ = -1;
  int fd_limit_ = 0;
  int reserved_fds_ = 0;
  int port_ = 0;
  std::string address_;
  std::string what_;
  runtime::ComponentLog log_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::unique_ptr<grpc::Server> server_;
  std::thread accept_thread_;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  absl::Time last_refusal_log_ = absl::InfinitePast();  // accept thread only
  bool shut_down_ = false;
};

}  // namespace peerlab

#endif  // PEERLAB_BASE_GRPC_SERVER_H_
