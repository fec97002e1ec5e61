#include "services/bootstrap/file_store.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/testing/eventually.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/bootstrap/document.h"
#include "services/bootstrap/entry_secret.h"
#include "services/bootstrap/validation.h"

namespace peerlab::bootstrap {
namespace {

using ::peerlab::testing::Eventually;

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Parameterised tests are named "Name/Param": keep it one directory.
    std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() /
           absl::StrCat("peerlab-file-store-test-", ::getpid(), "-", name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "bootstrap.json").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<FileStore>> Open(uint32_t max_peers = 3) {
    return OpenAt(path_, max_peers);
  }
  static absl::StatusOr<std::unique_ptr<FileStore>> OpenAt(
      const std::string& path, uint32_t max_peers = 3) {
    Config c;
    c.set_max_peers(max_peers);
    return FileStore::Open({.path = path, .initial_config = c});
  }

  // The names in the store's directory (temporary files show up here).
  std::vector<std::string> Names() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // A store file holding `doc` with a correct checksum.
  void WriteDocument(const Document& doc) { Write(FileStore::Encode(doc)); }

  std::string Contents() {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  void Write(const std::string& contents) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << contents;
  }

  // Adds a peer named `name` (its id derived from `n`).
  static Store::Mutation AddPeer(int n) {
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

  fs::path dir_;
  std::string path_;
};

TEST_F(FileStoreTest, CreatesAFileWithTheInitialConfig) {
  auto store = Open(5);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(fs::exists(path_));
  auto decoded = FileStore::Decode(Contents(), path_);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->revision(), 0u);
  EXPECT_EQ(decoded->config().max_peers(), 5u);
  EXPECT_EQ((*store)->Describe(), "file:" + path_);
}

TEST_F(FileStoreTest, AcknowledgedMeansOnDisk) {
  auto store = Open();
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());
  // Read the file while the store is still open: the change is already there.
  auto decoded = FileStore::Decode(Contents(), path_);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->revision(), 1u);
  EXPECT_EQ(decoded->peers_size(), 1);
}

// The Store contract itself (revisions, failed and empty mutations,
// concurrency, restarts) is tested for every store in store_test.cc.

// No caller is answered before its change is durable: while the writer is
// held after the rename (the directory not yet fsync'ed), neither the
// change's caller nor a no-change call queued behind it (whose answer shows
// the change) has been answered, and Read() shows the old document.
TEST_F(FileStoreTest, NothingIsAcknowledgedBeforeTheDirectoryIsSynced) {
  std::promise<void> reached;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> hold{false};
  Config c;
  c.set_max_peers(3);
  auto store = FileStore::Open(
      {.path = path_,
       .initial_config = c,
       .fault_for_testing = [&](FileStore::WriteStep step) {
         if (step == FileStore::WriteStep::kRenamed && hold.exchange(false)) {
           reached.set_value();
           released.wait();
         }
         return absl::OkStatus();
       }});
  ASSERT_TRUE(store.ok()) << store.status();
  hold = true;
  std::promise<absl::StatusOr<Document>> changed, unchanged;
  (*store)->Mutate(AddPeer(1), [&](absl::StatusOr<Document> d) {
    changed.set_value(std::move(d));
  });
  reached.get_future().wait();  // the writer holds, the file renamed
  (*store)->Mutate(
      [](Document&) -> absl::StatusOr<bool> { return false; },
      [&](absl::StatusOr<Document> d) { unchanged.set_value(std::move(d)); });
  auto changed_answer = changed.get_future();
  auto unchanged_answer = unchanged.get_future();
  EXPECT_EQ(changed_answer.wait_for(std::chrono::seconds(0)),
            std::future_status::timeout);
  EXPECT_EQ(unchanged_answer.wait_for(std::chrono::seconds(0)),
            std::future_status::timeout);
  EXPECT_EQ((*store)->Read()->revision(), 0u);
  release.set_value();
  auto first = changed_answer.get();
  auto second = unchanged_answer.get();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->revision(), 1u);
  EXPECT_EQ(second->revision(), 1u);
  EXPECT_EQ((*store)->Read()->revision(), 1u);
}

