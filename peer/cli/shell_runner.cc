#include "peer/cli/shell_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace peerlab::cli {

absl::Status RunProgram(const std::vector<std::string>& argv,
                        const ShellOptions& options) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("pipe: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so a timeout kills the program and its children;
  // default signal mask and dispositions even if the peer blocks some.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return absl::NotFoundError(
        absl::StrCat("cannot run ", argv[0], ": ", std::strerror(rc)));
  }

  const absl::Time deadline = absl::Now() + options.timeout;
  std::string pending;
  bool timed_out = false;
  bool cancelled = false;
  // Polls wake at least this often to look at options.cancel.
  const int64_t max_poll_ms = options.cancel ? 100 : 1000;
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
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    if (options.cancel && options.cancel->cancelled()) {
      cancelled = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1,
                   static_cast<int>(std::min<int64_t>(
                       absl::ToInt64Milliseconds(left) + 1, max_poll_ms)));
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) continue;
    char buf[4096];
    ssize_t got = ::read(fds[0], buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: every writer closed
    pending.append(buf, static_cast<size_t>(got));
    flush_lines(false);
  }
  flush_lines(true);
  ::close(fds[0]);
  // The program may have closed its output and still run: wait for it up to
  // the deadline as well.
  int status = 0;
  while (!timed_out && !cancelled) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (absl::Now() >= deadline) {
      timed_out = true;
      break;
    }
    if (options.cancel && options.cancel->cancelled()) {
      cancelled = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (timed_out || cancelled) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (cancelled) {
    return absl::CancelledError(
        absl::StrCat(argv[0], " was stopped: ", options.cancel->reason()));
  }
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(argv[0], " ran longer than ",
                     absl::FormatDuration(options.timeout), " and was killed"));
  }
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    if (code == 0) return absl::OkStatus();
    if (code == 127) {
      return absl::NotFoundError(absl::StrCat(argv[0], ": command not found"));
    }
    return absl::AbortedError(
        absl::StrCat(argv[0], " exited with status ", code));
  }
  if (WIFSIGNALED(status)) {
    return absl::AbortedError(
        absl::StrCat(argv[0], " was killed by signal ", WTERMSIG(status)));
  }
  return absl::UnknownError(absl::StrCat(argv[0], " ended strangely"));
}

}  // namespace peerlab::cli
