#include "test-harness/lab/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace peerlab::harness {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    Options options) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("ChildProcess: empty argv");
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (auto& a : options.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : options.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const std::string out_path =
      options.output_path.empty() ? "/dev/null" : options.output_path;

  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    return absl::UnavailableError(absl::StrCat("pipe: ", strerror(errno)));
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(error_pipe[0]);
    ::close(error_pipe[1]);
    return absl::UnavailableError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent is already gone
    // Signals blocked by the parent's signal thread stay blocked across
    // exec: unblock them.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &dfl, nullptr);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::execve(argv[0], argv.data(), envp.data());
    int err = errno;
    (void)!::write(error_pipe[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(error_pipe[1]);
  int err = 0;
  ssize_t n;
  do {
    n = ::read(error_pipe[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  if (n == sizeof(err)) {
    ::waitpid(pid, nullptr, 0);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", options.argv[0], ": ", strerror(err)));
  }
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(std::move(options), pid));
}

ChildProcess::ChildProcess(Options options, pid_t pid)
    : options_(std::move(options)), pid_(pid) {
  watcher_ = std::thread([this] { Watch(); });
}

ChildProcess::~ChildProcess() {
  if (!exited()) {
    ::kill(pid_, SIGKILL);
    ::kill(pid_, SIGCONT);
  }
  watcher_.join();
}

void ChildProcess::Watch() {
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WUNTRACED | WCONTINUED);
    if (r < 0 && errno == EINTR) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (r < 0) {  // cannot happen for our own child; treat as gone
        exited_ = true;
      } else if (WIFSTOPPED(status)) {
        stopped_ = true;
      } else if (WIFCONTINUED(status)) {
        stopped_ = false;
        ++continues_;
      } else {
        exited_ = true;
        status_ = status;
      }
      cv_.notify_all();
      if (!exited_) continue;
    }
    if (options_.on_exit) options_.on_exit(pid_, ExitString());
    return;
  }
}

absl::Status ChildProcess::Signal(int signal) {
  std::lock_guard<std::mutex> lock(mu_);
  if (exited_) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", pid_, " has exited"));
  }
  if (::kill(pid_, signal) != 0) {
    return absl::UnavailableError(absl::StrCat("kill: ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool ChildProcess::WaitExited(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [this] { return exited_; });
}

bool ChildProcess::WaitStopped(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] {
    return stopped_ || exited_;
  }) && !exited_;
}

bool ChildProcess::WaitContinued(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] {
    return !stopped_ || exited_;
  }) && !exited_;
}

bool ChildProcess::exited() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exited_;
}

std::string ChildProcess::ExitString() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!exited_) return stopped_ ? "stopped" : "running";
  if (WIFEXITED(status_))
    return absl::StrCat("exit code ", WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status_), " (",
                        strsignal(WTERMSIG(status_)), ")");
  }
  return "ended";
}

void ChildProcess::Terminate(absl::Duration grace) {
  if (exited()) return;
  ::kill(pid_, SIGTERM);
  ::kill(pid_, SIGCONT);  // a stopped process cannot act on SIGTERM
  if (WaitExited(grace)) return;
  ::kill(pid_, SIGKILL);
  WaitExited(absl::Seconds(10));
}

}  // namespace peerlab::harness
