#include "base/control_token.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab {
namespace {

using ::testing::HasSubstr;

class ControlTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::filesystem::temp_directory_path().string() +
                       "/peerlab-control-token-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ::setenv("PEERLAB_STATE_DIR", (dir_ + "/state").c_str(), 1);
    ::unsetenv(kControlTokenFileEnv);
  }
  void TearDown() override {
    ::unsetenv("PEERLAB_STATE_DIR");
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(ControlTokenTest, PerNodePathIsOneComponentUnderTheStateDir) {
  auto plain = NodeControlTokenPath("alice-1.b_c");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, dir_ + "/state/nodes/alice-1.b_c/control.token");
  auto spaced = NodeControlTokenPath("x y");
  ASSERT_TRUE(spaced.ok()) << spaced.status();
  EXPECT_EQ(*spaced, dir_ + "/state/nodes/x y/control.token");
  auto odd = NodeControlTokenPath("../x y");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(*odd, dir_ + "/state/nodes/%2E.%2Fx%20y/control.token");
  auto dots = NodeControlTokenPath("..");
  ASSERT_TRUE(dots.ok()) << dots.status();
  EXPECT_EQ(*dots, dir_ + "/state/nodes/%2E./control.token");
  auto given = NodeControlTokenPath("alice", dir_ + "/given");
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(*given, dir_ + "/given/nodes/alice/control.token");
  EXPECT_FALSE(NodeControlTokenPath(std::string(201, '/')).ok());
  EXPECT_FALSE(NodeControlTokenPath("").ok());
}

TEST_F(ControlTokenTest, FreshOwnerOnlyTokenEachStartRemovedAtTheEnd) {
  auto first = NodeControlToken::Create("alice");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string path = (*first)->path();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ((*first)->token().size(), 64u);
  const std::string old_token = (*first)->token();

  // A new run of the same name replaces it; the old run's end keeps it.
  auto second = NodeControlToken::Create("alice");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE((*second)->token(), old_token);
  first->reset();
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  auto found = FindControlToken("", "alice");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->token, (*second)->token());
  EXPECT_EQ(found->path, path);
  second->reset();
  EXPECT_NE(::stat(path.c_str(), &st), 0);
}

TEST_F(ControlTokenTest, FindOrderExplicitThenEnvThenNode) {
  auto node = NodeControlToken::Create("bob");
  ASSERT_TRUE(node.ok()) << node.status();
  const std::string env_file = dir_ + "/env.token";
  const std::string explicit_file = dir_ + "/explicit.token";
  std::ofstream(env_file) << "from-env\n";
  std::ofstream(explicit_file) << "explicit\n";

  EXPECT_EQ(FindControlToken("", "bob")->token, (*node)->token());
  EXPECT_EQ(FindControlToken("", "nobody")->token, "");
  ::setenv(kControlTokenFileEnv, env_file.c_str(), 1);
  EXPECT_EQ(FindControlToken("", "bob")->token, "from-env");
  EXPECT_EQ(FindControlToken(explicit_file, "bob")->token, "explicit");
  ::setenv(kControlTokenFileEnv, "", 1);  // empty: not set
  EXPECT_EQ(FindControlToken("", "bob")->token, (*node)->token());

  auto missing = FindControlToken(dir_ + "/none", "bob");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/none"));
}

}  // namespace
}  // namespace peerlab
