// The PostgreSQL store when a connection dies at the worst moment (at
// COMMIT), and when the document row is rewritten behind a replica's back
// (a restore, or a failover to a standby that missed the last commits):
// nothing acknowledged is lost, and a COMMIT that did happen is not
// reported as failed.
//
// The connection faults come from CommitCutter, a TCP relay between the
// store and a private PostgreSQL 15 that cuts a connection exactly at its
// next COMMIT -- after the server committed, or before it saw the COMMIT.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/testing/eventually.h"
#include "base/testing/postgres.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "services/bootstrap/postgres_store.h"

namespace peerlab::bootstrap {
namespace {

using ::peerlab::testing::Eventually;
using ::peerlab::testing::PostgresAvailable;
using ::peerlab::testing::PostgresServer;
using ::testing::HasSubstr;

// libpq's simple-query message for COMMIT ('Q', length 11, "COMMIT\0"), as
// libpqxx sends it to end a transaction.
const std::string kCommitMessage(
    "Q\0\0\0\x0b"
    "COMMIT\0",
    12);
// The server's ReadyForQuery ('Z', length 5): the end of its answer.
const std::string kReadyMessage("Z\0\0\0\x05", 5);

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// A TCP relay on a free loopback port to a PostgreSQL server, for fault
// injection. Arm(cut) makes it cut the connection that sends the next
// COMMIT (once):
//   kAfterCommit: the COMMIT reaches the server, the relay waits for the
//     server's whole answer (the transaction is committed) and closes both
//     sides without passing the answer on;
//   kBeforeCommit: the COMMIT is dropped and both sides are closed (the
//     server rolls the transaction back).
// Thread safety: Arm and cuts may be called from any thread. Owns its
// threads and sockets; the destructor closes and joins them.
class CommitCutter {
 public:
  enum class Cut { kNone, kBeforeCommit, kAfterCommit };

  static std::unique_ptr<CommitCutter> Start(int target_port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) ::close(fd);
      return nullptr;
    }
    auto cutter = std::unique_ptr<CommitCutter>(new CommitCutter());
    cutter->listen_fd_ = fd;
    cutter->port_ = ntohs(addr.sin_port);
    cutter->target_port_ = target_port;
    if (::pipe2(cutter->stop_, O_CLOEXEC) != 0) return nullptr;
    cutter->acceptor_ = std::thread([c = cutter.get()] { c->AcceptLoop(); });
    return cutter;
  }

