// Registry: the one table of commands that the prompt, scripts and remote
// control all execute through.
#ifndef PEERLAB_PEER_CLI_REGISTRY_H_
#define PEERLAB_PEER_CLI_REGISTRY_H_

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "peerlab/cli/command.h"

namespace peerlab::cli {

// Thread-safe: commands may be registered and executed from any thread, and
// several commands may run at once (a handler guards its own state).
class Registry {
 public:
  // Adds `command`. AlreadyExists when the name is taken; InvalidArgument for
  // an empty or malformed name, a missing handler or group.
  absl::Status Register(Command command);

  // Parses and runs one line. An empty line is OK. Unknown command:
  // NotFound `unknown command "x"` plus the closest names. Wrong number of
  // arguments: InvalidArgument with the usage line. The handler's status is
  // returned as is; a handler that throws gives Internal. Never ends the
  // program.
  absl::Status Execute(absl::string_view line, Output& out, int depth = 0,
                       bool remote = false) const;

  // What Execute does with a line typed by a person: at depth 0, not
  // remote, not starting with '/', and whose first word is not a command
  // (e.g. the chat sends such a line as a message). The fallback gets the
  // whole line, unparsed, and returns the line's status, or nullopt to
  // decline (then the line is an unknown command, as without a fallback).
  // Scripts (depth > 0) and remote calls never use it, so a typo there is
  // an error, not a message. A line that is one word within a small edit
  // distance of a command (1, or 2 from 8 letters on; never below 3
  // letters) is not given to the fallback either: it is refused with "did
  // you mean …" (`msg WORD` sends such a word).
  using Fallback = std::function<std::optional<absl::Status>(
      absl::string_view line, Output& out)>;
  void SetFallback(Fallback fallback);

  // A copy of the command named `name`, if registered.
  std::optional<Command> Find(absl::string_view name) const;
  // All commands, sorted by name.
  std::vector<Command> Commands() const;
  // Group names, sorted.
  std::vector<std::string> Groups() const;
  // Up to `limit` registered names closest to `name` (edit distance at most
  // 3, or sharing its prefix), best first.
  std::vector<std::string> Suggest(absl::string_view name,
                                   size_t limit = 3) const;

 private:
  // The commands `word` is probably a typo of (see SetFallback).
  std::vector<std::string> TypoOf(absl::string_view word) const;

  mutable std::mutex mu_;
  std::map<std::string, Command, std::less<>> commands_;
  Fallback fallback_;
};

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_REGISTRY_H_
