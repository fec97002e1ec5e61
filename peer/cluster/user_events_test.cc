// UserEvents by itself: members wired by hand, the test deciding which
// payload reaches whom and in what order, in virtual time.
#include "peer/cluster/user_events.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "peer/runtime/logger.h"
#include "peer/runtime/sim_clock.h"
#include "peer/runtime/sim_scheduler.h"

namespace peerlab::cluster {
namespace {

struct Recorder : UserEventListener {
  std::vector<UserEvent> events;
  void OnUserEvent(const UserEvent& e) override { events.push_back(e); }
  // "NAME:PAYLOAD@LTIME" each.
  std::vector<std::string> Seen() const {
    std::vector<std::string> out;
    for (const auto& e : events) {
      out.push_back(absl::StrCat(e.name, ":", e.payload, "@", e.ltime));
    }
    return out;
  }
};

// One member: its UserEvents, what it sent (payloads), what it delivered.
struct Member {
  Member(const std::string& name, runtime::SimClock* clock,
         UserEventsOptions o = {})
      : scheduler(clock) {
    o.node = name;
    events = std::make_unique<UserEvents>(
        o, &scheduler,
        [this](std::string payload, const std::string&) {
          sent.push_back(std::move(payload));
        },
        [this] { return max_payload; });
    events->set_log(runtime::ComponentLog(runtime::NullLogger(), "cluster"));
    events->AddListener(&seen);
  }
  runtime::SimScheduler scheduler;
  std::unique_ptr<UserEvents> events;
  std::vector<std::string> sent;
  int max_payload = 1300;
  Recorder seen;
};

TEST(UserEventsTest, DeliversOnceInLamportOrderWhateverTheArrivalOrder) {
  runtime::SimClock clock;
  Member a("alice", &clock), b("bob", &clock);
  for (int i = 1; i <= 3; ++i) {
    auto t = a.events->Send("deploy", absl::StrCat("v", i), false);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(*t, static_cast<uint64_t>(i));
  }
  ASSERT_EQ(a.sent.size(), 3u);
  // b hears them backwards, and each twice.
  for (int k : {2, 1, 0, 2, 0}) b.events->OnUserMessage(a.sent[k]);
  EXPECT_TRUE(b.seen.events.empty());  // waiting for order_delay
  clock.RunFor(absl::Seconds(2));
  const std::vector<std::string> want = {"deploy:v1@1", "deploy:v2@2",
                                         "deploy:v3@3"};
  EXPECT_EQ(a.seen.Seen(), want);
  EXPECT_EQ(b.seen.Seen(), want);
  EXPECT_EQ(b.events->stats().duplicates, 2u);
  EXPECT_EQ(b.events->stats().out_of_order, 0u);
  EXPECT_EQ(b.seen.events[0].from, "alice");
  // b re-gossiped each once (news only).
  EXPECT_EQ(b.sent.size(), 3u);
  // b's next event comes after everything it saw.
  auto t = b.events->Send("ack", "", false);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 4u);
  // Arriving after its turn passed: still delivered once, counted.
  Member c("carol", &clock);
  c.events->OnUserMessage(a.sent[2]);
  clock.RunFor(absl::Seconds(2));
  c.events->OnUserMessage(a.sent[0]);
  clock.RunFor(absl::Seconds(2));
  EXPECT_EQ(c.seen.Seen(),
            (std::vector<std::string>{"deploy:v3@3", "deploy:v1@1"}));
  EXPECT_EQ(c.events->stats().out_of_order, 1u);
}

TEST(UserEventsTest, ConcurrentEventsAreOrderedAlikeEverywhere) {
  runtime::SimClock clock;
  Member a("alice", &clock), b("bob", &clock), c("carol", &clock);
  ASSERT_TRUE(a.events->Send("x", "from-a", false).ok());  // ltime 1
  ASSERT_TRUE(b.events->Send("x", "from-b", false).ok());  // ltime 1 too
  c.events->OnUserMessage(b.sent[0]);
  c.events->OnUserMessage(a.sent[0]);
  a.events->OnUserMessage(b.sent[0]);
  b.events->OnUserMessage(a.sent[0]);
  clock.RunFor(absl::Seconds(2));
  const std::vector<std::string> want = {"x:from-a@1", "x:from-b@1"};
  EXPECT_EQ(a.seen.Seen(), want);
  EXPECT_EQ(b.seen.Seen(), want);
  EXPECT_EQ(c.seen.Seen(), want);
}

TEST(UserEventsTest, LimitsAreRefusedNamingTheSizeNeverTruncated) {
  runtime::SimClock clock;
  UserEventsOptions o;
  o.max_event_bytes = 16;
  Member a("alice", &clock, o);
  struct Case {
    std::string name, payload;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "x", "event: empty name"},
      {std::string(129, 'n'), "", "event name: 129 bytes, at most 128"},
      {"deploy", "0123456789a",
       "event deploy: 17 bytes (name and payload), at most 16 (the event "
       "size limit)"},
  };
  for (const Case& c : cases) {
    auto t = a.events->Send(c.name, c.payload, false);
    ASSERT_FALSE(t.ok()) << c.name;
    EXPECT_EQ(t.status().message(), c.error);
  }
  a.max_payload = 20;  // a tiny datagram
  auto t = a.events->Send("deploy", "0123456789", false);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "event deploy: 29 bytes on the wire, at most 20 (one datagram)");
  EXPECT_TRUE(a.sent.empty());
  EXPECT_EQ(a.events->clock().Time(), 0u);  // nothing was stamped
  // From the network: over this member's limit, refused and counted.
  Member big("bob", &clock);
  ASSERT_TRUE(big.events->Send("deploy", std::string(100, 'p'), false).ok());
  a.events->OnUserMessage(big.sent[0]);
  a.events->OnUserMessage("\xff\xff garbage");
  EXPECT_EQ(a.events->stats().refused, 2u);
  EXPECT_EQ(a.events->stats().received, 0u);
  EXPECT_FALSE(ValidateUserEventsOptions({.buffer = 0}).ok());
  EXPECT_EQ(ValidateUserEventsOptions({.max_event_bytes = 524289}).message(),
            "max event bytes: 524289, must be in 1..524288");
}

