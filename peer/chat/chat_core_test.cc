// ChatCore on the runtime's simulated scheduler (virtual time) and an
// in-memory chat transport with faults: ordering, exactly-once display,
// retry with backoff, the delivery bound, departures.
#include "peer/chat/chat_core.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/chat/chat_core_testing.h"
#include "peer/chat/fake_authenticator.h"
#include "peer/chat/sim_chat_network.h"
#include "peer/runtime/sim_clock.h"
#include "peer/runtime/sim_scheduler.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Node;
using testing::TestNet;

class ChatCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = net_.Add("alice");
    bob_ = net_.Add("bob");
    charly_ = net_.Add("charly");
    for (Node* n : {alice_, bob_, charly_}) {
      n->core->Start();
      for (Node* m : {alice_, bob_, charly_}) {
        n->core->SetMember(m->name, m->address);  // self is ignored
      }
    }
  }

  // Sends and keeps the result.
  // `all`: the result only once every member is resolved (the retry and
  // give-up tests look at that final result).
  std::shared_ptr<absl::StatusOr<SendResult>> Send(
      Node* n, const std::string& text,
      pb::ChatKind kind = pb::CHAT_KIND_MESSAGE, bool all = false) {
    auto r = std::make_shared<absl::StatusOr<SendResult>>(
        absl::UnknownError("pending"));
    n->core->Send(
        kind, text, [r](absl::StatusOr<SendResult> result) { *r = result; },
        absl::InfiniteDuration(), all);
    return r;
  }
  std::shared_ptr<absl::StatusOr<SendResult>> SendAll(Node* n,
                                                      const std::string& text) {
    return Send(n, text, pb::CHAT_KIND_MESSAGE, /*all=*/true);
  }

  std::vector<std::string> Lines(Node* n, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& l : n->view) {
      if (absl::StartsWith(l, prefix)) out.push_back(l);
    }
    return out;
  }

  // Refusals of `kind` counted by `n`.
  uint64_t Refused(Node* n, Refusal kind) {
    return n->core->Stats().streams_refused[static_cast<size_t>(kind)];
  }
  // A new stream to `to` whose first write is `hello` and a message with
  // sender field `sender` and `text`; what came back on it.
  std::shared_ptr<struct RecordingReply> Forge(Node* to,
                                               const pb::ChatHello& hello,
                                               const std::string& sender,
                                               const std::string& text);

  runtime::SimClock clock_{absl::FromUnixSeconds(1700000000)};
  runtime::SimScheduler s_{&clock_};
  TestNet net_{&s_};
  Node* alice_;
  Node* bob_;
  Node* charly_;
};

TEST_F(ChatCoreTest, EveryMemberSeesEachMessageOnceInOrder) {
  std::vector<std::shared_ptr<absl::StatusOr<SendResult>>> results;
  for (int i = 0; i < 50; ++i) {
    results.push_back(Send(alice_, absl::StrCat("a", i)));
    results.push_back(Send(bob_, absl::StrCat("b", i)));
  }
  clock_.RunFor(absl::Seconds(1));
  for (const auto& r : results) {
    ASSERT_TRUE(r->ok()) << r->status();
    EXPECT_EQ((*r)->delivered.size(), 2u);
    EXPECT_THAT((*r)->undelivered, IsEmpty());
  }
  std::vector<std::string> want_a, want_b;
  for (int i = 0; i < 50; ++i) {
    want_a.push_back(absl::StrCat("<alice> a", i));
    want_b.push_back(absl::StrCat("<bob> b", i));
  }
  EXPECT_EQ(Lines(bob_, "<alice>"), want_a);
  EXPECT_EQ(Lines(charly_, "<alice>"), want_a);
  EXPECT_EQ(Lines(alice_, "<bob>"), want_b);
  EXPECT_EQ(Lines(charly_, "<bob>"), want_b);
  EXPECT_THAT(Lines(alice_, "<alice>"), IsEmpty());  // not to itself
  // One stream per member, reused for every message.
  EXPECT_EQ(net_.net.opens("bob:1"), 1);     // alice's
  EXPECT_EQ(net_.net.opens("charly:1"), 2);  // alice's and bob's
  EXPECT_EQ(alice_->core->Stats().sent, 50u);
  EXPECT_EQ(alice_->core->Stats().acked, 100u);
  EXPECT_EQ(charly_->core->Stats().received, 100u);
}

