// Process helpers for end-to-end tests: temporary directories, child
// processes with captured output, waiting on files and exits with deadlines,
// and a one-call start of the real peerlab-bootstrap server.
//
// Test-only code (library target peerlab_testing). Nothing here sleeps for a
// fixed time: every wait polls a condition until a deadline and reports a
// DeadlineExceeded status naming what it waited for.
#ifndef PEERLAB_BASE_TESTING_SUBPROCESS_H_
#define PEERLAB_BASE_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace peerlab::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction unless the environment variable PEERLAB_KEEP_TEST_DIRS is set
// (handy when a test fails and its logs are wanted) or Keep() was called.
//
// Thread safety: path() is immutable after Create(); every method may be
// called from any thread.
class TempDir {
 public:
  // Creates the directory; `prefix` becomes part of its name.
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(
      const std::string& prefix = "peerlab-test");

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // `path()/name`. Does not create anything.
  std::string File(const std::string& name) const;
  // The directory and its contents outlive this object (a failed test keeps
  // its logs and reports; the test says where).
  void Keep() { keep_ = true; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  const std::string path_;
  std::atomic<bool> keep_ = false;
};

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // ended by exit(): `code` is valid
  int code = 0;
  bool signaled = false;  // killed by a signal: `signal` is valid
  int signal = 0;

  bool success() const { return exited && code == 0; }
  // "exit code 2", "killed by signal 9 (Killed)".
  std::string ToString() const;
};

// A child process started with fork/exec. Its stdout and stderr go to files;
// it gets SIGKILL if the thread that started it dies (PR_SET_PDEATHSIG), so
// start processes from a thread that outlives them (the test's main thread).
//
// The destructor SIGKILLs a child that is still running and reaps it.
//
// Thread safety: Signal() and pid() may be called from any thread; Wait()
// and Running() reap the child and must not race each other.
class Subprocess {
 public:
  struct Options {
    // argv[0] is the program path (no PATH search). Must not be empty.
    std::vector<std::string> argv;
    // Variables set (or overridden) on top of this process's environment.
    std::map<std::string, std::string> env;
    // Where the child's stdout and stderr go (created/truncated). Empty:
    // /dev/null.
    std::string stdout_path;
    std::string stderr_path;
  };

  // Starts the child. Fails if fork fails or the program cannot be exec'd
  // (the exec error is reported here, not as an exit status).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(Options options);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  const Options& options() const { return options_; }

  // Sends `signal` to the child. FailedPrecondition once it has been reaped.
  absl::Status Signal(int signal);

  // Waits until the child exits, at most `timeout`; DeadlineExceeded if it is
  // still running then (the child is left running). Once the child has been
  // reaped, returns the same status again.
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout);

  // SIGKILL, then Wait. For crash tests.
  absl::StatusOr<ExitStatus> Kill(absl::Duration timeout = absl::Seconds(10));

  // True while the child has not exited (reaps it when it has).
  bool Running();

  // Contents of the stdout/stderr files so far ("" for /dev/null).
  std::string ReadStdout() const;
  std::string ReadStderr() const;

 private:
  Subprocess(Options options, pid_t pid)
      : options_(std::move(options)), pid_(pid) {}
  // Reaps the child without blocking; true when it has exited.
  bool Poll();

  const Options options_;
  const pid_t pid_;
  bool reaped_ = false;
  ExitStatus status_;
};

// The whole contents of `path`, or NotFound/Unavailable.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` (created/truncated).
absl::Status WriteFile(const std::string& path, const std::string& contents);

// Waits until `path` holds at least one complete line (non-empty, ending in
// '\n') and returns its contents. Fails early with FailedPrecondition if
// `process` (optional) exits first, quoting its stderr; DeadlineExceeded
// after `timeout`.
absl::StatusOr<std::string> WaitForFileLine(const std::string& path,
                                            absl::Duration timeout,
                                            Subprocess* process = nullptr);

// Directory of the peerlab binaries: $PEERLAB_BIN_DIR (set by ctest for every
// peerlab_test). FailedPrecondition when unset.
absl::StatusOr<std::string> BinDir();

// A running peerlab-bootstrap.
struct BootstrapServer {
  std::unique_ptr<Subprocess> process;
  // "127.0.0.1:PORT", as the server wrote it to its ready file.
  std::string address;
};

// Starts $PEERLAB_BIN_DIR/peerlab-bootstrap --listen 127.0.0.1:0
// --ready-file DIR/... followed by `args` (e.g. {"--store", "memory:"}), with
// stdout/stderr in files under `dir` (names numbered, so restarts do not
// overwrite earlier logs), and waits up to `timeout` until it serves.
// Without a --store in `args` the server would use ./peerlab-bootstrap.json,
// so pass one.
absl::StatusOr<BootstrapServer> StartBootstrapServer(
    const std::string& dir, const std::vector<std::string>& args,
    absl::Duration timeout = absl::Seconds(15));

}  // namespace peerlab::testing

#endif  // PEERLAB_BASE_TESTING_SUBPROCESS_H_
