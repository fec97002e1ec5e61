// BootstrapService: the bootstrap.v1 operations as a plain class, over a
// Store. The gRPC adapter (grpc_service.h) is a thin layer on top; tests
// drive this class directly.
//
// Every mutating call validates its input first (InvalidArgument, nothing
// stored), then runs as one Store mutation that also drops expired leases,
// and answers only once the change is durable. Calls answer through `done`,
// which may run on a store thread; they never block on I/O themselves.
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
#include "services/bootstrap/store.h"
#include "services/common/clock.h"

namespace peerlab::bootstrap {

namespace pb = ::bootstrap::v1;

class BootstrapService {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  struct Options {
    // Token required by Reset and UpdateConfig. Unset: anyone may call them.
    std::optional<std::string> admin_token;
    // How often the lease sweeper looks at least (it also wakes at the next
    // expiry). Zero: no sweeper thread; call ExpireLeases() yourself.
    absl::Duration sweep_interval = absl::Seconds(1);
    std::string version = "dev";
  };

  // `store` and `clock` must outlive the service.
  BootstrapService(Store* store, Clock* clock, Options options);
  // Stops the lease sweeper.
  ~BootstrapService();

  pb::PingResponse Ping() const;
  void Join(const pb::JoinRequest& request, Done<pb::JoinResponse> done);
  void Leave(const pb::LeaveRequest& request, Done<pb::LeaveResponse> done);
  void Refill(const pb::RefillRequest& request, Done<pb::RefillResponse> done);
  absl::StatusOr<pb::ListResponse> List();
  // `token` is what the caller presented; empty when it sent none.
  void Reset(const pb::ResetRequest& request, const std::string& token,
             Done<pb::ResetResponse> done);
  void UpdateConfig(const pb::UpdateConfigRequest& request,
                    const std::string& token,
                    Done<pb::UpdateConfigResponse> done);
  void Renew(const pb::RenewRequest& request, Done<pb::RenewResponse> done);

  // Drops the peers whose lease has expired, as one change. Done receives
  // the ids dropped.
  void ExpireLeases(Done<std::vector<std::string>> done);

  // OK when the service has no admin token or `token` matches it;
  // PermissionDenied otherwise.
  absl::Status CheckAdmin(const std::string& token) const;

  bool open() const { return !options_.admin_token.has_value(); }
  Store* store() const { return store_; }

 private:
  void SweeperLoop();

  Store* const store_;
  Clock* const clock_;
  const Options options_;

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