TEST_F(ChatCoreTest, SmallWindowStillDeliversEverythingInOrder) {
  TestNet net(&s_);
  ChatCore::Options o;
  o.window = 3;
  o.max_batch = 2;
  Node* a = net.Add("a", o);
  Node* b = net.Add("b");
  a->core->Start();
  b->core->Start();
  a->core->SetMember("b", b->address);
  std::vector<std::string> want;
  for (int i = 0; i < 40; ++i) {
    Send(a, absl::StrCat(i));
    want.push_back(absl::StrCat("<a> ", i));
  }
  clock_.RunFor(absl::Seconds(1));
  EXPECT_EQ(b->view, want);
  EXPECT_EQ(net.net.opens("b:1"), 1);
}

TEST_F(ChatCoreTest, LongMessagesAreSplitIntoModestEnvelopes) {
  const std::string text(16 * 1024, 'x');
  for (int i = 0; i < 200; ++i) Send(alice_, text);
  clock_.RunFor(absl::Seconds(1));
  EXPECT_EQ(Lines(bob_, "<alice>").size(), 200u);
  EXPECT_LT(net_.net.largest_envelope(), 600u * 1024);
}

TEST_F(ChatCoreTest, LostAcksCauseResendButNoDuplicateLines) {
  net_.net.SetMuted("bob:1", true);
  auto r1 = SendAll(alice_, "one");
  auto r2 = SendAll(alice_, "two");
  clock_.RunFor(absl::Milliseconds(100));
  EXPECT_THAT(Lines(bob_, "<alice>"),
              ElementsAre("<alice> one", "<alice> two"));
  EXPECT_FALSE(r1->ok());  // still waiting for bob's ack
  // No ack within ack_timeout: the stream is reopened and both resent.
  clock_.RunFor(absl::Seconds(4));
  EXPECT_GE(net_.net.opens("bob:1"), 2);  // alice's first and a second
  EXPECT_GT(bob_->core->Stats().duplicates, 0u);
  net_.net.SetMuted("bob:1", false);
  clock_.RunFor(absl::Seconds(4));
  ASSERT_TRUE(r1->ok()) << r1->status();
  ASSERT_TRUE(r2->ok()) << r2->status();
  EXPECT_THAT((*r2)->delivered, ElementsAre("bob", "charly"));
  // Shown exactly once, in order.
  EXPECT_THAT(Lines(bob_, "<alice>"),
              ElementsAre("<alice> one", "<alice> two"));
  EXPECT_GT(alice_->core->Stats().reconnects, 0u);
}

TEST_F(ChatCoreTest, BrokenStreamIsReopenedWithBackoffAndMessagesArrive) {
  net_.net.SetDown("bob:1", true);
  auto r = SendAll(alice_, "hello");
  clock_.RunFor(absl::Seconds(2));
  EXPECT_FALSE(r->ok());  // still retrying
  int opens_while_down = net_.net.opens("bob:1");
  EXPECT_GE(opens_while_down, 3);   // retried
  EXPECT_LE(opens_while_down, 10);  // with backoff, not in a busy loop
  net_.net.SetDown("bob:1", false);
  clock_.RunFor(absl::Seconds(3));
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, ElementsAre("bob", "charly"));
  EXPECT_THAT(Lines(bob_, "<alice>"), ElementsAre("<alice> hello"));
}

TEST_F(ChatCoreTest, ReportsUndeliveredAfterTheBound) {
  net_.net.SetDown("bob:1", true);
  auto r = SendAll(alice_, "are you there");
  clock_.RunFor(absl::Seconds(9));
  EXPECT_FALSE(r->ok());
  clock_.RunFor(absl::Seconds(2));  // delivery_timeout is 10 s
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, ElementsAre("charly"));
  ASSERT_EQ((*r)->undelivered.size(), 1u);
  EXPECT_EQ((*r)->undelivered[0].member, "bob");
  EXPECT_THAT((*r)->undelivered[0].reason, HasSubstr("no ack from bob"));
  EXPECT_THAT(Lines(alice_, "<error>"),
              ElementsAre(HasSubstr("undelivered to bob")));
  EXPECT_THAT(Lines(alice_, "<error>")[0], HasSubstr("are you there"));
  EXPECT_EQ(alice_->core->Stats().undelivered, 1u);
  // The link stops retrying once nothing is pending.
  int opens = net_.net.opens("bob:1");
  clock_.RunFor(absl::Seconds(30));
  EXPECT_EQ(net_.net.opens("bob:1"), opens);
}

