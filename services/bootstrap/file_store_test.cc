#include "services/bootstrap/file_store.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/bootstrap/document.h"

namespace peerlab::bootstrap {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat(
               "peerlab-file-store-test-", ::getpid(), "-",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "bootstrap.json").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<FileStore>> Open(uint32_t max_peers = 3) {
    Config c;
    c.set_max_peers(max_peers);
    return FileStore::Open({.path = path_, .initial_config = c});
  }

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

}  // namespace
}  // namespace peerlab::bootstrap
