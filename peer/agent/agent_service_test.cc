// AgentService driven directly, over a fake backend: validation, member
// filters, stream filters and bounds, queries, tags, keys.
#include "peer/agent/agent_service.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

pb::AgentMember Member(const std::string& name, pb::AgentMember::Status status,
                       std::map<std::string, std::string> tags = {}) {
  pb::AgentMember m;
  m.set_name(name);
  m.set_address(name + ":7946");
  m.set_status(status);
  m.mutable_tags()->insert(tags.begin(), tags.end());
  return m;
}

class FakeBackend : public AgentBackend {
 public:
  absl::StatusOr<std::vector<pb::AgentMember>> Members() override {
    return members;
  }
  absl::StatusOr<pb::AgentMember> Self() override { return members.at(0); }
  absl::StatusOr<std::map<std::string, std::string>> UpdateTags(
      const std::map<std::string, std::string>& set,
      const std::vector<std::string>& remove) override {
    for (const auto& [k, v] : set) tags[k] = v;
    for (const auto& k : remove) tags.erase(k);
    return tags;
  }
  absl::StatusOr<uint64_t> StartQuery(
      const pb::AgentQueryRequest& request,
      std::function<void(pb::AgentQueryResponse)> on_item) override {
    last_query = request;
    if (!query_refusal.ok()) return query_refusal;
    query_sink = std::move(on_item);
    return ++query_handles;
  }
  void CancelQuery(uint64_t handle) override { cancelled.push_back(handle); }
  absl::StatusOr<std::vector<pb::AgentStat>> Stats() override {
    std::vector<pb::AgentStat> out;
    for (const char* name : {"memberlist.udp.sent", "memberlist.gossip"}) {
      pb::AgentStat s;
      s.set_name(name);
      s.set_value(1);
      out.push_back(s);
    }
    return out;
  }
  absl::StatusOr<pb::AgentKeysResponse> Keys(pb::AgentKeysRequest::Op op,
                                             const std::string& key,
                                             absl::Duration timeout) override {
    keys_timeout = timeout;
    pb::AgentKeysResponse r;
    r.set_members(3);
    r.set_acks(3);
    if (op == pb::AgentKeysRequest::LIST) (*r.mutable_keys())["K"] = 3;
    last_key = key;
    return r;
  }

  std::vector<pb::AgentMember> members = {
      Member("alice", pb::AgentMember::ALIVE, {{"role", "web"}}),
      Member("carol", pb::AgentMember::FAILED, {{"role", "db"}}),
      Member("bob", pb::AgentMember::ALIVE, {{"role", "webserver"}}),
      Member("dave", pb::AgentMember::LEFT)};
  std::map<std::string, std::string> tags;
  pb::AgentQueryRequest last_query;
  std::function<void(pb::AgentQueryResponse)> query_sink;
  absl::Status query_refusal;  // what StartQuery answers when not OK
  uint64_t query_handles = 0;
  std::vector<uint64_t> cancelled;  // CancelQuery's handles
  absl::Duration keys_timeout;
  std::string last_key;
};

std::vector<std::string> Names(const pb::AgentMembersResponse& r) {
  std::vector<std::string> out;
  for (const auto& m : r.members()) out.push_back(m.name());
  return out;
}

pb::AgentStreamResponse MemberEventOf(pb::MemberEvent::Kind kind,
                                      const std::string& name) {
  pb::AgentStreamResponse e;
  e.mutable_member()->set_kind(kind);
  e.mutable_member()->mutable_member()->set_name(name);
  return e;
}

pb::AgentStreamResponse LogOf(const std::string& level,
                              const std::string& text) {
  pb::AgentStreamResponse e;
  e.mutable_log()->set_level(level);
  e.mutable_log()->set_text(text);
  return e;
}

pb::AgentStreamResponse UserOf(const std::string& name) {
  pb::AgentStreamResponse e;
  e.mutable_user()->set_name(name);
  return e;
}

