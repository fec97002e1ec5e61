// BootstrapHost: this peer's entry in the bootstrap list (its secret, its
// lease, the last document seen) and the calls that keep it, on a
// bootstrap::BootstrapApi. No command line here: bootstrap_commands.h
// registers the bootstrap command group and the bootstrap.* settings
// against it.
#ifndef PEERLAB_PEER_APP_BOOTSTRAP_HOST_H_
#define PEERLAB_PEER_APP_BOOTSTRAP_HOST_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/bootstrap/v1/bootstrap.pb.h"
#include "services/bootstrap/client/bootstrap_client.h"

namespace peerlab::peer {

// The bootstrap.* settings (bootstrap_commands.h keeps them).
struct BootstrapSettings {
  // The lease this peer asks for its entry; 0: the lease last granted,
  // else 60 s.
  absl::Duration lease = absl::ZeroDuration();
  // The admin token's file ("": the per-user token of a server on
  // loopback, if any).
  std::string admin_token_file;
};

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
// peers this way, for the upkeep of departed peers' entries). Without it,
// a peer uses the per-user admin token of a bootstrap server on loopback
// (services/bootstrap/admin_token.h).
inline constexpr char kBootstrapAdminTokenFileEnv[] =
    "PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE";

// What KeepListed did.
enum class KeepOutcome {
  kRenewed,         // the lease of this peer's entry was extended
  kRenewedAsAdmin,  // the same, with the admin token (another made the entry)
  kRejoined,        // the entry was gone (e.g. a server restart): joined anew
  kListFull,        // the entry was gone and the list is now full
  kNotListed,       // this peer is not on the list and never was
  kNotOurs,         // the entry is another client's (a refill) and there is
                    // no admin token: it ends with its lease, then rejoins
};

// BootstrapHost: this peer's place in the bootstrap list, on a
// bootstrap::BootstrapApi (the gRPC client in the peer, the service
// in-process in tests). Entry ownership (bootstrap.proto): this peer's entry
// belongs to the secret made here at construction, kept in memory only and
// presented by JoinSelf/LeaveSelf/RefillSelf. A restarted peer (a new process,
// a new bootstrap id) joins anew with a new secret; the old entry is removed by
// the upkeep of a peer holding the admin token, or by its lease.
//
// Thread-safe.
class BootstrapHost {
 public:
  // `client` must outlive this object.
  BootstrapHost(bootstrap::BootstrapApi* client, SelfDescription self);

  // Where the operations read bootstrap.lease and
  // bootstrap.admin_token_file (bootstrap_commands.h). Unset: no lease
  // asked for, and $PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE. Set it before any
  // other call; must not block on this object.
  void SetSettingsSource(std::function<BootstrapSettings()> source);

  // This peer as a bootstrap.v1.Peer.
  ::bootstrap::v1::Peer SelfPeer() const;
  // The last document received, if any.
  std::optional<::bootstrap::v1::Document> LastDocument() const;

  // The operations behind the commands, for other components (init, quit).
  absl::StatusOr<::bootstrap::v1::Document> Fetch();
  absl::StatusOr<bool> JoinSelf();
  absl::Status LeaveSelf();
  absl::StatusOr<bool> RefillSelf();
  // Leases (bootstrap.proto, "Leases"): every entry of a client holds one.
  // Renews this peer's entry (its secret; the admin token when the entry
  // was made by another's refill), or joins anew when an entry it had is
  // gone. Call it every RenewInterval().
  absl::StatusOr<KeepOutcome> KeepListed();
  // A third of the lease last granted (bootstrap.lease, or the server's
  // default of 60 s, until one is), at least 1 s: two renewals may fail
  // before the entry expires.
  absl::Duration RenewInterval() const;
  // The ttl this peer asks for its own entry and for entries it offers
  // (the upkeep's refills): bootstrap.lease, else the lease last granted,
  // else 60 s. Never "none": an admin's entry without a lease would stay.
  absl::Duration EntryTtl() const;
  // Called (on the caller's thread) after a JoinSelf or
  // RefillSelf reached the service (listed or not: another peer's refill
  // may list this one later), so that its lease gets renewed whichever
  // command listed it. Empty: none. LifecycleHost sets it.
  void SetOnListed(std::function<void()> on_listed);
  // The secret of this peer's entry (never logged).
  const std::string& EntrySecret() const { return secret_; }
  // A client for changing other peers' entries (the upkeep): with the admin
  // token of bootstrap.admin_token_file when it is set, else a plain one
  // (the service then refuses to touch entries that are not this peer's).
  absl::StatusOr<std::unique_ptr<bootstrap::BootstrapApi>> UpkeepClient()
      const {
    return AdminClient();
  }
  // The same client, for the admin commands (bootstrapreset,
  // bootstrapconfig N).
  absl::StatusOr<std::unique_ptr<bootstrap::BootstrapApi>> AdminClient() const;
  // Keeps `doc` as the last document when it is not older.
  void Remember(const ::bootstrap::v1::Document& doc);
  // True when this peer has a bootstrap admin token (bootstrap.admin_token_file
  // or the per-user token of a server on loopback).
  bool HasAdminToken() const;

 private:
  std::optional<absl::Duration> Lease() const;
  BootstrapSettings Settings() const;

  bootstrap::BootstrapApi* const client_;
  const SelfDescription self_;
  std::string secret_;  // this peer's entry secret; set once, at construction
  // Guarded by mu_: the lease last granted; whether this peer's entry was
  // ever on the list (a vanished entry is then joined anew).
  std::optional<absl::Duration> granted_;
  bool was_listed_ = false;
  // Held while on_listed_ runs, so that SetOnListed(nullptr) returns only
  // once no call is under way. on_listed_ must not call SetOnListed.
  std::mutex listed_mu_;
  std::function<void()> on_listed_;  // guarded by listed_mu_
  void Listed();
  void Granted(const google::protobuf::Duration& lease, bool listed);
  std::function<BootstrapSettings()> settings_source_;  // set before use
  mutable std::mutex mu_;
  std::optional<::bootstrap::v1::Document> last_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_BOOTSTRAP_HOST_H_
