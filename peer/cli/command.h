// What a component registers to put a function on the command line.
//
//   registry.Register({
//       .name = "greet",
//       .group = "demo",
//       .usage = "greet NAME",
//       .summary = "says hello",
//       .min_args = 1,
//       .max_args = 1,
//       .handler = [](const Call& call, Output& out) {
//         out.Print(absl::StrCat("hello, ", call.args[0]));
//         return absl::OkStatus();
//       }});
#ifndef PEERLAB_PEER_CLI_COMMAND_H_
#define PEERLAB_PEER_CLI_COMMAND_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace peerlab::cli {

// Where a command writes. Output goes to views (see view.h); Print() goes to
// "outputView". An implementation may also capture the lines (remote
// Execute returns them). Implementations are thread-safe.
class Output {
 public:
  virtual ~Output() = default;
  // One or more lines to `view`.
  virtual void ToView(absl::string_view view, absl::string_view text) = 0;
  // One or more lines to outputView.
  void Print(absl::string_view text);
};

// One invocation of a command, as the handler sees it.
struct Call {
  std::string command;            // the name as registered
  std::vector<std::string> args;  // words after the command, unquoted
  std::string rest;               // raw text after the command word
  int depth = 0;                  // script nesting depth (0 = typed/remote)
  bool remote = false;            // came through PeerControl

  // args[i] as a number; InvalidArgument naming `what` when it is not one.
  absl::StatusOr<int64_t> Int(size_t i, absl::string_view what) const;
  absl::StatusOr<double> Double(size_t i, absl::string_view what) const;
  // args[i] as seconds (fractions allowed, e.g. "0.5"), at least zero.
  absl::StatusOr<absl::Duration> Seconds(size_t i,
                                         absl::string_view what) const;
};

// How the interactive prompt completes a command's arguments.
enum class Completion { kNone, kFile, kCommand };

using Handler = std::function<absl::Status(const Call& call, Output& out)>;

struct Command {
  std::string name;     // one word: letters, digits, '-', '_', '.'
  std::string group;    // "script", "cli", "bootstrap", …
  std::string usage;    // "execute FILE"
  std::string summary;  // one line for `help`
  std::string help;     // longer text for `help COMMAND`; may be empty
  int min_args = 0;
  int max_args = -1;  // -1: no limit
  Completion completion = Completion::kNone;
  Handler handler;
};

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_COMMAND_H_
