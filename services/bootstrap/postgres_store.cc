#include "services/bootstrap/postgres_store.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/logging.h"
#include "google/protobuf/util/json_util.h"
#include "services/bootstrap/document.h"
#include "services/bootstrap/validation.h"

namespace peerlab::bootstrap {
namespace {

// deploy/postgres/schema.sql, embedded at configure time.
constexpr char kSchemaSql[] =
#include "postgres_schema.inc"
    ;

// Serializes schema set-up across replicas (any constant; "peerlab").
constexpr int64_t kSchemaLockKey = 0x7065657266616273;

// How long the sequencer waits for a missing revision (one committed by a
// connection that then failed, so no one here will offer it) before it
// delivers what it has, skipping the gap.
constexpr absl::Duration kGapPatience = absl::Seconds(1);

absl::Status Unavailable(absl::string_view what, const std::exception& e) {
  std::string message = e.what();
  while (!message.empty() &&
         (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  return absl::UnavailableError(
      absl::StrCat("PostgreSQL store: ", what, ": ", message));
}

// Adds `key=value` to a libpq URI unless the URI already sets `key`.
void AddParam(std::string& uri, const std::string& key,
              const std::string& value) {
  size_t query = uri.find('?');
  if (query != std::string::npos) {
    std::string params = absl::StrCat("&", uri.substr(query + 1));
    if (absl::StrContains(params, absl::StrCat("&", key, "="))) return;
  }
  absl::StrAppend(&uri, query == std::string::npos ? "?" : "&", key, "=",
                  value);
}

// Removes peerlab's own `peerlab_connections=N` from the URI's query (libpq
// would refuse it) and stores N in `connections`.
absl::Status TakeConnectionsParam(std::string& uri, int* connections) {
  constexpr absl::string_view kKey = "peerlab_connections=";
  size_t query = uri.find('?');
  if (query == std::string::npos) return absl::OkStatus();
  std::vector<std::string> kept;
  std::string params = uri.substr(query + 1);
  for (absl::string_view param : absl::StrSplit(params, '&')) {
    if (absl::StartsWith(param, kKey)) {
      if (!absl::SimpleAtoi(param.substr(kKey.size()), connections) ||
          *connections < 1 || *connections > 64) {
        return absl::InvalidArgumentError(
            absl::StrCat("--store: peerlab_connections wants 1..64, not \"",
                         param.substr(kKey.size()), "\""));
      }
    } else if (!param.empty()) {
      kept.emplace_back(param);
    }
  }
  uri = uri.substr(0, query);
  if (!kept.empty()) absl::StrAppend(&uri, "?", absl::StrJoin(kept, "&"));
  return absl::OkStatus();
}

}  // namespace

// One libpq connection, its prepared statements, and (for the listener) the
// notifications it received. `receiver` is declared after `pq` so it is
// destroyed first.
struct PostgresStore::Connection {
  struct Note {
    int pid;
    std::string payload;
  };
  class Receiver : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& c, std::vector<Note>* notes)
        : pqxx::notification_receiver(c, kChannel), notes_(notes) {}
    void operator()(const std::string& payload, int backend_pid) override {
      notes_->push_back({backend_pid, payload});
    }

   private:
    std::vector<Note>* notes_;
  };

  std::unique_ptr<pqxx::connection> pq;
  std::vector<Note> notes;
  std::unique_ptr<Receiver> receiver;
  int pid = 0;
};

std::string PostgresStore::RedactUri(const std::string& uri) {
  std::string out = uri;
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t end = out.find_first_of("/?", start);
    size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at >= start) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    size_t begin = pos + 9;
    size_t end = out.find('&', begin);
    out.replace(begin, (end == std::string::npos ? out.size() : end) - begin,
                "***");
  }
  return out;
}

std::string PostgresStore::EncodeDocument(const Document& doc) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(doc, &json, options);
  return json;
}

