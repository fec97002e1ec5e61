#include "peer/cli/parser.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct SplitCase {
  std::string line;
  std::vector<std::string> words;
};

class SplitWordsTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(SplitWordsTest, Splits) {
  auto words = SplitWords(GetParam().line);
  ASSERT_TRUE(words.ok()) << words.status();
  EXPECT_EQ(*words, GetParam().words);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SplitWordsTest,
    ::testing::Values(SplitCase{"", {}}, SplitCase{"   ", {}},
                      SplitCase{"msg hello world", {"msg", "hello", "world"}},
                      SplitCase{"  a\t b  ", {"a", "b"}},
                      SplitCase{"echo \"hello world\"",
                                {"echo", "hello world"}},
                      SplitCase{"echo 'it''s'", {"echo", "its"}},
                      SplitCase{"echo 'a \"b\" \\n'", {"echo", "a \"b\" \\n"}},
                      SplitCase{"echo \"say \\\"hi\\\" \\\\ \\n\"",
                                {"echo", "say \"hi\" \\ \\n"}},
                      SplitCase{"echo a\\ b", {"echo", "a b"}},
                      SplitCase{"echo \\'x", {"echo", "'x"}},
                      SplitCase{"echo \"\" ''", {"echo", "", ""}},
                      SplitCase{"pre\"fix mid\"post", {"prefix midpost"}},
                      SplitCase{"ünïcode 'wörds'", {"ünïcode", "wörds"}}));

TEST(SplitWordsTest, ErrorsNameTheColumn) {
  auto a = SplitWords("echo \"open");
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(std::string(a.status().message()),
              HasSubstr("unterminated double quote starting at column 6"));
  auto b = SplitWords("echo 'open");
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("single quote"));
  auto c = SplitWords("echo trailing\\");
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("trailing backslash"));
}

TEST(ParseLineTest, LeadingSlashIsOptional) {
  auto with = ParseLine("/help groups");
  auto without = ParseLine("help groups");
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_EQ(with->command, "help");
  EXPECT_EQ(without->command, "help");
  EXPECT_THAT(with->args, ElementsAre("groups"));
  EXPECT_EQ(with->rest, "groups");
}

TEST(ParseLineTest, RestKeepsRawText) {
  auto p = ParseLine("  msg   hello   'big' world  ");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->command, "msg");
  EXPECT_EQ(p->rest, "hello   'big' world");
  EXPECT_THAT(p->args, ElementsAre("hello", "big", "world"));
}

TEST(ParseLineTest, EmptyLine) {
  auto p = ParseLine("   ");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->command.empty());
  EXPECT_THAT(p->args, IsEmpty());
  auto slash = ParseLine("/");
  ASSERT_TRUE(slash.ok());
  EXPECT_TRUE(slash->command.empty());
}

TEST(QuoteWordTest, RoundTrips) {
  for (const std::string& w :
       {std::string("plain"), std::string("two words"), std::string("it's"),
        std::string("a\"b"), std::string("back\\slash"), std::string("")}) {
    auto words = SplitWords("x " + QuoteWord(w));
    ASSERT_TRUE(words.ok()) << w;
    ASSERT_EQ(words->size(), 2u) << w;
    EXPECT_EQ((*words)[1], w);
  }
}

TEST(EditDistanceTest, Table) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("help", "help"), 0u);
  EXPECT_EQ(EditDistance("hlep", "help"), 2u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("memberlist", "memberlists"), 1u);
}

}  // namespace
}  // namespace peerlab::cli
