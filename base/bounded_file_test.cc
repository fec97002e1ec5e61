#include "base/bounded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;

class BoundedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bounded_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }
  std::string Write(const std::string& name, const std::string& data) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << data;
    return path;
  }
  std::string dir_;
};

TEST_F(BoundedFileTest, ReadsASmallFile) {
  auto data = ReadFileBounded(Write("a", "hello\n"), 100, "--x");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, "hello\n");
}

TEST_F(BoundedFileTest, ReadsAFileOfExactlyTheLimit) {
  auto data = ReadFileBounded(Write("a", std::string(100, 'x')), 100, "--x");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->size(), 100u);
}

TEST_F(BoundedFileTest, MissingFileSaysNoSuchFile) {
  auto data = ReadFileBounded(dir_ + "/missing", 100, "--token-file");
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(), HasSubstr("--token-file"));
  EXPECT_THAT(data.status().message(), HasSubstr("no such file"));
}

TEST_F(BoundedFileTest, TooLargeIsRefused) {
  auto data = ReadFileBounded(Write("a", std::string(101, 'x')), 100, "--x");
  EXPECT_EQ(data.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(data.status().message(), HasSubstr("limit of 100 bytes"));
}

TEST_F(BoundedFileTest, DeviceIsRefusedWithoutReadingIt) {
  auto data = ReadFileBounded("/dev/zero", 4096, "--x");
  EXPECT_EQ(data.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(data.status().message(), HasSubstr("not a regular file"));
}

TEST_F(BoundedFileTest, DirectoryIsRefused) {
  auto data = ReadFileBounded(dir_, 4096, "execute");
  EXPECT_EQ(data.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(data.status().message(), HasSubstr("is a directory"));
}

TEST_F(BoundedFileTest, FifoIsRefusedWithoutBlocking) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto data = ReadFileBounded(fifo, 4096, "--x");
  EXPECT_EQ(data.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BoundedFileTest, WritablePathInExistingDirectory) {
  EXPECT_TRUE(CheckWritablePath(dir_ + "/new.log", "--log-file").ok());
  EXPECT_TRUE(CheckWritablePath(Write("old", "x"), "--log-file").ok());
}

TEST_F(BoundedFileTest, WritablePathInMissingDirectoryIsRefused) {
  auto s = CheckWritablePath(dir_ + "/no/such/dir/x.log", "--log-file");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("does not exist"));
  EXPECT_THAT(s.message(), HasSubstr("--log-file"));
}

TEST_F(BoundedFileTest, WritablePathThatIsADirectoryIsRefused) {
  EXPECT_EQ(CheckWritablePath(dir_, "--csv").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckWritablePath(dir_ + "/", "--csv").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckWritablePath("", "--csv").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BoundedFileTest, WritablePathUnderAFileIsRefused) {
  std::string file = Write("plain", "x");
  EXPECT_EQ(CheckWritablePath(file + "/x.log", "--log-file").code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BoundedFileTest, RelativePathUsesTheCurrentDirectory) {
  EXPECT_TRUE(CheckWritablePath("relative-name.log", "--log-file").ok() ||
              access(".", W_OK) != 0);
}

TEST_F(BoundedFileTest, WriteAtomicallyReplacesARegularFile) {
  std::string path = Write("c.json", "old");
  ASSERT_TRUE(WriteFileAtomically(path, "new", "saveconfig").ok());
  auto data = ReadFileBounded(path, 100, "t");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "new");
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/fresh.json", "x", "t").ok());
}

TEST_F(BoundedFileTest, WriteAtomicallyKeepsTheModeOrSetsTheOneAsked) {
  std::string path = Write("kept", "old");
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(WriteFileAtomically(path, "new", "t").ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // A secret is 0600 whatever the file it replaces was.
  ASSERT_TRUE(WriteFileAtomically(path, "secret", "key file", 0600).ok());
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/new-secret", "s", "t", 0600).ok());
  ASSERT_EQ(stat((dir_ + "/new-secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // No temporary file is left behind.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 2u);
}

TEST_F(BoundedFileTest, WriteAllToFdReportsAClosedDescriptor) {
  absl::Status s = WriteAllToFd(-1, "x", "history file", "/nowhere");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("history file"), std::string::npos) << s;
}

TEST_F(BoundedFileTest, SyncDirectoryOfAMissingDirectoryIsNotFound) {
  EXPECT_EQ(SyncDirectoryOf(dir_ + "/missing/file", "t").code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(SyncDirectoryOf(dir_ + "/file", "t").ok());
  EXPECT_TRUE(SyncDirectoryOf("relative", "t").ok());
}

TEST_F(BoundedFileTest, WriteAtomicallyRefusesAFifoAndADirectory) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(WriteFileAtomically(fifo, "x", "saveconfig").code(),
            absl::StatusCode::kFailedPrecondition);
  struct stat st;
  ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(WriteFileAtomically(dir_, "x", "saveconfig").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(BoundedFileTest, OpenForAppendRefusesAFifoWithOrWithoutAReader) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(OpenForAppend(fifo, "log on").status().code(),
            absl::StatusCode::kFailedPrecondition);
  int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  EXPECT_EQ(OpenForAppend(fifo, "log on").status().code(),
            absl::StatusCode::kFailedPrecondition);
  close(reader);
  auto fd = OpenForAppend(dir_ + "/x.log", "log on");
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
  fd = OpenForAppend("/dev/null", "log on");
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
  EXPECT_EQ(OpenForAppend(dir_, "log on").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace peerlab