TEST_F(FileStoreTest, NoChangeWritesNothing) {
  auto store = Open();
  ASSERT_TRUE(store.ok());
  auto doc = (*store)->MutateSync(
      [](Document&) -> absl::StatusOr<bool> { return false; });
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->revision(), 0u);
  EXPECT_EQ((*store)->commits(), 0u);
}

TEST_F(FileStoreTest, SecondOpenIsRefusedWhileLocked) {
  auto first = Open();
  ASSERT_TRUE(first.ok());
  auto second = Open();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use"));
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("pid ", ::getpid())));
  first->reset();
  EXPECT_TRUE(Open().ok());
}

TEST_F(FileStoreTest, GarbageIsRefusedAndLeftAlone) {
  const std::string garbage = "\x01\x02 this is not json {{{";
  Write(garbage);
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(path_));
  EXPECT_EQ(Contents(), garbage);
}

TEST_F(FileStoreTest, TruncatedFileIsRefusedAndLeftAlone) {
  {
    auto store = Open();
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());
  }
  std::string whole = Contents();
  for (size_t cut :
       {size_t{0}, size_t{1}, whole.size() / 2, whole.size() - 3}) {
    std::string truncated = whole.substr(0, cut);
    Write(truncated);
    auto store = Open();
    ASSERT_FALSE(store.ok()) << "cut at " << cut;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(Contents(), truncated);
  }
}

TEST_F(FileStoreTest, ChangedContentFailsTheChecksum) {
  {
    auto store = Open();
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());
  }
  std::string edited = Contents();
  size_t at = edited.find("\"p1\"");
  ASSERT_NE(at, std::string::npos);
  edited.replace(at, 4, "\"p2\"");
  Write(edited);
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("checksum"));
}

TEST_F(FileStoreTest, ForeignJsonAndNewerVersionsAreRefused) {
  Write(R"({"Config": {"maxpeers": "2"}, "Peers": {}})");  // the original's
  EXPECT_EQ(Open().status().code(), absl::StatusCode::kDataLoss);
  Write(R"({"format": "peerlab-bootstrap", "version": 2, "document": {}})");
  EXPECT_EQ(Open().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(FileStoreTest, WriteFailureStopsMutationsButKeepsReads) {
  auto store = Open();
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());
  fs::remove_all(dir_);  // the next commit cannot create its temp file
  auto failed = (*store)->MutateSync(AddPeer(2));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  auto later = (*store)->MutateSync(AddPeer(3));
  EXPECT_EQ(later.status().code(), absl::StatusCode::kUnavailable);
  auto doc = (*store)->Read();
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->revision(), 1u);
  EXPECT_EQ(doc->peers_size(), 1);
}

TEST(FileStoreCodecTest, EncodeDecodeRoundTrip) {
  Config c;
  c.set_max_peers(4);
  c.set_min_refill_candidates(2);
  Document d = NewDocument(c);
  d.set_revision(17);
  Peer* p = d.add_peers();
  p->set_id("123e4567-e89b-42d3-a456-426614174000");
  p->set_name("älice");
  p->set_host("::1");
  p->set_port(7946);
  p->set_protocol(::bootstrap::v1::PROTOCOL_TCP);
  p->mutable_started_at()->set_seconds(1234);
  p->mutable_lease_expires_at()->set_seconds(5678);
  auto back = FileStore::Decode(FileStore::Encode(d), "x");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), d.SerializeAsString());
}