  ~CommitCutter() {
    char one = 1;
    (void)!::write(stop_[1], &one, 1);
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> relays;
    {
      std::lock_guard<std::mutex> lock(mu_);
      relays.swap(relays_);
    }
    for (auto& t : relays) t.join();
    ::close(listen_fd_);
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

  int port() const { return port_; }
  void Arm(Cut cut) { armed_ = cut; }
  int cuts() const { return cuts_.load(); }
  // Resets every connection relayed now: the client's side gets a TCP RST
  // (as from a firewall or a peer that crashed; its next send fails), the
  // server's side is closed. Returns once they are all gone; connections
  // made afterwards are relayed as usual.
  void ResetAll() {
    const int generation = ++reset_generation_;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (running_.empty() || *running_.begin() >= generation) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  CommitCutter() = default;

  void AcceptLoop() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      if ((fds[0].revents & POLLIN) == 0) continue;
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr),
                                  sizeof(addr)) != 0) {
        if (server >= 0) ::close(server);
        ::close(client);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      relays_.emplace_back([this, client, server] { Relay(client, server); });
    }
  }

  // Copies bytes both ways until a side closes, the relay stops, or an
  // armed cut fires.
  void Relay(int client, int server) {
    int generation;
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation = reset_generation_.load();
      running_.insert(generation);
    }
    char buf[65536];
    for (;;) {
      pollfd fds[3] = {
          {client, POLLIN, 0}, {server, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(fds, 3, 10) < 0 && errno != EINTR) break;
      if (fds[2].revents != 0) break;
      if (reset_generation_.load() != generation) {
        linger reset{1, 0};  // close() sends an RST
        ::setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        break;
      }
      if (fds[0].revents != 0) {
        ssize_t n = ::recv(client, buf, sizeof(buf), 0);
        if (n <= 0) break;
        const std::string data(buf, static_cast<size_t>(n));
        if (data.find(kCommitMessage) != std::string::npos) {
          const Cut cut = armed_.exchange(Cut::kNone);
          if (cut == Cut::kBeforeCommit) {
            ++cuts_;
            break;
          }
          if (cut == Cut::kAfterCommit) {
            if (WriteAll(server, buf, static_cast<size_t>(n))) {
              AwaitReady(server);
            }
            ++cuts_;
            break;
          }
        }
        if (!WriteAll(server, buf, static_cast<size_t>(n))) break;
      }
      if (fds[1].revents != 0) {
        ssize_t n = ::recv(server, buf, sizeof(buf), 0);
        if (n <= 0) break;
        if (!WriteAll(client, buf, static_cast<size_t>(n))) break;
      }
    }
    ::close(client);
    ::close(server);
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(running_.find(generation));
  }

  // Reads (and drops) the server's answer up to its ReadyForQuery.
  void AwaitReady(int server) {
    std::string answer;
    char buf[4096];
    while (answer.find(kReadyMessage) == std::string::npos) {
      pollfd fd{server, POLLIN, 0};
      if (::poll(&fd, 1, 10000) <= 0) return;
      ssize_t n = ::recv(server, buf, sizeof(buf), 0);
      if (n <= 0) return;
      answer.append(buf, static_cast<size_t>(n));
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  int target_port_ = 0;
  int stop_[2] = {-1, -1};
  std::atomic<Cut> armed_{Cut::kNone};
  std::atomic<int> cuts_{0};
  std::atomic<int> reset_generation_{0};
  std::multiset<int> running_;  // the generations of the running relays
  std::mutex mu_;
  std::vector<std::thread> relays_;
  std::thread acceptor_;
};

Store::Mutation AddPeer(int n) {
  return [n](Store::Document& doc) -> absl::StatusOr<bool> {
    auto* p = doc.add_peers();
    p->set_id(absl::StrCat("00000000-0000-4000-8000-", 100000000000 + n));
    p->set_name(absl::StrCat("p", n));
    p->set_host("127.0.0.1");
    p->set_port(7946);
    p->set_protocol(::bootstrap::v1::PROTOCOL_UDP);
    p->mutable_started_at()->set_seconds(n);
    return true;
  };
}

bool Lists(const Store::Document& doc, int n) {
  const std::string id =
      absl::StrCat("00000000-0000-4000-8000-", 100000000000 + n);
  for (const auto& p : doc.peers()) {
    if (p.id() == id) return true;
  }
  return false;
}

class PostgresStoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto s = PostgresAvailable(); !s.ok()) GTEST_SKIP() << s.message();
    auto server = PostgresServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  absl::StatusOr<std::unique_ptr<PostgresStore>> Open(const std::string& uri) {
    ::bootstrap::v1::Config config;
    config.set_max_peers(100);
    return PostgresStore::Open({.uri = uri, .initial_config = config});
  }

  // The stored document, read with psql (not through any store).
  std::string StoredJson() {
    auto out = server_->Psql("postgres",
                             "SELECT revision || ' ' || document::text FROM "
                             "peerlab.document WHERE id = 1");
    return out.ok() ? *out : out.status().ToString();
  }

  std::unique_ptr<PostgresServer> server_;
};

