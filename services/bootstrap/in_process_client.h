// InProcessBootstrapClient: the BootstrapApi of a BootstrapService in the
// same process: no gRPC, no socket. Each call runs the service's operation
// on the caller's thread, with the client's admin token (if any) as the
// caller's token, so ownership, leases and the admin override behave as
// they do over gRPC. For tests of whole peers in one process (the
// simulator: peer/app/peer_sim_test.cc). REQUIRES: a store that completes
// inline (MemoryStore); a call whose store answers later is Unavailable.
//
// Thread safety: as the service's.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_IN_PROCESS_CLIENT_H_
#define PEERLAB_SERVICES_BOOTSTRAP_IN_PROCESS_CLIENT_H_

#include <memory>
#include <optional>
#include <string>

#include "services/bootstrap/bootstrap_service.h"
#include "services/bootstrap/client/bootstrap_client.h"

namespace peerlab::bootstrap {

class InProcessBootstrapClient final : public BootstrapApi {
 public:
  // `service` must outlive this client and every client Connect makes.
  // options.address is only a name (address() returns it).
  InProcessBootstrapClient(BootstrapService* service,
                           BootstrapClientOptions options);

  const std::string& address() const override { return options_.address; }
  const BootstrapClientOptions& options() const override { return options_; }
  std::unique_ptr<BootstrapApi> Connect(
      BootstrapClientOptions options) const override;

  absl::StatusOr<pb::PingResponse> Ping() override;
  absl::StatusOr<pb::JoinResponse> Join(
      const pb::Peer& peer, std::optional<absl::Duration> ttl = std::nullopt,
      const std::string& secret = "") override;
  absl::StatusOr<pb::LeaveResponse> Leave(
      const std::string& id, const std::string& secret = "") override;
  absl::StatusOr<pb::RefillResponse> Refill(
      const pb::Peer& candidate,
      std::optional<absl::Duration> ttl = std::nullopt,
      const std::string& secret = "") override;
  absl::StatusOr<pb::ListResponse> List() override;
  absl::StatusOr<pb::ResetResponse> Reset() override;
  absl::StatusOr<pb::UpdateConfigResponse> UpdateConfig(
      std::optional<uint32_t> max_peers,
      std::optional<uint32_t> min_refill_candidates) override;
  absl::StatusOr<pb::RenewResponse> Renew(
      const std::string& id, absl::Duration ttl,
      const std::string& secret = "") override;

 private:
  BootstrapService::Caller Caller() const;

  BootstrapService* const service_;
  const BootstrapClientOptions options_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_IN_PROCESS_CLIENT_H_
