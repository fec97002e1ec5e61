// End-to-end tests of peerlab-bootstrap: the real server process on a free
// loopback port, driven through the generated gRPC stubs.
//
// What the Watch checks assert: a watcher sees the current document first,
// then documents with strictly increasing revisions, each one a consistent
// snapshot, ending at the final revision. Revisions may be skipped: the
// server drops intermediate documents for a watcher that falls far behind
// (bootstrap.proto, WatchResponse), so the tests count skips but do not fail
// on them.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <latch>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/bootstrap/v1/bootstrap.grpc.pb.h"
#include "proto/third_party/grpc/health/v1/health.grpc.pb.h"
#include "services/bootstrap/integration_testing.h"
#include "base/testing/eventually.h"
#include "base/testing/subprocess.h"
#include "base/uuid.h"

namespace peerlab::bootstrap {
namespace {

using ::peerlab::testing::Eventually;

namespace pb = ::bootstrap::v1;
using ::peerlab::bootstrap::testing::ConnectedStub;
using ::peerlab::bootstrap::testing::Describe;
using ::peerlab::bootstrap::testing::MakePeer;
using ::peerlab::bootstrap::testing::NewChannel;
using ::peerlab::testing::BootstrapServer;
using ::peerlab::testing::ReadFile;
using ::peerlab::testing::StartBootstrapServer;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;
using ::testing::HasSubstr;

constexpr int kClients = 64;
constexpr int kCycles = 20;

// Client `c`'s entry secret (bootstrap.proto, "Entry ownership").
std::string ClientSecret(int c) {
  return absl::StrCat("secret-of-load-client-", c, "-0123456789abcdef");
}
constexpr absl::Duration kCallTimeout = absl::Seconds(20);

// A gRPC client channel with no call in progress reads its socket only on
// the "backup poll", every 5 s by default; a server shutting down waits for
// its clients to see the GOAWAY and close (at most its 5 s grace period).
// Poll often, so tests that stop a server with clients connected are quick.
// Set before the first channel is made (gRPC reads it once).
constexpr char kBackupPollMs[] = "50";
[[maybe_unused]] const bool kBackupPollSet =
    setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", kBackupPollMs, 0) ==
    0;

std::unique_ptr<pb::BootstrapData::Stub> NewStub(const std::string& address) {
  return pb::BootstrapData::NewStub(NewChannel(address));
}

void SetDeadline(grpc::ClientContext& context,
                 absl::Duration timeout = kCallTimeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// Peers are sorted by started_at, oldest first, then by id.
bool IsSorted(const pb::Document& doc) {
  for (int i = 1; i < doc.peers_size(); ++i) {
    const auto& a = doc.peers(i - 1).started_at();
    const auto& b = doc.peers(i).started_at();
    auto ka = std::make_tuple(a.seconds(), a.nanos(), doc.peers(i - 1).id());
    auto kb = std::make_tuple(b.seconds(), b.nanos(), doc.peers(i).id());
    if (!(ka < kb)) return false;
  }
  return true;
}

// Reads a Watch stream on its own thread and keeps every document.
class Watcher {
 public:
  explicit Watcher(const std::string& address) : stub_(NewStub(address)) {
    SetDeadline(context_, absl::Seconds(120));
    thread_ = std::thread([this] { Run(); });
  }

  ~Watcher() { Stop(); }

  // Waits until a document with revision >= `revision` arrived (or the
  // stream ended, or `timeout` passed). True if it arrived.
  bool WaitForRevision(uint64_t revision, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(
               lock, absl::ToChronoTime(absl::Now() + timeout),
               [&] {
                 return ended_ ||
                        (!docs_.empty() && docs_.back().revision() >= revision);
               }) &&
           !docs_.empty() && docs_.back().revision() >= revision;
  }

  // Ends the stream and returns every document read.
  std::vector<pb::Document> Stop() {
    context_.TryCancel();
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    return docs_;
  }

 private:
  void Run() {
    auto reader = stub_->Watch(&context_, pb::WatchRequest());
    pb::WatchResponse response;
    while (reader->Read(&response)) {
      std::lock_guard<std::mutex> lock(mu_);
      docs_.push_back(response.document());
      cv_.notify_all();
    }
    reader->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  std::unique_ptr<pb::BootstrapData::Stub> stub_;
  grpc::ClientContext context_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pb::Document> docs_;
  bool ended_ = false;
  std::thread thread_;
};

// Checks the documents a Watcher saw: first the document current when it
// started (`first_revision`), then strictly increasing revisions up to
// `final_revision`, each passing `check`. Returns how many revisions were
// skipped.
template <typename Check>
uint64_t ExpectWatchHistory(const std::vector<pb::Document>& docs,
                            uint64_t first_revision, uint64_t final_revision,
                            Check check) {
  EXPECT_FALSE(docs.empty());
  if (docs.empty()) return 0;
  EXPECT_EQ(docs.front().revision(), first_revision);
  EXPECT_EQ(docs.back().revision(), final_revision);
  for (size_t i = 1; i < docs.size(); ++i) {
    EXPECT_GT(docs[i].revision(), docs[i - 1].revision()) << "at " << i;
  }
  for (const auto& doc : docs) {
    EXPECT_TRUE(IsSorted(doc)) << doc.ShortDebugString();
    check(doc);
  }
  return (final_revision - first_revision + 1) - docs.size();
}

pb::Document List(pb::BootstrapData::Stub& stub) {
  grpc::ClientContext context;
  SetDeadline(context);
  pb::ListResponse response;
  grpc::Status status = stub.List(&context, pb::ListRequest(), &response);
  EXPECT_TRUE(status.ok()) << Describe(status);
  return response.document();
}

class ServerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("bootstrap-it");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
  }

  // Starts a server with `args`; fails the test if it does not come up.
  BootstrapServer Start(const std::vector<std::string>& args) {
    auto server = StartBootstrapServer(dir_->path(), args);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return {};
    return *std::move(server);
  }

  // Stops `server` with SIGTERM and expects a clean exit.
  void Stop(BootstrapServer& server) {
    ASSERT_TRUE(server.process->Signal(SIGTERM).ok());
    auto exit = server.process->Wait(absl::Seconds(10));
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_TRUE(exit->success()) << exit->ToString() << "\n"
                                 << server.process->ReadStderr();
  }

  std::unique_ptr<TempDir> dir_;
};

// (a) 64 clients, each joining and leaving its own ids: every mutation
// changes the document, so the final revision is exactly 2·64·N and the
// list is empty. A watcher sees consistent snapshots throughout: the number
// of peers has the parity of the revision (each change adds or removes one).
TEST_F(ServerIntegrationTest, ConcurrentJoinLeaveLosesNoUpdate) {
  BootstrapServer server =
      Start({"--store", "file:" + dir_->File("s.json"), "--join-rate", "0",
             "--max-peers", "5000", "--log-level", "warn"});
  ASSERT_TRUE(server.process);
  auto watcher = std::make_unique<Watcher>(server.address);
  ASSERT_TRUE(watcher->WaitForRevision(0, absl::Seconds(10)));

  std::latch start(kClients);
  std::atomic<int> failures{0};
  std::atomic<int> wrong_outcomes{0};
  std::mutex error_mu;
  std::string first_error;
  std::vector<std::thread> clients;
  const absl::Time began = absl::Now();
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = ConnectedStub(server.address);
      start.arrive_and_wait();
      for (int i = 0; i < kCycles; ++i) {
        const std::string id = NewUuid();
        pb::JoinRequest join;
        *join.mutable_peer() = MakePeer(id, c);
        join.set_secret(ClientSecret(c));
        pb::JoinResponse joined;
        grpc::ClientContext jc;
        SetDeadline(jc);
        grpc::Status s = stub->Join(&jc, join, &joined);
        if (s.ok()) {
          if (!joined.joined()) ++wrong_outcomes;
          pb::LeaveRequest leave;
          leave.set_id(id);
          leave.set_secret(ClientSecret(c));
          pb::LeaveResponse left;
          grpc::ClientContext lc;
          SetDeadline(lc);
          s = stub->Leave(&lc, leave, &left);
          if (s.ok() && !left.removed()) ++wrong_outcomes;
        }
        if (!s.ok()) {
          ++failures;
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = Describe(s);
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  const absl::Duration elapsed = absl::Now() - began;

  EXPECT_EQ(failures.load(), 0) << first_error;
  EXPECT_EQ(wrong_outcomes.load(), 0);
  const uint64_t expected = 2ull * kClients * kCycles;
  auto stub = NewStub(server.address);
  pb::Document doc = List(*stub);
  EXPECT_EQ(doc.revision(), expected);
  EXPECT_EQ(doc.peers_size(), 0) << doc.ShortDebugString();
  std::cout << expected << " durable mutations by " << kClients
            << " clients in " << absl::FormatDuration(elapsed) << " ("
            << static_cast<int>(expected / absl::ToDoubleSeconds(elapsed))
            << "/s)\n";

  EXPECT_TRUE(watcher->WaitForRevision(expected, absl::Seconds(10)));
  std::vector<pb::Document> docs = watcher->Stop();
  uint64_t skipped =
      ExpectWatchHistory(docs, 0, expected, [&](const pb::Document& d) {
        EXPECT_LE(d.peers_size(), kClients);
        EXPECT_EQ(d.peers_size() % 2, static_cast<int>(d.revision() % 2))
            << "revision " << d.revision() << " with " << d.peers_size()
            << " peers";
      });
  std::cout << "watcher saw " << docs.size() << " documents, skipped "
            << skipped << " revisions\n";
  watcher.reset();
  Stop(server);
}

// (b) max_peers 3: joins compete for three places. Every response that
// reports a change (a join that added the peer, a leave that removed it)
// accounts for exactly one revision; each client ends with one more join, so
// the final list holds exactly the ids whose last join succeeded.
TEST_F(ServerIntegrationTest, ContendedJoinsCountEveryChange) {
  BootstrapServer server =
      Start({"--store", "file:" + dir_->File("s.json"), "--join-rate", "0",
             "--max-peers", "3", "--log-level", "warn"});
  ASSERT_TRUE(server.process);
  auto watcher = std::make_unique<Watcher>(server.address);
  ASSERT_TRUE(watcher->WaitForRevision(0, absl::Seconds(10)));

  std::latch start(kClients);
  std::atomic<uint64_t> changes{0};
  std::atomic<int> joins_refused{0};
  std::atomic<int> failures{0};
  std::atomic<int> inconsistent{0};
  std::mutex mu;
  std::string first_error;
  std::set<std::string> last_joined;  // ids whose final join succeeded
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = ConnectedStub(server.address);
      auto fail = [&](const grpc::Status& s) {
        ++failures;
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.empty()) first_error = Describe(s);
      };
      auto join = [&](const std::string& id, bool* joined) {
        pb::JoinRequest request;
        *request.mutable_peer() = MakePeer(id, c);
        request.set_secret(ClientSecret(c));
        pb::JoinResponse response;
        grpc::ClientContext context;
        SetDeadline(context);
        grpc::Status s = stub->Join(&context, request, &response);
        if (!s.ok()) {
          fail(s);
          return false;
        }
        // The id is new (never used before), so joined means added.
        *joined = response.joined();
        if (response.joined()) {
          ++changes;
        } else {
          ++joins_refused;
        }
        if (response.document().peers_size() > 3) ++inconsistent;
        return true;
      };
      start.arrive_and_wait();
      for (int i = 0; i < kCycles; ++i) {
        const std::string id = NewUuid();
        bool joined = false;
        if (!join(id, &joined)) continue;
        pb::LeaveRequest request;
        request.set_id(id);
        request.set_secret(ClientSecret(c));
        pb::LeaveResponse response;
        grpc::ClientContext context;
        SetDeadline(context);
        grpc::Status s = stub->Leave(&context, request, &response);
        if (!s.ok()) {
          fail(s);
          continue;
        }
        // Only this client uses `id`: it is removed exactly when it was in.
        if (response.removed() != joined) ++inconsistent;
        if (response.removed()) ++changes;
      }
      const std::string id = NewUuid();
      bool joined = false;
      if (join(id, &joined) && joined) {
        std::lock_guard<std::mutex> lock(mu);
        last_joined.insert(id);
      }
    });
  }
  for (auto& t : clients) t.join();