absl::StatusOr<Store::Document> PostgresStore::DecodeDocument(
    const std::string& json, int64_t revision) {
  if (auto s = CheckJsonDepth(json, kMaxJsonDepth); !s.ok()) {
    return absl::DataLossError(absl::StrCat(
        "peerlab.document holds a document this server cannot read (",
        s.message(), "); refusing to use or overwrite it"));
  }
  Document doc;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status =
      google::protobuf::util::JsonStringToMessage(json, &doc, options);
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat(
        "peerlab.document holds a document this server cannot read (",
        status.ToString(), "); refusing to use or overwrite it"));
  }
  if (auto s = ValidateConfig(doc.config()); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat("peerlab.document holds an invalid config (config.",
                     s.message(), "); refusing to use or overwrite it"));
  }
  if (auto s = ValidateDocument(doc); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat("peerlab.document holds an invalid document (",
                     s.message(), "); refusing to use or overwrite it"));
  }
  if (revision < 0) {
    return absl::DataLossError("peerlab.document has a negative revision");
  }
  doc.set_revision(static_cast<uint64_t>(revision));
  SortPeers(doc);
  return doc;
}

namespace {

// Applies the schema if absent, checks its version, and creates the
// document row. Throws pqxx exceptions; returns the refusal statuses.
absl::Status EnsureSchema(pqxx::connection& conn,
                          const ::bootstrap::v1::Config& initial_config) {
  pqxx::work txn(conn);
  txn.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLockKey);
  bool present =
      txn.exec1("SELECT to_regclass('peerlab.schema_version') IS NOT NULL")[0]
          .as<bool>();
  if (!present) {
    spdlog::info("PostgreSQL store: applying schema version {}",
                 PostgresStore::kSchemaVersion);
    txn.exec(kSchemaSql);
  }
  pqxx::row row =
      txn.exec1("SELECT coalesce(max(version), 0) FROM peerlab.schema_version");
  int version = row[0].as<int>();
  if (version > PostgresStore::kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the database's peerlab schema is version ", version,
        ", newer than this peerlab-bootstrap understands (version ",
        PostgresStore::kSchemaVersion,
        "); upgrade peerlab-bootstrap. The database was not changed."));
  }
  if (version == 1) {
    // 1 -> 2: entry ownership. The tables are unchanged; stored entries have
    // no owner secret and stay the admin's (or their lease's) to remove.
    spdlog::warn(
        "PostgreSQL store: migrating the schema from version 1 to 2 (entry "
        "ownership): the entries stored so far have no owner secret; only "
        "the admin token or their lease removes them");
    txn.exec(
        "INSERT INTO peerlab.schema_version (version) VALUES (2) "
        "ON CONFLICT (version) DO NOTHING");
    version = 2;
  }
  if (version < PostgresStore::kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("the database's peerlab schema is version ", version,
                     " and no migration to version ",
                     PostgresStore::kSchemaVersion, " is known"));
  }
  if (auto s = ValidateConfig(initial_config); !s.ok()) return s;
  txn.exec_params(
      "INSERT INTO peerlab.document (id, revision, document) "
      "VALUES (1, 0, $1::jsonb) ON CONFLICT (id) DO NOTHING",
      PostgresStore::EncodeDocument(NewDocument(initial_config)));
  txn.commit();
  return absl::OkStatus();
}

// Reads the document row ("read_document": revision, document, xmin) and
// stores the row version (its xmin) in `version`. Throws pqxx exceptions.
absl::StatusOr<Store::Document> ReadDocument(pqxx::transaction_base& txn,
                                             std::string* version) {
  pqxx::result r = txn.exec_prepared("read_document");
  if (r.empty()) {
    return absl::FailedPreconditionError(
        "peerlab.document has no row (id 1): it was deleted; restart a "
        "server to create a fresh document");
  }
  *version = r[0][2].c_str();
  return PostgresStore::DecodeDocument(r[0][1].c_str(), r[0][0].as<int64_t>());
}