TEST(UserEventsTest, ALateJoinerGetsRecentEventsFromPushPull) {
  runtime::SimClock clock;
  UserEventsOptions o;
  o.buffer = 8;
  Member a("alice", &clock, o), late("dave", &clock, o);
  for (int i = 1; i <= 12; ++i) {
    ASSERT_TRUE(a.events->Send("e", absl::StrCat(i), false).ok());
  }
  clock.RunFor(absl::Seconds(2));
  // The buffer holds the last 8 Lamport times: 5..12.
  late.events->MergeRemoteState(a.events->LocalState(false), true);
  late.events->MergeRemoteState(a.events->LocalState(false), false);
  clock.RunFor(absl::Seconds(2));
  std::vector<std::string> want;
  for (int i = 5; i <= 12; ++i) want.push_back(absl::StrCat("e:", i, "@", i));
  EXPECT_EQ(late.seen.Seen(), want);
  EXPECT_EQ(late.events->stats().duplicates, 8u);
  EXPECT_EQ(late.events->clock().Time(), 12u);
  // What falls out of the window is too old to tell from a repeat.
  late.events->OnUserMessage(a.sent[0]);
  EXPECT_EQ(late.events->stats().too_old, 1u);
  // A state whose clock is out of reach is ignored whole.
  ::peer::v1::UserEventState forged;
  forged.set_ltime(kMaxLamport + 1);
  late.events->MergeRemoteState(forged.SerializeAsString(), false);
  EXPECT_EQ(late.events->stats().clock_refused, 1u);
  EXPECT_EQ(late.events->clock().Time(), 12u);
}