  EXPECT_EQ(failures.load(), 0) << first_error;
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_GT(joins_refused.load(), 0) << "no contention: test proves little";
  auto stub = NewStub(server.address);
  pb::Document doc = List(*stub);
  EXPECT_EQ(doc.revision(), changes.load());
  std::set<std::string> listed;
  for (const auto& p : doc.peers()) listed.insert(p.id());
  EXPECT_EQ(listed, last_joined);
  // The last operation of all is some client's final join, which either
  // found the list full or joined: the list cannot end empty.
  EXPECT_GE(doc.peers_size(), 1);
  EXPECT_LE(doc.peers_size(), 3);
  std::cout << changes.load() << " changes, " << joins_refused.load()
            << " joins refused (list full)\n";

  EXPECT_TRUE(watcher->WaitForRevision(doc.revision(), absl::Seconds(10)));
  std::vector<pb::Document> docs = watcher->Stop();
  uint64_t skipped = ExpectWatchHistory(
      docs, 0, doc.revision(),
      [](const pb::Document& d) { EXPECT_LE(d.peers_size(), 3); });
  ASSERT_FALSE(docs.empty());
  EXPECT_EQ(docs.back().SerializeAsString(), doc.SerializeAsString());
  std::cout << "watcher saw " << docs.size() << " documents, skipped "
            << skipped << " revisions\n";
  watcher.reset();
  Stop(server);
}

