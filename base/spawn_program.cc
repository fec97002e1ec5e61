#include "base/spawn_program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace peerlab {
namespace {

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

absl::Status SpawnError(int err, const std::string& program) {
  const std::string what =
      absl::StrCat("cannot start ", program, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(what);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(what);
    default:
      return absl::InternalError(what);
  }
}

// The inherited environment with `extra` on top.
std::vector<std::string> Environment(const std::vector<std::string>& extra) {
  std::set<std::string> names;
  for (const std::string& e : extra) names.insert(e.substr(0, e.find('=')));
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string var(*e);
    if (names.contains(var.substr(0, var.find('=')))) continue;
    out.push_back(var);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string ProgramResult::Describe() const {
  if (!spawn.ok()) return std::string(spawn.message());
  if (timed_out) {
    return absl::StrCat("timed out after ", absl::FormatDuration(elapsed),
                        " (killed)");
  }
  if (cancelled) return "cancelled (killed)";
  if (exited) return absl::StrCat("exit code ", exit_code);
  if (signal != 0) {
    return absl::StrCat("killed by signal ", signal, " (", strsignal(signal),
                        ")");
  }
  return "ended";
}

ProgramResult SpawnProgram(const ProgramRun& run,
                           const std::function<bool()>& cancelled) {
  ProgramResult result;
  const absl::Time start = absl::Now();
  if (run.argv.empty() || run.argv[0].empty()) {
    result.spawn = absl::InvalidArgumentError("no program");
    return result;
  }
  // Writing to a program that stopped reading must not raise SIGPIPE in
  // the process: block it on this thread, take a pending one at the end.
  sigset_t pipe_only, old_mask;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
      ::pipe2(err, O_CLOEXEC) != 0) {
    result.spawn = SpawnError(errno, run.argv[0]);
    for (int* p : {in, out, err}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, run.merge_error ? out[1] : err[1],
                                   2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
  std::vector<std::string> argv_strings = run.argv;
  std::vector<std::string> env_strings = Environment(run.env);
  std::vector<char*> argv = Pointers(argv_strings);
  std::vector<char*> envp = Pointers(env_strings);
  pid_t pid = -1;
  const int rc =
      ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  CloseFd(in[0]);
  CloseFd(out[1]);
  CloseFd(err[1]);
  if (rc != 0) {
    result.spawn = SpawnError(rc, run.argv[0]);
    CloseFd(in[1]);
    CloseFd(out[0]);
    CloseFd(err[0]);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    return result;
  }
  for (int fd : {in[1], out[0], err[0]}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  size_t written = 0;
  if (run.input.empty()) CloseFd(in[1]);
  const absl::Time deadline = start + run.timeout;
  bool killed = false;
  int status = 0;
  bool reaped = false;
  char buf[4096];
  auto kill_group = [&] {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    killed = true;
  };
  while (!reaped) {
    if (!killed) {
      if (absl::Now() >= deadline) {
        result.timed_out = true;
        kill_group();
      } else if (cancelled && cancelled()) {
        result.cancelled = true;
        kill_group();
      }
    }
    pollfd fds[3];
    int n = 0;
    int in_at = -1, out_at = -1, err_at = -1;
    if (in[1] >= 0) {
      in_at = n;
      fds[n++] = {in[1], POLLOUT, 0};
    }
    if (out[0] >= 0) {
      out_at = n;
      fds[n++] = {out[0], POLLIN, 0};
    }
    if (err[0] >= 0) {
      err_at = n;
      fds[n++] = {err[0], POLLIN, 0};
    }
    if (n == 0) {
      // Every pipe closed: wait for the exit (the program may still run).
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        reaped = true;
        break;
      }
      if (killed) {
        ::waitpid(pid, &status, 0);
        reaped = true;
        break;
      }
      absl::SleepFor(absl::Milliseconds(2));
      continue;
    }
    const int wait_ms = killed ? 10 : 20;
    if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
    if (in_at >= 0 && fds[in_at].revents != 0) {
      const ssize_t w = ::write(in[1], run.input.data() + written,
                                run.input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN) CloseFd(in[1]);  // EPIPE: not reading
      if (written == run.input.size()) CloseFd(in[1]);
    }
    if (out_at >= 0 && fds[out_at].revents != 0) {
      const ssize_t r = ::read(out[0], buf, sizeof buf);
      if (r > 0) {
        if (run.on_output) {
          run.on_output(std::string_view(buf, static_cast<size_t>(r)));
        }
        const size_t room =
            run.max_output - std::min(run.max_output, result.output.size());
        result.output.append(buf, std::min(room, static_cast<size_t>(r)));
        if (static_cast<size_t>(r) > room) result.output_truncated = true;
      } else if (r == 0 || errno != EAGAIN) {
        CloseFd(out[0]);
      }
    }
    if (err_at >= 0 && fds[err_at].revents != 0) {
      const ssize_t r = ::read(err[0], buf, sizeof buf);
      if (r > 0) {
        const size_t room =
            run.max_error - std::min(run.max_error, result.error.size());
        result.error.append(buf, std::min(room, static_cast<size_t>(r)));
      } else if (r == 0 || errno != EAGAIN) {
        CloseFd(err[0]);
      }
    }
    if (killed && ::waitpid(pid, &status, WNOHANG) == pid) reaped = true;
  }
  if (!reaped) ::waitpid(pid, &status, 0);
  CloseFd(in[1]);
  CloseFd(out[0]);
  CloseFd(err[0]);
  // A SIGPIPE raised by our writes is pending on this thread: take it.
  sigset_t pending;
  sigpending(&pending);
  if (sigismember(&pending, SIGPIPE)) {
    timespec zero{0, 0};
    sigtimedwait(&pipe_only, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (WIFEXITED(status)) {
    result.exited = !killed;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  result.elapsed = absl::Now() - start;
  return result;
}

}  // namespace peerlab
