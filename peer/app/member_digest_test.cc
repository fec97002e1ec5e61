// The member-table digest (member_digest.h) and the memberlistdigest
// command (digest_command.h): stable across peers with the same table,
// sensitive to names, states and incarnations of the live members, blind to
// the dead and left ones, and its lines parse back.
#include "peer/app/member_digest.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/app/digest_command.h"
#include "peer/cli/test_output.h"

namespace peerlab::peer {
namespace {

using ::testing::ElementsAre;

std::vector<MemberRow> Table() {
  return {{"alice", "alive", 1}, {"bob", "alive", 3}, {"carol", "suspect", 2}};
}

TEST(MemberDigestTest, KnownValueAndFormat) {
  // FNV-1a 64 of "" is its offset basis: the empty table.
  EXPECT_EQ(FormatDigestLine(DigestOf({})), "digest cbf29ce484222325 live 0");
  TableDigest d = DigestOf(Table());
  EXPECT_EQ(d.live, 3);
  EXPECT_THAT(FormatDigestLine(d),
              ::testing::MatchesRegex("digest [0-9a-f]{16} live 3"));
}

TEST(MemberDigestTest, OrderDoesNotMatter) {
  std::vector<MemberRow> shuffled = {
      {"carol", "suspect", 2}, {"alice", "alive", 1}, {"bob", "alive", 3}};
  EXPECT_EQ(DigestOf(Table()), DigestOf(shuffled));
}

TEST(MemberDigestTest, NamesStatesAndIncarnationsCount) {
  const TableDigest base = DigestOf(Table());
  std::vector<MemberRow> t = Table();
  t[1].incarnation = 4;
  EXPECT_NE(DigestOf(t).hash, base.hash) << "incarnation";
  t = Table();
  t[2].state = "alive";
  EXPECT_NE(DigestOf(t).hash, base.hash) << "state";
  t = Table();
  t[1].name = "bobby";
  EXPECT_NE(DigestOf(t).hash, base.hash) << "name";
  // The separators keep "ab"+"c" apart from "a"+"bc".
  EXPECT_NE(DigestOf({{"ab", "alive", 1}}).hash,
            DigestOf({{"a", "alive", 11}}).hash);
}

TEST(MemberDigestTest, DeadAndLeftMembersAreNotHashed) {
  std::vector<MemberRow> knew = Table();
  knew.push_back({"dave", "dead", 5});
  knew.push_back({"erin", "left", 1});
  EXPECT_EQ(DigestOf(knew), DigestOf(Table()));
  // A member dead here and alive there: no agreement.
  std::vector<MemberRow> other = Table();
  other[1].state = "dead";
  EXPECT_NE(DigestOf(other), DigestOf(Table()));
  EXPECT_EQ(DigestOf(other).live, 2);
}

TEST(MemberDigestTest, LinesParseBack) {
  TableDigest d = DigestOf(Table());
  EXPECT_EQ(*ParseDigestLine(FormatDigestLine(d)), d);
  MemberRow row{"carol", "suspect", 2};
  EXPECT_EQ(FormatMemberRow(row), "member carol suspect 2");
  EXPECT_EQ(*ParseMemberRow("member carol suspect 2"), row);
  // A name with blanks: the state and the incarnation are the last words.
  EXPECT_EQ(ParseMemberRow("member a b alive 7")->name, "a b");
  for (const char* bad :
       {"", "digest", "digest xyz live 1", "digest cbf29ce484222325 live",
        "digest cbf29ce484222325 live -1", "digest CBF29CE484222325 live 1",
        "member bob", "member bob alive", "member bob gone 1", "member alive 1",
        "member bob alive x", "chat bob alive 1"}) {
    EXPECT_FALSE(ParseDigestLine(bad).ok() && ParseMemberRow(bad).ok()) << bad;
    EXPECT_FALSE(ParseMemberRow(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseDigestLine("digest xyz live 1").ok());
}

TEST(MemberDigestTest, ParsesWhatTheCommandPrints) {
  cli::Command command = MemberlistDigestCommand(
      [] { return absl::StatusOr<std::vector<MemberRow>>(Table()); });
  cli::CapturingOutput out;
  cli::Call call{.command = "memberlistdigest", .args = {"members"}};
  ASSERT_TRUE(command.handler(call, out).ok());
  absl::StatusOr<DigestReport> report = ParseDigestReport(out.lines());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->digest, DigestOf(Table()));
  EXPECT_EQ(report->members, Table());

  cli::CapturingOutput plain;
  ASSERT_TRUE(command.handler({.command = "memberlistdigest"}, plain).ok());
  EXPECT_THAT(plain.lines(), ElementsAre(FormatDigestLine(DigestOf(Table()))));
}

TEST(MemberDigestTest, CommandRefusesOtherArgumentsAndPassesErrors) {
  cli::Command command = MemberlistDigestCommand(
      [] { return absl::StatusOr<std::vector<MemberRow>>(Table()); });
  cli::CapturingOutput out;
  EXPECT_EQ(
      command.handler({.command = "memberlistdigest", .args = {"all"}}, out)
          .code(),
      absl::StatusCode::kInvalidArgument);
  cli::Command none =
      MemberlistDigestCommand([]() -> absl::StatusOr<std::vector<MemberRow>> {
        return absl::FailedPreconditionError("no membership node");
      });
  EXPECT_EQ(none.handler({.command = "memberlistdigest"}, out).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(out.lines().empty());
}

}  // namespace
}  // namespace peerlab::peer