// Entry ownership survives a restart: the owner hash and the first sight are
// in the file (the hash, never the secret).
TEST_F(FileStoreTest, OwnershipSurvivesARestart) {
  const std::string hash = EntrySecretHash("an-entry-secret-of-32-characters");
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    auto done =
        (*store)->MutateSync([&](Document& doc) -> absl::StatusOr<bool> {
          Peer* p = doc.add_peers();
          p->set_id("123e4567-e89b-42d3-a456-426614174000");
          p->set_name("alice");
          p->set_host("127.0.0.1");
          p->set_port(7946);
          p->set_protocol(::bootstrap::v1::PROTOCOL_UDP);
          p->mutable_started_at()->set_seconds(1000);
          p->mutable_first_seen_at()->set_seconds(1000);
          p->set_owner_secret_sha256(hash);
          return true;
        });
    ASSERT_TRUE(done.ok()) << done.status();
  }
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  auto doc = (*store)->Read();
  ASSERT_EQ(doc->peers_size(), 1);
  EXPECT_EQ(doc->peers(0).owner_secret_sha256(), hash);
  EXPECT_EQ(doc->peers(0).first_seen_at().seconds(), 1000);
  EXPECT_TRUE(EntrySecretMatches("an-entry-secret-of-32-characters",
                                 doc->peers(0).owner_secret_sha256()));
}

// ---- Issue 12: the lock cannot be bypassed ----

TEST_F(FileStoreTest, DeletedLockFileDoesNotLetASecondStoreIn) {
  auto first = Open();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(fs::remove(path_ + ".lock"));
  auto second = Open();
  ASSERT_FALSE(second.ok()) << "a second store opened the same file";
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use"));
  // Still after the first store replaced the file by a commit.
  ASSERT_TRUE((*first)->MutateSync(AddPeer(1)).ok());
  fs::remove(path_ + ".lock");
  EXPECT_FALSE(Open().ok());
}

TEST_F(FileStoreTest, SymlinkToTheStoreFileIsRefused) {
  auto first = Open();
  ASSERT_TRUE(first.ok());
  const std::string link = (dir_ / "link.json").string();
  fs::create_symlink(path_, link);
  auto second = OpenAt(link);
  ASSERT_FALSE(second.ok()) << "a second store opened the file by a symlink";
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("symbolic link"));
  // Told to follow it, the store works on the target, which is in use.
  Config c;
  c.set_max_peers(3);
  auto followed = FileStore::Open(
      {.path = link, .initial_config = c, .follow_symlink = true});
  ASSERT_FALSE(followed.ok());
  EXPECT_THAT(std::string(followed.status().message()), HasSubstr("in use"));
  first->reset();
  followed = FileStore::Open(
      {.path = link, .initial_config = c, .follow_symlink = true});
  ASSERT_TRUE(followed.ok()) << followed.status();
  EXPECT_EQ((*followed)->Describe(), "file:" + fs::canonical(path_).string());
  ASSERT_TRUE((*followed)->MutateSync(AddPeer(1)).ok());
  EXPECT_TRUE(fs::is_symlink(link));  // the link still points at the data
  EXPECT_EQ(FileStore::Decode(Contents(), path_)->revision(), 1u);
}

TEST_F(FileStoreTest, HardLinkToTheStoreFileIsRefused) {
  auto first = Open();
  ASSERT_TRUE(first.ok());
  const std::string link = (dir_ / "link.json").string();
  fs::create_hard_link(path_, link);
  EXPECT_FALSE(OpenAt(link).ok()) << "a second store opened a hard link";
  // The first store's next commit replaces its file; the link still names
  // the old one, which must stay out of reach while the first store runs.
  ASSERT_TRUE((*first)->MutateSync(AddPeer(1)).ok());
  auto second = OpenAt(link);
  ASSERT_FALSE(second.ok()) << "a second store ran on the replaced file";
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  // A file with two names is refused even when nobody holds it.
  first->reset();
  fs::remove(link);
  fs::create_hard_link(path_, link);
  auto third = Open();
  ASSERT_FALSE(third.ok());
  EXPECT_THAT(std::string(third.status().message()), HasSubstr("hard link"));
}

TEST_F(FileStoreTest, CommitsNeverWriteThroughAPlantedSymlink) {
  const std::string victim = (dir_ / "victim").string();
  std::ofstream(victim) << "precious";
  fs::create_symlink(victim, path_ + ".tmp");
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());
  std::ifstream in(victim);
  std::string got((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  EXPECT_EQ(got, "precious");
  EXPECT_TRUE(fs::is_symlink(path_ + ".tmp"));
}

TEST_F(FileStoreTest, TemporaryFilesAKilledServerLeftAreRemoved) {
  ASSERT_TRUE(Open().ok());
  std::ofstream(path_ + ".tmp-4242-00000000deadbeef") << "half a document";
  std::ofstream(path_ + ".tmp") << "left by an older version";
  std::ofstream((dir_ / "other.json.tmp-1-2").string()) << "not ours";
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Names(),
            (std::vector<std::string>{"bootstrap.json", "bootstrap.json.lock",
                                      "other.json.tmp-1-2"}));
}

