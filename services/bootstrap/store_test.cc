// The Store contract (store.h), one suite run against every durable store:
// the file store, and the PostgreSQL store on a private PostgreSQL 15
// server (skipped, with the reason, where one cannot be started).
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/bootstrap/bootstrap_service.h"
#include "services/bootstrap/document.h"
#include "services/bootstrap/file_store.h"
#include "services/bootstrap/postgres_store.h"
#include "base/testing/postgres.h"
#include "base/testing/subprocess.h"

namespace peerlab::bootstrap {
namespace {

using ::peerlab::testing::PostgresAvailable;
using ::peerlab::testing::PostgresServer;
using ::peerlab::testing::TempDir;

// Adds a peer named "p<n>" (its id derived from `n`).
Store::Mutation AddPeer(int n) {
  return [n](Document& doc) -> absl::StatusOr<bool> {
    Peer* p = doc.add_peers();
    p->set_id(absl::StrCat("00000000-0000-4000-8000-", 100000000000 + n));
    p->set_name(absl::StrCat("p", n));
    p->set_host("127.0.0.1");
    p->set_port(7946);
    p->set_protocol(::bootstrap::v1::PROTOCOL_UDP);
    p->mutable_started_at()->set_seconds(n);  // keeps the list sorted
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

Store::Mutation NoChange() {
  return [](Document&) -> absl::StatusOr<bool> { return false; };
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("peerlab-store-test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    if (GetParam() == "postgres") {
      if (auto s = PostgresAvailable(); !s.ok()) GTEST_SKIP() << s.message();
      auto server = PostgresServer::Start();
      ASSERT_TRUE(server.ok()) << server.status();
      postgres_ = *std::move(server);
      // Four workers: commits finish out of order, so this also tests that
      // listeners still see revisions in order.
      uri_ = postgres_->uri() + "?peerlab_connections=4";
    }
  }

  // Opens the store under test (again, after a Close, for restarts).
  absl::StatusOr<std::unique_ptr<Store>> Open(uint32_t max_peers = 3) {
    Config config;
    config.set_max_peers(max_peers);
    if (GetParam() == "file") {
      auto store = FileStore::Open(
          {.path = dir_->File("bootstrap.json"), .initial_config = config});
      if (!store.ok()) return store.status();
      return std::unique_ptr<Store>(std::move(*store));
    }
    auto store = PostgresStore::Open({.uri = uri_, .initial_config = config});
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<PostgresServer> postgres_;
  std::string uri_;
};

TEST_P(StoreTest, RevisionGrowsByOnePerChange) {
  auto store = Open(5);
  ASSERT_TRUE(store.ok()) << store.status();
  auto fresh = (*store)->Read();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->revision(), 0u);
  EXPECT_EQ(fresh->config().max_peers(), 5u);
  EXPECT_EQ(fresh->peers_size(), 0);
  std::vector<uint64_t> seen;  // listeners run before `done`
  int handle = (*store)->Subscribe(
      [&](const Document& d) { seen.push_back(d.revision()); });
  for (int i = 1; i <= 5; ++i) {
    auto doc = (*store)->MutateSync(AddPeer(i));
    ASSERT_TRUE(doc.ok()) << doc.status();
    EXPECT_EQ(doc->revision(), static_cast<uint64_t>(i));
    EXPECT_EQ(doc->peers_size(), i);
    auto read = (*store)->Read();
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->SerializeAsString(), doc->SerializeAsString());
    if (i == 3) (*store)->Unsubscribe(handle);
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
}

TEST_P(StoreTest, NoChangeKeepsRevision) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());
  auto doc = (*store)->MutateSync(NoChange());
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->revision(), 1u);
  EXPECT_EQ(doc->peers_size(), 1);
  EXPECT_EQ((*store)->Read()->revision(), 1u);
}

TEST_P(StoreTest, FailedMutationStoresNothing) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  auto doc = (*store)->MutateSync([](Document& d) -> absl::StatusOr<bool> {
    d.add_peers()->set_name("half-done");
    return absl::InvalidArgumentError("nope");
  });
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(doc.status().message(), "nope");
  EXPECT_EQ((*store)->Read()->peers_size(), 0);
  EXPECT_EQ((*store)->Read()->revision(), 0u);
  // Nor does it spoil the next one.
  auto next = (*store)->MutateSync(AddPeer(1));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->revision(), 1u);
  ASSERT_EQ(next->peers_size(), 1);
  EXPECT_EQ(next->peers(0).name(), "p1");
}

