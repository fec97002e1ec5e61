// Where a peerlab program keeps what must survive a restart and must not be
// readable by other users: a node's own signing key and restart generation,
// the per-user group key, control tokens. One function decides the place, so
// every binary, the library and the tests agree.
#ifndef PEERLAB_BASE_STATE_DIR_H_
#define PEERLAB_BASE_STATE_DIR_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace peerlab {

// The per-user state directory, created (mode 0700, parents 0700 too) when
// missing:
//   $PEERLAB_STATE_DIR                 when set and not empty, else
//   $XDG_STATE_HOME/peerlab            when XDG_STATE_HOME is set, else
//   $HOME/.local/state/peerlab.
// Refused (FailedPrecondition, naming the path) when it is not a directory,
// is not owned by this user, or is writable by group or others (someone else
// could plant a key there). FailedPrecondition when neither
// PEERLAB_STATE_DIR nor HOME is set. Thread-safe (reads the environment).
absl::StatusOr<std::string> UserStateDir();

// `name` under `parent`, created with mode 0700 when missing; the same
// checks as UserStateDir, on `parent` too (refused before anything is made
// when others can write it: an explicit --state-dir gets them here). For a
// per-node directory such as
// "<state>/nodes/alice". REQUIRES: `name` is one path component (no '/').
absl::StatusOr<std::string> PrivateSubdirectory(const std::string& parent,
                                                std::string_view name);

// The contents of the secret file at `path`, created first when missing
// with the bytes `make()` returns, mode 0600. Creation is race-free: the
// bytes go to a temporary file that is hard-linked to `path`, so when two
// processes create it at once both end up reading the one that won.
// An existing file is refused (PermissionDenied, naming the path and its
// mode) when group or others may read or write it, FailedPrecondition when
// it is not a regular file or not owned by this user; it is read with a
// limit of `max_bytes` (ResourceExhausted beyond). Errors name `what`.
absl::StatusOr<std::string> ReadOrCreateSecretFile(
    const std::string& path, size_t max_bytes,
    const std::function<std::string()>& make, std::string_view what);

}  // namespace peerlab

#endif  // PEERLAB_BASE_STATE_DIR_H_
