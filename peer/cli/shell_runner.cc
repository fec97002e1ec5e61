#include "peer/cli/shell_runner.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/spawn_program.h"

namespace peerlab::cli {

absl::Status RunProgram(const std::vector<std::string>& argv,
                        const ShellOptions& options) {
  // The one spawning helper (base/spawn_program.h): no shell, standard
  // error merged into standard output, handed on line by line as it
  // arrives (nothing kept beyond that), standard input empty.
  std::string pending;
  auto flush_lines = [&](bool all) {
    size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      if (options.on_line) options.on_line(pending.substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
    if (all && !pending.empty()) {
      if (options.on_line) options.on_line(pending);
      pending.clear();
    }
  };
  ProgramRun run;
  run.argv = argv;
  run.timeout = options.timeout;
  run.max_output = 0;
  run.max_error = 0;
  run.merge_error = true;
  run.on_output = [&](std::string_view piece) {
    pending.append(piece.data(), piece.size());
    flush_lines(false);
  };
  std::function<bool()> cancelled;
  if (options.cancel != nullptr) {
    cancelled = [cancel = options.cancel] { return cancel->cancelled(); };
  }
  ProgramResult result = SpawnProgram(run, cancelled);
  flush_lines(true);
  if (!result.spawn.ok()) {
    return absl::NotFoundError(result.spawn.message());
  }
  if (result.cancelled) {
    return absl::CancelledError(
        absl::StrCat(argv[0], " was stopped: ", options.cancel->reason()));
  }
  if (result.timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(argv[0], " ran longer than ",
                     absl::FormatDuration(options.timeout), " and was killed"));
  }
  if (result.exited) {
    if (result.exit_code == 0) return absl::OkStatus();
    if (result.exit_code == 127) {
      return absl::NotFoundError(absl::StrCat(argv[0], ": command not found"));
    }
    return absl::AbortedError(
        absl::StrCat(argv[0], " exited with status ", result.exit_code));
  }
  if (result.signal != 0) {
    return absl::AbortedError(
        absl::StrCat(argv[0], " was killed by signal ", result.signal));
  }
  return absl::UnknownError(absl::StrCat(argv[0], " ended strangely"));
}

}  // namespace peerlab::cli
