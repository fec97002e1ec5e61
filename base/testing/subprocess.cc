#include "base/testing/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/testing/eventually.h"

extern char** environ;

namespace peerlab::testing {
namespace {

std::string Errno(absl::string_view what) {
  return absl::StrCat(what, ": ", strerror(errno));
}

// Opens `path` for the child's output (or /dev/null) before fork, so the
// child only has to dup2.
int OpenOutput(const std::string& path) {
  const char* p = path.empty() ? "/dev/null" : path.c_str();
  return ::open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create(
    const std::string& prefix) {
  const char* tmp = getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp", "/",
                                   prefix, "-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::UnavailableError(Errno(absl::StrCat("mkdtemp ", templ)));
  }
  return std::unique_ptr<TempDir>(new TempDir(templ));
}

TempDir::~TempDir() {
  if (keep_ || getenv("PEERLAB_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::File(const std::string& name) const {
  return absl::StrCat(path_, "/", name);
}

std::string ExitStatus::ToString() const {
  if (exited) return absl::StrCat("exit code ", code);
  if (signaled) {
    return absl::StrCat("killed by signal ", signal, " (", strsignal(signal),
                        ")");
  }
  return "not ended";
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(Options options) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("Subprocess: empty argv");
  }
  // Everything the child needs is built before fork: after fork, only
  // async-signal-safe calls are allowed (the parent has threads).
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) continue;
    env_map[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : options.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out_fd = OpenOutput(options.stdout_path);
  if (out_fd < 0) return absl::UnavailableError(Errno(options.stdout_path));
  int err_fd = OpenOutput(options.stderr_path);
  if (err_fd < 0) {
    ::close(out_fd);
    return absl::UnavailableError(Errno(options.stderr_path));
  }
  int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // The child reports an exec failure (its errno) through this pipe; a
  // successful exec closes it (O_CLOEXEC) and the parent reads nothing.
  int report[2];
  if (in_fd < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    std::string error = Errno("pipe");
    ::close(out_fd);
    ::close(err_fd);
    if (in_fd >= 0) ::close(in_fd);
    return absl::UnavailableError(error);
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::string error = Errno("fork");
    for (int fd : {out_fd, err_fd, in_fd, report[0], report[1]}) ::close(fd);
    return absl::UnavailableError(error);
  }
  if (pid == 0) {
    // Child. Die with the parent thread; if it is already gone, do not run.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) ::signal(s, SIG_DFL);
    // dup2 clears O_CLOEXEC on the new descriptors.
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    int e = errno;
    ssize_t ignored = ::write(report[1], &e, sizeof(e));
    (void)ignored;
    ::_exit(127);
  }

  for (int fd : {out_fd, err_fd, in_fd, report[1]}) ::close(fd);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    int status;
    ::waitpid(pid, &status, 0);
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot execute ", options.argv[0], ": ", strerror(child_errno)));
  }
  return std::unique_ptr<Subprocess>(new Subprocess(std::move(options), pid));
}

Subprocess::~Subprocess() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

absl::Status Subprocess::Signal(int signal) {
  if (reaped_) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", pid_, " has already ended"));
  }
  if (::kill(pid_, signal) != 0) {
    return absl::UnavailableError(Errno(absl::StrCat("kill ", pid_)));
  }
  return absl::OkStatus();
}

bool Subprocess::Poll() {
  if (reaped_) return true;
  int status;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  reaped_ = true;
  if (r < 0) return true;  // not our child any more; status unknown
  if (WIFEXITED(status)) {
    status_.exited = true;
    status_.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    status_.signaled = true;
    status_.signal = WTERMSIG(status);
  }
  return true;
}

absl::StatusOr<ExitStatus> Subprocess::Wait(absl::Duration timeout) {
  if (!Eventually([this] { return Poll(); }, timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("process ", pid_, " (", options_.argv[0],
                     ") still running after ", absl::FormatDuration(timeout)));
  }
  return status_;
}

absl::StatusOr<ExitStatus> Subprocess::Kill(absl::Duration timeout) {
  if (!reaped_) ::kill(pid_, SIGKILL);
  return Wait(timeout);
}

bool Subprocess::Running() { return !Poll(); }

std::string Subprocess::ReadStdout() const {
  if (options_.stdout_path.empty()) return "";
  return ReadFile(options_.stdout_path).value_or("");
}

std::string Subprocess::ReadStderr() const {
  if (options_.stderr_path.empty()) return "";
  return ReadFile(options_.stderr_path).value_or("");
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("reading ", path));
  return ss.str();
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("writing ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> WaitForFileLine(const std::string& path,
                                            absl::Duration timeout,
                                            Subprocess* process) {
  std::string contents;
  bool exited = false;
  bool ready = Eventually(
      [&] {
        auto c = ReadFile(path);
        if (c.ok() && !c->empty() && c->back() == '\n') {
          contents = *std::move(c);
          return true;
        }
        if (process != nullptr && !process->Running()) {
          exited = true;
          return true;
        }
        return false;
      },
      timeout);
  if (exited) {
    auto status = process->Wait(absl::ZeroDuration());
    return absl::FailedPreconditionError(absl::StrCat(
        process->options().argv[0], " ended (",
        status.ok() ? status->ToString() : "?", ") before writing ", path,
        "; stderr:\n", process->ReadStderr()));
  }
  if (!ready) {
    return absl::DeadlineExceededError(absl::StrCat(
        "no line in ", path, " after ", absl::FormatDuration(timeout)));
  }
  return contents;
}

absl::StatusOr<std::string> BinDir() {
  const char* dir = getenv("PEERLAB_BIN_DIR");
  if (dir == nullptr || *dir == '\0') {
    return absl::FailedPreconditionError(
        "PEERLAB_BIN_DIR is not set (run the test through ctest)");
  }
  return std::string(dir);
}

absl::StatusOr<BootstrapServer> StartBootstrapServer(
    const std::string& dir, const std::vector<std::string>& args,
    absl::Duration timeout) {
  auto bin = BinDir();
  if (!bin.ok()) return bin.status();
  static std::atomic<int> counter{0};
  const std::string stem =
      absl::StrCat(dir, "/bootstrap-", counter.fetch_add(1));
  const std::string ready_file = stem + ".ready";
  std::remove(ready_file.c_str());

  Subprocess::Options options;
  options.argv = {*bin + "/peerlab-bootstrap", "--listen", "127.0.0.1:0",
                  "--ready-file", ready_file};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdout_path = stem + ".stdout";
  options.stderr_path = stem + ".stderr";
  auto process = Subprocess::Start(std::move(options));
  if (!process.ok()) return process.status();

  auto line = WaitForFileLine(ready_file, timeout, process->get());
  if (!line.ok()) return line.status();
  BootstrapServer server;
  server.process = *std::move(process);
  server.address = std::string(absl::StripTrailingAsciiWhitespace(*line));
  return server;
}

}  // namespace peerlab::testing
