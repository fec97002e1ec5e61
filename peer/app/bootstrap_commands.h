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

 private:
  void Remember(const ::bootstrap::v1::Document& doc);
  std::optional<absl::Duration> Lease() const;
  absl::StatusOr<std::unique_ptr<bootstrap::BootstrapClient>> AdminClient()
      const;

  bootstrap::BootstrapClient* const client_;
  const SelfDescription self_;
  cli::ConfigRegistry* config_ = nullptr;
  mutable std::mutex mu_;
  std::optional<::bootstrap::v1::Document> last_;
  absl::Duration lease_ = absl::ZeroDuration();
  std::string admin_token_file_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_BOOTSTRAP_COMMANDS_H_