TEST_F(ChatCoreTest, MemberDeclaredDeadEndsRetriesAndIsShown) {
  net_.net.SetDown("bob:1", true);
  auto r = SendAll(alice_, "hi");
  clock_.RunFor(absl::Seconds(1));
  alice_->core->RemoveMember("bob", ChatCore::Departure::kFailed);
  clock_.RunFor(absl::ZeroDuration());
  ASSERT_TRUE(r->ok()) << r->status();
  ASSERT_EQ((*r)->undelivered.size(), 1u);
  EXPECT_THAT((*r)->undelivered[0].reason, HasSubstr("declared dead"));
  EXPECT_THAT(Lines(alice_, "<failed>"), ElementsAre("<failed> bob"));
  EXPECT_EQ(alice_->core->Members().size(), 1u);  // charly
}

TEST_F(ChatCoreTest, LeavingIsShownOnceWhetherAnnouncedOrNot) {
  auto r = Send(bob_, "", pb::CHAT_KIND_LEAVING);
  clock_.RunFor(absl::Milliseconds(100));
  ASSERT_TRUE(r->ok());
  alice_->core->RemoveMember("bob", ChatCore::Departure::kLeft);
  alice_->core->RemoveMember("charly", ChatCore::Departure::kLeft);
  EXPECT_THAT(Lines(alice_, "<left>"),
              ElementsAre("<left> bob is leaving", "<left> charly has left"));
}

TEST_F(ChatCoreTest, JoinedAnnouncement) {
  Send(charly_, "", pb::CHAT_KIND_JOINED);
  clock_.RunFor(absl::Milliseconds(100));
  EXPECT_THAT(Lines(alice_, "<joined>"),
              ElementsAre("<joined> charly has joined"));
  EXPECT_THAT(Lines(bob_, "<joined>"),
              ElementsAre("<joined> charly has joined"));
}

TEST_F(ChatCoreTest, RestartedSenderIsNotMistakenForDuplicates) {
  Send(bob_, "before");
  clock_.RunFor(absl::Milliseconds(100));
  net_.Restart(bob_, "bob-session-2");
  bob_->core->Start();
  bob_->core->SetMember("alice", alice_->address);
  Send(bob_, "after");  // seq 1 again, new session
  clock_.RunFor(absl::Milliseconds(100));
  EXPECT_THAT(Lines(alice_, "<bob>"),
              ElementsAre("<bob> before", "<bob> after"));
}

TEST_F(ChatCoreTest, TextCannotAddLines) {
  Send(alice_, "hi\n<joined> mallory has joined");
  clock_.RunFor(absl::Milliseconds(100));
  EXPECT_THAT(bob_->view,
              ElementsAre("<alice> hi <joined> mallory has joined"));
}

TEST_F(ChatCoreTest, PingMeasuresARoundTrip) {
  absl::StatusOr<absl::Duration> rtt = absl::UnknownError("pending");
  alice_->core->Ping("bob", absl::Seconds(1),
                     [&](absl::StatusOr<absl::Duration> r) { rtt = r; });
  clock_.RunFor(absl::Milliseconds(100));
  ASSERT_TRUE(rtt.ok()) << rtt.status();
  EXPECT_EQ(*rtt, absl::Milliseconds(2));  // 1 ms each way

  alice_->core->Ping("nobody", absl::Seconds(1),
                     [&](absl::StatusOr<absl::Duration> r) { rtt = r; });
  clock_.RunFor(absl::ZeroDuration());
  EXPECT_EQ(rtt.status().code(), absl::StatusCode::kNotFound);

  net_.net.SetDown("bob:1", true);
  alice_->core->Ping("bob", absl::Seconds(1),
                     [&](absl::StatusOr<absl::Duration> r) { rtt = r; });
  clock_.RunFor(absl::Seconds(2));
  EXPECT_EQ(rtt.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ChatCoreTest, StoppedChatRefusesAndReports) {
  bob_->core->Stop("chat stopped");
  auto r = Send(bob_, "x");
  clock_.RunFor(absl::ZeroDuration());
  EXPECT_EQ(r->status().code(), absl::StatusCode::kFailedPrecondition);

  // Alice's stream to bob is refused; the message is retried, then given up.
  auto r2 = SendAll(alice_, "to a stopped chat");
  clock_.RunFor(absl::Seconds(11));
  ASSERT_TRUE(r2->ok());
  ASSERT_EQ((*r2)->undelivered.size(), 1u);
  EXPECT_EQ((*r2)->undelivered[0].member, "bob");
  EXPECT_THAT(bob_->view, IsEmpty());

  // Stop with pending messages gives them up at once.
  net_.net.SetDown("charly:1", true);
  auto r3 = SendAll(alice_, "pending");
  clock_.RunFor(absl::Milliseconds(10));
  alice_->core->Stop("chat stopped");
  clock_.RunFor(absl::ZeroDuration());
  ASSERT_TRUE(r3->ok());
  EXPECT_EQ((*r3)->undelivered.size(), 2u);
}

TEST_F(ChatCoreTest, AddressChangeMovesPendingMessages) {
  net_.net.SetDown("bob:1", true);
  auto r = SendAll(alice_, "follow me");
  clock_.RunFor(absl::Seconds(1));
  // bob restarted elsewhere; membership tells alice its new address.
  Node* bob2 = net_.AddAt("bob", "bob:2");  // bob's new home
  bob2->core->Start();
  alice_->core->SetMember("bob", bob2->address);
  clock_.RunFor(absl::Milliseconds(100));
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, ElementsAre("bob", "charly"));
  EXPECT_THAT(bob2->view, ElementsAre("<alice> follow me"));
}