// The connection dies after the server committed but before the store saw
// the answer. The change is durable, so the caller is told it succeeded
// (not Unavailable, which would make it retry a change that is in), and the
// store carries on from the committed document.
TEST_F(PostgresStoreFaultTest,
       CommitWhoseAnswerIsLostButThatCommittedSucceeds) {
  auto cutter = CommitCutter::Start(server_->port());
  ASSERT_NE(cutter, nullptr);
  auto store = Open(absl::StrCat(
      "postgres://postgres@127.0.0.1:", cutter->port(), "/postgres"));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());

  cutter->Arm(CommitCutter::Cut::kAfterCommit);
  absl::StatusOr<Store::Document> doc = (*store)->MutateSync(AddPeer(2));
  EXPECT_EQ(cutter->cuts(), 1);
  ASSERT_TRUE(doc.ok()) << doc.status()
                        << "; the database holds: " << StoredJson();
  EXPECT_EQ(doc->revision(), 2u);
  EXPECT_TRUE(Lists(*doc, 2));

  auto next = (*store)->MutateSync(AddPeer(3));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->revision(), 3u);
  EXPECT_TRUE(Lists(*next, 1) && Lists(*next, 2) && Lists(*next, 3));
  EXPECT_TRUE(Eventually([&] { return (*store)->Read().ok(); }));
}

// The connection dies before the COMMIT reached the server: nothing was
// changed, and the caller is told so (Unavailable, safe to retry).
TEST_F(PostgresStoreFaultTest, CommitThatNeverArrivedIsUnavailable) {
  auto cutter = CommitCutter::Start(server_->port());
  ASSERT_NE(cutter, nullptr);
  auto store = Open(absl::StrCat(
      "postgres://postgres@127.0.0.1:", cutter->port(), "/postgres"));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());

  cutter->Arm(CommitCutter::Cut::kBeforeCommit);
  absl::StatusOr<Store::Document> doc = (*store)->MutateSync(AddPeer(2));
  EXPECT_EQ(cutter->cuts(), 1);
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kUnavailable)
      << doc.status();
  EXPECT_THAT(std::string(doc.status().message()),
              HasSubstr("nothing was changed"));

  absl::StatusOr<Store::Document> next;
  ASSERT_TRUE(Eventually([&] {
    next = (*store)->MutateSync(AddPeer(3));
    return next.ok();
  })) << next.status();
  EXPECT_EQ(next->revision(), 2u);
  EXPECT_TRUE(Lists(*next, 1) && Lists(*next, 3));
  EXPECT_FALSE(Lists(*next, 2));
}

// The row is rewritten behind the replicas' backs -- here to an earlier
// document, as a restore from a backup or a failover to a standby that
// missed the last commits would -- and the revisions are then reused. A
// replica whose cache holds a document with the revision the row has again
// must not build on that stale document: B's change, acknowledged after the
// rewrite, would be overwritten (a lost update).
TEST_F(PostgresStoreFaultTest,
       StaleCachedDocumentIsNotABaseAfterTheRowChanged) {
  auto a = Open(server_->uri());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = Open(server_->uri());
  ASSERT_TRUE(b.ok()) << b.status();
  auto at_zero = server_->Psql(
      "postgres", "SELECT document::text FROM peerlab.document WHERE id = 1");
  ASSERT_TRUE(at_zero.ok()) << at_zero.status();

  ASSERT_TRUE((*a)->MutateSync(AddPeer(1)).ok());
  ASSERT_TRUE(Eventually([&] {
    auto d = (*b)->Read();
    return d.ok() && d->revision() == 1;
  }));

  // The database goes back to revision 0.
  std::string json = *at_zero;
  while (!json.empty() && (json.back() == '\n' || json.back() == ' ')) {
    json.pop_back();
  }
  ASSERT_TRUE(server_
                  ->Psql("postgres",
                         absl::StrCat("UPDATE peerlab.document SET revision = "
                                      "0, document = $json$",
                                      json, "$json$::jsonb WHERE id = 1"))
                  .ok());

  // B builds on the database's document (its cache is not at revision 0).
  auto by_b = (*b)->MutateSync(AddPeer(2));
  ASSERT_TRUE(by_b.ok()) << by_b.status();
  ASSERT_EQ(by_b->revision(), 1u);
  ASSERT_TRUE(Lists(*by_b, 2));

  // A's cache is at revision 1 too, but it is not the stored document.
  auto by_a = (*a)->MutateSync(AddPeer(3));
  ASSERT_TRUE(by_a.ok()) << by_a.status();
  EXPECT_EQ(by_a->revision(), 2u);
  EXPECT_TRUE(Lists(*by_a, 2)) << "B's acknowledged change was overwritten: "
                               << by_a->ShortDebugString();
  EXPECT_TRUE(Lists(*by_a, 3));
  EXPECT_THAT(StoredJson(), HasSubstr("00000000-0000-4000-8000-100000000002"));
}