// (d) grpc.health.v1 reports SERVING for the server and for the service.
TEST_F(ServerIntegrationTest, HealthCheckSaysServing) {
  BootstrapServer server = Start({"--store", "memory:"});
  ASSERT_TRUE(server.process);
  auto health = grpc::health::v1::Health::NewStub(NewChannel(server.address));
  for (const std::string service : {"", "bootstrap.v1.BootstrapData"}) {
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status s = health->Check(&context, request, &response);
    ASSERT_TRUE(s.ok()) << "service \"" << service << "\": " << Describe(s);
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << service;
  }
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("no.such.Service");
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_EQ(health->Check(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  Stop(server);
}

// (e) SIGTERM ends an open Watch stream with OK and the process exits 0
// promptly.
TEST_F(ServerIntegrationTest, SigtermEndsWatchWithOkAndExitsZero) {
  BootstrapServer server = Start({"--store", "file:" + dir_->File("s.json")});
  ASSERT_TRUE(server.process);
  auto stub = NewStub(server.address);
  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(30));
  auto reader = stub->Watch(&context, pb::WatchRequest());
  pb::WatchResponse first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.document().revision(), 0u);

  const absl::Time sent = absl::Now();
  ASSERT_TRUE(server.process->Signal(SIGTERM).ok());
  pb::WatchResponse more;
  EXPECT_FALSE(reader->Read(&more)) << more.ShortDebugString();
  grpc::Status end = reader->Finish();
  EXPECT_TRUE(end.ok()) << Describe(end);
  auto exit = server.process->Wait(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status();
  const absl::Duration took = absl::Now() - sent;
  EXPECT_TRUE(exit->success()) << exit->ToString() << "\n"
                               << server.process->ReadStderr();
  EXPECT_LT(took, absl::Seconds(3));
  std::cout << "SIGTERM to exit: " << absl::FormatDuration(took) << "\n";
}

// An idle client connection (a call made, the channel kept, as every peer
// does) does not hold the shutdown beyond the client's next poll: the server
// sends GOAWAY and waits for the connection to close, and an idle gRPC client
// reads its socket only on its backup poll (see kBackupPollMs).
TEST_F(ServerIntegrationTest, IdleClientConnectionDoesNotHoldShutdown) {
  BootstrapServer server = Start({"--store", "memory:"});
  ASSERT_TRUE(server.process);
  auto stub = NewStub(server.address);
  EXPECT_EQ(List(*stub).revision(), 0u);
  const absl::Time sent = absl::Now();
  ASSERT_TRUE(server.process->Signal(SIGTERM).ok());
  auto exit = server.process->Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  const absl::Duration took = absl::Now() - sent;
  EXPECT_TRUE(exit->success()) << exit->ToString();
  EXPECT_LT(took, absl::Seconds(3));
  std::cout << "SIGTERM to exit with an idle client connection: "
            << absl::FormatDuration(took) << "\n";
}

// (f) A second server on the same store file refuses to start, naming the
// lock; the first one keeps serving.
TEST_F(ServerIntegrationTest, SecondServerOnSameFileRefusesToStart) {
  const std::string store = dir_->File("s.json");
  BootstrapServer first = Start({"--store", "file:" + store});
  ASSERT_TRUE(first.process);

  auto second = StartBootstrapServer(dir_->path(), {"--store", "file:" + store},
                                     absl::Seconds(10));
  ASSERT_FALSE(second.ok()) << "second server started at " << second->address;
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition)
      << second.status();
  // The status quotes the second server's exit status and stderr.
  EXPECT_THAT(second.status().message(), HasSubstr("exit code 2"));
  EXPECT_THAT(second.status().message(), HasSubstr(store + ".lock"));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));

  auto stub = NewStub(first.address);
  pb::Document doc = List(*stub);
  EXPECT_EQ(doc.revision(), 0u);
  Stop(first);
}

