// PostgresStore: the bootstrap document in a PostgreSQL database (libpqxx),
// shared by any number of stateless peerlab-bootstrap replicas.
//
// Layout: deploy/postgres/schema.sql (compiled into the binary). One row,
// peerlab.document (id 1), holds the revision and the document as JSON
// (protobuf's JSON mapping, field names as in the .proto), so an operator
// can read it with psql. peerlab.schema_version records the schema version;
// Open() applies the schema when it is absent (under an advisory lock, so
// replicas starting together apply it once), creates the row with the
// initial config when it is missing, and refuses a database whose schema
// is newer than kSchemaVersion (FailedPrecondition naming both versions),
// never touching it.
//
// Mutations: queued and run by worker threads, one connection each
// (Options::connections, default 1), never on the caller's thread. A worker
// takes every queued mutation (up to Options::max_batch) and runs them in ONE
// transaction: SELECT ... FOR UPDATE on the document row (the document
// itself is read only when this replica's cache does not hold that very
// row version -- same revision and same xmin -- i.e. when another replica
// wrote last, or the row was rewritten behind the replicas' backs, as a
// restore or a failover to a lagging standby does), apply each
// mutation in order (each change: revision + 1), UPDATE the row once,
// pg_notify('peerlab_bootstrap', revision), COMMIT. The row lock serializes
// every writer of every replica, so no update is lost and the revision grows
// by exactly one per change across all replicas; batching amortizes the
// commit's WAL flush over the batch (group commit, as in FileStore).
// `done` runs on the worker thread after COMMIT returned, i.e. once the
// change is durable (synchronous_commit as configured on the server, on by
// default).
//
// Changes made through other replicas: a listener thread holds one more
// connection that LISTENs on 'peerlab_bootstrap'. A notification from
// another replica's connection (told apart by backend pid) makes it read the
// document. Local listeners (Subscribe) see documents in strictly increasing
// revision order: every change committed here (each revision of a batch),
// and for changes committed elsewhere the document read after them -- so a
// watcher may miss intermediate revisions made through another replica, as
// bootstrap.proto's WatchResponse allows, but never sees one out of order.
// The listener also polls the revision every Options::poll_interval as a
// safety net (and to notice a dead connection).
//
// Read() answers from a cache: the newest document this replica has seen
// (its own commits, and documents read by the listener or under the row
// lock). A change made through this replica is visible to Read() once
// acknowledged; one made through another replica once its notification
// arrived (normally within milliseconds).
//
// Failures: connections use connect_timeout, TCP keepalives and a
// statement_timeout. When the database cannot be reached, Mutate() and
// Read() answer Unavailable at once (after a failed connection attempt,
// further calls fail without trying for Options::retry_interval), and the
// store reconnects by itself -- workers on their next batch, the listener
// every retry_interval -- re-reading the document when the listener is back.
// A transaction whose COMMIT got no answer (the connection died) is looked
// up on a new connection (txid_status): acknowledged if it committed,
// Unavailable if it was rolled back, and Unavailable ("may be in") when that
// cannot be told, e.g. the database is down; every operation of the
// bootstrap service is safe to retry. Nothing acknowledged is lost: an
// acknowledgement follows a COMMIT the database confirmed.
//
// Thread safety: every method may be called from any thread concurrently.
// Listeners run on a worker or the listener thread, one at a time.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_POSTGRES_STORE_H_
#define PEERLAB_SERVICES_BOOTSTRAP_POSTGRES_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/bootstrap/store.h"

namespace peerlab::bootstrap {

class PostgresStore : public Store {
 public:
  // The schema version this build reads and writes (schema.sql).
  // 2: entries carry first_seen_at and owner_secret_sha256 (schema.sql).
  static constexpr int kSchemaVersion = 2;
  // The NOTIFY channel; the payload is the new revision in decimal.
  static constexpr char kChannel[] = "peerlab_bootstrap";

  struct Options {
    // libpq URI: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS].
    // connect_timeout, keepalives and application_name are added unless
    // the URI sets them. One parameter is peerlab's own and is removed
    // before libpq sees it: peerlab_connections=N overrides `connections`.
    std::string uri;
    // Config of a new document; ignored when the row exists.
    ::bootstrap::v1::Config initial_config;
    // Worker connections (and threads) running mutations. REQUIRES: >= 1.
    // Every write needs the one row lock, so more workers do not write in
    // parallel; they only split what is queued into smaller batches (more
    // commits for the same work). One worker batching everything queued
    // measured fastest (bench/RESULTS.md); more help only to overlap a
    // slow transaction's round trips.
    int connections = 1;
    // Most mutations one transaction applies.
    int max_batch = 256;
    // Most mutations waiting for a worker. More are refused at once
    // (Unavailable, "busy ... retry"; counted and logged every 1,000), so
    // a flood of calls while the database is slow cannot grow the queue
    // (and its closures) without bound. REQUIRES: >= 1.
    size_t max_pending = 16384;
    // libpq connect_timeout (whole seconds; libpq's minimum is 2).
    absl::Duration connect_timeout = absl::Seconds(2);
    // Server-side statement_timeout of every connection (waiting for the
    // row lock included).
    absl::Duration statement_timeout = absl::Seconds(5);
    // After a failed connection attempt, calls fail at once for this long,
    // and the listener retries this often.
    absl::Duration retry_interval = absl::Milliseconds(250);
    // How often the listener checks the revision without a notification.
    absl::Duration poll_interval = absl::Milliseconds(500);
  };

