#include "base/testing/postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace peerlab::testing {
namespace {

constexpr char kRunuser[] = "/usr/sbin/runuser";
constexpr absl::Duration kToolTimeout = absl::Seconds(60);

bool IsExecutable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// A TCP port on 127.0.0.1 that nobody listens on right now (bind to port 0,
// read it back, close). Another process could take it before PostgreSQL
// does; Start() retries with a new port when that happens.
absl::StatusOr<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string error = std::strerror(errno);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("free port: ", error));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

absl::Status PostgresAvailable() {
  for (const char* tool : {"initdb", "pg_ctl", "createdb", "psql"}) {
    std::string path = absl::StrCat(kPostgresBinDir, "/", tool);
    if (!IsExecutable(path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "PostgreSQL 15 is not installed (no ", path,
          "); install the Debian package `postgresql` (scripts/setup does)"));
    }
  }
  if (::geteuid() == 0) {
    if (::getpwnam("postgres") == nullptr) {
      return absl::FailedPreconditionError(
          "running as root, and initdb refuses root, but there is no "
          "`postgres` user to run it as");
    }
    if (!IsExecutable(kRunuser)) {
      return absl::FailedPreconditionError(
          absl::StrCat("running as root, and initdb refuses root, but ",
                       kRunuser, " (to run it as `postgres`) is missing"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  if (auto s = PostgresAvailable(); !s.ok()) return s;
  auto dir = TempDir::Create("peerlab-postgres");
  if (!dir.ok()) return dir.status();
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (::chown((*dir)->path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "chown ", (*dir)->path(), " to postgres: ", std::strerror(errno)));
    }
  }
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto port = FreePort();
    if (!port.ok()) return port.status();
    std::unique_ptr<PostgresServer> server(
        new PostgresServer(std::move(*dir), *port));
    if (attempt == 0) {
      auto init =
          server->Run("initdb",
                      {"-D", server->data_dir(), "-A", "trust", "-U",
                       "postgres", "-E", "UTF8", "--locale=C", "--no-sync"},
                      kToolTimeout);
      if (!init.ok()) return init.status();
    }
    last = server->PgCtlStart();
    if (last.ok()) return server;
    // Most likely the port was taken meanwhile: try another one.
    dir = std::move(server->dir_);
  }
  return last;
}

PostgresServer::~PostgresServer() {
  if (running_) {
    (void)Run("pg_ctl", {"stop", "-D", data_dir(), "-m", "immediate", "-w"},
              absl::Seconds(30));
  }
}

std::string PostgresServer::data_dir() const { return dir_->File("data"); }

std::string PostgresServer::uri(const std::string& database) const {
  return absl::StrCat("postgres://postgres@127.0.0.1:", port_, "/", database);
}

std::string PostgresServer::Log() const {
  return ReadFile(dir_->File("postgres.log")).value_or("");
}

absl::StatusOr<std::string> PostgresServer::Run(
    const std::string& program, const std::vector<std::string>& args,
    absl::Duration timeout) {
  Subprocess::Options options;
  const std::string path = absl::StrCat(kPostgresBinDir, "/", program);
  if (::geteuid() == 0) {
    options.argv = {kRunuser, "-u", "postgres", "--", path};
  } else {
    options.argv = {path};
  }
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  static std::atomic<int> counter{0};
  const std::string out =
      dir_->File(absl::StrCat(program, "-", counter.fetch_add(1), ".out"));
  options.stdout_path = out;
  options.stderr_path = out + ".err";
  // Point the tools at this server whatever the caller's PG* settings are.
  options.env["PGHOST"] = "127.0.0.1";
  options.env["PGPORT"] = absl::StrCat(port_);
  options.env["PGUSER"] = "postgres";
  options.env["PGDATABASE"] = "postgres";
  auto process = Subprocess::Start(options);
  if (!process.ok()) return process.status();
  auto exit = (*process)->Wait(timeout);
  std::string output = (*process)->ReadStdout() + (*process)->ReadStderr();
  std::error_code ec;
  std::filesystem::remove(out, ec);
  std::filesystem::remove(out + ".err", ec);
  if (!exit.ok()) {
    (void)(*process)->Kill();
    return absl::DeadlineExceededError(
        absl::StrCat(program, " ", absl::StrJoin(args, " "), ": ",
                     exit.status().message(), "\n", output));
  }
  if (!exit->success()) {
    return absl::FailedPreconditionError(
        absl::StrCat(program, " ", absl::StrJoin(args, " "), " failed (",
                     exit->ToString(), "):\n", output));
  }
  return output;
}

absl::Status PostgresServer::PgCtlStart() {
  const std::string options =
      absl::StrCat("-p ", port_, " -k ", dir_->path(),
                   " -c listen_addresses=127.0.0.1 -c max_connections=60"
                   " -c shared_buffers=16MB -c log_min_messages=warning");
  auto started = Run("pg_ctl",
                     {"start", "-D", data_dir(), "-w", "-t", "30", "-l",
                      dir_->File("postgres.log"), "-o", options},
                     kToolTimeout);
  if (!started.ok()) {
    return absl::Status(
        started.status().code(),
        absl::StrCat(started.status().message(), "\nserver log:\n", Log()));
  }
  running_ = true;
  return absl::OkStatus();
}

absl::Status PostgresServer::Stop() {
  if (!running_) return absl::OkStatus();
  auto stopped = Run("pg_ctl", {"stop", "-D", data_dir(), "-m", "fast", "-w"},
                     kToolTimeout);
  if (!stopped.ok()) return stopped.status();
  running_ = false;
  return absl::OkStatus();
}

absl::Status PostgresServer::Restart() {
  if (running_) return absl::OkStatus();
  return PgCtlStart();
}

absl::Status PostgresServer::CreateDatabase(const std::string& name) {
  auto created = Run(
      "createdb",
      {"-h", "127.0.0.1", "-p", absl::StrCat(port_), "-U", "postgres", name},
      kToolTimeout);
  return created.status();
}

absl::StatusOr<std::string> PostgresServer::NewDatabase() {
  const std::string name = absl::StrCat("t", ++databases_);
  if (auto s = CreateDatabase(name); !s.ok()) return s;
  return uri(name);
}

absl::StatusOr<std::string> PostgresServer::Psql(const std::string& database,
                                                 const std::string& sql) {
  auto out = Run(
      "psql",
      {"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
       absl::StrCat(port_), "-U", "postgres", "-d", database, "-c", sql},
      kToolTimeout);
  if (!out.ok()) return out.status();
  return std::string(absl::StripTrailingAsciiWhitespace(*out));
}

}  // namespace peerlab::testing