// The xmin of the row version a transaction with 64-bit id `txid` writes:
// the low 32 bits, in decimal (as `xmin::text` reads).
std::string RowVersionOf(int64_t txid) {
  return absl::StrCat(static_cast<uint64_t>(txid) & 0xffffffffu);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const Options& options) {
  if (!absl::StartsWith(options.uri, "postgres://") &&
      !absl::StartsWith(options.uri, "postgresql://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--store: not a PostgreSQL URI: ", RedactUri(options.uri)));
  }
  Options opts = options;
  std::string conninfo = options.uri;
  if (auto s = TakeConnectionsParam(conninfo, &opts.connections); !s.ok()) {
    return s;
  }
  if (opts.connections < 1 || opts.max_batch < 1) {
    return absl::InvalidArgumentError(
        "PostgreSQL store: connections and max_batch must be >= 1");
  }
  AddParam(conninfo, "connect_timeout",
           absl::StrCat(std::max<int64_t>(
               2, absl::ToInt64Seconds(options.connect_timeout))));
  AddParam(conninfo, "application_name", "peerlab-bootstrap");
  AddParam(conninfo, "keepalives", "1");
  AddParam(conninfo, "keepalives_idle", "10");
  AddParam(conninfo, "keepalives_interval", "3");
  AddParam(conninfo, "keepalives_count", "3");
  AddParam(conninfo, "tcp_user_timeout",
           absl::StrCat(absl::ToInt64Milliseconds(options.statement_timeout) +
                        5000));

  std::unique_ptr<PostgresStore> store(
      new PostgresStore(opts, std::move(conninfo)));
  const std::string where = RedactUri(options.uri);
  // Schema first (prepared statements need the tables).
  try {
    pqxx::connection conn(store->conninfo_);
    if (auto s = EnsureSchema(conn, options.initial_config); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(where, ": ", s.message()));
    }
  } catch (const pqxx::broken_connection& e) {
    return Unavailable(absl::StrCat("cannot connect to ", where), e);
  } catch (const pqxx::insufficient_privilege& e) {
    return absl::PermissionDeniedError(absl::StrCat(
        "PostgreSQL store ", where,
        ": cannot create the schema (apply deploy/postgres/schema.sql as an "
        "owner first): ",
        e.what()));
  } catch (const std::exception& e) {
    return Unavailable(absl::StrCat("setting up ", where), e);
  }

  auto listener = store->Connect(/*listen=*/true);
  if (!listener.ok()) return listener.status();
  absl::StatusOr<Document> doc;
  std::string version;
  try {
    pqxx::read_transaction txn(*(*listener)->pq);
    doc = ReadDocument(txn, &version);
  } catch (const std::exception& e) {
    return Unavailable(absl::StrCat("reading the document from ", where), e);
  }
  if (!doc.ok()) {
    return absl::Status(doc.status().code(),
                        absl::StrCat(where, ": ", doc.status().message()));
  }
  store->delivered_ = doc->revision();
  store->cache_ = std::make_shared<const Document>(*doc);
  store->cache_version_ = version;
  store->listener_ok_ = true;

  store->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (store->wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  for (int i = 0; i < opts.connections; ++i) {
    store->workers_.emplace_back([s = store.get()] { s->WorkerLoop(); });
  }
  store->listener_ =
      std::thread([s = store.get(), c = std::move(*listener)]() mutable {
        s->ListenerLoop(std::move(c));
      });
  return store;
}

PostgresStore::PostgresStore(Options options, std::string conninfo)
    : options_(std::move(options)), conninfo_(std::move(conninfo)) {}

PostgresStore::~PostgresStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& w : workers_) w.join();
  listener_stop_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof(one));
    (void)n;
  }
  if (listener_.joinable()) listener_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::string PostgresStore::Describe() const { return RedactUri(options_.uri); }

