#include "base/testing/postgres.h"

#include <unistd.h>

#include <filesystem>

#include "gtest/gtest.h"

namespace peerlab::testing {
namespace {

TEST(PostgresServerTest, StartsStopsRestartsAndCleansUp) {
  if (auto s = PostgresAvailable(); !s.ok()) GTEST_SKIP() << s.message();
  std::string data_dir;
  {
    auto server = PostgresServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    EXPECT_GT((*server)->port(), 0);
    EXPECT_EQ((*server)->uri("x"), "postgres://postgres@127.0.0.1:" +
                                       std::to_string((*server)->port()) +
                                       "/x");
    auto uri = (*server)->NewDatabase();
    ASSERT_TRUE(uri.ok()) << uri.status();
    ASSERT_TRUE((*server)
                    ->Psql("t1",
                           "CREATE TABLE k (v int); INSERT INTO k "
                           "VALUES (41), (1)")
                    .ok());
    ASSERT_TRUE((*server)->Stop().ok());
    EXPECT_FALSE((*server)->running());
    EXPECT_FALSE((*server)->Psql("t1", "SELECT 1").ok());
    ASSERT_TRUE((*server)->Restart().ok()) << (*server)->Log();
    auto sum = (*server)->Psql("t1", "SELECT sum(v) FROM k");
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ(*sum, "42");
    auto bad = (*server)->Psql("t1", "SELECT * FROM no_such_table");
    EXPECT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("no_such_table"), std::string::npos)
        << bad.status();
    data_dir = (*server)->data_dir();
    EXPECT_TRUE(std::filesystem::exists(data_dir));
  }
  if (getenv("PEERLAB_KEEP_TEST_DIRS") == nullptr) {
    EXPECT_FALSE(std::filesystem::exists(data_dir));
  }
}

}  // namespace
}  // namespace peerlab::testing
