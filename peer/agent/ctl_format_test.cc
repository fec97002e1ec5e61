// What peerlab-ctl prints, for each kind of answer.
#include "peer/agent/ctl_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::agent {
namespace {

namespace pb = ::peer::v1;
using ::testing::HasSubstr;

pb::AgentMembersResponse TwoMembers() {
  pb::AgentMembersResponse r;
  auto* a = r.add_members();
  a->set_name("alice");
  a->set_address("127.0.0.1:7001");
  a->set_status(pb::AgentMember::ALIVE);
  (*a->mutable_tags())["role"] = "web";
  (*a->mutable_tags())["dc"] = "east";
  auto* b = r.add_members();
  b->set_name("bob-with-a-long-name");
  b->set_address("127.0.0.1:7002");
  b->set_status(pb::AgentMember::FAILED);
  return r;
}

TEST(CtlFormatTest, MembersTableIsAlignedWithSortedTags) {
  EXPECT_EQ(MembersTable(TwoMembers()),
            "NAME                  ADDRESS         STATUS  TAGS\n"
            "alice                 127.0.0.1:7001  alive   dc=east,role=web\n"
            "bob-with-a-long-name  127.0.0.1:7002  failed\n");
}

TEST(CtlFormatTest, MembersJsonHasLowerCaseStatusAndTagObjects) {
  nlohmann::json j = nlohmann::json::parse(Dump(MembersJson(TwoMembers())));
  ASSERT_EQ(j["members"].size(), 2u);
  EXPECT_EQ(j["members"][0]["status"], "alive");
  EXPECT_EQ(j["members"][0]["tags"]["role"], "web");
  EXPECT_EQ(j["members"][1]["status"], "failed");
  EXPECT_TRUE(j["members"][1]["tags"].is_object());
}

TEST(CtlFormatTest, PayloadsCannotForgeLinesOrBreakJson) {
  pb::AgentQueryResponse item;
  item.mutable_reply()->set_from("bob");
  item.mutable_reply()->set_payload("up\n\x1b[2J\xff");
  EXPECT_EQ(QueryLine(item), "Response from 'bob': up\\x0a\\x1b[2J\\xff");
  // Not UTF-8: replaced, never an exception.
  std::string dumped = Dump(QueryJson(item));
  EXPECT_THAT(dumped, HasSubstr("\"from\":\"bob\""));
  EXPECT_EQ(dumped.back(), '\n');
}

TEST(CtlFormatTest, StatusNames) {
  EXPECT_EQ(StatusFromName("ALIVE"), pb::AgentMember::ALIVE);
  EXPECT_EQ(StatusFromName("left"), pb::AgentMember::LEFT);
  EXPECT_EQ(StatusFromName("gone"), 0);
  EXPECT_EQ(StatusName(pb::AgentMember::SUSPECT), "suspect");
}

TEST(CtlFormatTest, InfoGroupsStatisticsByArea) {
  pb::AgentStatsResponse r;
  r.mutable_self()->set_name("alice");
  (*r.mutable_self()->mutable_tags())["role"] = "web";
  auto* s = r.add_stats();
  s->set_name("memberlist.health.score");
  s->set_value(0);
  s = r.add_stats();
  s->set_name("peerlab.members.alive");
  s->set_value(3);
  const std::string text = InfoText(r);
  EXPECT_THAT(text, HasSubstr("agent:\n  name"));
  EXPECT_THAT(text, HasSubstr("tags:\n  role  =  web\n"));
  EXPECT_THAT(text, HasSubstr("memberlist:\n  health.score  =  0\n"));
  EXPECT_THAT(text, HasSubstr("peerlab:\n  members.alive  =  3\n"));
  s = r.add_stats();
  s->set_name("memberlist.msg.sent");
  (*s->mutable_labels())["kind"] = "ping";
  s->set_value(7);
  nlohmann::json j = InfoJson(r);
  EXPECT_EQ(j["stats"]["memberlist.msg.sent{kind=\"ping\"}"], 7);
  EXPECT_EQ(j["self"]["name"], "alice");
  EXPECT_EQ(j["stats"]["peerlab.members.alive"], 3);
}

TEST(CtlFormatTest, KeysSucceedOnlyWhenAllAnsweredAndNoneRefused) {
  pb::AgentKeysResponse r;
  r.set_members(3);
  r.set_acks(3);
  (*r.mutable_keys())["QUJD"] = 3;
  (*r.mutable_primary_keys())["QUJD"] = 3;
  EXPECT_TRUE(KeysSucceeded(r));
  EXPECT_THAT(KeysText(pb::AgentKeysRequest::LIST, r),
              HasSubstr("QUJD  3/3      3"));
  r.set_acks(2);
  EXPECT_FALSE(KeysSucceeded(r));
  r.set_acks(3);
  (*r.mutable_errors())["bob"] = "no such key";
  EXPECT_FALSE(KeysSucceeded(r));
  EXPECT_THAT(KeysText(pb::AgentKeysRequest::USE, r),
              HasSubstr("bob refused: no such key"));
}

TEST(CtlFormatTest, StreamLinesNameTheEvent) {
  pb::AgentStreamResponse e;
  e.mutable_member()->set_kind(pb::MemberEvent::JOINED);
  e.mutable_member()->mutable_member()->set_name("bob");
  e.mutable_member()->mutable_member()->set_status(pb::AgentMember::ALIVE);
  EXPECT_THAT(StreamLine(e), HasSubstr("member-join: bob"));
  EXPECT_EQ(StreamJson(e)["event"], "member-join");
  pb::AgentStreamResponse log;
  log.mutable_log()->set_level("warn");
  log.mutable_log()->set_component("alice");
  log.mutable_log()->set_text("x");
  EXPECT_THAT(StreamLine(log), HasSubstr("[WARN] alice: x"));
}

}  // namespace
}  // namespace peerlab::agent
