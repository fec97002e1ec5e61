// BootstrapClient: the C++ client of bootstrap.v1.BootstrapData. Peers, the
// admin tool (peerlab-bootstrapctl) and the benchmarks use it.
//
// One method per RPC, each returning absl::StatusOr of the response; the
// server's status (code and message) comes back unchanged, e.g.
// INVALID_ARGUMENT "peer.port: ..." or PERMISSION_DENIED. Unary calls have a
// deadline and are retried with exponential backoff and jitter while the
// server answers UNAVAILABLE (down, restarting, or its store busy).
//
// Thread safety: one BootstrapClient holds one gRPC channel; every method may
// be called from many threads at once.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_CLIENT_BOOTSTRAP_CLIENT_H_
#define PEERLAB_SERVICES_BOOTSTRAP_CLIENT_BOOTSTRAP_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "peerlab/proto/bootstrap/v1/bootstrap.grpc.pb.h"

namespace peerlab::bootstrap {

// The environment variable naming the server when Options::address is empty
// (as in the original system).
inline constexpr char kServerEnvVar[] = "BOOTSTRAP_DATA_SERVER";
// The address used when neither Options::address nor the environment names
// one.
inline constexpr char kDefaultServerAddress[] = "127.0.0.1:8080";

// Lets another thread stop a running BootstrapClient::Watch. Thread-safe.
// One WatchStopper serves one Watch call at a time; Stop() before the call
// starts makes the call return at once.
class WatchStopper {
 public:
  WatchStopper() = default;
  WatchStopper(const WatchStopper&) = delete;
  WatchStopper& operator=(const WatchStopper&) = delete;

  // Ends the Watch (it then returns OK). Idempotent; never blocks on the
  // network.
  void Stop();
  bool stopped() const;

 private:
  friend class BootstrapClient;
  // Registers the context of the running stream; returns false if Stop()
  // was already called (the caller must not start the stream).
  bool Attach(grpc::ClientContext* context);
  void Detach();

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

struct BootstrapClientOptions {
  // "host:port" of the server (any gRPC target). Empty: the environment
  // variable BOOTSTRAP_DATA_SERVER, and when that is unset or empty,
  // "127.0.0.1:8080".
  std::string address;
  // Sent with every call as metadata "authorization: Bearer TOKEN". Reset
  // and UpdateConfig need it (services/bootstrap/admin_token.h says where
  // it is found); it also lets Leave/Renew/Join change another's entry,
  // is not rate-limited, and makes entries without a lease. Unset: no
  // authorization metadata.
  std::optional<std::string> admin_token;
  // Channel credentials (TLS, see base/tls.h). Null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Budget of one unary call, retries and backoff sleeps included: the call
  // returns DEADLINE_EXCEEDED (or the last UNAVAILABLE) once it is spent.
  // Watch streams have no deadline.
  absl::Duration deadline = absl::Seconds(5);
  // Attempts of a unary call in all while the server answers UNAVAILABLE
  // (1: no retry). Other errors are never retried.
  int max_attempts = 4;
  // Sleep before the first retry; each later sleep is `backoff_multiplier`
  // times the previous one, capped at `max_backoff`. Every sleep is then
  // scaled by a random factor in [1 - jitter, 1 + jitter] so that many
  // clients do not retry in lockstep.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  double backoff_multiplier = 2.0;
  absl::Duration max_backoff = absl::Seconds(2);
  double jitter = 0.2;
  // Called (on the calling thread) before each retry sleep with the number
  // of the attempt that failed (1 for the first), its status and the sleep
  // about to start. For logs and tests; may be empty.
  std::function<void(int attempt, const absl::Status& status,
                     absl::Duration sleep)>
      on_retry;
};

// What a peer asks of the bootstrap service: the unary calls of
// BootstrapClient, as an interface, so that a peer can be run against an
// in-process service (peer/app/peer_sim_test.cc) as well as over gRPC.
// Errors and semantics as in BootstrapClient below. Thread-safe.
class BootstrapApi {
 public:
  virtual ~BootstrapApi() = default;
  // The resolved server address and the options this client was made with.
  virtual const std::string& address() const = 0;
  virtual const BootstrapClientOptions& options() const = 0;
  // Another client of the same service with `options` (a shorter
  // deadline, the admin token). Never fails here: a bad address fails its
  // calls.
  virtual std::unique_ptr<BootstrapApi> Connect(
      BootstrapClientOptions options) const = 0;

