// Crash safety of peerlab-bootstrap on the file store: clients write while
// the server is killed with SIGKILL; after a restart on the same file, the
// file loads and holds every acknowledged mutation.
//
// The model: each id is used by one client thread only, and a thread sends
// an id's next operation only after the previous one was acknowledged. So
// per id the test knows, after each kill:
//   - join acknowledged, no leave sent        -> the id must be stored;
//   - leave acknowledged                       -> the id must be absent;
//   - last operation sent but not acknowledged -> either (it was in flight
//     at the kill); the state found after the restart becomes the new truth.
// Every stored id must be one the test sent, and the revision after the
// restart is at least the highest revision any acknowledgement carried.
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/bootstrap/v1/bootstrap.grpc.pb.h"
#include "base/testing/subprocess.h"
#include "base/uuid.h"

namespace peerlab::bootstrap {
namespace {

namespace pb = ::bootstrap::v1;
using ::peerlab::testing::BootstrapServer;
using ::peerlab::testing::StartBootstrapServer;
using ::peerlab::testing::TempDir;

constexpr int kWriters = 8;
constexpr int kKillCycles = 3;
// Acknowledged mutations per cycle before the kill, plus a random extra of up
// to kAcksJitter so kills land at different points of the commit pipeline
// (the kill lands while the writers are busy: they never stop on their own).
constexpr int kAcksBeforeKill = 200;
constexpr int kAcksJitter = 200;

// Idle gRPC clients notice a server's GOAWAY on their backup poll (5 s by
// default), and the server's graceful stop waits for them: poll often.
[[maybe_unused]] const bool kBackupPollSet =
    setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "50", 0) == 0;

enum class Known { kPresent, kAbsent, kEither };

// What the test knows about every id it ever sent. Thread-safe.
class Ledger {
 public:
  // Records that an operation on `id` was sent (its outcome unknown).
  void Sent(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    known_[id] = Known::kEither;
  }
  // Records the acknowledgement of the operation last sent on `id`.
  void Acked(const std::string& id, Known now, uint64_t revision) {
    std::lock_guard<std::mutex> lock(mu_);
    known_[id] = now;
    max_revision_ = std::max(max_revision_, revision);
    ++acks_;
    cv_.notify_all();
  }

  // Waits until `count` acknowledgements in all, at most `timeout`.
  bool WaitForAcks(uint64_t count, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, absl::ToChronoTime(absl::Now() + timeout),
                          [&] { return acks_ >= count; });
  }

  uint64_t acks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acks_;
  }

  // Checks `doc` (loaded after a restart) against what was acknowledged,
  // then takes it as the truth for ids whose fate was unknown. Returns how
  // many ids were in doubt.
  int CheckAndSettle(const pb::Document& doc) {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<std::string> stored;
    for (const auto& p : doc.peers()) {
      stored.insert(p.id());
      EXPECT_TRUE(known_.count(p.id())) << "stored id never sent: " << p.id();
    }
    EXPECT_GE(doc.revision(), max_revision_);
    int doubtful = 0;
    for (auto& [id, known] : known_) {
      const bool present = stored.count(id) > 0;
      switch (known) {
        case Known::kPresent:
          EXPECT_TRUE(present) << "acknowledged join lost: " << id;
          break;
        case Known::kAbsent:
          EXPECT_FALSE(present) << "acknowledged leave lost: " << id;
          break;
        case Known::kEither:
          ++doubtful;
          known = present ? Known::kPresent : Known::kAbsent;
          break;
      }
    }
    max_revision_ = std::max(max_revision_, doc.revision());
    return doubtful;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Known> known_;
  uint64_t max_revision_ = 0;
  uint64_t acks_ = 0;
};

