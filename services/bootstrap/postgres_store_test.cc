// What only the PostgreSQL store does: several stores (replicas) on one
// database, the schema and its version, outages of the database. The Store
// contract itself is tested by store_test.cc for every store.
#include "services/bootstrap/postgres_store.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/bootstrap/document.h"
#include "base/testing/eventually.h"
#include "base/testing/postgres.h"

namespace peerlab::bootstrap {
namespace {

using ::peerlab::testing::Eventually;

using ::peerlab::testing::PostgresAvailable;
using ::peerlab::testing::PostgresServer;
using ::testing::HasSubstr;

Store::Mutation AddPeer(int n) {
  return [n](Document& doc) -> absl::StatusOr<bool> {
    Peer* p = doc.add_peers();
    p->set_id(absl::StrCat("00000000-0000-4000-8000-", 100000000000 + n));
    p->set_name(absl::StrCat("p", n));
    p->set_host("127.0.0.1");
    p->set_port(7946);
    p->set_protocol(::bootstrap::v1::PROTOCOL_UDP);
    p->mutable_started_at()->set_seconds(n);
    return true;
  };
}

// Counts one change in the config (min_refill_candidates): a lost update
// shows as a short count, and the document stays small however many run.
Store::Mutation Count() {
  return [](Document& doc) -> absl::StatusOr<bool> {
    doc.mutable_config()->set_min_refill_candidates(
        doc.config().min_refill_candidates() + 1);
    return true;
  };
}

// Records the revisions a store's listener delivers.
class Recorder {
 public:
  explicit Recorder(Store* store) : store_(store) {
    handle_ = store->Subscribe([this](const Document& d) {
      std::lock_guard<std::mutex> lock(mu_);
      revisions_.push_back(d.revision());
      last_ = d;
    });
  }
  ~Recorder() { store_->Unsubscribe(handle_); }
  std::vector<uint64_t> revisions() {
    std::lock_guard<std::mutex> lock(mu_);
    return revisions_;
  }
  Document last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }
  uint64_t last_revision() {
    std::lock_guard<std::mutex> lock(mu_);
    return revisions_.empty() ? 0 : revisions_.back();
  }

 private:
  Store* store_;
  int handle_;
  std::mutex mu_;
  std::vector<uint64_t> revisions_;
  Document last_;
};

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto s = PostgresAvailable(); !s.ok()) GTEST_SKIP() << s.message();
    auto server = PostgresServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    uri_ = server_->uri();
  }

  absl::StatusOr<std::unique_ptr<PostgresStore>> Open(uint32_t max_peers = 3) {
    Config config;
    config.set_max_peers(max_peers);
    return PostgresStore::Open({.uri = uri_, .initial_config = config});
  }

  std::unique_ptr<PostgresServer> server_;
  std::string uri_;
};

// Two replicas writing at once: every change counted once, the revision
// strictly increasing across both, and each replica's listeners see the
// other's changes in order.
TEST_F(PostgresStoreTest, TwoStoresOnOneDatabaseLoseNoUpdate) {
  auto a = Open();
  uri_ += "?peerlab_connections=3";  // B's commits may finish out of order
  auto b = Open();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  Recorder seen_a(a->get());
  Recorder seen_b(b->get());
  // One change through B reaches A's listeners (LISTEN/NOTIFY).
  const absl::Time start = absl::Now();
  ASSERT_TRUE((*b)->MutateSync(AddPeer(999999)).ok());
  ASSERT_TRUE(Eventually([&] { return seen_a.last_revision() == 1; }));
  std::cout << "seen through the other store after "
            << absl::FormatDuration(absl::Now() - start) << "\n";
  ASSERT_EQ(seen_a.last().peers_size(), 1);
  EXPECT_EQ(seen_a.last().peers(0).name(), "p999999");
  EXPECT_EQ((*a)->Read()->revision(), 1u);

  // Then both write at once.
  constexpr int kThreads = 8;  // 4 per store
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<uint64_t> acknowledged;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store* store = t % 2 == 0 ? a->get() : b->get();
      for (int i = 0; i < kPerThread; ++i) {
        auto doc = store->MutateSync(Count());
        ASSERT_TRUE(doc.ok()) << doc.status();
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.push_back(doc->revision());
      }
    });
  }
  for (auto& t : threads) t.join();
  constexpr uint64_t kTotal = kThreads * kPerThread + 1;
  // Every acknowledged revision is distinct: 2..kTotal, each exactly once.
  std::sort(acknowledged.begin(), acknowledged.end());
  ASSERT_EQ(acknowledged.size(), kTotal - 1);
  for (uint64_t i = 0; i + 1 < kTotal; ++i) ASSERT_EQ(acknowledged[i], i + 2);
  for (Store* store : {a->get(), b->get()}) {
    EXPECT_TRUE(Eventually([&] { return store->Read()->revision() == kTotal; }))
        << store->Read()->revision();
    EXPECT_EQ(store->Read()->config().min_refill_candidates(), kTotal - 1);
  }
  for (Recorder* r : {&seen_a, &seen_b}) {
    EXPECT_TRUE(Eventually([&] { return r->last_revision() == kTotal; }));
    std::vector<uint64_t> revisions = r->revisions();
    for (size_t i = 1; i < revisions.size(); ++i) {
      ASSERT_GT(revisions[i], revisions[i - 1]) << "at " << i;
    }
    EXPECT_EQ(r->last().config().min_refill_candidates(), kTotal - 1);
    std::cout << "a listener saw " << revisions.size() << " of " << kTotal
              << " revisions\n";
  }
  EXPECT_GT((*a)->commits() + (*b)->commits(), 0u);
  std::cout << "transactions: " << (*a)->commits() << " + " << (*b)->commits()
            << " for " << kTotal << " changes\n";
}

