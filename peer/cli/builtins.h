// The built-in commands every peer has, in the original's groups:
//   cli:    help, log, exit
//   script: execute, shell, sleep, echo
//   config: set, show, saveconfig, loadconfig
#ifndef PEERLAB_PEER_CLI_BUILTINS_H_
#define PEERLAB_PEER_CLI_BUILTINS_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peerlab/cli/config.h"
#include "peerlab/cli/registry.h"
#include "peerlab/cli/view.h"
#include "peerlab/base/cancellation.h"
#include "peerlab/runtime/logger.h"

namespace peerlab::cli {

// The program's logging, as `log` changes it: the CLI library links no
// logging library, so a program hands in what `log level` (and `log on
// FILE` without views) act on. The peer's is base/logging.h's
// SpdlogLogControl. Thread-safe: commands run on any thread.
class LogControl {
 public:
  virtual ~LogControl() = default;
  // `log level LEVEL [COMPONENT]`: every logger, or (`component` not empty)
  // the one named so; NotFound naming the loggers there are otherwise.
  virtual absl::Status SetLevel(runtime::LogLevel level,
                                const std::string& component) = 0;
  // `log on FILE` / `log off` without a ViewHub: the log records go to
  // FILE too (opened for appending), or no longer.
  virtual absl::Status FileOn(const std::string& path) = 0;
  virtual void FileOff() = 0;
  // One info record of the program's ("logging to FILE").
  virtual void Info(const std::string& message) = 0;
};

struct BuiltinsEnv {
  Registry* registry = nullptr;      // required
  ConfigRegistry* config = nullptr;  // required
  // The peer's views: `log on FILE` writes every line of every view there
  // (command output, messages, logs in logView). nullptr: `log on FILE`
  // asks `log_control` to log to the file instead.
  ViewHub* views = nullptr;
  // What `log level` changes (not owned; must outlive every command run).
  // nullptr: `log level` (and `log on FILE` without views) answer
  // FailedPrecondition.
  LogControl* log_control = nullptr;
  // `exit [CODE]` calls this, with -1 when no CODE was given; the program
  // decides how to end.
  std::function<void(int code)> request_exit;
  // File used by `saveconfig` without an argument.
  std::string default_config_file = "peerlab-peer.json";
  int max_script_depth = 8;
  // When set, `sleep` and `shell` end early once it is cancelled (the
  // program is shutting down): Cancelled, naming the reason. Not owned; must
  // outlive every command run.
  const Cancellation* cancel = nullptr;
};

// Settings of the built-ins, registered as config keys "shell.timeout",
// "shell.allow_remote" and "execute.allow_remote". Remote callers
// (PeerControl) can change neither allow_remote key (both are local_only
// in the ConfigRegistry): not with `set`, nor with `loadconfig` of a file
// that sets one, however the key is spelled in the JSON.
struct BuiltinSettings {
  absl::Duration shell_timeout = absl::Seconds(60);
  bool allow_remote_shell = true;
  bool allow_remote_execute = true;
  // "lab.allow_programs": whether the harness coordinator (a caller that
  // proved the lab's token, not the owner's control token) may run `shell`
  // and `execute` here. Off unless the peer's owner turns it on (the local
  // lab does, for the peers it starts); local_only like every allow* key.
  bool allow_lab_programs = false;
};
// Registers the built-in commands and their config keys.
// REQUIRES: env's pointers and `settings` outlive every command run.
absl::Status RegisterBuiltins(const BuiltinsEnv& env,
                              BuiltinSettings* settings);

// Runs the commands of script `path` one line at a time: blank lines and
// lines starting with '#' are skipped; the first failing line stops the
// script and its error reads "PATH:LINE: message". `depth` is the caller's
// nesting depth; FailedPrecondition past `max_depth`.
absl::Status ExecuteScript(const Registry& registry, const std::string& path,
                           Output& out, int depth, int max_depth,
                           bool remote = false);

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_BUILTINS_H_