absl::StatusOr<std::unique_ptr<PostgresStore::Connection>>
PostgresStore::Connect(bool listen) {
  auto conn = std::make_unique<Connection>();
  try {
    conn->pq = std::make_unique<pqxx::connection>(conninfo_);
    {
      pqxx::nontransaction setup(*conn->pq);
      setup.exec(absl::StrCat(
          "SET statement_timeout = ",
          absl::ToInt64Milliseconds(options_.statement_timeout),
          "; SET idle_in_transaction_session_timeout = ",
          absl::ToInt64Milliseconds(options_.statement_timeout) * 2));
    }
    // xmin: the transaction that wrote the row version, i.e. which version
    // of the row this is (a revision number alone can come back after a
    // restore or a failover to a standby that missed the last commits).
    conn->pq->prepare("lock_revision",
                      "SELECT revision, xmin::text, txid_current() "
                      "FROM peerlab.document WHERE id = 1 FOR UPDATE");
    conn->pq->prepare("read_document",
                      "SELECT revision, document::text, xmin::text "
                      "FROM peerlab.document WHERE id = 1");
    conn->pq->prepare("txid_status", "SELECT txid_status($1)");
    conn->pq->prepare("read_revision",
                      "SELECT revision FROM peerlab.document WHERE id = 1");
    conn->pq->prepare("store_document",
                      "UPDATE peerlab.document SET revision = $1, "
                      "document = $2::jsonb, updated_at = now() WHERE id = 1");
    conn->pq->prepare(
        "notify", absl::StrCat("SELECT pg_notify('", kChannel, "', $1::text)"));
    if (listen) {
      conn->receiver =
          std::make_unique<Connection::Receiver>(*conn->pq, &conn->notes);
    }
    conn->pid = conn->pq->backendpid();
  } catch (const std::exception& e) {
    absl::Status status =
        Unavailable(absl::StrCat("cannot connect to ", Describe()), e);
    NoteConnectFailure(status);
    return status;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    retry_after_ = absl::InfinitePast();
  }
  if (!listen) {
    std::lock_guard<std::mutex> lock(seq_mu_);
    own_pids_.insert(conn->pid);
  }
  return conn;
}

void PostgresStore::NoteConnectFailure(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (retry_after_ == absl::InfinitePast()) {
    spdlog::warn("{}", status.message());
  }
  retry_after_ = absl::Now() + options_.retry_interval;
  last_failure_ = status;
}

void PostgresStore::Forget(std::unique_ptr<Connection>& conn) {
  if (conn == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(seq_mu_);
    own_pids_.erase(conn->pid);
  }
  conn.reset();
}

void PostgresStore::Mutate(Mutation mutation, Done done) {
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      refused = absl::UnavailableError("store is shutting down");
    } else if (absl::Now() < retry_after_) {
      refused = last_failure_;
    } else if (queue_.size() >= options_.max_pending) {
      const uint64_t n = busy_refusals_.fetch_add(1) + 1;
      if (n % 1000 == 1) {
        spdlog::warn(
            "PostgreSQL store is busy: {} changes wait for the database, the "
            "limit; refusing more ({} refused so far)",
            queue_.size(), n);
      }
      refused = absl::UnavailableError(
          absl::StrCat("store is busy: ", queue_.size(),
                       " changes wait for the database (the limit); retry"));
    } else {
      queue_.push_back(Pending{std::move(mutation), std::move(done)});
    }
  }
  if (!refused.ok()) {
    done(refused);
    return;
  }
  work_.notify_one();
}

absl::Status PostgresStore::Health() {
  if (listener_ok_.load()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  return last_failure_.ok()
             ? absl::UnavailableError("PostgreSQL store: not connected")
             : last_failure_;
}

void PostgresStore::SetHealthListener(HealthListener listener) {
  std::lock_guard<std::mutex> lock(health_mu_);
  health_listener_ = std::move(listener);
  if (health_listener_) health_listener_(Health());
}

void PostgresStore::ReportHealth() {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (health_listener_) health_listener_(Health());
}

absl::StatusOr<Store::Document> PostgresStore::Read() {
  if (!listener_ok_.load()) {
    std::lock_guard<std::mutex> lock(mu_);
    return last_failure_.ok()
               ? absl::UnavailableError("PostgreSQL store: not connected")
               : last_failure_;
  }
  std::shared_ptr<const Document> doc;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    doc = cache_;
  }
  return *doc;
}