// The queue of mutations waiting for the database was unbounded: a flood
// of calls while the database was slow grew it without limit. Now the
// store refuses beyond max_pending, at once, saying it is busy.
TEST_F(PostgresStoreTest, AFullQueueIsRefusedNotGrown) {
  Config config;
  config.set_max_peers(3);
  auto store = PostgresStore::Open(
      {.uri = uri_, .initial_config = config, .max_pending = 4});
  ASSERT_TRUE(store.ok()) << store.status();
  // The worker is held inside one mutation; the next ones queue.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  std::atomic<bool> once{false};
  std::promise<void> first_done;
  (*store)->Mutate(
      [&](Document&) -> absl::StatusOr<bool> {
        if (!once.exchange(true)) entered.set_value();
        released.wait();
        return false;
      },
      [&](absl::StatusOr<Document>) { first_done.set_value(); });
  entered.get_future().wait();
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  for (int i = 0; i < 4; ++i) {
    (*store)->Mutate(Count(), [&](absl::StatusOr<Document> r) {
      ok += r.ok();
      ++answered;
    });
  }
  std::promise<absl::Status> fifth;
  (*store)->Mutate(Count(), [&](absl::StatusOr<Document> r) {
    fifth.set_value(r.status());
  });
  auto refused = fifth.get_future();
  const bool at_once = refused.wait_for(std::chrono::seconds(5)) ==
                       std::future_status::ready;
  EXPECT_TRUE(at_once) << "the fifth mutation was queued, not refused";
  release.set_value();  // every callback is answered before they go away
  first_done.get_future().wait();
  absl::Status status = refused.get();
  EXPECT_TRUE(Eventually([&] { return answered.load() == 4; }));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("busy"));
  EXPECT_EQ((*store)->busy_refusals(), 1u);
  EXPECT_EQ(ok.load(), 4);
}

// Lease expiry is a mutation like any other: two replicas expiring the same
// lease at once make one change, not two.
TEST_F(PostgresStoreTest, ConcurrentExpiryThroughTwoStoresChangesOnce) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a.ok() && b.ok());
  const absl::Time now = absl::Now();
  ASSERT_TRUE(
      (*a)->MutateSync([now](Document& doc) -> absl::StatusOr<bool> {
            for (int i = 0; i < 3; ++i) {
              // A valid peer: stores refuse to load invalid ones.
              (void)AddPeer(i)(doc);
              Peer* p = doc.mutable_peers(doc.peers_size() - 1);
              p->set_id(absl::StrCat("00000000-0000-4000-8000-00000000000", i));
              p->mutable_lease_expires_at()->set_seconds(
                  absl::ToUnixSeconds(now) - 1);
            }
            return true;
          })
          .ok());
  std::atomic<int> dropped{0};
  std::vector<std::thread> sweepers;
  for (int t = 0; t < 8; ++t) {
    sweepers.emplace_back([&, t] {
      Store* store = t % 2 == 0 ? a->get() : b->get();
      auto doc = store->MutateSync([&](Document& d) -> absl::StatusOr<bool> {
        auto ids = ExpireLeases(d, now);
        dropped += static_cast<int>(ids.size());
        return !ids.empty();
      });
      EXPECT_TRUE(doc.ok()) << doc.status();
    });
  }
  for (auto& t : sweepers) t.join();
  EXPECT_EQ(dropped.load(), 3);
  EXPECT_EQ((*a)->Read()->revision(), 2u);
  EXPECT_EQ((*a)->Read()->peers_size(), 0);
  EXPECT_TRUE(Eventually([&] { return (*b)->Read()->revision() == 2; }));
}