TEST(UserEventsTest, CoalescingDeliversOnlyTheNewestOfAName) {
  runtime::SimClock clock;
  UserEventsOptions o;
  o.order_delay = absl::Milliseconds(100);
  o.coalesce_period = absl::Seconds(3);
  o.quiescent_period = absl::Seconds(1);
  Member a("alice", &clock, o);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(a.events->Send("deploy", absl::StrCat("v", i), true).ok());
    clock.RunFor(absl::Milliseconds(500));  // within the quiescent period
  }
  ASSERT_TRUE(a.events->Send("restart", "r1", true).ok());
  ASSERT_TRUE(a.events->Send("plain", "p", false).ok());
  clock.RunFor(absl::Milliseconds(200));
  // The uncoalesced one passes at once; the coalesced wait.
  EXPECT_EQ(a.seen.Seen(), (std::vector<std::string>{"plain:p@5"}));
  clock.RunFor(absl::Seconds(3));
  EXPECT_EQ(a.seen.Seen(), (std::vector<std::string>{"plain:p@5", "deploy:v3@3",
                                                     "restart:r1@4"}));
  EXPECT_EQ(a.events->stats().coalesced, 2u);
  // A new period starts afresh.
  ASSERT_TRUE(a.events->Send("deploy", "v4", true).ok());
  clock.RunFor(absl::Seconds(2));
  EXPECT_EQ(a.seen.events.back().payload, "v4");
}

TEST(UserEventsTest, ClockJumpsBeyondTheWindowAreIgnored) {
  runtime::SimClock clock;
  UserEventsOptions o;
  o.window = 1000;
  Member a("alice", &clock, o), b("bob", &clock, o);
  ::peer::v1::UserEventMsg m;
  m.set_name("x");
  m.set_from("mallory");
  for (uint64_t t : {uint64_t{1001}, kMaxLamport + 1, ~uint64_t{0}}) {
    m.set_ltime(t);
    b.events->OnUserMessage(m.SerializeAsString());
  }
  EXPECT_EQ(b.events->stats().clock_refused, 3u);
  EXPECT_EQ(b.events->clock().Time(), 0u);
  m.set_ltime(1000);  // a legitimate jump (a late joiner, a partition)
  b.events->OnUserMessage(m.SerializeAsString());
  EXPECT_EQ(b.events->clock().Time(), 1000u);
  clock.RunFor(absl::Seconds(2));
  EXPECT_EQ(b.seen.Seen(), (std::vector<std::string>{"x:@1000"}));
}