class AgentServiceTest : public ::testing::Test {
 protected:
  FakeBackend backend_;
  AgentService service_{&backend_};
};

TEST_F(AgentServiceTest, MembersAreSortedAndFilteredByStatusTagAndName) {
  auto all = service_.Members({});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Names(*all), ElementsAre("alice", "bob", "carol", "dave"));

  pb::AgentMembersRequest alive;
  alive.add_statuses(pb::AgentMember::ALIVE);
  EXPECT_THAT(Names(*service_.Members(alive)), ElementsAre("alice", "bob"));

  // Anchored, as Serf: "web" is not "webserver"; a missing tag never
  // matches.
  pb::AgentMembersRequest web;
  (*web.mutable_tags())["role"] = "web";
  EXPECT_THAT(Names(*service_.Members(web)), ElementsAre("alice"));
  (*web.mutable_tags())["role"] = "web.*|db";
  EXPECT_THAT(Names(*service_.Members(web)),
              ElementsAre("alice", "bob", "carol"));

  pb::AgentMembersRequest named;
  named.set_name("[a-c].*");
  named.add_statuses(pb::AgentMember::FAILED);
  EXPECT_THAT(Names(*service_.Members(named)), ElementsAre("carol"));
}

TEST_F(AgentServiceTest, BadMemberFiltersNameTheField) {
  pb::AgentMembersRequest bad_tag;
  (*bad_tag.mutable_tags())["role"] = "web(";
  auto r = service_.Members(bad_tag);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_THAT(r.status().message(), HasSubstr("tags[role]"));

  pb::AgentMembersRequest bad_status;
  bad_status.add_statuses(pb::AgentMember::STATUS_UNSPECIFIED);
  EXPECT_THAT(service_.Members(bad_status).status().message(),
              HasSubstr("statuses"));

  pb::AgentMembersRequest huge;
  huge.set_name(std::string(5000, 'a'));
  EXPECT_THAT(service_.Members(huge).status().message(), HasSubstr("name"));
}

TEST_F(AgentServiceTest, StreamFiltersTakeOnlyWhatWasAskedFor) {
  pb::AgentStreamRequest joins;
  joins.add_filters("member-join");
  joins.add_filters("user:deploy");
  auto q1 = service_.Subscribe(joins);
  ASSERT_TRUE(q1.ok()) << q1.status();

  pb::AgentStreamRequest logs;
  logs.add_filters("log");
  logs.set_log_level("warn");
  auto q2 = service_.Subscribe(logs);
  ASSERT_TRUE(q2.ok()) << q2.status();

  auto q3 = service_.Subscribe({});  // default: members, users, queries
  ASSERT_TRUE(q3.ok()) << q3.status();

  service_.Publish(MemberEventOf(pb::MemberEvent::JOINED, "bob"));
  service_.Publish(MemberEventOf(pb::MemberEvent::FAILED, "bob"));
  service_.Publish(UserOf("deploy"));
  service_.Publish(UserOf("other"));
  service_.Publish(LogOf("info", "quiet"));
  service_.Publish(LogOf("warning", "loud"));
  service_.Publish(LogOf("error", "louder"));

  auto b1 = (*q1)->Pop(absl::ZeroDuration());
  ASSERT_EQ(b1.items.size(), 2u);
  EXPECT_EQ(b1.items[0].member().kind(), pb::MemberEvent::JOINED);
  EXPECT_EQ(b1.items[1].user().name(), "deploy");
  auto b2 = (*q2)->Pop(absl::ZeroDuration());
  ASSERT_EQ(b2.items.size(), 2u);
  EXPECT_EQ(b2.items[0].log().text(), "loud");
  EXPECT_EQ(b2.items[1].log().text(), "louder");
  EXPECT_EQ((*q3)->Pop(absl::ZeroDuration()).items.size(), 4u);
}

