// Reading secrets (admin and control tokens) from files: the one function
// every binary uses, so a token file means the same everywhere.
#ifndef PEERLAB_BASE_TOKEN_FILE_H_
#define PEERLAB_BASE_TOKEN_FILE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/bounded_file.h"

namespace peerlab {

// The token in `text`: surrounding whitespace (spaces, tabs, CR, LF, a final
// newline) stripped. InvalidArgument, naming `what` (e.g.
// "--admin-token-file"), when nothing is left or when what is left is not
// something a client can send as "authorization: Bearer TOKEN": more than
// one line, a control character, NUL, or a byte outside printable ASCII.
absl::StatusOr<std::string> ParseToken(std::string_view text,
                                       std::string_view what);

// ParseToken of the file at `path`, read with ReadFileBounded (a regular
// file of at most kMaxTokenFileBytes). Errors name `what` and the path; a
// missing file says "no such file".
absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          const std::string& what);

}  // namespace peerlab

#endif  // PEERLAB_BASE_TOKEN_FILE_H_
