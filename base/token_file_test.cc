#include "base/token_file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/token-file-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& contents) {
    const std::string path = dir_ + "/token" + std::to_string(n_++);
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }
  absl::StatusOr<std::string> Read(const std::string& contents) {
    return ReadTokenFile(Write(contents), "--token-file");
  }

  std::string dir_;
  int n_ = 0;
};

TEST_F(TokenFileTest, WhitespaceAndTheFinalNewlineAreStrippedAlike) {
  for (const char* text :
       {"t0ken", "t0ken\n", "  t0ken \n", "t0ken\r\n", "\tt0ken\r\n\r\n"}) {
    auto token = Read(text);
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(*token, "t0ken");
  }
}

TEST_F(TokenFileTest, ATokenNoClientCouldSendIsRefused) {
  for (const std::string& text :
       {std::string("line1\nline2\n"), std::string("line1\r\nline2"),
        std::string("to\0ken", 6), std::string("to\x01ken"),
        std::string("to\x7fken"), std::string("t\xc3\xb6ken")}) {
    auto token = Read(text);
    EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument)
        << "accepted: " << (token.ok() ? *token : "");
    EXPECT_THAT(token.status().message(), HasSubstr("--token-file"));
  }
}

TEST_F(TokenFileTest, EmptyMissingAndHugeFilesAreRefusedClearly) {
  EXPECT_THAT(Read(" \n").status().message(), HasSubstr("empty"));
  auto missing = ReadTokenFile(dir_ + "/nothing", "--token-file");
  EXPECT_THAT(missing.status().message(), HasSubstr("no such file"));
  auto huge = Read(std::string(1 << 20, 'a'));
  EXPECT_FALSE(huge.ok());
  // Not a regular file: refused at once instead of read without end.
  EXPECT_FALSE(ReadTokenFile("/dev/zero", "--token-file").ok());
  EXPECT_FALSE(ReadTokenFile(dir_, "--token-file").ok());
}

}  // namespace
}  // namespace peerlab