  virtual absl::StatusOr<::bootstrap::v1::PingResponse> Ping() = 0;
  virtual absl::StatusOr<::bootstrap::v1::JoinResponse> Join(
      const ::bootstrap::v1::Peer& peer,
      std::optional<absl::Duration> ttl = std::nullopt,
      const std::string& secret = "") = 0;
  virtual absl::StatusOr<::bootstrap::v1::LeaveResponse> Leave(
      const std::string& id, const std::string& secret = "") = 0;
  virtual absl::StatusOr<::bootstrap::v1::RefillResponse> Refill(
      const ::bootstrap::v1::Peer& candidate,
      std::optional<absl::Duration> ttl = std::nullopt,
      const std::string& secret = "") = 0;
  virtual absl::StatusOr<::bootstrap::v1::ListResponse> List() = 0;
  virtual absl::StatusOr<::bootstrap::v1::ResetResponse> Reset() = 0;
  virtual absl::StatusOr<::bootstrap::v1::UpdateConfigResponse> UpdateConfig(
      std::optional<uint32_t> max_peers,
      std::optional<uint32_t> min_refill_candidates) = 0;
  virtual absl::StatusOr<::bootstrap::v1::RenewResponse> Renew(
      const std::string& id, absl::Duration ttl,
      const std::string& secret = "") = 0;
};

class BootstrapClient final : public BootstrapApi {
 public:
  using Options = BootstrapClientOptions;

  // The address a client with `address` will use: `address` itself, or the
  // environment variable, or the default (see Options::address).
  static std::string ResolveAddress(const std::string& address);

  // Creates the channel (insecure: peerlab serves loopback and lab networks).
  // Does not connect yet; the first call does.
  explicit BootstrapClient(Options options);
  BootstrapClient(const BootstrapClient&) = delete;
  BootstrapClient& operator=(const BootstrapClient&) = delete;

  // The resolved server address.
  const std::string& address() const override { return address_; }
  const Options& options() const override { return options_; }
  // A new BootstrapClient.
  std::unique_ptr<BootstrapApi> Connect(Options options) const override;

  absl::StatusOr<::bootstrap::v1::PingResponse> Ping() override;
  // Entry secrets (bootstrap.proto, "Entry ownership"): Join and Refill
  // send `secret` as the entry's owner secret; when it is empty they make a
  // random one first (NewEntrySecret), so a retried call presents the same
  // secret. The response's secret is the one to keep (in memory) for
  // Leave/Renew/Join of that entry later.

  // Adds `peer` (or updates it in place if its id is stored: then `secret`
  // must be the entry's, or the client holds the admin token). `ttl`: a
  // lease (1 s .. 30 days, cut to the server's maximum); unset: the
  // server's default lease (the admin token: no lease). Response.lease is
  // the lease granted; Response.joined is false when the list was full.
  absl::StatusOr<::bootstrap::v1::JoinResponse> Join(
      const ::bootstrap::v1::Peer& peer,
      std::optional<absl::Duration> ttl = std::nullopt,
      const std::string& secret = "") override;
  // PERMISSION_DENIED when `id` is stored and `secret` is not its secret
  // (and the client has no admin token).
  absl::StatusOr<::bootstrap::v1::LeaveResponse> Leave(
      const std::string& id, const std::string& secret = "") override;
  // Offers `candidate` for a vacant place; see bootstrap.proto.
  absl::StatusOr<::bootstrap::v1::RefillResponse> Refill(
      const ::bootstrap::v1::Peer& candidate,
      std::optional<absl::Duration> ttl = std::nullopt,
      const std::string& secret = "") override;
  absl::StatusOr<::bootstrap::v1::ListResponse> List() override;
  // Admin: needs Options::admin_token when the server has one.
  absl::StatusOr<::bootstrap::v1::ResetResponse> Reset() override;
  // Admin. Unset arguments keep their current value.
  absl::StatusOr<::bootstrap::v1::UpdateConfigResponse> UpdateConfig(
      std::optional<uint32_t> max_peers,
      std::optional<uint32_t> min_refill_candidates) override;
  // Extends the lease of stored peer `id` to now + `ttl`. NOT_FOUND when the
  // peer is not stored.
  absl::StatusOr<::bootstrap::v1::RenewResponse> Renew(
      const std::string& id, absl::Duration ttl,
      const std::string& secret = "") override;

  // Streams the document: calls `on_document` (on the calling thread) with
  // the current document, then with the document after every change, until
  // `stopper` (may be null) is stopped or the server ends the stream. Blocks
  // until then. Returns OK when stopped or when the server ended the stream
  // with OK (e.g. it shut down gracefully); otherwise the stream's error.
  // While no document has arrived yet, UNAVAILABLE is retried like a unary
  // call (max_attempts, backoff); after that it is returned.
  absl::Status Watch(
      const std::function<void(const ::bootstrap::v1::Document&)>& on_document,
      WatchStopper* stopper = nullptr);

 private:
  // Prepares `context` for one attempt: deadline and admin metadata.
  void PrepareContext(grpc::ClientContext& context, absl::Time deadline) const;

  // Runs `attempt` (one RPC on a fresh context) with the retry policy.
  template <typename Response>
  absl::StatusOr<Response> Call(
      const std::function<grpc::Status(grpc::ClientContext&, Response*)>&
          attempt);

  // The backoff sleep after failed attempt number `attempt` (1-based), with
  // jitter.
  absl::Duration Backoff(int attempt);

  const Options options_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::bootstrap::v1::BootstrapData::Stub> stub_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_CLIENT_BOOTSTRAP_CLIENT_H_