// Issue 12: the store's lock cannot be bypassed. A second server is refused
// when PATH.lock was deleted, and when it names the data by a hard link or
// a symlink (followed or not); the first one keeps serving.
TEST_F(ServerIntegrationTest, SecondServerCannotBypassTheStoreLock) {
  const std::string store = dir_->File("s.json");
  BootstrapServer first = Start({"--store", "file:" + store});
  ASSERT_TRUE(first.process);
  {
    auto stub = NewStub(first.address);
    grpc::ClientContext context;
    SetDeadline(context);
    pb::JoinRequest join;
    *join.mutable_peer() = MakePeer(NewUuid(), 1);
    pb::JoinResponse joined;
    ASSERT_TRUE(stub->Join(&context, join, &joined).ok());
  }
  ASSERT_EQ(::unlink((store + ".lock").c_str()), 0);
  ASSERT_EQ(::link(store.c_str(), dir_->File("hard.json").c_str()), 0);
  ASSERT_EQ(::symlink(store.c_str(), dir_->File("soft.json").c_str()), 0);
  const std::vector<std::vector<std::string>> attempts = {
      {"--store", "file:" + store},
      {"--store", "file:" + dir_->File("hard.json")},
      {"--store", "file:" + dir_->File("soft.json")},
      {"--store", "file:" + dir_->File("soft.json"), "--store-follow-symlink"}};
  for (const auto& args : attempts) {
    auto second = StartBootstrapServer(dir_->path(), args, absl::Seconds(10));
    ASSERT_FALSE(second.ok()) << "a second server started with " << args[1]
                              << (args.size() > 2 ? " " + args[2] : "");
    EXPECT_THAT(second.status().message(), HasSubstr("exit code 2"));
    std::cout << args[1] << ": " << second.status().message() << "\n";
  }
  auto stub = NewStub(first.address);
  EXPECT_EQ(List(*stub).peers_size(), 1);
  Stop(first);
}