TEST_F(AgentServiceTest, UnknownStreamFilterOrLevelIsRefused) {
  pb::AgentStreamRequest r;
  r.add_filters("member-exploded");
  auto q = service_.Subscribe(r);
  EXPECT_TRUE(absl::IsInvalidArgument(q.status()));
  EXPECT_THAT(q.status().message(), HasSubstr("member-exploded"));
  pb::AgentStreamRequest l;
  l.add_filters("log");
  l.set_log_level("loud");
  EXPECT_THAT(service_.Subscribe(l).status().message(), HasSubstr("log_level"));
}

TEST(AgentServiceBoundsTest, ASlowSubscriberIsDroppedOthersGoOn) {
  FakeBackend backend;
  AgentService service(&backend, {.stream_queue_items = 3});
  auto slow = service.Subscribe({});
  auto fast = service.Subscribe({});
  ASSERT_TRUE(slow.ok() && fast.ok());
  for (int i = 0; i < 10; ++i) {
    service.Publish(MemberEventOf(pb::MemberEvent::JOINED, "m"));
    if (i % 2 == 1) (*fast)->Pop(absl::ZeroDuration());  // keeps up
  }
  auto batch = (*slow)->Pop(absl::ZeroDuration());
  EXPECT_TRUE(batch.ended);
  EXPECT_TRUE(absl::IsResourceExhausted(batch.status));
  EXPECT_THAT(batch.status.message(), HasSubstr("fell behind"));
  EXPECT_TRUE(batch.items.empty());
  EXPECT_FALSE((*fast)->ended());
  EXPECT_EQ(service.subscribers(), 1u);
}

TEST(AgentServiceBoundsTest, StreamsAreBoundedAndEndAtShutdown) {
  FakeBackend backend;
  AgentService service(&backend, {.max_streams = 2});
  auto a = service.Subscribe({});
  auto b = service.Subscribe({});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(service.Subscribe({}).status()));
  service.Unsubscribe(*b);
  EXPECT_TRUE(service.Subscribe({}).ok());
  service.Shutdown();
  auto batch = (*a)->Pop(absl::ZeroDuration());
  EXPECT_TRUE(batch.ended);
  EXPECT_TRUE(absl::IsUnavailable(batch.status));
  EXPECT_TRUE(absl::IsUnavailable(service.Subscribe({}).status()));
}

TEST_F(AgentServiceTest, EventIsValidatedAndUnimplementedWithoutTheFeature) {
  pb::AgentEventRequest empty;
  EXPECT_TRUE(absl::IsInvalidArgument(service_.Event(empty).status()));
  pb::AgentEventRequest ctl;
  ctl.set_name("a\nb");
  EXPECT_TRUE(absl::IsInvalidArgument(service_.Event(ctl).status()));
  pb::AgentEventRequest ok;
  ok.set_name("deploy");
  auto r = service_.Event(ok);
  EXPECT_TRUE(absl::IsUnimplemented(r.status()));
  EXPECT_THAT(r.status().message(), HasSubstr("user events"));
}

TEST_F(AgentServiceTest, QueryAnswersArriveThenTheSummaryEndsIt) {
  pb::AgentQueryRequest q;
  q.set_name("uptime");
  q.set_request_ack(true);
  (*q.mutable_tags())["role"] = "web";
  auto call = service_.Query(q);
  ASSERT_TRUE(call.ok()) << call.status();
  auto* queue = &call->queue;
  EXPECT_EQ(backend_.last_query.name(), "uptime");
  pb::AgentQueryResponse ack;
  ack.mutable_ack()->set_from("bob");
  backend_.query_sink(ack);
  pb::AgentQueryResponse reply;
  reply.mutable_reply()->set_from("bob");
  reply.mutable_reply()->set_payload("up 3 days");
  backend_.query_sink(reply);
  auto first = (*queue)->Pop(absl::ZeroDuration());
  EXPECT_EQ(first.items.size(), 2u);
  EXPECT_FALSE(first.ended);
  pb::AgentQueryResponse summary;
  summary.mutable_summary()->set_matched(2);
  summary.mutable_summary()->add_missing("carol");
  backend_.query_sink(summary);
  auto last = (*queue)->Pop(absl::ZeroDuration());
  ASSERT_EQ(last.items.size(), 1u);
  EXPECT_TRUE(last.items[0].has_summary());
  EXPECT_TRUE(last.ended);
  EXPECT_TRUE(last.status.ok());
}

