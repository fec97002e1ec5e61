// Runs one handler program without a shell: posix_spawnp with an argv, the
// inherited environment plus the given variables, `input` on standard
// input, standard output kept (bounded) and the first part of standard
// error kept for the log. The program gets its own process group and the
// default signal dispositions and an empty signal mask (whatever the
// calling thread had); at the deadline, or when `cancel` becomes true, the
// whole group is killed (SIGKILL). Blocks the calling thread until the
// program has ended and been reaped: call it on a worker thread
// (HandlerRunner), never on a protocol loop.
#ifndef PEERLAB_PEER_HANDLERS_RUN_PROGRAM_H_
#define PEERLAB_PEER_HANDLERS_RUN_PROGRAM_H_

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace peerlab::handlers {

struct ProgramRun {
  std::vector<std::string> argv;  // argv[0]: a path or a name in PATH
  // "NAME=VALUE" set on top of the inherited environment (replacing a
  // variable of the same name).
  std::vector<std::string> env;
  std::string input;  // written to standard input, then it is closed
  absl::Duration timeout = absl::Seconds(10);
  size_t max_output = 64 * 1024;  // standard output kept, bytes
  size_t max_error = 4 * 1024;    // standard error kept, bytes
};

struct ProgramResult {
  // NotFound/PermissionDenied/... when the program could not be started
  // (the rest is then empty).
  absl::Status spawn;
  bool exited = false;  // exit(): `exit_code` is valid
  int exit_code = 0;
  int signal = 0;          // killed by this signal (0: none)
  bool timed_out = false;  // killed at the deadline
  bool cancelled = false;  // killed because `cancel` became true
  std::string output;      // at most max_output bytes
  bool output_truncated = false;
  std::string error;  // the first max_error bytes of standard error
  absl::Duration elapsed;

  bool ok() const { return spawn.ok() && exited && exit_code == 0; }
  // "exit code 3", "killed by signal 9", "timed out after 1s", "cannot
  // start: ...".
  std::string Describe() const;
};

// Runs `run`. `cancel` (optional) is polled every few milliseconds.
// Thread-safe (each call is independent).
ProgramResult RunProgram(const ProgramRun& run,
                         const std::atomic<bool>* cancel = nullptr);

}  // namespace peerlab::handlers

#endif  // PEERLAB_PEER_HANDLERS_RUN_PROGRAM_H_