TEST_F(ChatCoreTest, SyncMembersRemovesQuietly) {
  alice_->core->SyncMembers({{"charly", charly_->address}});
  auto members = alice_->core->Members();
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].name, "charly");
  EXPECT_THAT(alice_->view, IsEmpty());
}

// issue 12: a member that crashed a moment ago must not make msg fail. The
// members that answer have it at once; the crashed one is retried in the
// background and reported in messagesView when given up on.
TEST_F(ChatCoreTest, ReturnsOnceTheAnsweringMembersAckedAndRetriesTheRest) {
  net_.net.SetDown("charly:1", true);  // killed: its port refuses
  auto r = Send(alice_, "after");
  clock_.RunFor(absl::Milliseconds(100));
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, ElementsAre("bob"));
  EXPECT_THAT((*r)->undelivered, IsEmpty());
  EXPECT_THAT((*r)->pending, ElementsAre("charly"));
  EXPECT_THAT(Lines(bob_, "<alice>"), ElementsAre("<alice> after"));
  // Still retried: charly comes back within the delivery bound and gets it.
  clock_.RunFor(absl::Seconds(2));
  net_.net.SetDown("charly:1", false);
  clock_.RunFor(absl::Seconds(3));
  EXPECT_THAT(Lines(charly_, "<alice>"), ElementsAre("<alice> after"));
  EXPECT_THAT(Lines(alice_, "<error>"), IsEmpty());
}

TEST_F(ChatCoreTest, PendingMemberDeclaredDeadLaterIsReportedInTheView) {
  net_.net.SetDown("charly:1", true);
  auto r = Send(alice_, "after");
  clock_.RunFor(absl::Milliseconds(100));
  ASSERT_TRUE(r->ok()) << r->status();
  alice_->core->RemoveMember("charly", ChatCore::Departure::kFailed);
  clock_.RunFor(absl::ZeroDuration());
  EXPECT_THAT(
      Lines(alice_, "<error>"),
      ElementsAre(AllOf(HasSubstr("undelivered to charly"),
                        HasSubstr("declared dead"), HasSubstr("after"))));
  // The result was reported once, early; it is not changed afterwards.
  EXPECT_THAT((*r)->pending, ElementsAre("charly"));
}

TEST_F(ChatCoreTest, SilentMemberIsPendingAfterTheAckTimeout) {
  net_.net.SetMuted("charly:1", true);  // frozen: takes, never acks
  auto r = Send(alice_, "hello");
  clock_.RunFor(absl::Milliseconds(2900));
  EXPECT_FALSE(r->ok());  // ack_timeout (3 s) not over yet
  clock_.RunFor(absl::Milliseconds(200));
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, ElementsAre("bob"));
  EXPECT_THAT((*r)->pending, ElementsAre("charly"));
}

