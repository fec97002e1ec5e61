// Runs an external program for the `shell` command: no shell unless asked,
// output captured line by line, a timeout.
#ifndef PEERLAB_PEER_CLI_SHELL_RUNNER_H_
#define PEERLAB_PEER_CLI_SHELL_RUNNER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peerlab/base/cancellation.h"

namespace peerlab::cli {

struct ShellOptions {
  absl::Duration timeout = absl::Seconds(60);
  // Receives each line the program writes to stdout or stderr (merged, in
  // the order written), as it arrives.
  std::function<void(const std::string& line)> on_line;
  // When set and cancelled while the program runs, its process group is
  // killed within about 100 ms and RunProgram returns Cancelled. Not owned.
  const Cancellation* cancel = nullptr;
};

// Runs argv[0] (looked up in PATH) with argv. OK when it exits 0.
// Otherwise: Aborted "PROG exited with status N" or "PROG was killed by
// signal S"; DeadlineExceeded when it ran past the timeout (its process group
// is killed); Cancelled when options.cancel was cancelled
// (killed the same way); NotFound when it cannot be started. Thread-safe.
// REQUIRES: !argv.empty().
absl::Status RunProgram(const std::vector<std::string>& argv,
                        const ShellOptions& options);

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_SHELL_RUNNER_H_