// Issue 12: while the store cannot write, changes are refused and health
// says NOT_SERVING; once the cause is gone the server recovers by itself,
// having lost nothing acknowledged.
TEST_F(ServerIntegrationTest, StoreWriteFailureIsNotServingUntilItRecovers) {
  const std::string data = dir_->File("data");
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  const std::string store = data + "/s.json";
  BootstrapServer server = Start({"--store", "file:" + store});
  ASSERT_TRUE(server.process);
  auto stub = NewStub(server.address);
  auto health = grpc::health::v1::Health::NewStub(NewChannel(server.address));
  auto status_of = [&]() {
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service("bootstrap.v1.BootstrapData");
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status s = health->Check(&context, request, &response);
    EXPECT_TRUE(s.ok()) << Describe(s);
    return response.status();
  };
  auto join = [&](int n) {
    grpc::ClientContext context;
    SetDeadline(context);
    pb::JoinRequest request;
    *request.mutable_peer() = MakePeer(NewUuid(), n);
    pb::JoinResponse response;
    return stub->Join(&context, request, &response);
  };
  ASSERT_TRUE(join(1).ok());
  EXPECT_EQ(status_of(), grpc::health::v1::HealthCheckResponse::SERVING);

  ASSERT_EQ(::system(absl::StrCat("rm -rf '", data, "'").c_str()), 0);
  grpc::Status refused = join(2);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE)
      << Describe(refused);
  EXPECT_EQ(status_of(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  ASSERT_TRUE(Eventually(
      [&] {
        return status_of() == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      absl::Seconds(15)))
      << "still NOT_SERVING";
  ASSERT_TRUE(join(3).ok());
  pb::Document doc = List(*stub);
  EXPECT_EQ(doc.peers_size(), 2);
  EXPECT_EQ(doc.revision(), 2u);
  Stop(server);
}

// (g) A corrupt store file (garbage, truncated, another program's JSON) makes
// the server refuse to start, and the file is left unchanged byte for byte.
TEST_F(ServerIntegrationTest, CorruptStoreFileIsRefusedAndLeftUnchanged) {
  // A real store file with some content, to truncate.
  const std::string good = dir_->File("good.json");
  {
    BootstrapServer server = Start({"--store", "file:" + good});
    ASSERT_TRUE(server.process);
    auto stub = NewStub(server.address);
    for (int i = 0; i < 3; ++i) {
      pb::JoinRequest request;
      *request.mutable_peer() = MakePeer(NewUuid(), i);
      pb::JoinResponse response;
      grpc::ClientContext context;
      SetDeadline(context);
      ASSERT_TRUE(stub->Join(&context, request, &response).ok());
    }
    Stop(server);
  }
  auto contents = ReadFile(good);
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_GT(contents->size(), 100u);

  struct Case {
    std::string name;
    std::string bytes;
  };
  std::string flipped = *contents;
  flipped[flipped.find("node-1")] = 'N';  // same size, checksum must catch it
  const std::vector<Case> cases = {
      {"garbage", std::string("\x00\x17\xffgarbage\x01\x02not json", 20)},
      {"truncated", contents->substr(0, contents->size() / 2)},
      {"empty", ""},
      {"foreign", "{\"name\": \"someone else's file\", \"peers\": []}\n"},
      {"edited", flipped},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir_->File(c.name + ".json");
    ASSERT_TRUE(peerlab::testing::WriteFile(path, c.bytes).ok());
    auto server = StartBootstrapServer(
        dir_->path(), {"--store", "file:" + path}, absl::Seconds(10));
    ASSERT_FALSE(server.ok()) << "server started on a " << c.name << " file";
    EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition)
        << server.status();
    EXPECT_THAT(server.status().message(), HasSubstr("exit code 2"));
    EXPECT_THAT(server.status().message(), HasSubstr(path));
    auto after = ReadFile(path);
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(*after == c.bytes) << "file was changed";
  }
}

// (h) With --admin-token-file, Reset needs "authorization: Bearer TOKEN".
TEST_F(ServerIntegrationTest, AdminTokenGuardsReset) {
  const std::string token_file = dir_->File("token");
  ASSERT_TRUE(peerlab::testing::WriteFile(token_file, "s3cret-token\n").ok());
  BootstrapServer server =
      Start({"--store", "memory:", "--admin-token-file", token_file});
  ASSERT_TRUE(server.process);
  auto stub = NewStub(server.address);
  {
    pb::JoinRequest request;
    *request.mutable_peer() = MakePeer(NewUuid(), 1);
    pb::JoinResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    ASSERT_TRUE(stub->Join(&context, request, &response).ok());
  }
  const pb::Document before = List(*stub);
  ASSERT_EQ(before.peers_size(), 1);

  struct Case {
    std::string name;
    std::string authorization;  // empty: no metadata
  };
  for (const Case& c :
       std::vector<Case>{{"no metadata", ""},
                         {"wrong token", "Bearer wrong"},
                         {"no scheme", "s3cret-token"},
                         {"other scheme", "Basic s3cret-token"}}) {
    SCOPED_TRACE(c.name);
    grpc::ClientContext context;
    SetDeadline(context);
    if (!c.authorization.empty()) {
      context.AddMetadata("authorization", c.authorization);
    }
    pb::ResetResponse response;
    grpc::Status s = stub->Reset(&context, pb::ResetRequest(), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << Describe(s);
    EXPECT_EQ(List(*stub).SerializeAsString(), before.SerializeAsString());
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    pb::UpdateConfigRequest request;
    request.set_max_peers(1);
    pb::UpdateConfigResponse response;
    EXPECT_EQ(stub->UpdateConfig(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(List(*stub).SerializeAsString(), before.SerializeAsString());
  }

  grpc::ClientContext context;
  SetDeadline(context);
  context.AddMetadata("authorization", "Bearer s3cret-token");
  pb::ResetResponse response;
  grpc::Status s = stub->Reset(&context, pb::ResetRequest(), &response);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(response.document().peers_size(), 0);
  EXPECT_EQ(response.document().revision(), before.revision() + 1);
  EXPECT_EQ(List(*stub).revision(), before.revision() + 1);
  Stop(server);
}

// (i) Each invalid input of the list gives INVALID_ARGUMENT naming
// the field, and the document is unchanged. (validation_test.cc covers the
// rules in depth; this checks they reach a client over the wire.)
TEST_F(ServerIntegrationTest, InvalidInputIsRefusedNamingTheField) {
  BootstrapServer server = Start({"--store", "memory:"});
  ASSERT_TRUE(server.process);
  auto stub = NewStub(server.address);
  {
    pb::JoinRequest request;
    *request.mutable_peer() = MakePeer(NewUuid(), 1);
    pb::JoinResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    ASSERT_TRUE(stub->Join(&context, request, &response).ok());
  }
  const pb::Document before = List(*stub);
  ASSERT_EQ(before.revision(), 1u);

  struct Case {
    std::string field;  // what the message must name
    std::function<void(pb::Peer&)> spoil;
  };
  const std::vector<Case> cases = {
      {"peer.id", [](pb::Peer& p) { p.set_id("not-a-uuid"); }},
      {"peer.id", [](pb::Peer& p) { p.set_id(""); }},
      {"peer.name", [](pb::Peer& p) { p.set_name(""); }},
      {"peer.name", [](pb::Peer& p) { p.set_name(std::string(129, 'x')); }},
      {"peer.host", [](pb::Peer& p) { p.set_host("not a host!"); }},
      {"peer.host", [](pb::Peer& p) { p.set_host("999.1.1.1"); }},
      {"peer.host", [](pb::Peer& p) { p.set_host(""); }},
      {"peer.port", [](pb::Peer& p) { p.set_port(0); }},
      {"peer.port", [](pb::Peer& p) { p.set_port(65536); }},
      {"peer.protocol",
       [](pb::Peer& p) { p.set_protocol(pb::PROTOCOL_UNSPECIFIED); }},
      {"peer.protocol",
       [](pb::Peer& p) { p.set_protocol(static_cast<pb::Protocol>(7)); }},
  };
  for (const Case& c : cases) {
    pb::Peer peer = MakePeer(NewUuid(), 2);
    c.spoil(peer);
    SCOPED_TRACE(peer.ShortDebugString());
    pb::JoinRequest request;
    *request.mutable_peer() = peer;
    pb::JoinResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status s = stub->Join(&context, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    EXPECT_THAT(s.error_message(), HasSubstr(c.field));
    EXPECT_EQ(List(*stub).SerializeAsString(), before.SerializeAsString());
  }
  // The same rules guard Refill's candidate and Leave's id.
  {
    pb::RefillRequest request;
    *request.mutable_candidate() = MakePeer(NewUuid(), 3);
    request.mutable_candidate()->set_port(0);
    pb::RefillResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status s = stub->Refill(&context, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("candidate.port"));
  }
  {
    pb::LeaveRequest request;
    request.set_id("12345");
    pb::LeaveResponse response;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status s = stub->Leave(&context, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("id"));
  }
  EXPECT_EQ(List(*stub).SerializeAsString(), before.SerializeAsString());
  Stop(server);
}

}  // namespace
}  // namespace peerlab::bootstrap
