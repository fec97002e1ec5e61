// The bootstrap admin token: which one a server requires and where a
// client finds it. Safe with no set-up: a server always has an admin token,
// and the tools of the same user on the same machine find it by themselves.
//
// A server (LoadServerAdminToken) takes, in order:
//   1. its --admin-token-file;
//   2. $PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE when set and not empty;
//   3. the per-user file DefaultAdminTokenPath() =
//      <UserStateDir()>/bootstrap-admin.token (base/state_dir.h),
//      created 0600 with a random token on first use and kept across
//      restarts (every server of this user shares it).
// A client (FindAdminToken: peerlab-bootstrapctl, a peer's
// bootstrapreset/bootstrapconfig and its upkeep) takes 1 (its own option)
// or 2 the same way; it takes 3 only when the file exists, the server
// address is on loopback and whatever listens on that port belongs to this
// user (LoopbackListenerIsOurs), so the per-user token never travels to
// another machine nor to another local user's server.
//
// Thread safety: the functions read the environment and files; safe from
// any thread as long as nobody changes the environment.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_ADMIN_TOKEN_H_
#define PEERLAB_SERVICES_BOOTSTRAP_ADMIN_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"

namespace peerlab::bootstrap {

// The environment variable naming an admin token file, for servers and
// clients (the local lab and the e2e tests export it for their peers).
inline constexpr char kAdminTokenFileEnv[] =
    "PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE";

// <UserStateDir()>/bootstrap-admin.token (the directory is created 0700
// when missing). FailedPrecondition when there is no state directory.
absl::StatusOr<std::string> DefaultAdminTokenPath();

// A token and the file it came from; both empty when there is none.
struct AdminToken {
  std::string token;
  std::string path;
  bool per_user = false;  // from DefaultAdminTokenPath()
};

// The server's token (see the top of this file); never empty. Errors name
// the file (a named file missing, empty or malformed; a per-user file that
// others may read).
absl::StatusOr<AdminToken> LoadServerAdminToken(const std::string& file);

// The token a client sends for admin calls to `server_address` (see the
// top of this file). An empty AdminToken when none applies.
absl::StatusOr<AdminToken> FindAdminToken(const std::string& file,
                                          const std::string& server_address);

// True when `address` ("host:port", "[v6]:port", or with a gRPC scheme
// "ipv4:"/"ipv6:"/"dns:///") names a loopback host: localhost,
// 127.0.0.0/8 or ::1.
bool IsLoopbackAddress(const std::string& address);

// True when something listens on the TCP port of `server_address` and every
// listening socket on that port belongs to this process's effective user
// (/proc/net/tcp and /proc/net/tcp6 of this network namespace). False
// without a port, without /proc, or when another user listens there.
bool LoopbackListenerIsOurs(const std::string& server_address);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_ADMIN_TOKEN_H_
