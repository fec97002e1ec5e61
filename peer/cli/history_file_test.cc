#include "peer/cli/history_file.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class HistoryFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/historyXXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/history";
  }
  std::string Contents() {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir_;
  std::string path_;
};

TEST_F(HistoryFileTest, MissingFileIsEmpty) {
  auto lines = LoadHistory(path_, 10);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_THAT(*lines, IsEmpty());
}

TEST_F(HistoryFileTest, AppendThenLoad) {
  ASSERT_TRUE(AppendHistory(path_, "help").ok());
  ASSERT_TRUE(AppendHistory(path_, "echo 'two words'").ok());
  EXPECT_EQ(Contents(), "help\necho 'two words'\n");
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto lines = LoadHistory(path_, 10);
  ASSERT_TRUE(lines.ok());
  EXPECT_THAT(*lines, ElementsAre("help", "echo 'two words'"));
  EXPECT_EQ(AppendHistory(path_, "a\nb").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HistoryFileTest, KeepsTheLastLinesAndCompacts) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(AppendHistory(path_, "line " + std::to_string(i)).ok());
  }
  auto lines = LoadHistory(path_, 5);  // 7 <= 2*5: file left alone
  ASSERT_TRUE(lines.ok());
  EXPECT_THAT(*lines,
              ElementsAre("line 2", "line 3", "line 4", "line 5", "line 6"));
  EXPECT_EQ(Contents().size(), 7 * std::string("line 0\n").size());

  lines = LoadHistory(path_, 3);  // 7 > 2*3: rewritten with the last 3
  ASSERT_TRUE(lines.ok());
  EXPECT_THAT(*lines, ElementsAre("line 4", "line 5", "line 6"));
  EXPECT_EQ(Contents(), "line 4\nline 5\nline 6\n");
}

TEST_F(HistoryFileTest, UnwritableFileIsAnError) {
  EXPECT_FALSE(AppendHistory(dir_ + "/no/such/dir/history", "x").ok());
}

TEST(HistoryPathTest, FlagThenHome) {
  EXPECT_EQ(HistoryPath("/tmp/h"), "/tmp/h");
  const char* home = std::getenv("HOME");
  std::string saved = home ? home : "";
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(HistoryPath(""), "/home/someone/.peerlab_history");
  ::unsetenv("HOME");
  EXPECT_EQ(HistoryPath(""), "");
  if (home) ::setenv("HOME", saved.c_str(), 1);
}

}  // namespace
}  // namespace peerlab::cli