TEST_F(ChatCoreTest, NobodyAnsweringWaitsForTheBoundAndReportsAll) {
  net_.net.SetDown("bob:1", true);
  net_.net.SetDown("charly:1", true);
  auto r = Send(alice_, "anyone?");
  clock_.RunFor(absl::Seconds(9));
  EXPECT_FALSE(r->ok());  // no member got it: nothing to report early
  clock_.RunFor(absl::Seconds(2));
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, IsEmpty());
  EXPECT_EQ((*r)->undelivered.size(), 2u);
  EXPECT_THAT((*r)->pending, IsEmpty());
}

TEST_F(ChatCoreTest, FirstAckAfterTheAckTimeoutReportsAtOnce) {
  net_.net.SetDown("bob:1", true);
  net_.net.SetDown("charly:1", true);
  auto r = Send(alice_, "anyone?");
  clock_.RunFor(absl::Seconds(4));
  EXPECT_FALSE(r->ok());
  net_.net.SetDown("bob:1", false);
  clock_.RunFor(absl::Seconds(3));  // bob's stream is reopened after backoff
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, ElementsAre("bob"));
  EXPECT_THAT((*r)->pending, ElementsAre("charly"));
}

TEST_F(ChatCoreTest, AllModeWaitsForEveryMember) {
  net_.net.SetDown("charly:1", true);
  auto r = std::make_shared<absl::StatusOr<SendResult>>(
      absl::UnknownError("pending"));
  alice_->core->Send(
      pb::CHAT_KIND_MESSAGE, "to all",
      [r](absl::StatusOr<SendResult> result) { *r = result; },
      absl::InfiniteDuration(), /*all=*/true);
  clock_.RunFor(absl::Seconds(5));
  EXPECT_FALSE(r->ok());
  clock_.RunFor(absl::Seconds(6));
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, ElementsAre("bob"));
  ASSERT_EQ((*r)->undelivered.size(), 1u);
  EXPECT_EQ((*r)->undelivered[0].member, "charly");
  EXPECT_THAT((*r)->pending, IsEmpty());
}

// A fake reply end that keeps what the core answered.
class RecordingReply : public ChatReply {
 public:
  void Send(pb::ChatEnvelope e) override { sent.push_back(std::move(e)); }
  void Close(absl::Status status) override { closed = status; }
  std::string CertificateName() const override { return certificate; }
  std::vector<pb::ChatEnvelope> sent;
  absl::Status closed;
  std::string certificate;
};

std::shared_ptr<RecordingReply> ChatCoreTest::Forge(Node* to,
                                                    const pb::ChatHello& hello,
                                                    const std::string& sender,
                                                    const std::string& text) {
  auto reply = std::make_shared<RecordingReply>();
  pb::ChatEnvelope e;
  *e.mutable_hello() = hello;
  auto* m = e.add_messages();
  m->set_sender(sender);
  m->set_session(absl::StrCat("s-", hello.nonce()));
  m->set_seq(1);
  m->set_text(text);
  to->core->OnIncoming(reply, std::move(e));
  clock_.RunFor(absl::ZeroDuration());
  return reply;
}

// issue 12: per-sender state is bounded; evicting is counted and logged.
TEST_F(ChatCoreTest, SenderTableIsBoundedAndEvictionIsReported) {
  ChatCore::Options o;
  o.max_senders = 8;
  TestNet net(&s_);
  Node* b = net.Add("b", o);
  b->core->Start();
  std::vector<std::shared_ptr<RecordingReply>> replies;
  for (int k = 0; k < 3; ++k) {
    const std::string name = absl::StrCat("mallory", k);
    net.keys->Pin(name, name + "-key");
    testing::FakeAuthenticator auth(net.keys, name + "-key");
    replies.push_back(std::make_shared<RecordingReply>());
    pb::ChatEnvelope e;
    *e.mutable_hello() = *MakeHello(auth, name, "b", "", "n", s_.Now());
    b->core->OnIncoming(replies.back(), std::move(e));
  }
  for (int i = 0; i < 100; ++i) {
    auto& reply = replies[i % 3];
    pb::ChatEnvelope e;
    auto* m = e.add_messages();
    m->set_sender(absl::StrCat("mallory", i % 3));
    m->set_session(absl::StrCat("forged-", i));
    m->set_seq(1);
    m->set_text("x");
    b->core->OnIncoming(reply, std::move(e));
  }
  ChatStats stats = b->core->Stats();
  EXPECT_LE(stats.senders, 8u);
  EXPECT_EQ(stats.senders_evicted, 92u);
  EXPECT_EQ(stats.received, 100u);
  // The most recent senders are kept: a repeat of the last is a duplicate.
  pb::ChatEnvelope e;
  auto* m = e.add_messages();
  m->set_sender("mallory0");
  m->set_session("forged-99");
  m->set_seq(1);
  b->core->OnIncoming(replies[0], std::move(e));
  EXPECT_EQ(b->core->Stats().duplicates, 1u);
}

