// BootstrapService: the bootstrap.v1 operations as a plain class, over a
// Store. The gRPC adapter (grpc_service.h) is a thin layer on top; tests
// drive this class directly.
//
// Every mutating call validates its input first (InvalidArgument, nothing
// stored), then runs as one Store mutation that also drops expired leases,
// and answers only once the change is durable. Calls answer through `done`,
// which may run on a store thread; they never block on I/O themselves.
//
// Entry ownership (bootstrap.proto, "Entry ownership"): Join of a stored id,
// Leave, Renew and a Refill that replaces a stored entry need the entry's
// secret or the admin token; started_at is refused beyond max_clock_skew in
// the future and raised to the entry's first_seen_at; Join and Refill are
// rate-limited per Caller::client (one bucket per IPv6 /64, see
// RateLimitKey). Every answer has the secret hashes cleared (StripSecrets).
//
// Leases (bootstrap.proto, "Leases"): every entry a client without the
// admin token makes holds a lease: the ttl it asks for, capped at
// Options::max_lease, or Options::default_lease when it asks for none; only
// the admin token makes an entry without a lease. Expired entries are
// dropped by every mutation, by the sweeper, and from every List answer.
//
// Administration: Reset and UpdateConfig need Options::admin_token; a
// service without one refuses them (PermissionDenied).
//
// Thread safety: all methods may be called concurrently.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_BOOTSTRAP_SERVICE_H_
#define PEERLAB_SERVICES_BOOTSTRAP_BOOTSTRAP_SERVICE_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "proto/bootstrap/v1/bootstrap.pb.h"
#include "services/bootstrap/rate_limiter.h"
#include "services/bootstrap/store.h"
#include "base/clock.h"

namespace peerlab::bootstrap {

namespace pb = ::bootstrap::v1;

class BootstrapService {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  struct Options {
    // Token required by Reset and UpdateConfig. Unset: nobody may call
    // them (peerlab-bootstrap always has one: see server_main.cc).
    std::optional<std::string> admin_token;
    // The lease of a client's entry that asks for none (Join/Refill without
    // a ttl), and the longest lease a client gets (longer ttls of Join,
    // Refill and Renew are cut to it). The admin token is not capped.
    // REQUIRES: 1s <= default_lease <= max_lease <= 30 days.
    absl::Duration default_lease = absl::Seconds(60);
    absl::Duration max_lease = absl::Hours(1);
    // How often the lease sweeper looks at least (it also wakes at the next
    // expiry). Zero: no sweeper thread; call ExpireLeases() yourself.
    absl::Duration sweep_interval = absl::Seconds(1);
    std::string version = "dev";
    // A claimed started_at later than now + this is refused.
    absl::Duration max_clock_skew = absl::Seconds(60);
    // Join/Refill per client (token bucket); rate 0: unlimited.
    ClientRateLimiter::Options join_limit;
  };

  // Who calls: what it presented and where it calls from.
  struct Caller {
    // The bearer token presented; empty when none.
    std::string token;
    // The client's address (rate limiting); "" for in-process callers.
    std::string client;
  };

  // `store` and `clock` must outlive the service.
  BootstrapService(Store* store, Clock* clock, Options options);
  // Stops the lease sweeper.
  ~BootstrapService();

  pb::PingResponse Ping() const;
  void Join(const pb::JoinRequest& request, const Caller& caller,
            Done<pb::JoinResponse> done);
  void Leave(const pb::LeaveRequest& request, const Caller& caller,
             Done<pb::LeaveResponse> done);
  void Refill(const pb::RefillRequest& request, const Caller& caller,
              Done<pb::RefillResponse> done);
  void Renew(const pb::RenewRequest& request, const Caller& caller,
             Done<pb::RenewResponse> done);
  // The same for an anonymous in-process caller (no token, client "").
  void Join(const pb::JoinRequest& request, Done<pb::JoinResponse> done) {
    Join(request, Caller{}, std::move(done));
  }
  void Leave(const pb::LeaveRequest& request, Done<pb::LeaveResponse> done) {
    Leave(request, Caller{}, std::move(done));
  }
  void Refill(const pb::RefillRequest& request, Done<pb::RefillResponse> done) {
    Refill(request, Caller{}, std::move(done));
  }
  void Renew(const pb::RenewRequest& request, Done<pb::RenewResponse> done) {
    Renew(request, Caller{}, std::move(done));
  }
  absl::StatusOr<pb::ListResponse> List();
  // `token` is what the caller presented; empty when it sent none.
  void Reset(const pb::ResetRequest& request, const std::string& token,
             Done<pb::ResetResponse> done);
  void UpdateConfig(const pb::UpdateConfigRequest& request,
                    const std::string& token,
                    Done<pb::UpdateConfigResponse> done);

  // Drops the peers whose lease has expired, as one change. Done receives
  // the ids dropped.
  void ExpireLeases(Done<std::vector<std::string>> done);

  // OK when the service has an admin token and `token` matches it;
  // PermissionDenied otherwise (saying which).
  absl::Status CheckAdmin(const std::string& token) const;
  // True only when the service has an admin token and `token` matches it:
  // the override of entry ownership and of the rate limit.
  bool IsAdmin(const std::string& token) const;

  // Join/Refill calls refused by the rate limit so far.
  uint64_t joins_refused() const { return limiter_.refused(); }

  // True when the service has no admin token (admin calls are refused).
  bool open() const { return !options_.admin_token.has_value(); }
  Store* store() const { return store_; }

 private:
  void SweeperLoop();

  Store* const store_;
  Clock* const clock_;
  // Rate limit and started_at checks of Join/Refill; OK or the refusal.
  absl::Status Admit(const Caller& caller, absl::Time now);
  // The lease an entry gets: `ttl` (nullopt: none asked for) for the
  // admin; for anyone else `ttl` capped at max_lease, or default_lease.
  std::optional<absl::Duration> LeaseFor(std::optional<absl::Duration> ttl,
                                         bool admin) const;
  absl::Status CheckStartedAt(const pb::Peer& peer, absl::string_view field,
                              absl::Time now) const;

  const Options options_;
  ClientRateLimiter limiter_;

  std::mutex sweeper_mu_;
  std::condition_variable sweeper_wake_;
  bool stopping_ = false;
  std::thread sweeper_;
};

// Extracts the bearer token from an "authorization" metadata value
// ("Bearer TOKEN"); empty when absent or of another scheme.
std::string BearerToken(const std::string& authorization);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_BOOTSTRAP_SERVICE_H_