TEST_F(FileStoreTest, PidFileThatIsAHardLinkIsNotWritten) {
  const std::string victim = (dir_ / "victim").string();
  std::ofstream(victim) << "precious";
  fs::create_hard_link(victim, path_ + ".lock");
  ASSERT_TRUE(Open().ok());
  std::ifstream in(victim);
  std::string got((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  EXPECT_EQ(got, "precious");
}

// ---- Issue 12: valid checksum, invalid content ----

TEST_F(FileStoreTest, DeeplyNestedJsonIsRefusedNotACrash) {
  std::string deep =
      R"({"format": "peerlab-bootstrap", "version": 1, "document": {"x": )";
  deep += std::string(1000000, '[') + std::string(1000000, ']') + "}}";
  Write(deep);
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("nested"));
}

TEST_F(FileStoreTest, VersionsOutsideTheKnownRangeAreRefused) {
  for (const std::string version :
       {"4294967297", "-4294967295", "0", "18446744073709551615"}) {
    std::string contents = FileStore::Encode(NewDocument(Config()));
    size_t at = contents.find("\"version\": 1");
    ASSERT_NE(at, std::string::npos);
    contents.replace(at, 12, "\"version\": " + version);
    Write(contents);
    auto store = Open();
    EXPECT_FALSE(store.ok()) << "version " << version << " was read";
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
        << version << ": " << store.status();
  }
}

TEST_F(FileStoreTest, InvalidPeersAreRefusedNamingTheField) {
  Config c;
  c.set_max_peers(2);
  Document doc = NewDocument(c);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(AddPeer(i)(doc).ok());
  }
  WriteDocument(doc);  // three peers, max_peers 2
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(store.status().message()),
              HasSubstr("more than config.max_peers (2)"));

  doc.mutable_peers()->RemoveLast();
  doc.mutable_peers(1)->set_port(70000);
  WriteDocument(doc);
  store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()),
              HasSubstr("peers[1].port: 70000 is outside 1..65535"));

  doc.mutable_peers(1)->set_port(1);
  doc.mutable_peers(0)->set_name(std::string("evil\n[info] forged", 19));
  WriteDocument(doc);
  store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()),
              HasSubstr("peers[0].name"));
}

TEST_F(FileStoreTest, TooLargeFileIsRefused) {
  Write(std::string(FileStore::kMaxFileBytes + 1, ' '));
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("bytes"));
}

TEST(FileStoreCodecTest, LargestDocumentFitsTheFileLimit) {
  Config c;
  c.set_max_peers(kMaxMaxPeers);
  Document d = NewDocument(c);
  d.set_revision(~uint64_t{0});
  for (uint32_t i = 0; i < kMaxMaxPeers; ++i) {
    Peer* p = d.add_peers();
    p->set_id(absl::StrFormat("00000000-0000-4000-8000-%012d", i));
    p->set_name(std::string(kMaxNameBytes, '"'));  // escaped: 2 bytes each
    p->set_host(std::string(kMaxHostBytes, 'a'));
    p->set_port(65535);
    p->set_protocol(::bootstrap::v1::PROTOCOL_UDP);
    p->set_status(std::string(kMaxStatusBytes, '\\'));
    p->mutable_started_at()->set_seconds(-62135596800LL);
    p->mutable_started_at()->set_nanos(999999999);
    *p->mutable_lease_expires_at() = p->started_at();
    *p->mutable_first_seen_at() = p->started_at();
    p->set_owner_secret_sha256(std::string(32, '\xff'));
  }
  const std::string encoded = FileStore::Encode(d);
  std::cout << "largest store file: " << encoded.size() << " bytes\n";
  EXPECT_LT(encoded.size(), FileStore::kMaxFileBytes);
}