// The database stops: calls answer Unavailable at once; it comes back: the
// store reconnects by itself and nothing acknowledged is missing.
TEST_F(PostgresStoreTest, DatabaseOutageAnswersUnavailableAndRecovers) {
  auto store = Open(100);
  ASSERT_TRUE(store.ok()) << store.status();
  auto seen = std::make_unique<Recorder>(store->get());
  std::mutex health_mu;
  absl::Status health = absl::InternalError("never reported");
  (*store)->SetHealthListener([&](const absl::Status& s) {
    std::lock_guard<std::mutex> lock(health_mu);
    health = s;
  });
  auto healthy = [&] {
    std::lock_guard<std::mutex> lock(health_mu);
    return health.ok();
  };
  EXPECT_TRUE(healthy());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE((*store)->MutateSync(AddPeer(i)).ok());

  ASSERT_TRUE(server_->Stop().ok());
  EXPECT_TRUE(Eventually([&] { return !healthy(); }))
      << "health stayed OK with the database down";
  for (int i = 0; i < 5; ++i) {
    const absl::Time start = absl::Now();
    auto doc = (*store)->MutateSync(AddPeer(100 + i));
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(doc.status().code(), absl::StatusCode::kUnavailable)
        << doc.status();
    EXPECT_LT(took, absl::Seconds(1)) << doc.status();
  }
  EXPECT_TRUE(Eventually([&] {
    return (*store)->Read().status().code() == absl::StatusCode::kUnavailable;
  }));
  EXPECT_THAT(std::string((*store)->Read().status().message()),
              HasSubstr("PostgreSQL"));

  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  absl::StatusOr<Document> doc;
  const absl::Time back = absl::Now();
  ASSERT_TRUE(Eventually([&] {
    doc = (*store)->MutateSync(AddPeer(5));
    return doc.ok();
  })) << doc.status();
  std::cout << "first success " << absl::FormatDuration(absl::Now() - back)
            << " after the database was back\n";
  EXPECT_TRUE(Eventually(healthy)) << "health did not come back";
  EXPECT_EQ(doc->revision(), 6u);
  EXPECT_EQ(doc->peers_size(), 6);
  EXPECT_TRUE(Eventually([&] { return (*store)->Read().ok(); }));
  (*store)->SetHealthListener(nullptr);
  EXPECT_EQ((*store)->Read()->revision(), 6u);
  EXPECT_EQ(seen->last_revision(), 6u);
  seen.reset();
  store->reset();

  // A server that starts while the database is down fails at once.
  ASSERT_TRUE(server_->Stop().ok());
  const absl::Time start = absl::Now();
  auto refused = Open();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable)
      << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("connect"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

// The schema is applied at the first start and versioned; a newer schema
// or a document this server cannot read is refused and left as it is.
TEST_F(PostgresStoreTest, SchemaIsAppliedVersionedAndChecked) {
  {
    auto store = Open(4);
    ASSERT_TRUE(store.ok()) << store.status();
    auto version =
        server_->Psql("postgres", "SELECT version FROM peerlab.schema_version");
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ(*version, "2");
    auto row =
        server_->Psql("postgres",
                      "SELECT revision, document->'config'->>'max_peers' "
                      "FROM peerlab.document");
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_EQ(*row, "0|4");
    ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());
  }
  // A second start finds the schema and the row: both kept.
  {
    auto store = Open(9);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->Read()->revision(), 1u);
    EXPECT_EQ((*store)->Read()->config().max_peers(), 4u);
  }

  ASSERT_TRUE(
      server_->Psql("postgres", "INSERT INTO peerlab.schema_version VALUES (3)")
          .ok());
  auto newer = Open();
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(newer.status().message()), HasSubstr("version 3"));
  EXPECT_THAT(std::string(newer.status().message()), HasSubstr("upgrade"));
  auto row = server_->Psql("postgres", "SELECT revision FROM peerlab.document");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(*row, "1");

  ASSERT_TRUE(server_
                  ->Psql("postgres",
                         "DELETE FROM peerlab.schema_version WHERE version = 3;"
                         "UPDATE peerlab.document SET document = "
                         "'{\"Peers\": {}, \"Config\": 1}'")
                  .ok());
  auto foreign = Open();
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kDataLoss)
      << foreign.status();
  EXPECT_THAT(std::string(foreign.status().message()),
              HasSubstr("refusing to use or overwrite"));
}

