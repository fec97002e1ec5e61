// Reading and writing files safely: every read has a size limit, every path a
// program will write is checked before the program starts its work.
#ifndef PEERLAB_BASE_BOUNDED_FILE_H_
#define PEERLAB_BASE_BOUNDED_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace peerlab {

// Sizes for the kinds of files the project reads.
inline constexpr size_t kMaxTokenFileBytes = 4 * 1024;
inline constexpr size_t kMaxScriptFileBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxConfigFileBytes = 1024 * 1024;

// The whole contents of the regular file at `path`, which must hold at most
// `max_bytes` bytes. Errors name `what` (a flag such as "--admin-token-file"
// or a command such as "execute") and the path:
//   NotFound            "no such file"
//   FailedPrecondition  a directory, a device, a FIFO: anything not regular
//   PermissionDenied    not readable
//   ResourceExhausted   larger than max_bytes (checked while reading too, so
//                       a file that grows or lies about its size is cut off)
// Reads in bounded chunks and never allocates more than max_bytes + 1.
// Thread-safe.
absl::StatusOr<std::string> ReadFileBounded(const std::string& path,
                                            size_t max_bytes,
                                            std::string_view what);

// OK when a file can be created or replaced at `path`: the path is not empty,
// is not a directory, and its directory exists and is writable by this
// process. Errors name `what` and the path (NotFound for a missing directory,
// FailedPrecondition for a directory given as a file, PermissionDenied for a
// directory we cannot write). Creates nothing.
absl::Status CheckWritablePath(const std::string& path, std::string_view what);

// Replaces the regular file at `path` (or creates it) with `contents`,
// atomically and durably: a temporary file with a name chosen here (O_EXCL,
// in the same directory), written, fsynced, renamed over `path`, and then the
// directory fsynced, so that after an OK return a crash leaves either the old
// or the new contents, never a torn or missing file. A `path` that is a
// symbolic link is resolved first, so the link stays and its target is
// replaced. The file gets `mode` when given; otherwise it keeps the mode of
// the file it replaces (0644 for a new one). Refuses (FailedPrecondition) a
// `path` that exists and is not a regular file (a device, a FIFO, a
// directory): nothing is written. Errors come from errno (NotFound,
// PermissionDenied, Unavailable...) and name `what` and the path. This is the
// one atomic write of the project: use it rather than a rename of your own.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents,
                                 std::string_view what,
                                 std::optional<mode_t> mode = std::nullopt);

// Writes all of `data` to `fd`, retrying short writes and EINTR. Errors name
// `what` and `path` (the file behind `fd`, for the message only).
absl::Status WriteAllToFd(int fd, std::string_view data, std::string_view what,
                          const std::string& path);

// Fsyncs the directory that holds `path`, so that a rename or link made there
// survives a crash. Errors name `what` and the directory.
absl::Status SyncDirectoryOf(const std::string& path, std::string_view what);

// Opens `path` for appending (creating it 0644 when missing) and returns the
// descriptor, which the caller owns (close it). Never blocks: a FIFO, a
// socket, a directory or a block device is refused with FailedPrecondition;
// a regular file or a character device (/dev/null, a terminal) is accepted.
absl::StatusOr<int> OpenForAppend(const std::string& path,
                                  std::string_view what);

}  // namespace peerlab

#endif  // PEERLAB_BASE_BOUNDED_FILE_H_