TEST_P(StoreTest, ConcurrentMutationsLoseNothingAndNotifyInOrder) {
  auto store = Open(1000);  // room for every peer added
  ASSERT_TRUE(store.ok()) << store.status();
  std::mutex mu;
  std::vector<uint64_t> seen;
  int handle = (*store)->Subscribe([&](const Document& d) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(d.revision());
  });
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Mix in failing and no-op mutations: they must not disturb order.
        if (i % 10 == 3) {
          EXPECT_FALSE((*store)
                           ->MutateSync([](Document&) -> absl::StatusOr<bool> {
                             return absl::AbortedError("no");
                           })
                           .ok());
        }
        if (i % 10 == 7) {
          EXPECT_TRUE((*store)->MutateSync(NoChange()).ok());
        }
        // Every tenth change adds a peer, the others count.
        auto doc =
            (*store)->MutateSync(i % 10 == 0 ? AddPeer(t * 1000 + i) : Count());
        EXPECT_TRUE(doc.ok()) << doc.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  (*store)->Unsubscribe(handle);
  constexpr uint64_t kTotal = kThreads * kPerThread;
  constexpr int kPeers = kThreads * kPerThread / 10;
  EXPECT_EQ((*store)->Read()->revision(), kTotal);
  EXPECT_EQ((*store)->Read()->peers_size(), kPeers);
  EXPECT_EQ((*store)->Read()->config().min_refill_candidates(),
            kTotal - kPeers);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), kTotal);
  for (uint64_t i = 0; i < kTotal; ++i) ASSERT_EQ(seen[i], i + 1);
  store->reset();
  auto reopened = Open(1000);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Read()->revision(), kTotal);
  EXPECT_EQ((*reopened)->Read()->peers_size(), kPeers);
  EXPECT_EQ((*reopened)->Read()->config().min_refill_candidates(),
            kTotal - kPeers);
}

TEST_P(StoreTest, RestartKeepsStateAndIgnoresInitialConfig) {
  {
    auto store = Open(3);
    ASSERT_TRUE(store.ok()) << store.status();
    auto doc = (*store)->MutateSync(AddPeer(1));
    ASSERT_TRUE(doc.ok()) << doc.status();
    EXPECT_EQ(doc->revision(), 1u);
  }
  auto store = Open(9);
  ASSERT_TRUE(store.ok()) << store.status();
  auto doc = (*store)->Read();
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->revision(), 1u);
  EXPECT_EQ(doc->config().max_peers(), 3u);
  ASSERT_EQ(doc->peers_size(), 1);
  EXPECT_EQ(doc->peers(0).name(), "p1");
  EXPECT_EQ(doc->peers(0).started_at().seconds(), 1);
}

// Issue 13, squatting without a lease, on each durable store: a client
// that joins and never renews holds its place only for the default lease.
TEST_P(StoreTest, AnUnrenewedJoinFreesItsSlotAfterTheDefaultLease) {
  auto store = Open(/*max_peers=*/1);
  ASSERT_TRUE(store.ok()) << store.status();
  FakeClock clock(absl::Now());
  BootstrapService service(store->get(), &clock,
                           {.sweep_interval = absl::ZeroDuration()});
  auto join = [&](int n) {
    pb::JoinRequest request;
    request.mutable_peer()->set_id(
        absl::StrCat("00000000-0000-4000-8000-", 100000000000 + n));
    request.mutable_peer()->set_name(absl::StrCat("p", n));
    request.mutable_peer()->set_host("127.0.0.1");
    request.mutable_peer()->set_port(7000 + n);
    request.mutable_peer()->set_protocol(::bootstrap::v1::PROTOCOL_UDP);
    std::promise<absl::StatusOr<pb::JoinResponse>> answer;
    service.Join(request, {.client = "10.0.0.1"},
                 [&](auto r) { answer.set_value(std::move(r)); });
    return answer.get_future().get();
  };
  auto squatter = join(1);
  ASSERT_TRUE(squatter.ok()) << squatter.status();
  ASSERT_TRUE(squatter->joined());
  auto refused = join(2);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->joined());
  clock.Advance(absl::Seconds(61));
  auto joined = join(2);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_TRUE(joined->joined());
  auto list = service.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->document().peers_size(), 1);
  EXPECT_EQ(list->document().peers(0).name(), "p2");
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreTest,
                         ::testing::Values("file", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace peerlab::bootstrap