// Another session that holds the document row's lock (SELECT ... FOR
// UPDATE in an open transaction) from Start() until Release() or `limit`.
class RowLockHolder {
 public:
  explicit RowLockHolder(std::string uri) : uri_(std::move(uri)) {}
  ~RowLockHolder() { Release(); }

  // Returns once the lock is held (false: it could not be taken).
  bool Start(absl::Duration limit) {
    thread_ = std::thread([this, limit] {
      try {
        pqxx::connection c(uri_);
        pqxx::work txn(c);
        txn.exec("SELECT 1 FROM peerlab.document WHERE id = 1 FOR UPDATE");
        std::unique_lock<std::mutex> lock(mu_);
        state_ = kHeld;
        cv_.notify_all();
        cv_.wait_for(lock, absl::ToChronoSeconds(limit),
                     [this] { return released_; });
        lock.unlock();
        txn.commit();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu_);
        error_ = e.what();
      }
      std::lock_guard<std::mutex> lock(mu_);
      state_ = kDone;
      cv_.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return state_ != kStarting; });
    return state_ == kHeld;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  std::string error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  enum State { kStarting, kHeld, kDone };
  const std::string uri_;
  std::mutex mu_;
  std::condition_variable cv_;
  State state_ = kStarting;
  bool released_ = false;
  std::string error_;
  std::thread thread_;
};

// The store's connections break while idle (a reset from the network): the
// sessions the store uses afterwards still have its statement_timeout, so
// a change waiting for the row lock ends within it (Unavailable) instead
// of waiting as long as another session holds the lock. libpqxx 6 could
// reconnect a broken connection by itself into a session without the
// settings Connect() gives it; it does not here: the first use of the
// broken connection throws ("Connection to database failed"), and the
// store drops a connection after any exception and makes a new one.
TEST_F(PostgresStoreFaultTest, ABrokenConnectionIsNotResumedSilently) {
  auto cutter = CommitCutter::Start(server_->port());
  ASSERT_NE(cutter, nullptr);
  ::bootstrap::v1::Config config;
  config.set_max_peers(100);
  auto store = PostgresStore::Open(
      {.uri = absl::StrCat("postgres://postgres@127.0.0.1:", cutter->port(),
                           "/postgres"),
       .initial_config = config,
       .statement_timeout = absl::Seconds(1)});
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());

  // The store's connections are reset (their next send fails), and
  // another session holds the row lock for up to 20 s.
  cutter->ResetAll();
  // The listener notices at once and connects again; the worker's
  // connection is idle, its reset not yet seen.
  ASSERT_TRUE(Eventually([&] { return (*store)->Read().ok(); }))
      << (*store)->Read().status();
  RowLockHolder holder(server_->uri());
  ASSERT_TRUE(holder.Start(absl::Seconds(20))) << holder.error();
  for (int i = 0; i < 3; ++i) {
    const absl::Time start = absl::Now();
    auto doc = (*store)->MutateSync(AddPeer(10 + i));
    const absl::Duration took = absl::Now() - start;
    std::cout << "change " << i << ": " << doc.status() << " after " << took
              << "\n";
    EXPECT_EQ(doc.status().code(), absl::StatusCode::kUnavailable)
        << "change " << i << ": " << doc.status() << " after " << took
        << " while another session held the row lock";
    EXPECT_LT(took, absl::Seconds(5))
        << "change " << i << " waited for the row lock without the "
        << "statement timeout (1 s)";
  }
  holder.Release();
  absl::StatusOr<Store::Document> doc;
  ASSERT_TRUE(Eventually([&] {
    doc = (*store)->MutateSync(AddPeer(2));
    return doc.ok();
  })) << doc.status();
  EXPECT_TRUE(Lists(*doc, 1) && Lists(*doc, 2));
}

}  // namespace
}  // namespace peerlab::bootstrap
