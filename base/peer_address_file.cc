#include "base/peer_address_file.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/bounded_file.h"
#include "base/control_token.h"
#include "base/state_dir.h"

namespace peerlab {
namespace {

constexpr size_t kMaxFileBytes = 1024;
constexpr size_t kMaxDirectories = 1024;

bool Alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PeerAddressFile>> PeerAddressFile::Create(
    std::string_view name, const std::string& address,
    const std::string& state_dir) {
  absl::StatusOr<std::string> path =
      NodeStateFilePath(name, kPeerAddressFileName, state_dir);
  if (!path.ok()) return path.status();
  const std::string contents =
      absl::StrCat(address, "\n", ::getpid(), "\n", std::string(name), "\n");
  if (absl::Status s =
          WriteFileAtomically(*path, contents, "peer address file", 0600);
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<PeerAddressFile>(
      new PeerAddressFile(*std::move(path)));
}

PeerAddressFile::~PeerAddressFile() {
  absl::StatusOr<LocalPeer> peer = ReadPeerAddressFile(path_);
  if (peer.ok() && peer->pid == ::getpid()) ::unlink(path_.c_str());
}

absl::StatusOr<LocalPeer> ReadPeerAddressFile(const std::string& path) {
  absl::StatusOr<std::string> text =
      ReadFileBounded(path, kMaxFileBytes, "peer address file");
  if (!text.ok()) return text.status();
  std::vector<std::string> lines =
      absl::StrSplit(*text, '\n', absl::SkipEmpty());
  LocalPeer peer;
  int pid = 0;
  if (lines.size() != 3 || lines[0].empty() ||
      !absl::SimpleAtoi(lines[1], &pid) || lines[2].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("peer address file ", path,
                     ": not ADDRESS, PID and NAME on three lines"));
  }
  if (!Alive(pid)) {
    return absl::NotFoundError(
        absl::StrCat("peer address file ", path, ": its process ", pid,
                     " is gone (a peer that did not exit cleanly)"));
  }
  peer.address = lines[0];
  peer.pid = pid;
  peer.name = lines[2];
  peer.path = path;
  return peer;
}

absl::StatusOr<std::vector<LocalPeer>> FindLocalPeers(
    const std::string& state_dir) {
  absl::StatusOr<std::string> state =
      state_dir.empty() ? UserStateDir()
                        : absl::StatusOr<std::string>(state_dir);
  if (!state.ok()) return state.status();
  const std::string nodes = *state + "/nodes";
  std::vector<LocalPeer> out;
  DIR* dir = ::opendir(nodes.c_str());
  if (dir == nullptr) return out;  // no peer ever ran here
  size_t seen = 0;
  while (dirent* e = ::readdir(dir)) {
    const std::string entry = e->d_name;
    if (entry == "." || entry == "..") continue;
    if (++seen > kMaxDirectories) break;
    absl::StatusOr<LocalPeer> peer = ReadPeerAddressFile(
        absl::StrCat(nodes, "/", entry, "/", kPeerAddressFileName));
    if (peer.ok()) out.push_back(*std::move(peer));
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end(), [](const LocalPeer& a, const LocalPeer& b) {
    return a.name < b.name;
  });
  return out;
}

absl::StatusOr<LocalPeer> ResolvePeerAddress(const std::string& flag,
                                             const std::string& peer_name,
                                             const std::string& state_dir) {
  if (!flag.empty()) return LocalPeer{.address = flag};
  const char* env = std::getenv(kRpcAddrEnv);
  if (env != nullptr && *env != '\0') return LocalPeer{.address = env};
  const std::string tried =
      absl::StrCat("no --rpc-addr, $", kRpcAddrEnv, " not set");
  if (!peer_name.empty()) {
    absl::StatusOr<std::string> path =
        NodeStateFilePath(peer_name, kPeerAddressFileName, state_dir);
    if (!path.ok()) return path.status();
    absl::StatusOr<LocalPeer> peer = ReadPeerAddressFile(*path);
    if (absl::IsNotFound(peer.status())) {
      return absl::NotFoundError(absl::StrCat(
          tried, ", and peer ", peer_name,
          " is not running on this machine as this user (no live address "
          "file ",
          *path, "); give --rpc-addr HOST:PORT"));
    }
    return peer;
  }
  absl::StatusOr<std::vector<LocalPeer>> peers = FindLocalPeers(state_dir);
  if (!peers.ok()) {
    return absl::NotFoundError(absl::StrCat(
        tried, ", and no state directory to look for running peers in (",
        peers.status().message(), "); give --rpc-addr HOST:PORT"));
  }
  if (peers->size() == 1) return peers->front();
  if (peers->empty()) {
    absl::StatusOr<std::string> state =
        state_dir.empty() ? UserStateDir()
                          : absl::StatusOr<std::string>(state_dir);
    return absl::NotFoundError(absl::StrCat(
        tried, ", and no peer of this user runs on this machine (no live ",
        state.ok() ? *state : std::string("<state dir>"), "/nodes/*/",
        kPeerAddressFileName, "); give --rpc-addr HOST:PORT"));
  }
  std::vector<std::string> names;
  for (const LocalPeer& p : *peers) names.push_back(p.name);
  return absl::InvalidArgumentError(absl::StrCat(
      peers->size(), " peers run on this machine (", absl::StrJoin(names, ", "),
      "): say which with --peer NAME or --rpc-addr HOST:PORT"));
}

}  // namespace peerlab
