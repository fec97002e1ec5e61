// The verdicts of `wait converged` and `wait members` on rounds of probes.
#include "test-harness/coordinator/convergence.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

using ::testing::HasSubstr;

DigestProbe Probe(const std::string& peer,
                  const std::vector<peer::MemberRow>& table) {
  return {peer, peer::DigestReport{.digest = peer::DigestOf(table)}};
}

const std::vector<peer::MemberRow> kFour = {
    {"a", "alive", 1}, {"b", "alive", 1}, {"c", "alive", 2}, {"d", "alive", 1}};

TEST(ConvergenceTest, SameDigestEverywhereConverges) {
  std::vector<peer::MemberRow> with_dead = kFour;
  with_dead.push_back({"e", "dead", 1});
  EXPECT_EQ(WhyNotConverged(
                {Probe("a", kFour), Probe("b", with_dead), Probe("c", kFour)}),
            "");
  EXPECT_EQ(WhyNotConverged({Probe("a", kFour)}), "");
  EXPECT_EQ(WhyNotConverged({}), "no healthy peer to compare");
}

TEST(ConvergenceTest, DifferentDigestsSayWhoSeesWhat) {
  std::vector<peer::MemberRow> suspect = kFour;
  suspect[2].state = "suspect";
  std::string why = WhyNotConverged(
      {Probe("a", kFour), Probe("b", suspect), Probe("c", kFour)});
  EXPECT_THAT(why, HasSubstr("a, c: digest "));
  EXPECT_THAT(why, HasSubstr("b: digest "));
  EXPECT_THAT(why, HasSubstr(" live 4"));
}

TEST(ConvergenceTest, AnErrorIsTheReason) {
  DigestProbe none{"b", absl::FailedPreconditionError("no membership node")};
  EXPECT_EQ(WhyNotConverged({Probe("a", kFour), none}),
            "b: no membership node");
  EXPECT_EQ(WhyNotMembers(none, 4), "b: no membership node");
}

TEST(ConvergenceTest, Members) {
  EXPECT_EQ(WhyNotMembers(Probe("a", kFour), 4), "");
  EXPECT_EQ(WhyNotMembers(Probe("a", kFour), 5), "a counts 4 live members");
}

TEST(ConvergenceTest, DigestFromResponse) {
  ::peer::v1::ExecuteResponse r;
  r.add_output()->set_text(peer::FormatDigestLine(peer::DigestOf(kFour)));
  r.add_output()->set_text("member a alive 1");
  absl::StatusOr<peer::DigestReport> report = DigestFromResponse(r);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->digest.live, 4);
  ASSERT_EQ(report->members.size(), 1u);
  EXPECT_EQ(report->members[0].name, "a");

  r.set_code(static_cast<int>(absl::StatusCode::kNotFound));
  r.set_message("unknown command \"memberlistdigest\"");
  EXPECT_EQ(DigestFromResponse(r).status().code(), absl::StatusCode::kNotFound);
  ::peer::v1::ExecuteResponse junk;
  junk.add_output()->set_text("hello");
  EXPECT_FALSE(DigestFromResponse(junk).ok());
}

}  // namespace
}  // namespace peerlab::harness
