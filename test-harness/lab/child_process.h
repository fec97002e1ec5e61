// ChildProcess: a program the lab starts (bootstrap server, coordinator,
// peers), with its output in a file, in a process group of its own (a
// Ctrl-C at the terminal reaches peerlab-test only, which then stops the
// lab in order), and bound to its parent by PR_SET_PDEATHSIG: if
// peerlab-test dies, even by SIGKILL, its children get SIGKILL.
//
// A watcher thread per child follows it with waitpid (exit, stop,
// continue), so waiting for a state never polls.
#ifndef PEERLAB_TEST_HARNESS_LAB_CHILD_PROCESS_H_
#define PEERLAB_TEST_HARNESS_LAB_CHILD_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace peerlab::harness {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;           // argv[0]: the program's path
    std::map<std::string, std::string> env;  // added to ours
    std::string output_path;  // stdout and stderr (appended); "": /dev/null
    // Called once, on the watcher thread, when the child has exited, with
    // its pid and ExitString(). Must not destroy the ChildProcess.
    std::function<void(pid_t, const std::string&)> on_exit;
  };

  // Forks and execs. PDEATHSIG is bound to the calling thread: start
  // children from a thread that lives as long as they should (the main
  // thread). Fails when the program cannot be executed.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(Options options);
  // SIGKILLs a child still running, reaps it, joins the watcher.
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const Options& options() const { return options_; }

  // kill(2) on the child. FailedPrecondition once it has exited.
  absl::Status Signal(int signal);
  // Waits until the child has exited / is stopped / runs again (after
  // SIGCONT); false at the timeout.
  bool WaitExited(absl::Duration timeout);
  bool WaitStopped(absl::Duration timeout);
  bool WaitContinued(absl::Duration timeout);
  bool exited() const;
  // "running", "exit code 2", "killed by signal 9 (Killed)".
  std::string ExitString() const;

  // SIGTERM (SIGCONT first, should it be stopped), then SIGKILL after
  // `grace`; returns once the child has exited.
  void Terminate(absl::Duration grace);

 private:
  ChildProcess(Options options, pid_t pid);
  void Watch();

  const Options options_;
  const pid_t pid_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool exited_ = false;
  bool stopped_ = false;
  int status_ = 0;          // waitpid status once exited
  uint64_t continues_ = 0;  // SIGCONTs seen
  std::thread watcher_;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_LAB_CHILD_PROCESS_H_
