// Control tokens: the secret a caller of a peer's peer.v1.PeerControl sends
// as "authorization: Bearer TOKEN". Local control is the owner's: by
// default a peer makes a fresh random token at every start, in a file only
// its user can read, and every client of PeerControl in the tree finds it
// the same way (FindControlToken), so nothing needs setting up.
//
// How a client finds a peer's token (the order FindControlToken uses):
//   1. an explicit token file (a client's --control-token-file);
//   2. $PEERLAB_CONTROL_TOKEN_FILE when set and not empty (the peer takes
//      the same variable as the default of its --control-token-file, so a
//      lab that exports it shares one token among its peers and clients);
//   3. the per-node file of the peer's name on this machine,
//      NodeControlTokenPath(NAME) = <UserStateDir()>/nodes/NAME/control.token
//      (see base/state_dir.h), which a peer started without a
//      token option writes at start and removes at a clean exit.
// A peer's "Unauthenticated" answer names the file its token is in.
//
// The harness's local lab (test-harness/lab) hands one token file to every
// peer (--control-token-file); the coordinator needs none (it uses each
// registration's session token). A client that knows only an address uses
// 1 or 2.
//
// Thread safety: the functions read the environment and files; they are
// safe to call from any thread as long as nobody changes the environment.
#ifndef PEERLAB_BASE_CONTROL_TOKEN_H_
#define PEERLAB_BASE_CONTROL_TOKEN_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace peerlab {

// The environment variable that names a control token file, for peers (the
// default of --control-token-file) and for clients.
inline constexpr char kControlTokenFileEnv[] = "PEERLAB_CONTROL_TOKEN_FILE";

// The token file of the peer NAME on this machine:
// STATE/nodes/COMPONENT/control.token, where STATE is `state_dir` (a
// peer's --state-dir) or, when empty, UserStateDir(); the directories are
// created (0700) when missing. COMPONENT is NAME (as peer/identity's
// NodeStateDir uses it) unless NAME is empty, ".", "..", holds '/' or NUL,
// or is longer than 200 bytes; then NAME with every byte other than
// letters, digits, '-', '_' and '.' written %XX (and a leading '.').
// FailedPrecondition when there is no state directory or the component is
// still longer than 200 bytes.
absl::StatusOr<std::string> NodeControlTokenPath(
    std::string_view name, const std::string& state_dir = "");
// The file `file` (one path component) of the peer NAME on this machine,
// STATE/nodes/COMPONENT/FILE, as NodeControlTokenPath (which is
// NodeStateFilePath(name, "control.token", state_dir)).
absl::StatusOr<std::string> NodeStateFilePath(
    std::string_view name, std::string_view file,
    const std::string& state_dir = "");

// A token made for one run of a peer: a fresh random token (64 hex digits)
// written to NodeControlTokenPath(name) with mode 0600, atomically (a stale
// file of an earlier run is replaced). Destroying it removes the file when
// the file still holds this token (a newer run of the same name keeps its
// own). Not copyable.
class NodeControlToken {
 public:
  static absl::StatusOr<std::unique_ptr<NodeControlToken>> Create(
      std::string_view name, const std::string& state_dir = "");
  NodeControlToken(const NodeControlToken&) = delete;
  NodeControlToken& operator=(const NodeControlToken&) = delete;
  ~NodeControlToken();

  const std::string& path() const { return path_; }
  const std::string& token() const { return token_; }

 private:
  NodeControlToken(std::string path, std::string token)
      : path_(std::move(path)), token_(std::move(token)) {}
  const std::string path_;
  const std::string token_;
};

// A fresh random token: 64 hex digits from getrandom(2).
absl::StatusOr<std::string> RandomControlToken();

// A token file for a group of peers and their clients (a lab, a bench):
// `path` created with a fresh random token, mode 0600, atomically; an
// existing file is used as it is (ReadOrCreateSecretFile's checks).
// Returns the token.
absl::StatusOr<std::string> ReadOrCreateControlTokenFile(
    const std::string& path);

// A found token and the file it came from; both empty when there is none.
struct ControlToken {
  std::string token;
  std::string path;
};

// The token a client sends to a peer (see the top of this file for the
// order): `token_file` when not empty, else $PEERLAB_CONTROL_TOKEN_FILE,
// else the per-node file of `peer_name` (when not empty and the file
// exists). An empty ControlToken when none applies (the peer may be open on
// loopback). Errors (a named file missing, unreadable, empty) name the file.
absl::StatusOr<ControlToken> FindControlToken(const std::string& token_file,
                                              const std::string& peer_name);

// A channel to `address` whose every call carries "authorization: Bearer
// TOKEN" (a call that sets its own authorization metadata keeps it). An
// empty `token` sends none. Works on plaintext channels too (gRPC's call
// credentials do not).
std::shared_ptr<grpc::Channel> NewChannelWithToken(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    const std::string& token,
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

}  // namespace peerlab

#endif  // PEERLAB_BASE_CONTROL_TOKEN_H_
