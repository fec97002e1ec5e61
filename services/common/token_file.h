// Reading secrets (admin and control tokens) from files.
#ifndef PEERLAB_SERVICES_COMMON_TOKEN_FILE_H_
#define PEERLAB_SERVICES_COMMON_TOKEN_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace peerlab {

// The contents of `path` without surrounding whitespace. InvalidArgument,
// naming `what` (e.g. "--admin-token-file") and the path, when the file
// cannot be read or holds nothing but whitespace.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          const std::string& what);

}  // namespace peerlab

#endif  // PEERLAB_SERVICES_COMMON_TOKEN_FILE_H_
