// A private PostgreSQL 15 server for tests: `initdb` into a temporary
// folder, `pg_ctl start` on a free loopback port (its Unix socket in the same
// folder), torn down and removed on destruction.
//
// initdb refuses to run as root. When the test runs as root, every
// PostgreSQL program runs as the `postgres` user (through runuser) and the
// folder is handed to that user; any other user runs them as itself.
// PostgresAvailable() says whether this machine can do either, so tests can
// GTEST_SKIP with the reason instead of failing.
//
// Test-only code (library target peerlab_testing). Waits poll with
// deadlines (pg_ctl -w); nothing sleeps for a fixed time.
//
// Thread safety: uri(), port() and database helpers may be called from any
// thread; Stop()/Start() must not race each other or the destructor.
#ifndef PEERLAB_BASE_TESTING_POSTGRES_H_
#define PEERLAB_BASE_TESTING_POSTGRES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/testing/subprocess.h"

namespace peerlab::testing {

// Where Debian's PostgreSQL 15 server programs live.
inline constexpr char kPostgresBinDir[] = "/usr/lib/postgresql/15/bin";

// OK when a private server can be started here; otherwise FailedPrecondition
// naming what is missing (the server programs, or the `postgres` user when
// running as root). Meant for GTEST_SKIP.
absl::Status PostgresAvailable();

class PostgresServer {
 public:
  // Creates the folder, runs initdb (trust authentication, superuser
  // `postgres`) and starts the server on a free 127.0.0.1 port. Fails with
  // the tool's output when a step fails.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  // Stops the server at once (pg_ctl stop -m immediate) if it runs, and
  // removes the folder (see TempDir for PEERLAB_KEEP_TEST_DIRS).
  ~PostgresServer();

  int port() const { return port_; }
  // "postgres://postgres@127.0.0.1:PORT/DATABASE".
  std::string uri(const std::string& database = "postgres") const;

  // Creates database `name` (createdb). AlreadyExists is an error.
  absl::Status CreateDatabase(const std::string& name);
  // A fresh database with a unique name ("t1", "t2", ...); returns its URI.
  absl::StatusOr<std::string> NewDatabase();

  // Runs `sql` with psql on `database` (ON_ERROR_STOP) and returns its
  // unaligned, tuples-only output.
  absl::StatusOr<std::string> Psql(const std::string& database,
                                   const std::string& sql);

  // Stops the server: pg_ctl stop -m fast (sessions are ended, every
  // committed transaction is on disk). Start() brings it back on the same
  // port with the same data.
  absl::Status Stop();
  absl::Status Restart();
  bool running() const { return running_; }

  // The server log so far (for failure messages).
  std::string Log() const;
  // The data directory (initdb -D); removed with the server.
  std::string data_dir() const;

 private:
  PostgresServer(std::unique_ptr<TempDir> dir, int port)
      : dir_(std::move(dir)), port_(port) {}
  // Runs a PostgreSQL program (as `postgres` when we are root) and waits
  // up to `timeout`; its combined output is returned, or an error quoting it.
  absl::StatusOr<std::string> Run(const std::string& program,
                                  const std::vector<std::string>& args,
                                  absl::Duration timeout);
  absl::Status PgCtlStart();

  std::unique_ptr<TempDir> dir_;
  const int port_;
  bool running_ = false;
  int databases_ = 0;
};

}  // namespace peerlab::testing

#endif  // PEERLAB_BASE_TESTING_POSTGRES_H_