// Events larger than a datagram: the announcement is fetched on the
// reliable path, and only the announced body (its digest and size) is
// taken; bodies nobody asked for are refused and counted.
TEST(UserEventsTest, OnlyTheAnnouncedBodyOfALargeEventIsTaken) {
  runtime::SimClock clock;
  Member a("alice", &clock), b("bob", &clock);
  // The reliable path between the two, by hand.
  std::vector<std::pair<std::string, std::string>> to_a, to_b;
  auto direct = [](std::vector<std::pair<std::string, std::string>>* box,
                   std::string self) {
    UserEvents::Direct d;
    d.send = [box](const std::string& to, std::string payload,
                   std::function<void(absl::Status)> done) {
      box->push_back({to, std::move(payload)});
      done(absl::OkStatus());
    };
    d.members = [self] { return std::vector<std::string>{"alice", "bob"}; };
    return d;
  };
  a.events->SetDirect(direct(&to_b, "alice"));  // what alice sends
  b.events->SetDirect(direct(&to_a, "bob"));
  const std::string body(5000, 'z');
  ASSERT_TRUE(a.events->Send("blob", body, false).ok());
  ASSERT_EQ(a.sent.size(), 1u);
  EXPECT_LT(a.sent[0].size(), 200u);  // an announcement, not the body
  auto deliver = [](UserEvents& to, const std::string& from,
                    const std::string& payload) {
    membership::DirectMessage m;
    m.from = from;
    m.proven = true;
    m.channel = membership::kUserEventChannel;
    m.payload = payload;
    return to.OnDirectMessage(m);
  };
  // A body nobody asked for: refused.
  ::peer::v1::UserEventDirect forged;
  forged.mutable_event()->set_name("blob");
  forged.mutable_event()->set_from("alice");
  forged.mutable_event()->set_ltime(1);
  forged.mutable_event()->set_payload("evil");
  EXPECT_EQ(deliver(*b.events, "mallory", forged.SerializeAsString()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(b.events->stats().bodies_refused, 1u);
  // bob hears the announcement and asks alice (the holder).
  b.events->OnUserMessage(a.sent[0]);
  ASSERT_EQ(to_a.size(), 1u);
  EXPECT_EQ(to_a[0].first, "alice");
  // Another body than the announced one, while the fetch runs: refused.
  forged.mutable_event()->set_payload(std::string(5000, 'y'));
  EXPECT_FALSE(deliver(*b.events, "alice", forged.SerializeAsString()).ok());
  EXPECT_EQ(b.events->stats().bodies_refused, 2u);
  // alice serves the fetch; bob takes the body once.
  ASSERT_TRUE(deliver(*a.events, "bob", to_a[0].second).ok());
  ASSERT_EQ(to_b.size(), 1u);
  ASSERT_TRUE(deliver(*b.events, "alice", to_b[0].second).ok());
  EXPECT_FALSE(deliver(*b.events, "alice", to_b[0].second).ok());  // once
  clock.RunFor(absl::Seconds(2));
  ASSERT_EQ(b.seen.events.size(), 1u);
  EXPECT_EQ(b.seen.events[0].payload, body);
  EXPECT_EQ(b.events->stats().bodies_fetched, 1u);
  EXPECT_EQ(a.events->stats().bodies_served, 1u);
  // bob now gossips the announcement on, as a holder.
  ASSERT_EQ(b.sent.size(), 1u);
  ::peer::v1::UserEventMsg again;
  ASSERT_TRUE(again.ParseFromString(b.sent[0]));
  EXPECT_EQ(again.holder(), "bob");
  EXPECT_TRUE(again.payload().empty());
}

// A member that asks for the same large body again and again (or many
// members at once) gets at most kMaxBodiesServing bodies in flight from
// one holder; the rest are refused at once (ResourceExhausted, counted),
// so the asker tries another member and the holder's memory stays bounded.
TEST(UserEventsTest, BodiesInFlightToAskersAreBounded) {
  runtime::SimClock clock;
  Member a("alice", &clock);
  std::vector<std::function<void(absl::Status)>> in_flight;
  UserEvents::Direct d;
  d.send = [&in_flight](const std::string&, std::string,
                        std::function<void(absl::Status)> done) {
    in_flight.push_back(std::move(done));  // never answered yet
  };
  d.members = [] { return std::vector<std::string>{"alice", "mallory"}; };
  a.events->SetDirect(std::move(d));
  const std::string body(60000, 'z');
  ASSERT_TRUE(a.events->Send("blob", body, false).ok());
  ::peer::v1::UserEventMsg announcement;
  ASSERT_TRUE(announcement.ParseFromString(a.sent[0]));
  ::peer::v1::UserEventDirect fetch;
  fetch.mutable_fetch()->set_ltime(announcement.ltime());
  fetch.mutable_fetch()->set_from(announcement.from());
  fetch.mutable_fetch()->set_name(announcement.name());
  fetch.mutable_fetch()->set_digest(announcement.digest());
  membership::DirectMessage m;
  m.from = "mallory";
  m.proven = true;
  m.channel = membership::kUserEventChannel;
  m.payload = fetch.SerializeAsString();
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    const absl::Status s = a.events->OnDirectMessage(m);
    if (absl::IsResourceExhausted(s)) {
      ++refused;
    } else {
      EXPECT_TRUE(s.ok()) << s;
    }
  }
  EXPECT_EQ(in_flight.size(), kMaxBodiesServing);
  EXPECT_EQ(refused, 100 - static_cast<int>(kMaxBodiesServing));
  EXPECT_EQ(a.events->stats().serves_refused,
            100 - static_cast<uint64_t>(kMaxBodiesServing));
  // A body delivered (or failed) frees its place.
  in_flight[0](absl::OkStatus());
  in_flight[1](absl::UnavailableError("gone"));
  EXPECT_TRUE(a.events->OnDirectMessage(m).ok());
  EXPECT_TRUE(a.events->OnDirectMessage(m).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(a.events->OnDirectMessage(m)));
  EXPECT_EQ(in_flight.size(), kMaxBodiesServing + 2);
}

}  // namespace
}  // namespace peerlab::cluster
