// Where a local client finds a running peer's gRPC address without being
// told (peerlab-ctl's default, docs/agent.md). A peer writes its address
// into its per-node directory of the state directory (base/state_dir.h),
// beside its control token:
//   <state dir>/nodes/NAME/grpc.addr   "ADDRESS\nPID\nNAME\n", mode 0600
// at start, and removes it at a clean exit (when it still holds its own
// process id: a newer run of the name keeps its file). A client lists the
// files of live processes (a killed peer's file is skipped: its process id
// is gone), so several peers of one user on one machine each have theirs
// and are chosen among by name.
//
// Why a file and not a fixed port (Serf's 127.0.0.1:7373): peers pick a
// free gRPC port so that many run on one machine; a fixed default would
// serve only the first one, silently, and collide with a Serf agent.
//
// Thread safety: the functions read files and the environment; safe from
// any thread as long as nobody changes the environment.
#ifndef PEERLAB_BASE_PEER_ADDRESS_FILE_H_
#define PEERLAB_BASE_PEER_ADDRESS_FILE_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace peerlab {

// The file's name in the per-node directory.
inline constexpr char kPeerAddressFileName[] = "grpc.addr";
// The environment variable a client takes as the peer's address.
inline constexpr char kRpcAddrEnv[] = "PEERLAB_RPC_ADDR";

// The address file of one run of a peer: written at Create (atomically,
// 0600), removed by the destructor when it still names this process.
class PeerAddressFile {
 public:
  // `state_dir`: the peer's --state-dir, or "" for UserStateDir().
  static absl::StatusOr<std::unique_ptr<PeerAddressFile>> Create(
      std::string_view name, const std::string& address,
      const std::string& state_dir = "");
  PeerAddressFile(const PeerAddressFile&) = delete;
  PeerAddressFile& operator=(const PeerAddressFile&) = delete;
  ~PeerAddressFile();

  const std::string& path() const { return path_; }

 private:
  explicit PeerAddressFile(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

// A peer found on this machine.
struct LocalPeer {
  std::string name;
  std::string address;
  pid_t pid = 0;
  std::string path;  // its address file
};

// The peer of one address file; NotFound when the file is missing or its
// process is gone, InvalidArgument (naming the path) when malformed.
absl::StatusOr<LocalPeer> ReadPeerAddressFile(const std::string& path);

// Every live peer with an address file under `state_dir` (""
// UserStateDir()), sorted by name. Malformed and stale files are skipped.
// At most 1024 directories are looked at.
absl::StatusOr<std::vector<LocalPeer>> FindLocalPeers(
    const std::string& state_dir = "");

// Where a client finds the peer to call, in this order:
//   1. `flag` (--rpc-addr) when not empty;
//   2. $PEERLAB_RPC_ADDR when set and not empty;
//   3. the address file of `peer_name` (--peer) when not empty;
//   4. the one live peer with an address file on this machine.
// The result's name is empty for 1 and 2. Errors say what was tried:
// NotFound when nothing was found (no peer running here as this user),
// InvalidArgument when several run and none was named (listing them).
absl::StatusOr<LocalPeer> ResolvePeerAddress(const std::string& flag,
                                             const std::string& peer_name,
                                             const std::string& state_dir = "");

}  // namespace peerlab

#endif  // PEERLAB_BASE_PEER_ADDRESS_FILE_H_
