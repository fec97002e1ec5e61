// The original's bootstrap command group, on the bootstrap client library:
//   bootstrap           the remote document
//   bootstrapconfig     the remote config; with N [M] sets max_peers (and
//                       min_refill_candidates): admin
//   bootstrappeers      the remote list of peers
//   bootstrapjoin       adds this peer (its gossip address) to the list
//   bootstrapleave      removes this peer from the list
//   bootstraprefill     offers this peer as a refill candidate
//   bootstrapreset      removes every peer: admin
//   bootstraplistlocal  the last document this peer received (no call)
#ifndef PEERLAB_PEER_APP_BOOTSTRAP_COMMANDS_H_
#define PEERLAB_PEER_APP_BOOTSTRAP_COMMANDS_H_

#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peer/cli/config.h"
#include "peer/cli/registry.h"
#include "proto/bootstrap/v1/bootstrap.pb.h"
#include "services/bootstrap/client/bootstrap_client.h"

namespace peerlab::peer {

// How this peer appears in the bootstrap list.
struct SelfDescription {
  std::string id;
  std::string name;
  std::string host;
  int port = 0;  // gossip port
  absl::Time started_at;
};

// The environment variable naming the default of bootstrap.admin_token_file
// (the local lab and the e2e tests hand their bootstrap admin token to their
// peers this way, for the upkeep of departed peers' entries).
inline constexpr char kBootstrapAdminTokenFileEnv[] =
    "PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE";

// Entry ownership (bootstrap.proto): this peer's entry belongs to the secret
// made here at construction, kept in memory only and presented by
// JoinSelf/LeaveSelf/RefillSelf. A restarted peer (a new process, a new
// bootstrap id) joins anew with a new secret; the old entry is removed by
// the upkeep of a peer holding the admin token, or by its lease.
//
// Thread-safe.
class BootstrapCommands {
 public:
  // `client` must outlive this object.
  BootstrapCommands(bootstrap::BootstrapClient* client, SelfDescription self);

  // Registers the commands and the config keys "bootstrap.lease" (lease of
  // bootstrapjoin/refill; 0s: none) and "bootstrap.admin_token_file".
  absl::Status Register(cli::Registry& registry, cli::ConfigRegistry& config);

  // This peer as a bootstrap.v1.Peer.
  ::bootstrap::v1::Peer SelfPeer() const;
  // The last document received, if any.
  std::optional<::bootstrap::v1::Document> LastDocument() const;

  // The operations behind the commands, for other components (init, quit).
  absl::StatusOr<::bootstrap::v1::Document> Fetch();
  absl::StatusOr<bool> JoinSelf();
  absl::Status LeaveSelf();
  absl::StatusOr<bool> RefillSelf();
  // The secret of this peer's entry (never logged).
  const std::string& EntrySecret() const { return secret_; }
  // A client for changing other peers' entries (the upkeep): with the admin
  // token of bootstrap.admin_token_file when it is set, else a plain one
  // (the service then refuses to touch entries that are not this peer's).
  absl::StatusOr<std::unique_ptr<bootstrap::BootstrapClient>> UpkeepClient()
      const {
    return AdminClient();
  }
  // True when bootstrap.admin_token_file is set.
  bool HasAdminToken() const;

 private:
  void Remember(const ::bootstrap::v1::Document& doc);
  std::optional<absl::Duration> Lease() const;
  absl::StatusOr<std::unique_ptr<bootstrap::BootstrapClient>> AdminClient()
      const;

  bootstrap::BootstrapClient* const client_;
  const SelfDescription self_;
  std::string secret_;  // this peer's entry secret; set once, at construction
  cli::ConfigRegistry* config_ = nullptr;
  mutable std::mutex mu_;
  std::optional<::bootstrap::v1::Document> last_;
  absl::Duration lease_ = absl::ZeroDuration();
  std::string admin_token_file_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_BOOTSTRAP_COMMANDS_H_