TEST_F(AgentServiceTest, QueryRequestsOutOfTheirDomainAreRefused) {
  pb::AgentQueryRequest q;
  q.set_name("x");
  q.set_relay_factor(6);
  EXPECT_THAT(service_.Query(q).status().message(), HasSubstr("relay_factor"));
  q.set_relay_factor(0);
  q.mutable_timeout()->set_seconds(-1);
  EXPECT_THAT(service_.Query(q).status().message(), HasSubstr("timeout"));
  q.mutable_timeout()->set_seconds(0);
  (*q.mutable_tags())["role"] = "(";
  EXPECT_THAT(service_.Query(q).status().message(), HasSubstr("tags[role]"));
}

TEST_F(AgentServiceTest, AQueryTheBackendRefusesEndsWithItsStatus) {
  backend_.query_refusal =
      absl::InvalidArgumentError("query of 9000 bytes does not fit");
  pb::AgentQueryRequest q;
  q.set_name("big");
  auto call = service_.Query(q);
  EXPECT_TRUE(absl::IsInvalidArgument(call.status())) << call.status();
  EXPECT_THAT(call.status().message(), HasSubstr("9000 bytes"));
  backend_.query_refusal = absl::FailedPreconditionError("not running");
  EXPECT_TRUE(absl::IsFailedPrecondition(service_.Query(q).status()));
}

TEST_F(AgentServiceTest, EndQueryCancelsARunningQueryAtTheBackend) {
  pb::AgentQueryRequest q;
  q.set_name("x");
  auto call = service_.Query(q);
  ASSERT_TRUE(call.ok()) << call.status();
  service_.EndQuery(call->id);
  EXPECT_THAT(backend_.cancelled, ElementsAre(1u));
  pb::AgentQueryResponse summary;
  summary.mutable_summary();
  backend_.query_sink(summary);
  service_.EndQuery(call->id);  // over: nothing more
  EXPECT_THAT(backend_.cancelled, ElementsAre(1u));
}

TEST_F(AgentServiceTest, ShutdownEndsRunningQueriesAndCancelsThem) {
  pb::AgentQueryRequest q;
  q.set_name("x");
  auto call = service_.Query(q);
  ASSERT_TRUE(call.ok()) << call.status();
  service_.Shutdown();
  auto batch = call->queue->Pop(absl::ZeroDuration());
  EXPECT_TRUE(batch.ended);
  EXPECT_TRUE(absl::IsUnavailable(batch.status)) << batch.status;
  EXPECT_THAT(backend_.cancelled, ElementsAre(1u));
  EXPECT_TRUE(absl::IsUnavailable(service_.Query(q).status()));
}

TEST(AgentServiceBoundsTest, AQueryWhoseCallbacksAreDroppedEndsUnavailable) {
  FakeBackend backend;
  AgentService service(&backend, {.max_queries = 1});
  pb::AgentQueryRequest q;
  q.set_name("x");
  auto call = service.Query(q);
  ASSERT_TRUE(call.ok()) << call.status();
  backend.query_sink = nullptr;  // the node went away
  auto batch = call->queue->Pop(absl::ZeroDuration());
  EXPECT_TRUE(batch.ended);
  EXPECT_TRUE(absl::IsUnavailable(batch.status)) << batch.status;
  EXPECT_TRUE(service.Query(q).ok());  // its place is free
}