// issue 13: an outsider opens a stream to alice and writes a message whose
// sender field says "bob". It used to be shown as "<bob> I am bob, send me
// your password"; the stream is now refused (no proof that the opener is
// bob) and counted.
TEST_F(ChatCoreTest, OutsiderClaimingToBeAMemberIsRefused) {
  auto reply = std::make_shared<RecordingReply>();
  pb::ChatEnvelope e;
  auto* m = e.add_messages();
  m->set_sender("bob");
  m->set_session("forged");
  m->set_seq(1);
  m->set_text("I am bob, send me your password");
  alice_->core->OnIncoming(reply, std::move(e));
  clock_.RunFor(absl::ZeroDuration());
  EXPECT_THAT(alice_->view, IsEmpty());
  EXPECT_EQ(reply->closed.code(), absl::StatusCode::kUnauthenticated)
      << reply->closed;
  EXPECT_THAT(reply->sent, IsEmpty());  // not even an ack
  EXPECT_EQ(Refused(alice_, Refusal::kNoHello), 1u);
  EXPECT_EQ(alice_->core->Stats().streams_authenticated, 0u);
}

// The forger's variants: a hello naming bob but signed with another key, a
// hello from a name with no pinned key, bob's own hello for charly replayed
// at alice, an old one, bob's hello replayed on a second stream, another
// group, an older generation. Each is refused with its kind, nothing shown.
TEST_F(ChatCoreTest, EveryForgedOrReplayedHelloIsRefusedByKind) {
  testing::FakeAuthenticator bob_key(net_.keys, "bob-key");
  testing::FakeAuthenticator mallory_key(net_.keys, "mallory-key");
  testing::FakeAuthenticator bob_gen0(net_.keys, "bob-key", /*generation=*/0);
  const absl::Time now = s_.Now();
  struct Case {
    std::string what;
    pb::ChatHello hello;
    Refusal want;
  };
  std::vector<Case> cases = {
      {"another key", *MakeHello(mallory_key, "bob", "alice", "", "n1", now),
       Refusal::kBadSignature},
      {"unknown name",
       *MakeHello(mallory_key, "mallory", "alice", "", "n2", now),
       Refusal::kUnknownSender},
      {"for charly", *MakeHello(bob_key, "bob", "charly", "", "n3", now),
       Refusal::kWrongReceiver},
      {"too old",
       *MakeHello(bob_key, "bob", "alice", "", "n4", now - absl::Minutes(10)),
       Refusal::kStale},
      {"from the future",
       *MakeHello(bob_key, "bob", "alice", "", "n5", now + absl::Minutes(10)),
       Refusal::kStale},
      {"another group", *MakeHello(bob_key, "bob", "alice", "lab2", "n6", now),
       Refusal::kWrongGroup},
      {"older generation", *MakeHello(bob_gen0, "bob", "alice", "", "n7", now),
       Refusal::kOldGeneration},
  };
  pb::ChatHello version2 = *MakeHello(bob_key, "bob", "alice", "", "n8", now);
  version2.set_version(2);
  cases.push_back({"version 2", version2, Refusal::kVersion});
  pb::ChatHello tampered = *MakeHello(bob_key, "bob", "alice", "", "n9", now);
  tampered.set_nonce("n10");
  cases.push_back({"tampered", tampered, Refusal::kBadSignature});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const uint64_t before = Refused(alice_, c.want);
    auto reply = Forge(alice_, c.hello, "bob", "I am bob");
    EXPECT_EQ(reply->closed.code(), absl::StatusCode::kUnauthenticated)
        << reply->closed;
    EXPECT_EQ(Refused(alice_, c.want), before + 1);
    EXPECT_THAT(reply->sent, IsEmpty());
  }
  EXPECT_THAT(alice_->view, IsEmpty());

  // bob's real hello is good once; the same hello on a second stream is a
  // replay.
  pb::ChatHello good = *MakeHello(bob_key, "bob", "alice", "", "n11", now);
  auto first = Forge(alice_, good, "bob", "hello alice");
  EXPECT_TRUE(first->closed.ok()) << first->closed;
  auto again = Forge(alice_, good, "bob", "I am bob again");
  EXPECT_EQ(again->closed.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Refused(alice_, Refusal::kReplayed), 1u);
  EXPECT_THAT(alice_->view, ElementsAre("<bob> hello alice"));
  EXPECT_EQ(alice_->core->Stats().streams_authenticated, 1u);
}

