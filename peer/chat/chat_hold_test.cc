// ChatCore::HoldSends: while a peer joins its group (init starts the chat
// first), its messages wait, then go to the members the join brought, in
// the order sent, after the joined announcement; bounded in count and time.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/chat/chat_core.h"
#include "peer/chat/chat_core_testing.h"
#include "peer/runtime/sim_clock.h"
#include "peer/runtime/sim_scheduler.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ChatHoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = net_.Add("alice");
    bob_ = net_.Add("bob");
    carol_ = net_.Add("carol");
    for (testing::Node* n : {alice_, bob_, carol_}) n->core->Start();
    // alice and carol know each other; bob is (re)starting and knows
    // nobody yet.
    alice_->core->SetMember("carol", carol_->address);
    carol_->core->SetMember("alice", alice_->address);
    bob_->core->HoldSends();
  }

  using Result = std::shared_ptr<absl::StatusOr<SendResult>>;
  Result Send(testing::Node* n, const std::string& text,
              pb::ChatKind kind = pb::CHAT_KIND_MESSAGE) {
    auto r = std::make_shared<absl::StatusOr<SendResult>>(
        absl::UnknownError("pending"));
    n->core->Send(kind, text,
                  [r](absl::StatusOr<SendResult> result) { *r = result; });
    return r;
  }
  // bob's join brought alice and carol.
  void Joined() {
    for (testing::Node* n : {alice_, carol_}) {
      bob_->core->SetMember(n->name, n->address);
    }
  }

  runtime::SimClock clock_{absl::FromUnixSeconds(1700000000)};
  runtime::SimScheduler s_{&clock_};
  testing::TestNet net_{&s_};
  testing::Node* alice_;
  testing::Node* bob_;
  testing::Node* carol_;
};

TEST_F(ChatHoldTest, HeldMessagesGoToTheMembersTheJoinBroughtInOrder) {
  auto r1 = Send(bob_, "b1");
  clock_.RunFor(absl::Milliseconds(10));
  carol_->core->SetMember("bob", bob_->address);
  bob_->core->SetMember("carol", carol_->address);  // carol talked first
  auto r2 = Send(bob_, "b2");
  clock_.RunFor(absl::Seconds(1));
  // Nothing went out, not even to carol, and nobody was told "delivered".
  EXPECT_THAT(carol_->view, IsEmpty());
  EXPECT_FALSE(r1->ok());
  EXPECT_FALSE(r2->ok());

  Joined();
  Send(bob_, "", pb::CHAT_KIND_JOINED);  // never held: it opens the talk
  bob_->core->ReleaseSends();
  auto r3 = Send(bob_, "b3");
  clock_.RunFor(absl::Seconds(1));
  for (testing::Node* n : {alice_, carol_}) {
    EXPECT_THAT(n->view, ElementsAre("<joined> bob has joined", "<bob> b1",
                                     "<bob> b2", "<bob> b3"))
        << n->name;
  }
  for (const auto& r : {r1, r2, r3}) {
    ASSERT_TRUE(r->ok()) << r->status();
    EXPECT_THAT((*r)->delivered, ElementsAre("alice", "carol"));
  }
  // Sequence numbers are given when the messages go out.
  EXPECT_EQ((*r1)->seq, 2u);
  EXPECT_EQ((*r3)->seq, 4u);
  EXPECT_FALSE(bob_->core->holding());
}

TEST_F(ChatHoldTest, AJoinThatTakesTooLongReleasesAfterTheDeliveryTimeout) {
  auto r = Send(bob_, "b1");
  Joined();
  clock_.RunFor(absl::Seconds(9));
  EXPECT_FALSE(r->ok());
  EXPECT_THAT(alice_->view, IsEmpty());
  clock_.RunFor(absl::Seconds(2));  // delivery_timeout is 10 s
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_THAT((*r)->delivered, ElementsAre("alice", "carol"));
  EXPECT_THAT(alice_->view, ElementsAre("<bob> b1"));
  EXPECT_FALSE(bob_->core->holding());
}

TEST_F(ChatHoldTest, StopGivesHeldMessagesUp) {
  auto r = Send(bob_, "b1");
  bob_->core->Stop("quit");
  clock_.RunFor(absl::ZeroDuration());
  EXPECT_EQ(r->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r->status().message(), HasSubstr("quit"));
  EXPECT_FALSE(bob_->core->holding());
}

TEST_F(ChatHoldTest, HeldMessagesAreBounded) {
  testing::TestNet net(&s_);
  ChatCore::Options o;
  o.max_held = 2;
  testing::Node* dave = net.Add("dave", o);
  dave->core->Start();
  dave->core->HoldSends();
  auto r1 = Send(dave, "1");
  auto r2 = Send(dave, "2");
  auto r3 = Send(dave, "3");
  clock_.RunFor(absl::ZeroDuration());
  EXPECT_FALSE(r1->ok());
  EXPECT_EQ(r1->status().code(), absl::StatusCode::kUnknown);  // still held
  EXPECT_EQ(r3->status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r3->status().message(), HasSubstr("wait for this peer to join"));
  dave->core->ReleaseSends();  // nobody else: done at once
  clock_.RunFor(absl::ZeroDuration());
  ASSERT_TRUE(r2->ok()) << r2->status();
  EXPECT_THAT((*r2)->delivered, IsEmpty());
}

}  // namespace
}  // namespace peerlab::chat
