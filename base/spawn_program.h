// The one way peerlab starts a program (the `shell` command,
// peer/cli/shell_runner.h; event handlers, peer/handlers/run_program.h):
// posix_spawnp with an argv, never a shell; the inherited environment plus
// the given variables; `input` on standard input; standard output kept up
// to a bound (and handed on as it arrives when asked), standard error kept
// apart or merged into it. The program gets its own process group, the
// default signal dispositions and an empty signal mask (whatever the
// calling thread had); at the deadline, or when `cancelled()` turns true,
// the whole group is killed (SIGKILL). Blocks the calling thread until the
// program has ended and been reaped: call it on a worker thread, never on a
// protocol loop. Thread-safe (each call is independent).
#ifndef PEERLAB_BASE_SPAWN_PROGRAM_H_
#define PEERLAB_BASE_SPAWN_PROGRAM_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace peerlab {

struct ProgramRun {
  std::vector<std::string> argv;  // argv[0]: a path or a name in PATH
  // "NAME=VALUE" set on top of the inherited environment (replacing a
  // variable of the same name).
  std::vector<std::string> env;
  std::string input;  // written to standard input, then it is closed
  absl::Duration timeout = absl::Seconds(10);
  size_t max_output = 64 * 1024;  // standard output kept, bytes
  size_t max_error = 4 * 1024;    // standard error kept, bytes
  // Standard error goes where standard output goes (merged in the order
  // written); ProgramResult::error stays empty.
  bool merge_error = false;
  // When set, gets every piece of standard output as it arrives (all of
  // it, beyond max_output too), on the calling thread.
  std::function<void(std::string_view)> on_output;
};

struct ProgramResult {
  // NotFound/PermissionDenied/... when the program could not be started
  // (the rest is then empty).
  absl::Status spawn;
  bool exited = false;  // exit(): `exit_code` is valid
  int exit_code = 0;
  int signal = 0;          // killed by this signal (0: none)
  bool timed_out = false;  // killed at the deadline
  bool cancelled = false;  // killed because `cancelled()` turned true
  std::string output;      // at most max_output bytes
  bool output_truncated = false;
  std::string error;  // the first max_error bytes of standard error
  absl::Duration elapsed;

  bool ok() const { return spawn.ok() && exited && exit_code == 0; }
  // "exit code 3", "killed by signal 9", "timed out after 1s", "cannot
  // start: ...".
  std::string Describe() const;
};

// Runs `run`. `cancelled` (optional) is polled every few milliseconds.
ProgramResult SpawnProgram(const ProgramRun& run,
                           const std::function<bool()>& cancelled = nullptr);

}  // namespace peerlab

#endif  // PEERLAB_BASE_SPAWN_PROGRAM_H_