void PostgresStore::WorkerLoop() {
  std::unique_ptr<Connection> conn;
  if (auto c = Connect(/*listen=*/false); c.ok()) conn = *std::move(c);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything queued is done
    std::vector<Pending> batch;
    while (!queue_.empty() &&
           batch.size() < static_cast<size_t>(options_.max_batch)) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    RunBatch(conn, batch);
    lock.lock();
  }
  lock.unlock();
  Forget(conn);
}

void PostgresStore::RunBatch(std::unique_ptr<Connection>& conn,
                             std::vector<Pending>& batch) {
  auto fail_all = [&](const absl::Status& status) {
    for (Pending& p : batch) p.done(status);
  };
  if (conn == nullptr) {
    auto c = Connect(/*listen=*/false);
    if (!c.ok()) return fail_all(c.status());
    conn = *std::move(c);
  }
  std::vector<absl::StatusOr<Document>> results(batch.size());
  std::vector<Document> changes;
  Document base;
  std::string base_version;
  int64_t txid = 0;
  try {
    pqxx::work txn(*conn->pq);
    // Lock the row. Only its revision and version travel; the document is
    // read (and decoded) only when the cache does not hold that very row
    // version, i.e. when another replica wrote last (or the row was
    // rewritten behind our back: same revision, another version).
    pqxx::result locked = txn.exec_prepared("lock_revision");
    if (locked.empty()) {
      absl::Status missing = absl::FailedPreconditionError(
          "peerlab.document has no row (id 1): it was deleted; restart a "
          "server to create a fresh document");
      spdlog::error("{}", missing.message());
      return fail_all(missing);
    }
    const int64_t revision = locked[0][0].as<int64_t>();
    const std::string version = locked[0][1].c_str();
    txid = locked[0][2].as<int64_t>();
    std::shared_ptr<const Document> cached;
    std::string cached_version;
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      cached = cache_;
      cached_version = cache_version_;
    }
    if (static_cast<int64_t>(cached->revision()) == revision &&
        cached_version == version) {
      base = *cached;
      base_version = version;
    } else {
      absl::StatusOr<Document> read = ReadDocument(txn, &base_version);
      if (!read.ok()) {
        spdlog::error("{}", read.status().message());
        return fail_all(read.status());
      }
      base = *std::move(read);
    }
    Document current = base;
    for (size_t i = 0; i < batch.size(); ++i) {
      Document next = current;
      absl::StatusOr<bool> changed = batch[i].mutation(next);
      if (!changed.ok()) {
        results[i] = changed.status();
        continue;
      }
      if (*changed) {
        next.set_revision(current.revision() + 1);
        current = std::move(next);
        changes.push_back(current);
      }
      results[i] = current;
    }
    if (!changes.empty()) {
      const std::string revision = absl::StrCat(current.revision());
      txn.exec_prepared0("store_document",
                         static_cast<int64_t>(current.revision()),
                         EncodeDocument(current));
      txn.exec_prepared("notify", revision);
    }
    txn.commit();
  } catch (const pqxx::in_doubt_error& e) {
    // The COMMIT was sent and its answer lost: ask the database (on a new
    // connection) whether the transaction committed. Only then are the
    // callers told it succeeded; if it cannot be told, Unavailable (the
    // change may be in: every bootstrap operation is safe to retry).
    Forget(conn);
    if (!changes.empty()) {
      absl::StatusOr<bool> committed = CommittedAfterAll(conn, txid);
      if (!committed.ok()) {
        spdlog::warn("{}", committed.status().message());
        return fail_all(committed.status());
      }
      if (!*committed) {
        return fail_all(absl::UnavailableError(
            "PostgreSQL store: the connection was lost at COMMIT and the "
            "transaction was rolled back: nothing was changed; retry"));
      }
      spdlog::warn(
          "PostgreSQL store: the connection was lost at COMMIT, but the "
          "transaction committed (revision {})",
          changes.back().revision());
    }
  } catch (const pqxx::broken_connection& e) {
    Forget(conn);
    return fail_all(Unavailable("connection lost", e));
  } catch (const std::exception& e) {
    // statement_timeout, admin shutdown, serialization trouble, ...: the
    // transaction was rolled back. Start over on a fresh connection.
    Forget(conn);
    return fail_all(Unavailable("transaction failed", e));
  }
  if (!changes.empty()) ++commits_;
  {
    std::lock_guard<std::mutex> lock(seq_mu_);
    OfferLocked(base, base_version);
    // The row version this commit wrote (only the newest change of the
    // batch is ever the row, and only the newest offer is cached).
    for (const Document& d : changes) OfferLocked(d, RowVersionOf(txid));
    DrainLocked();
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(std::move(results[i]));
  }
}