// A member authenticated as charly cannot speak as bob on its stream: the
// sender field is refused; left empty, it is charly's.
TEST_F(ChatCoreTest, MessagesAreTheAuthenticatedSenders) {
  testing::FakeAuthenticator charly_key(net_.keys, "charly-key");
  pb::ChatHello hello =
      *MakeHello(charly_key, "charly", "alice", "", "c1", s_.Now());
  auto reply = Forge(alice_, hello, "", "no name given");
  EXPECT_TRUE(reply->closed.ok()) << reply->closed;
  pb::ChatEnvelope e;
  auto* m = e.add_messages();
  m->set_sender("bob");
  m->set_session("charly-2");
  m->set_seq(1);
  m->set_text("I am bob");
  alice_->core->OnIncoming(reply, std::move(e));
  EXPECT_EQ(reply->closed.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Refused(alice_, Refusal::kSenderField), 1u);
  EXPECT_THAT(alice_->view, ElementsAre("<charly> no name given"));
}

// A group label (the membership's) is carried in every hello and checked:
// members of lab1 talk; a hello without it, or for lab2, is refused.
TEST_F(ChatCoreTest, GroupLabelIsCheckedOnEveryStream) {
  TestNet net(&s_);
  std::string label = "lab1";
  ChatCore::Options o;
  o.group = [&label] { return label; };
  Node* a = net.Add("a", o);
  Node* b = net.Add("b", o);
  for (Node* n : {a, b}) {
    n->core->Start();
    n->core->SetMember(a->name, a->address);
    n->core->SetMember(b->name, b->address);
  }
  auto r = SendAll(a, "same lab");
  clock_.RunFor(absl::Seconds(1));
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT(b->view, ElementsAre("<a> same lab"));
  testing::FakeAuthenticator a_key(net.keys, "a-key");
  for (const char* other : {"", "lab2"}) {
    auto reply = Forge(
        b,
        *MakeHello(a_key, "a", "b", other, absl::StrCat("g", other), s_.Now()),
        "", "x");
    EXPECT_EQ(reply->closed.code(), absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(Refused(b, Refusal::kWrongGroup), 2u);
  EXPECT_THAT(b->view, ElementsAre("<a> same lab"));
}

// Mutual TLS: a client certificate for mallory cannot carry bob's hello.
TEST_F(ChatCoreTest, CertificateNameMustBeTheSenders) {
  testing::FakeAuthenticator bob_key(net_.keys, "bob-key");
  auto reply = std::make_shared<RecordingReply>();
  reply->certificate = "mallory";
  pb::ChatEnvelope e;
  *e.mutable_hello() = *MakeHello(bob_key, "bob", "alice", "", "t1", s_.Now());
  alice_->core->OnIncoming(reply, std::move(e));
  EXPECT_EQ(reply->closed.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Refused(alice_, Refusal::kCertificate), 1u);
  reply = std::make_shared<RecordingReply>();
  reply->certificate = "bob";
  e.Clear();
  *e.mutable_hello() = *MakeHello(bob_key, "bob", "alice", "", "t2", s_.Now());
  alice_->core->OnIncoming(reply, std::move(e));
  EXPECT_TRUE(reply->closed.ok()) << reply->closed;
}

// The replay cache is bounded: beyond max_hello_nonces the oldest nonces
// are forgotten (counted), and a replay of a forgotten one is still
// refused, as older than the nonces kept.
TEST_F(ChatCoreTest, HelloNonceCacheIsBoundedAndStillRefusesReplays) {
  ChatCore::Options o;
  o.max_hello_nonces = 4;
  TestNet net(&s_);
  Node* b = net.Add("b", o);
  b->core->Start();
  net.keys->Pin("bob", "bob-key");
  testing::FakeAuthenticator bob_key(net.keys, "bob-key");
  std::vector<pb::ChatHello> hellos;
  for (int i = 0; i < 10; ++i) {
    clock_.RunFor(absl::Milliseconds(10));
    hellos.push_back(
        *MakeHello(bob_key, "bob", "b", "", absl::StrCat("n", i), s_.Now()));
    auto reply = Forge(b, hellos.back(), "bob", absl::StrCat("m", i));
    EXPECT_TRUE(reply->closed.ok()) << i << ": " << reply->closed;
  }
  EXPECT_EQ(b->core->Stats().hello_nonces_evicted, 6u);
  for (int i : {0, 5, 9}) {
    auto reply = Forge(b, hellos[i], "bob", "replayed");
    EXPECT_EQ(reply->closed.code(), absl::StatusCode::kUnauthenticated) << i;
  }
  EXPECT_EQ(Refused(b, Refusal::kReplayed), 3u);
}

// One member filling the nonce cache with hellos dated near the end of the
// clock window (its own clock ahead, or on purpose) raises the replay floor
// of its own hellos only: the others' fresh hellos still get in (before,
// the floor was one for everybody: 5 hellos of mallory dated now+110s and
// carol's fresh hello was refused as "replayed ... older than the nonces
// kept" for the next two minutes).
TEST(HelloVerifierTest, OneSendersFutureHellosDoNotLockOutTheOthers) {
  auto keys = std::make_shared<testing::FakeKeys>();
  keys->Pin("mallory", "mallory-key");
  keys->Pin("carol", "carol-key");
  testing::FakeAuthenticator mallory(keys, "mallory-key");
  testing::FakeAuthenticator carol(keys, "carol-key");
  HelloVerifier::Options o;
  o.self = "b";
  o.max_nonces = 4;
  HelloVerifier v(o, &mallory);
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  for (int i = 0; i < 5; ++i) {
    auto hello = MakeHello(mallory, "mallory", "b", "", absl::StrCat("m", i),
                           now + absl::Seconds(110));
    ASSERT_TRUE(hello.ok());
    EXPECT_TRUE(v.Check(*hello, now, "").ok()) << i;
  }
  EXPECT_EQ(v.nonces_evicted(), 1u);
  for (int i = 0; i < 3; ++i) {
    auto hello = MakeHello(carol, "carol", "b", "", absl::StrCat("c", i),
                           now + absl::Milliseconds(i));
    ASSERT_TRUE(hello.ok());
    auto got = v.Check(*hello, now + absl::Milliseconds(i), "");
    EXPECT_TRUE(got.ok()) << i << ": " << got.status();
  }
  // Mallory's forgotten hello stays refused.
  auto first =
      MakeHello(mallory, "mallory", "b", "", "m0", now + absl::Seconds(110));
  Refusal kind{};
  EXPECT_FALSE(v.Check(*first, now + absl::Seconds(1), "", &kind).ok());
  EXPECT_EQ(kind, Refusal::kReplayed);
}

// A peer with no key (it cannot sign) gets nothing through: its messages
// are refused and reported undelivered, never shown.
TEST_F(ChatCoreTest, APeerWithoutAKeyIsRefused) {
  TestNet net(&s_);
  Node* a = net.Add("a");
  Node* b = net.Add("b");
  testing::FakeAuthenticator keyless(net.keys, "");
  ChatCore::Options o;
  o.name = "a";
  o.session = "a-2";
  o.authenticator = &keyless;
  o.delivery_timeout = absl::Seconds(1);
  a->core = std::make_unique<ChatCore>(o, &s_, a->transport.get(),
                                       [](const std::string&) {});
  a->core->Start();
  b->core->Start();
  a->core->SetMember("b", b->address);
  auto r = SendAll(a, "let me in");
  clock_.RunFor(absl::Seconds(2));
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, IsEmpty());
  EXPECT_THAT(b->view, IsEmpty());
  EXPECT_GE(Refused(b, Refusal::kBadSignature), 1u);
}

TEST(MergeEnvelopeTest, KeepsLatestAckAndAppendsTheRest) {
  pb::ChatEnvelope a, b;
  a.mutable_ack()->set_seq(5);
  a.add_messages()->set_seq(1);
  b.mutable_ack()->set_seq(7);
  b.add_messages()->set_seq(2);
  b.add_pongs()->set_nonce(3);
  MergeEnvelope(std::move(b), &a);
  EXPECT_EQ(a.ack().seq(), 7u);
  ASSERT_EQ(a.messages_size(), 2);
  EXPECT_EQ(a.messages(1).seq(), 2u);
  EXPECT_EQ(a.pongs_size(), 1);
}

}  // namespace
}  // namespace peerlab::chat