  // Connects, applies or checks the schema, creates the document if it is
  // missing, reads it and starts the workers and the listener. Unavailable
  // when the database cannot be reached; FailedPrecondition for a newer
  // schema; DataLoss for a stored document that does not decode.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(
      const Options& options);

  // Finishes queued mutations, then closes every connection.
  ~PostgresStore() override;

  void Mutate(Mutation mutation, Done done) override;
  absl::StatusOr<Document> Read() override;
  int Subscribe(Listener listener) override { return listeners_.Add(listener); }
  void Unsubscribe(int handle) override { listeners_.Remove(handle); }
  // The URI with any password replaced by "***".
  std::string Describe() const override;
  // Healthy while the listener's connection is up (the database answers);
  // the failure while it is down.
  void SetHealthListener(HealthListener listener) override;

  // Write transactions committed by this store so far (tests, logs).
  uint64_t commits() const override { return commits_.load(); }
  // Mutations refused because max_pending were already waiting.
  uint64_t busy_refusals() const { return busy_refusals_.load(); }

  // `uri` with the password (user info or `password=` parameter) masked.
  static std::string RedactUri(const std::string& uri);
  // The document's JSON as stored in peerlab.document.document.
  static std::string EncodeDocument(const Document& doc);
  // Parses the stored JSON; `revision` (the row's column) wins over the
  // JSON's. DataLoss when it does not parse or its config is invalid.
  static absl::StatusOr<Document> DecodeDocument(const std::string& json,
                                                 int64_t revision);

 private:
  struct Connection;  // a pqxx connection with its prepared statements
  struct Pending {
    Mutation mutation;
    Done done;
  };

  PostgresStore(Options options, std::string conninfo);

  // Opens a connection with the session settings and prepared statements;
  // LISTENs when `listen`. Unavailable on failure (and starts the
  // retry_interval during which calls fail at once).
  absl::StatusOr<std::unique_ptr<Connection>> Connect(bool listen);
  void NoteConnectFailure(const absl::Status& status);
  void Forget(std::unique_ptr<Connection>& conn);

  void WorkerLoop();
  void RunBatch(std::unique_ptr<Connection>& conn, std::vector<Pending>& batch);
  // After a COMMIT whose answer was lost: whether transaction `txid`
  // committed (true) or was rolled back (false), asked on a new connection
  // left in `conn` (waits up to statement_timeout while the server still
  // has it in progress). Unavailable when it cannot be told.
  absl::StatusOr<bool> CommittedAfterAll(std::unique_ptr<Connection>& conn,
                                         int64_t txid);
  void ListenerLoop(std::unique_ptr<Connection> conn);
  // Handles buffered notifications, reading the document when another
  // replica changed it. Throws pqxx exceptions on connection trouble.
  void ListenerRound(Connection& conn, bool poll);
  // Sleeps up to `timeout` or until the store stops; false when stopping.
  bool ListenerSleep(absl::Duration timeout);

  // Sequencer (all REQUIRES seq_mu_ held): offers a document (and the
  // row version, xmin, it was read from or written as), delivers what is
  // next in revision order, and closes gaps.
  void OfferLocked(const Document& doc, const std::string& version);
  void DrainLocked();
  // Delivers every pending document up to `revision`, skipping gaps.
  void FlushThroughLocked(uint64_t revision);
  void DeliverLocked(const Document& doc);

  const Options options_;
  const std::string conninfo_;

  // Work queue.
  std::mutex mu_;
  std::condition_variable work_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  absl::Time retry_after_ = absl::InfinitePast();  // fail fast until then
  absl::Status last_failure_;
  std::vector<std::thread> workers_;

  // Sequencer and cache.
  std::mutex seq_mu_;
  uint64_t delivered_ = 0;                // newest revision delivered
  std::map<uint64_t, Document> pending_;  // offered, not yet delivered
  std::set<uint64_t> remote_;             // revisions made elsewhere
  std::set<int> own_pids_;                // backend pids of our workers
  absl::Time gap_since_ = absl::InfiniteFuture();

  mutable std::mutex cache_mu_;
  std::shared_ptr<const Document> cache_;  // newest document seen
  std::string cache_version_;              // its row's xmin
  std::atomic<bool> listener_ok_{false};

  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> busy_refusals_{0};
  ListenerSet listeners_;

  std::mutex health_mu_;  // held while calling health_listener_
  HealthListener health_listener_;
  absl::Status Health();
  void ReportHealth();

  int wake_fd_ = -1;  // eventfd: wakes the listener to stop
  std::atomic<bool> listener_stop_{false};
  std::thread listener_;
};

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_POSTGRES_STORE_H_
