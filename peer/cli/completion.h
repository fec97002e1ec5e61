// Tab completion for the interactive prompt: command names from a Registry,
// and an argument by its command's cli::Completion (file paths, or command
// names for `help`). Pure apart from listing directories.
#ifndef PEERLAB_PEER_CLI_COMPLETION_H_
#define PEERLAB_PEER_CLI_COMPLETION_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "peer/cli/registry.h"

namespace peerlab::cli {

// What pressing Tab does to a line.
struct CompletionResult {
  // Byte offset where the word being completed starts. The editor replaces
  // the text from here to the cursor with `replacement`.
  size_t word_start = 0;
  // The longest common prefix of the matches, escaped so that the parser
  // gives it back (a backslash before spaces, quotes and backslashes), plus a
  // space when exactly one match is complete (not a directory). When there
  // is no match: the word exactly as typed.
  std::string replacement;
  // Every match as listed for the user, sorted: command names (with the
  // leading '/' when one was typed), or the last component of each path
  // with a '/' after directories.
  std::vector<std::string> matches;
};

// Completes `line`, the text before the cursor. The first word completes
// from the command names of `registry` (a leading '/' is kept). A later word
// completes as its command asks: Completion::kFile from the file system
// (relative paths under `cwd`; hidden entries only when the word's last
// component starts with '.'), Completion::kCommand from the command names,
// Completion::kNone and unknown commands not at all. Quotes and backslashes
// in the typed word are understood as the parser understands them; an
// unterminated quote is allowed.
CompletionResult Complete(const cli::Registry& registry, absl::string_view line,
                          const std::string& cwd = ".");

// Escapes `word` for the command-line parser with backslashes only, so that
// an escaped prefix is a prefix of the escaped word.
std::string EscapeWord(absl::string_view word);

// Lays `items` out in columns (top to bottom, then left to right, like ls)
// in at most `width` characters per row. Rows are separated by '\n'; there
// is no trailing newline. An empty list gives "".
std::string FormatColumns(const std::vector<std::string>& items, size_t width);

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_COMPLETION_H_