// ---- Issue 12: recovery after failed writes ----

// Records health reports; waits for one with a deadline.
class HealthRecorder {
 public:
  Store::HealthListener listener() {
    return [this](const absl::Status& s) {
      std::lock_guard<std::mutex> lock(mu_);
      reports_.push_back(s);
      changed_.notify_all();
    };
  }
  bool WaitFor(bool ok, absl::Duration timeout = absl::Seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
      return !reports_.empty() && reports_.back().ok() == ok;
    });
  }
  std::vector<absl::Status> reports() {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<absl::Status> reports_;
};

class FaultyFileStoreTest : public FileStoreTest,
                            public ::testing::WithParamInterface<int> {
 protected:
  absl::StatusOr<std::unique_ptr<FileStore>> OpenFaulty() {
    Config c;
    c.set_max_peers(3);
    return FileStore::Open(
        {.path = path_,
         .initial_config = c,
         .retry_min = absl::Milliseconds(5),
         .retry_max = absl::Milliseconds(20),
         .fault_for_testing = [this](FileStore::WriteStep step) {
           if (failing_.load() && static_cast<int>(step) == GetParam()) {
             return absl::ResourceExhaustedError("No space left on device");
           }
           return absl::OkStatus();
         }});
  }
  std::atomic<bool> failing_{false};
};

// Disk full at each step of a commit: the mutation is refused, the store
// reports itself unhealthy, leaves no temporary file, shows nothing that
// was not acknowledged (in memory or on disk), and accepts changes again by
// itself once writes work.
TEST_P(FaultyFileStoreTest, RecoversByItselfOnceWritesWork) {
  HealthRecorder health;
  auto store = OpenFaulty();
  ASSERT_TRUE(store.ok()) << store.status();
  (*store)->SetHealthListener(health.listener());
  ASSERT_TRUE(health.WaitFor(true));
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());

  failing_ = true;
  auto failed = (*store)->MutateSync(AddPeer(2));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(failed.status().message()),
              HasSubstr("No space left on device"));
  ASSERT_TRUE(health.WaitFor(false));
  EXPECT_EQ((*store)->MutateSync(AddPeer(3)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ((*store)->Read()->revision(), 1u);

  failing_ = false;
  ASSERT_TRUE(health.WaitFor(true)) << "the store did not recover";
  EXPECT_EQ(Names(), (std::vector<std::string>{"bootstrap.json",
                                               "bootstrap.json.lock"}));
  // On disk: the last acknowledged document, even when the failed commit
  // had already renamed its file into place.
  auto on_disk = FileStore::Decode(Contents(), path_);
  ASSERT_TRUE(on_disk.ok()) << on_disk.status();
  EXPECT_EQ(on_disk->revision(), 1u);
  EXPECT_EQ(on_disk->peers_size(), 1);

  auto later = (*store)->MutateSync(AddPeer(4));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->revision(), 2u);
  EXPECT_EQ(later->peers_size(), 2);
  store->reset();
  auto reopened = Open();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Read()->revision(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    Steps, FaultyFileStoreTest,
    ::testing::Values(static_cast<int>(FileStore::WriteStep::kTempCreated),
                      static_cast<int>(FileStore::WriteStep::kSynced),
                      static_cast<int>(FileStore::WriteStep::kRenamed)),
    [](const auto& info) {
      return std::string(info.param == 0   ? "TempCreated"
                         : info.param == 1 ? "Synced"
                                           : "Renamed");
    });

// A flood of calls while the disk is slow: what waits is bounded, the rest
// is refused at once (and nothing accepted is lost).
TEST_F(FileStoreTest, MutationsWaitingForASlowDiskAreBounded) {
  std::mutex mu;
  std::condition_variable cv;
  bool writer_in = false, release = false;
  Config c;
  c.set_max_peers(1000);
  auto store =
      FileStore::Open({.path = path_,
                       .initial_config = c,
                       .max_pending_bytes = 20000,
                       .fault_for_testing = [&](FileStore::WriteStep step) {
                         if (step == FileStore::WriteStep::kTempCreated) {
                           std::unique_lock<std::mutex> lock(mu);
                           writer_in = true;
                           cv.notify_all();
                           cv.wait(lock, [&] { return release; });
                         }
                         return absl::OkStatus();
                       }});
  ASSERT_TRUE(store.ok()) << store.status();
  std::atomic<int> ok{0}, busy{0};
  (*store)->Mutate(AddPeer(0), [&](absl::StatusOr<Document> d) {
    if (d.ok()) ++ok;
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return writer_in; });  // the writer holds one batch
  }
  int accepted_later = 0;
  for (int i = 1; i < 1000; ++i) {
    absl::Status refused;
    bool answered = false;
    (*store)->Mutate(AddPeer(i), [&](absl::StatusOr<Document> d) {
      if (d.ok()) {
        ++ok;
      } else {
        ++busy;
        refused = d.status();
        answered = true;
      }
    });
    if (answered) {
      EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
      EXPECT_THAT(std::string(refused.message()), HasSubstr("busy"));
      break;
    }
    ++accepted_later;
  }
  EXPECT_EQ(busy.load(), 1) << "nothing was refused: the queue is unbounded";
  EXPECT_GT(accepted_later, 10);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  // Everything accepted is acknowledged and durable.
  Eventually([&] { return ok.load() >= 1 + accepted_later; },
             absl::Seconds(10));
  EXPECT_EQ(ok.load(), 1 + accepted_later);
  EXPECT_EQ((*store)->Read()->peers_size(), 1 + accepted_later);
  EXPECT_EQ(FileStore::Decode(Contents(), path_)->peers_size(),
            1 + accepted_later);
}

