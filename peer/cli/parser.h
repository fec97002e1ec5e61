// Splitting a command line into words, the way a shell user expects.
#ifndef PEERLAB_PEER_CLI_PARSER_H_
#define PEERLAB_PEER_CLI_PARSER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace peerlab::cli {

// A command line split into its command and arguments.
struct ParsedLine {
  std::string command;            // first word, without a leading '/'
  std::vector<std::string> args;  // the other words, unquoted
  std::string rest;               // raw text after the command word
};

// Splits `line` into words. Words are separated by spaces or tabs; "double"
// and 'single' quotes group words (single quotes take everything literally,
// double quotes honour \" and \\); outside single quotes a backslash escapes
// the next character. InvalidArgument for an unterminated quote or a
// trailing backslash, naming the column.
absl::StatusOr<std::vector<std::string>> SplitWords(absl::string_view line);

// Splits `line` and separates the command word; the original's leading '/'
// is accepted and optional. An empty or blank line gives an empty command.
absl::StatusOr<ParsedLine> ParseLine(absl::string_view line);

// Quotes `word` so that SplitWords gives it back unchanged.
std::string QuoteWord(absl::string_view word);

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(absl::string_view a, absl::string_view b);

// Up to `limit` of `candidates` closest to `name`: edit distance at most 3
// (1 for a candidate that starts with `name`), best first, then by name.
std::vector<std::string> ClosestNames(
    absl::string_view name, const std::vector<std::string>& candidates,
    size_t limit = 3);

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_PARSER_H_