absl::StatusOr<bool> PostgresStore::CommittedAfterAll(
    std::unique_ptr<Connection>& conn, int64_t txid) {
  const absl::Time deadline = absl::Now() + options_.statement_timeout;
  auto unknown = [&](absl::string_view why) {
    return absl::UnavailableError(absl::StrCat(
        "PostgreSQL store: the connection was lost at COMMIT and whether "
        "transaction ",
        txid, " committed cannot be told (", why,
        "); the change may be in: retry"));
  };
  for (;;) {
    if (conn == nullptr) {
      auto c = Connect(/*listen=*/false);
      if (!c.ok()) return unknown(c.status().message());
      conn = *std::move(c);
    }
    std::string status;
    try {
      pqxx::nontransaction q(*conn->pq);
      pqxx::result r = q.exec_prepared("txid_status", txid);
      if (!r.empty() && !r[0][0].is_null()) status = r[0][0].c_str();
    } catch (const std::exception& e) {
      Forget(conn);
      return unknown(e.what());
    }
    if (status == "committed") return true;
    if (status == "aborted") return false;
    // "in progress": the server has not yet noticed the lost connection.
    if (status != "in progress") return unknown("the database forgot it");
    if (absl::Now() > deadline) return unknown("still in progress");
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void PostgresStore::OfferLocked(const Document& doc,
                                const std::string& version) {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (doc.revision() > cache_->revision()) {
      cache_ = std::make_shared<const Document>(doc);
      cache_version_ = version;
    }
  }
  if (doc.revision() <= delivered_) return;
  pending_.emplace(doc.revision(), doc);
}

void PostgresStore::DeliverLocked(const Document& doc) {
  delivered_ = doc.revision();
  listeners_.Notify(doc);
}

void PostgresStore::DrainLocked() {
  for (;;) {
    const uint64_t next = delivered_ + 1;
    auto it = pending_.begin();
    if (it != pending_.end() && it->first == next) {
      DeliverLocked(it->second);
      pending_.erase(it);
      continue;
    }
    if (remote_.count(next) != 0 &&
        pending_.upper_bound(next) != pending_.end()) {
      // Made through another replica: we only have a later document, which
      // includes it. Skip the revision (WatchResponse allows that).
      delivered_ = next;
      continue;
    }
    break;
  }
  remote_.erase(remote_.begin(), remote_.upper_bound(delivered_));
  if (pending_.empty()) {
    gap_since_ = absl::InfiniteFuture();
  } else if (gap_since_ == absl::InfiniteFuture()) {
    gap_since_ = absl::Now();
  }
}

void PostgresStore::FlushThroughLocked(uint64_t revision) {
  while (!pending_.empty() && pending_.begin()->first <= revision) {
    DeliverLocked(pending_.begin()->second);
    pending_.erase(pending_.begin());
  }
  delivered_ = std::max(delivered_, revision);
  DrainLocked();
}

bool PostgresStore::ListenerSleep(absl::Duration timeout) {
  pollfd fd{wake_fd_, POLLIN, 0};
  ::poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  return !listener_stop_.load();
}

void PostgresStore::ListenerRound(Connection& conn, bool poll) {
  for (int round = 0; round < 16; ++round) {
    conn.notes.clear();
    conn.pq->get_notifs();
    bool fetch = false;
    {
      std::lock_guard<std::mutex> lock(seq_mu_);
      uint64_t known;
      {
        std::lock_guard<std::mutex> cache_lock(cache_mu_);
        known = cache_->revision();
      }
      for (const Connection::Note& note : conn.notes) {
        if (own_pids_.count(note.pid) != 0) continue;
        uint64_t revision = 0;
        if (!absl::SimpleAtoi(note.payload, &revision)) continue;
        if (revision > delivered_) remote_.insert(revision);
        if (revision > known) fetch = true;
      }
      // A remote revision may be the gap a local change waits behind.
      if (!conn.notes.empty()) DrainLocked();
    }
    if (poll) {
      poll = false;
      pqxx::read_transaction txn(*conn.pq);
      pqxx::result r = txn.exec_prepared("read_revision");
      std::lock_guard<std::mutex> lock(cache_mu_);
      if (!r.empty() &&
          r[0][0].as<int64_t>() > static_cast<int64_t>(cache_->revision())) {
        fetch = true;
      }
    }
    if (!fetch) return;
    absl::StatusOr<Document> doc;
    std::string version;
    {
      pqxx::read_transaction txn(*conn.pq);
      doc = ReadDocument(txn, &version);
    }
    if (!doc.ok()) {
      spdlog::error("{}", doc.status().message());
      return;
    }
    std::lock_guard<std::mutex> lock(seq_mu_);
    OfferLocked(*doc, version);
    DrainLocked();
  }
}

void PostgresStore::ListenerLoop(std::unique_ptr<Connection> conn) {
  absl::Time next_poll = absl::Now() + options_.poll_interval;
  while (!listener_stop_.load()) {
    if (conn == nullptr) {
      if (!ListenerSleep(options_.retry_interval)) break;
      auto c = Connect(/*listen=*/true);
      if (!c.ok()) continue;
      try {
        absl::StatusOr<Document> doc;
        std::string version;
        {
          pqxx::read_transaction txn(*(*c)->pq);
          doc = ReadDocument(txn, &version);
        }
        if (!doc.ok()) {
          spdlog::error("{}", doc.status().message());
          NoteConnectFailure(doc.status());
          continue;
        }
        std::lock_guard<std::mutex> lock(seq_mu_);
        OfferLocked(*doc, version);
        FlushThroughLocked(doc->revision());
      } catch (const std::exception& e) {
        NoteConnectFailure(Unavailable("reading the document", e));
        continue;
      }
      conn = *std::move(c);
      listener_ok_ = true;
      spdlog::info("PostgreSQL store: connected to {} again", Describe());
      ReportHealth();
      next_poll = absl::Now() + options_.poll_interval;
    }

    pollfd fds[2] = {{conn->pq->sock(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    absl::Duration wait =
        std::max(absl::ZeroDuration(), next_poll - absl::Now());
    ::poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(wait)) + 1);
    if (listener_stop_.load()) break;
    const bool poll_due = absl::Now() >= next_poll;
    if (poll_due) next_poll = absl::Now() + options_.poll_interval;
    try {
      if (!conn->pq->is_open()) {
        throw pqxx::broken_connection("connection closed");
      }
      ListenerRound(*conn, poll_due);
    } catch (const std::exception& e) {
      listener_ok_ = false;
      conn.reset();
      NoteConnectFailure(Unavailable("listener lost its connection", e));
      ReportHealth();
      continue;
    }
    if (poll_due) {
      std::lock_guard<std::mutex> lock(seq_mu_);
      if (gap_since_ != absl::InfiniteFuture() &&
          absl::Now() - gap_since_ > kGapPatience && !pending_.empty()) {
        spdlog::debug("PostgreSQL store: revision {} never arrived",
                      delivered_ + 1);
        FlushThroughLocked(pending_.rbegin()->first);
      }
    }
  }
}

}  // namespace peerlab::bootstrap