TEST(AgentServiceBoundsTest, QueriesRunningAreBounded) {
  FakeBackend backend;
  AgentService service(&backend, {.max_queries = 1});
  pb::AgentQueryRequest q;
  q.set_name("x");
  ASSERT_TRUE(service.Query(q).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(service.Query(q).status()));
  pb::AgentQueryResponse summary;
  summary.mutable_summary();
  backend.query_sink(summary);  // the first is over
  EXPECT_TRUE(service.Query(q).ok());
}

TEST_F(AgentServiceTest, TagsAreCheckedSetAndRemoved) {
  pb::AgentTagsRequest set;
  (*set.mutable_set())["role"] = "web";
  (*set.mutable_set())["dc"] = "east";
  auto r = service_.Tags(set);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->tags(),
              UnorderedElementsAre(Pair("role", "web"), Pair("dc", "east")));
  pb::AgentTagsRequest remove;
  remove.add_remove("dc");
  EXPECT_THAT(service_.Tags(remove)->tags(),
              UnorderedElementsAre(Pair("role", "web")));

  // Tags live beside the peer's own fields (cluster/tags.h: tag K is the
  // field "tag.K"), so no key is reserved and values may hold ';' and '='.
  pb::AgentTagsRequest any;
  (*any.mutable_set())["chat"] = "a;b=c";
  EXPECT_TRUE(service_.Tags(any).ok());
  EXPECT_EQ(backend_.tags["chat"], "a;b=c");
  pb::AgentTagsRequest bad_key;
  (*bad_key.mutable_set())["a b"] = "x";
  EXPECT_TRUE(absl::IsInvalidArgument(service_.Tags(bad_key).status()));
  pb::AgentTagsRequest empty_value;
  (*empty_value.mutable_set())["k"] = "";
  EXPECT_THAT(service_.Tags(empty_value).status().message(),
              HasSubstr("empty value"));

  // Neither set nor remove: this peer's tags as a member.
  auto read = service_.Tags({});
  ASSERT_TRUE(read.ok());
  EXPECT_THAT(read->tags(), UnorderedElementsAre(Pair("role", "web")));
}

TEST_F(AgentServiceTest, KeysNeedAnOpAndAKeyAndDefaultToFiveSeconds) {
  pb::AgentKeysRequest none;
  EXPECT_THAT(service_.Keys(none).status().message(), HasSubstr("op"));
  pb::AgentKeysRequest install;
  install.set_op(pb::AgentKeysRequest::INSTALL);
  EXPECT_THAT(service_.Keys(install).status().message(),
              HasSubstr("INSTALL needs a key"));
  pb::AgentKeysRequest list;
  list.set_op(pb::AgentKeysRequest::LIST);
  auto r = service_.Keys(list);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(backend_.keys_timeout, absl::Seconds(5));
  EXPECT_EQ(r->keys().at("K"), 3u);
}

TEST_F(AgentServiceTest, StatsAreSortedByNameWithSelf) {
  auto r = service_.Stats({});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->self().name(), "alice");
  ASSERT_EQ(r->stats_size(), 2);
  EXPECT_EQ(r->stats(0).name(), "memberlist.gossip");
}

TEST_F(AgentServiceTest, CoordinateTakesAtMostTwoNodes) {
  pb::AgentCoordinateRequest three;
  for (const char* n : {"a", "b", "c"}) three.add_nodes(n);
  EXPECT_TRUE(absl::IsInvalidArgument(service_.Coordinate(three).status()));
  EXPECT_TRUE(absl::IsUnimplemented(service_.Coordinate({}).status()));
}

TEST(LogLevelTest, NamesAndWarning) {
  EXPECT_EQ(LogLevelIndex("trace"), 0);
  EXPECT_EQ(LogLevelIndex("warning"), LogLevelIndex("warn"));
  EXPECT_EQ(LogLevelIndex("critical"), 5);
  EXPECT_EQ(LogLevelIndex("off"), -1);
}

}  // namespace
}  // namespace peerlab::agent
