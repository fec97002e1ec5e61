#include "peer/cli/completion.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/cli/command.h"
#include "peer/cli/parser.h"

namespace peerlab::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

cli::Command Make(std::string name, cli::Completion completion) {
  return {.name = std::move(name),
          .group = "demo",
          .usage = "x",
          .summary = "x",
          .completion = completion,
          .handler = [](const cli::Call&, cli::Output&) {
            return absl::OkStatus();
          }};
}

class CompletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"bootstrap", "bootstrapconfig", "bootstrappeers", "echo"}) {
      ASSERT_TRUE(registry_.Register(Make(name, cli::Completion::kNone)).ok());
    }
    ASSERT_TRUE(
        registry_.Register(Make("execute", cli::Completion::kFile)).ok());
    ASSERT_TRUE(
        registry_.Register(Make("help", cli::Completion::kCommand)).ok());

    std::string tmpl = ::testing::TempDir() + "/completionXXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Touch("script.cmd");
    Touch("scratch.txt");
    Touch(".hidden");
    Touch("two words.cmd");
    ASSERT_EQ(::mkdir((dir_ + "/scripts").c_str(), 0700), 0);
    Touch("scripts/inner.cmd");
  }
  void Touch(const std::string& name) {
    std::ofstream(dir_ + "/" + name) << "echo x\n";
  }
  CompletionResult Run(const std::string& line) {
    return Complete(registry_, line, dir_);
  }

  cli::Registry registry_;
  std::string dir_;
};

TEST_F(CompletionTest, CommandNamesToTheCommonPrefix) {
  CompletionResult r = Run("boot");
  EXPECT_EQ(r.word_start, 0u);
  EXPECT_EQ(r.replacement, "bootstrap");
  EXPECT_THAT(r.matches,
              ElementsAre("bootstrap", "bootstrapconfig", "bootstrappeers"));

  r = Run("bootstrapc");
  EXPECT_EQ(r.replacement, "bootstrapconfig ");  // unique: a space follows
  EXPECT_THAT(r.matches, ElementsAre("bootstrapconfig"));

  r = Run("ec");
  EXPECT_EQ(r.replacement, "echo ");
}

TEST_F(CompletionTest, LeadingSlashAndBlanksAreKept) {
  CompletionResult r = Run("  /he");
  EXPECT_EQ(r.word_start, 2u);
  EXPECT_EQ(r.replacement, "/help ");
  EXPECT_THAT(r.matches, ElementsAre("/help"));
}

TEST_F(CompletionTest, NoMatchLeavesTheWord) {
  CompletionResult r = Run("nosuch");
  EXPECT_THAT(r.matches, IsEmpty());
  EXPECT_EQ(r.replacement, "nosuch");
  // Arguments of a command without completion, or of an unknown command.
  EXPECT_THAT(Run("echo scr").matches, IsEmpty());
  EXPECT_THAT(Run("nosuch scr").matches, IsEmpty());
}

TEST_F(CompletionTest, HelpCompletesCommandNames) {
  CompletionResult r = Run("help boots");
  EXPECT_EQ(r.word_start, 5u);
  EXPECT_EQ(r.replacement, "bootstrap");
  EXPECT_EQ(r.matches.size(), 3u);
  r = Run("/help ex");
  EXPECT_EQ(r.replacement, "execute ");
}

TEST_F(CompletionTest, FileArguments) {
  CompletionResult r = Run("execute scr");
  EXPECT_EQ(r.word_start, 8u);
  EXPECT_EQ(r.replacement, "scr");  // script.cmd, scratch.txt, scripts/
  EXPECT_THAT(r.matches, ElementsAre("scratch.txt", "script.cmd", "scripts/"));

  r = Run("execute scri");
  EXPECT_EQ(r.replacement, "script");
  EXPECT_THAT(r.matches, ElementsAre("script.cmd", "scripts/"));

  r = Run("execute scripts");
  EXPECT_EQ(r.replacement, "scripts/");  // a directory: no space
  r = Run("execute scripts/");
  EXPECT_EQ(r.replacement, "scripts/inner.cmd ");
  EXPECT_THAT(r.matches, ElementsAre("inner.cmd"));
}

TEST_F(CompletionTest, EmptyWordListsVisibleFilesOnly) {
  CompletionResult r = Run("execute ");
  EXPECT_EQ(r.word_start, 8u);
  EXPECT_THAT(r.matches, ElementsAre("scratch.txt", "script.cmd", "scripts/",
                                     "two words.cmd"));
  r = Run("execute .h");
  EXPECT_EQ(r.replacement, ".hidden ");
}

TEST_F(CompletionTest, AbsolutePaths) {
  CompletionResult r = Run("execute " + dir_ + "/scripts/in");
  EXPECT_EQ(r.replacement, dir_ + "/scripts/inner.cmd ");
}

TEST_F(CompletionTest, QuotedAndEscapedNamesRoundTripThroughTheParser) {
  CompletionResult r = Run("execute tw");
  EXPECT_EQ(r.replacement, "two\\ words.cmd ");
  auto parsed = cli::ParseLine("execute " + r.replacement);
  ASSERT_TRUE(parsed.ok());
  EXPECT_THAT(parsed->args, ElementsAre("two words.cmd"));

  // An open quote, as typed, is understood and replaced.
  r = Run("execute 'two w");
  EXPECT_EQ(r.word_start, 8u);
  EXPECT_EQ(r.replacement, "two\\ words.cmd ");
  r = Run("execute two\\ w");
  EXPECT_EQ(r.replacement, "two\\ words.cmd ");
  r = Run("execute \"two w");
  EXPECT_EQ(r.replacement, "two\\ words.cmd ");
}

TEST(EscapeWordTest, EscapesWhatTheParserSplitsOn) {
  EXPECT_EQ(EscapeWord("plain/path.cmd"), "plain/path.cmd");
  EXPECT_EQ(EscapeWord("a b'c\"d\\e"), "a\\ b\\'c\\\"d\\\\e");
  auto words = cli::SplitWords(EscapeWord("a b'c\"d\\e"));
  ASSERT_TRUE(words.ok());
  EXPECT_THAT(*words, ElementsAre("a b'c\"d\\e"));
}

TEST(FormatColumnsTest, ColumnsTopToBottom) {
  EXPECT_EQ(FormatColumns({}, 80), "");
  EXPECT_EQ(FormatColumns({"a", "bb", "c"}, 80), "a   bb  c");
  // Width 9 fits two columns of 4 ("bb" and two spaces): two rows.
  EXPECT_EQ(FormatColumns({"a", "bb", "c", "d"}, 9), "a   c\nbb  d");
  // Too narrow for two: one per row.
  EXPECT_EQ(FormatColumns({"alpha", "beta"}, 5), "alpha\nbeta");
}

}  // namespace
}  // namespace peerlab::cli
