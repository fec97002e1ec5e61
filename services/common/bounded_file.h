// Reading and writing files safely: every read has a size limit, every path a
// program will write is checked before the program starts its work.
#ifndef PEERLAB_SERVICES_COMMON_BOUNDED_FILE_H_
#define PEERLAB_SERVICES_COMMON_BOUNDED_FILE_H_

#include <cstddef>
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
// atomically: a temporary file with a name chosen here (O_EXCL, in the same
// directory), fsynced, then renamed over `path`. A `path` that is a symbolic
// link is resolved first, so the link stays and its target is replaced.
// Refuses (FailedPrecondition) a `path` that exists and is not a regular file
// (a device, a FIFO, a directory): nothing is written. Errors name `what`.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents,
                                 std::string_view what);

// Opens `path` for appending (creating it 0644 when missing) and returns the
// descriptor, which the caller owns (close it). Never blocks: a FIFO, a
// socket, a directory or a block device is refused with FailedPrecondition;
// a regular file or a character device (/dev/null, a terminal) is accepted.
absl::StatusOr<int> OpenForAppend(const std::string& path,
                                  std::string_view what);

}  // namespace peerlab

#endif  // PEERLAB_SERVICES_COMMON_BOUNDED_FILE_H_