// A version-1 database (before entry ownership) is migrated to version 2;
// its entries are kept, without an owner secret (the admin's to remove).
TEST_F(PostgresStoreTest, SchemaOneIsMigratedKeepingEntriesWithoutOwner) {
  {
    auto store = Open(4);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  ASSERT_TRUE(
      server_
          ->Psql("postgres",
                 "DELETE FROM peerlab.schema_version;"
                 "INSERT INTO peerlab.schema_version VALUES (1);"
                 "UPDATE peerlab.document SET revision = 7, document = "
                 "'{\"config\": {\"max_peers\": 4}, \"peers\": [{\"id\": "
                 "\"123e4567-e89b-42d3-a456-426614174000\", \"name\": \"old\","
                 " \"host\": \"127.0.0.1\", \"port\": 7000, \"protocol\": "
                 "\"PROTOCOL_UDP\", \"started_at\": \"2020-01-01T00:00:00Z\"}],"
                 " \"revision\": \"7\"}'")
          .ok());
  auto store = Open(4);
  ASSERT_TRUE(store.ok()) << store.status();
  auto version = server_->Psql(
      "postgres", "SELECT max(version) FROM peerlab.schema_version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, "2");
  auto doc = (*store)->Read();
  ASSERT_TRUE(doc.ok());
  ASSERT_EQ(doc->peers_size(), 1);
  EXPECT_EQ(doc->peers(0).name(), "old");
  EXPECT_TRUE(doc->peers(0).owner_secret_sha256().empty());
  EXPECT_EQ(doc->revision(), 7u);
}

TEST(PostgresStoreUriTest, PasswordsAreRedacted) {
  EXPECT_EQ(PostgresStore::RedactUri("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x");
  EXPECT_EQ(PostgresStore::RedactUri("postgresql://u@db/x?password=s&a=b"),
            "postgresql://u@db/x?password=***&a=b");
  EXPECT_EQ(PostgresStore::RedactUri("postgres://db/x"), "postgres://db/x");
}

TEST(PostgresStoreUriTest, PoolSizeParameterIsCheckedBeforeConnecting) {
  for (const char* uri :
       {"postgres://u@127.0.0.1:1/x?peerlab_connections=0",
        "postgres://u@127.0.0.1:1/x?a=b&peerlab_connections=x",
        "postgres://u@127.0.0.1:1/x?peerlab_connections=65"}) {
    auto store = PostgresStore::Open({.uri = uri});
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument)
        << uri << ": " << store.status();
  }
  EXPECT_EQ(PostgresStore::Open({.uri = "mysql://x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PostgresStoreUriTest, DocumentJsonRoundTrips) {
  Config c;
  c.set_max_peers(4);
  Document d = NewDocument(c);
  Peer* p = d.add_peers();
  p->set_id("123e4567-e89b-42d3-a456-426614174000");
  p->set_name("älice");
  p->set_host("::1");
  p->set_port(7946);
  p->set_protocol(::bootstrap::v1::PROTOCOL_UDP);
  p->mutable_started_at()->set_seconds(1234);
  p->mutable_lease_expires_at()->set_seconds(5678);
  d.set_revision(17);
  auto back =
      PostgresStore::DecodeDocument(PostgresStore::EncodeDocument(d), 17);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), d.SerializeAsString());
  EXPECT_EQ(PostgresStore::DecodeDocument("{\"nope\": 1}", 0).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace peerlab::bootstrap