// A real cause: the directory vanishes, then comes back.
TEST_F(FileStoreTest, RecoversOnceTheDirectoryIsBack) {
  auto store = Open();
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->MutateSync(AddPeer(1)).ok());
  fs::remove_all(dir_);
  EXPECT_EQ((*store)->MutateSync(AddPeer(2)).status().code(),
            absl::StatusCode::kUnavailable);
  fs::create_directories(dir_);
  // Retries back off up to 5 s: wait on the condition with a deadline.
  absl::StatusOr<Document> doc;
  Eventually(
      [&] {
        doc = (*store)->MutateSync(AddPeer(3));
        return doc.ok();
      },
      absl::Seconds(15));
  ASSERT_TRUE(doc.ok()) << "still refused after the directory came back: "
                        << doc.status();
  EXPECT_EQ(doc->revision(), 2u);
  EXPECT_EQ(FileStore::Decode(Contents(), path_)->revision(), 2u);
}

// A read-only directory (only meaningful when not root: root writes anyway).
// Root writes into a mode 0500 directory anyway; it cannot into an immutable
// one (chattr +i), so that is the read-only directory as root.
bool SetImmutable(const fs::path& dir, bool on) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

TEST_F(FileStoreTest, RecoversOnceTheDirectoryIsWritableAgain) {
  HealthRecorder health;
  auto store = Open();
  ASSERT_TRUE(store.ok());
  (*store)->SetHealthListener(health.listener());
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  bool immutable = false;
  if (std::ofstream(dir_ / "probe")) {
    fs::remove(dir_ / "probe");
    immutable = SetImmutable(dir_, true);
    if (!immutable || std::ofstream(dir_ / "probe2")) {
      if (immutable) SetImmutable(dir_, false);
      fs::permissions(dir_, fs::perms::owner_all);
      GTEST_SKIP() << "cannot make the directory read-only here";
    }
  }
  auto refused = (*store)->MutateSync(AddPeer(1));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  std::cout << refused.status() << "\n";
  const bool reported = health.WaitFor(false);
  if (immutable) SetImmutable(dir_, false);
  fs::permissions(dir_, fs::perms::owner_all);
  ASSERT_TRUE(reported);
  ASSERT_TRUE(health.WaitFor(true));
  EXPECT_TRUE((*store)->MutateSync(AddPeer(2)).ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"bootstrap.json",
                                               "bootstrap.json.lock"}));
}

}  // namespace
}  // namespace peerlab::bootstrap
