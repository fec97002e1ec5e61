// The prompt's history file: plain text, one command line per line, oldest
// first, appended to as lines are entered (several peers sharing one file
// interleave their lines, as shells do).
#ifndef PEERLAB_PEER_CLI_HISTORY_FILE_H_
#define PEERLAB_PEER_CLI_HISTORY_FILE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace peerlab::cli {

// The history file to use: `flag` (--history-file) when set, otherwise
// $HOME/.peerlab_history; "" (no history file) when neither is available.
std::string HistoryPath(absl::string_view flag);

// The last `limit` lines of the file at `path`, oldest first; empty lines are
// skipped. A missing file gives an empty list. When the file holds more than
// twice `limit` lines it is rewritten (atomically) with the last `limit`, so
// it does not grow without bound.
absl::StatusOr<std::vector<std::string>> LoadHistory(const std::string& path,
                                                     size_t limit);

// Appends `line` and a newline to the file at `path`, creating it (mode
// 0600) when missing. `line` must not contain a newline (InvalidArgument).
absl::Status AppendHistory(const std::string& path, absl::string_view line);

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_HISTORY_FILE_H_