// Writes until a call fails (the server died): joins a new id, and once it
// holds more than two, leaves the oldest one it holds.
void Writer(const std::string& address, int n, Ledger& ledger,
            std::deque<std::string>& held) {
  auto stub = pb::BootstrapData::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  auto deadline = [] {
    return absl::ToChronoTime(absl::Now() + absl::Seconds(10));
  };
  while (true) {
    const std::string id = NewUuid();
    pb::JoinRequest join;
    join.mutable_peer()->set_id(id);
    join.mutable_peer()->set_name(absl::StrCat("writer-", n));
    join.mutable_peer()->set_host("127.0.0.1");
    join.mutable_peer()->set_port(30000 + n);
    join.mutable_peer()->set_protocol(pb::PROTOCOL_UDP);
    join.set_secret(absl::StrCat("secret-of-crash-writer-", n, "-0123456789"));
    pb::JoinResponse joined;
    grpc::ClientContext jc;
    jc.set_deadline(deadline());
    ledger.Sent(id);
    if (!stub->Join(&jc, join, &joined).ok()) return;
    EXPECT_TRUE(joined.joined());
    ledger.Acked(id, Known::kPresent, joined.document().revision());
    held.push_back(id);

    if (held.size() <= 2) continue;
    const std::string old = held.front();
    pb::LeaveRequest leave;
    leave.set_id(old);
    leave.set_secret(join.secret());
    pb::LeaveResponse left;
    grpc::ClientContext lc;
    lc.set_deadline(deadline());
    ledger.Sent(old);
    if (!stub->Leave(&lc, leave, &left).ok()) return;
    EXPECT_TRUE(left.removed());
    ledger.Acked(old, Known::kAbsent, left.document().revision());
    held.pop_front();
  }
}

TEST(CrashSafetyTest, KillDashNineKeepsEveryAcknowledgedMutation) {
  auto dir = TempDir::Create("bootstrap-crash");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string store = "file:" + (*dir)->File("store.json");
  const std::vector<std::string> args = {
      "--store",     store,  "--max-peers", "5000",
      "--log-level", "warn", "--join-rate", "0"};
  Ledger ledger;
  // Ids each writer slot still holds; a writer whose id's fate was unknown
  // at a kill forgets it (the ledger keeps checking it).
  std::vector<std::deque<std::string>> held(kWriters);

  const unsigned seed = std::random_device()();
  std::cout << "seed " << seed << "\n";
  std::mt19937 random(seed);

  auto server = StartBootstrapServer((*dir)->path(), args);
  ASSERT_TRUE(server.ok()) << server.status();
  for (int cycle = 0; cycle < kKillCycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    const uint64_t acks_before = ledger.acks();
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back(Writer, server->address, w, std::ref(ledger),
                           std::ref(held[w]));
    }
    const uint64_t kill_after = kAcksBeforeKill + random() % (kAcksJitter + 1);
    ASSERT_TRUE(ledger.WaitForAcks(acks_before + kill_after, absl::Seconds(30)))
        << "only " << ledger.acks() - acks_before << " acknowledgements";
    auto killed = server->process->Kill();
    ASSERT_TRUE(killed.ok()) << killed.status();
    EXPECT_TRUE(killed->signaled && killed->signal == SIGKILL)
        << killed->ToString();
    for (auto& t : writers) t.join();

    server = StartBootstrapServer((*dir)->path(), args);
    ASSERT_TRUE(server.ok())
        << "restart on the killed server's file: " << server.status();
    auto stub = pb::BootstrapData::NewStub(grpc::CreateChannel(
        server->address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    pb::ListResponse list;
    grpc::Status s = stub->List(&context, pb::ListRequest(), &list);
    ASSERT_TRUE(s.ok()) << s.error_message();
    const int doubtful = ledger.CheckAndSettle(list.document());
    std::cout << "cycle " << cycle << ": " << ledger.acks() - acks_before
              << " acknowledged, revision " << list.document().revision()
              << ", " << list.document().peers_size() << " peers, " << doubtful
              << " in flight at the kill\n";
    // Writers start the next cycle holding only ids known to be stored.
    std::set<std::string> stored;
    for (const auto& p : list.document().peers()) stored.insert(p.id());
    for (auto& h : held) {
      std::erase_if(
          h, [&](const std::string& id) { return stored.count(id) == 0; });
    }
  }
  ASSERT_TRUE(server->process->Signal(SIGTERM).ok());
  auto exit = server->process->Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString();
}

}  // namespace
}  // namespace peerlab::bootstrap
