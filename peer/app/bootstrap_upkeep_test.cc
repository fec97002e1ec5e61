#include "peer/app/bootstrap_upkeep.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/app/member_meta.h"

namespace peerlab::peer {
namespace {

namespace pb = ::bootstrap::v1;
using membership::Member;
using membership::MemberState;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

Member M(const std::string& name, int port, int64_t started,
         MemberState state = MemberState::kAlive) {
  Member m;
  m.name = name;
  m.addr = "127.0.0.1:" + std::to_string(port);
  m.meta = EncodeMeta({{kMetaChat, "127.0.0.1:9"},
                       {kMetaId, "id-" + name},
                       {kMetaStarted, std::to_string(started)}});
  m.state = state;
  return m;
}

pb::Document Doc(int max_peers, const std::vector<Member>& listed) {
  pb::Document doc;
  doc.mutable_config()->set_max_peers(max_peers);
  for (const Member& m : listed) {
    pb::Peer p;
    EXPECT_TRUE(PeerFromMember(m, &p));
    *doc.add_peers() = p;
  }
  return doc;
}

std::vector<std::string> Names(const std::vector<pb::Peer>& peers) {
  std::vector<std::string> out;
  for (const auto& p : peers) out.push_back(p.name());
  return out;
}

TEST(MemberMetaTest, RoundTrip) {
  MetaFields f = {{"chat", "127.0.0.1:5"}, {"id", "x"}, {"empty", ""}};
  std::string meta = EncodeMeta(f);
  EXPECT_EQ(meta, "chat=127.0.0.1:5;id=x");
  EXPECT_EQ(DecodeMeta(meta).size(), 2u);
  EXPECT_EQ(MetaField(meta, "chat"), "127.0.0.1:5");
  EXPECT_EQ(MetaField("garbage;;=x;k=v", "k"), "v");
  EXPECT_EQ(MetaField("", "chat"), "");
}

TEST(BootstrapUpkeepTest, SmallestAliveNameActsAlone) {
  Member bob = M("bob", 2, 200);
  std::vector<Member> members = {M("alice", 1, 100), M("charly", 3, 300)};
  pb::Document doc = Doc(2, {M("alice", 1, 100), bob});
  UpkeepPlan a = PlanUpkeep(bob, "alice", members, doc);
  UpkeepPlan c = PlanUpkeep(bob, "charly", members, doc);
  EXPECT_TRUE(a.chosen);
  EXPECT_FALSE(c.chosen);
  EXPECT_THAT(c.remove_ids, IsEmpty());
  EXPECT_THAT(a.remove_ids, ElementsAre("id-bob"));
  EXPECT_THAT(Names(a.candidates), ElementsAre("charly"));
}

TEST(BootstrapUpkeepTest, SuspectsAndTheDepartedDoNotAct) {
  Member aaron = M("aaron", 9, 50);
  std::vector<Member> members = {
      aaron, M("alice", 1, 100, MemberState::kSuspect), M("bob", 2, 200)};
  UpkeepPlan plan = PlanUpkeep(aaron, "bob", members, Doc(3, {aaron}));
  EXPECT_TRUE(plan.chosen);  // aaron departed, alice is suspect
  EXPECT_THAT(plan.remove_ids, ElementsAre("id-aaron"));
  EXPECT_THAT(Names(plan.candidates), ElementsAre("bob"));  // alive only
}

TEST(BootstrapUpkeepTest, OldestCandidatesFirstUpToTheRoom) {
  Member gone = M("gone", 9, 1);
  std::vector<Member> members = {M("alice", 1, 500), M("bob", 2, 100),
                                 M("charly", 3, 300), M("dana", 4, 200)};
  UpkeepPlan plan =
      PlanUpkeep(gone, "alice", members, Doc(3, {gone, M("charly", 3, 300)}));
  EXPECT_THAT(plan.remove_ids, ElementsAre("id-gone"));
  EXPECT_THAT(Names(plan.candidates), ElementsAre("bob", "dana"));
}

TEST(BootstrapUpkeepTest, NotListedAndFullMeansNothingToDo) {
  Member gone = M("gone", 9, 1);
  std::vector<Member> members = {M("alice", 1, 100), M("bob", 2, 200)};
  UpkeepPlan plan = PlanUpkeep(gone, "alice", members,
                               Doc(2, {M("alice", 1, 100), M("bob", 2, 200)}));
  EXPECT_TRUE(plan.chosen);
  EXPECT_THAT(plan.remove_ids, IsEmpty());
  EXPECT_THAT(plan.candidates, IsEmpty());
}

TEST(BootstrapUpkeepTest, MembersWithoutBootstrapMetaAreNotOffered) {
  Member gone = M("gone", 9, 1);
  Member bare = M("bob", 2, 200);
  bare.meta = "chat=127.0.0.1:7";
  UpkeepPlan plan =
      PlanUpkeep(gone, "alice", {M("alice", 1, 100), bare}, Doc(2, {gone}));
  EXPECT_THAT(Names(plan.candidates), ElementsAre("alice"));
}

}  // namespace
}  // namespace peerlab::peer
