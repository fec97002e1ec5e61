// SimChatNetwork: delivery in virtual time on the receiver's and the
// opener's schedulers, and each fault (down, muted, dropped sends, broken
// streams, unknown addresses).
#include "peer/chat/sim_chat_network.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "peer/runtime/sim_clock.h"
#include "peer/runtime/sim_scheduler.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;

pb::ChatEnvelope Ping(uint64_t nonce) {
  pb::ChatEnvelope e;
  e.add_pings()->set_nonce(nonce);
  return e;
}
pb::ChatEnvelope Pong(uint64_t nonce) {
  pb::ChatEnvelope e;
  e.add_pongs()->set_nonce(nonce);
  return e;
}

class SimChatNetworkTest : public ::testing::Test {
 protected:
  SimChatNetworkTest() {
    net_.latency = absl::Milliseconds(5);
    // bob answers every ping with a pong of the same nonce.
    net_.Attach(
        "bob:1", &bob_s_,
        [this](const std::shared_ptr<ChatReply>& reply, pb::ChatEnvelope e) {
          received_at_.push_back(clock_.Now());
          for (const auto& p : e.pings()) {
            received_.push_back(p.nonce());
            reply->Send(Pong(p.nonce()));
          }
        });
  }

  // Opens a stream from alice to `address` that records what it hears.
  std::unique_ptr<ChatStream> Open(const std::string& address) {
    ChatStreamCallbacks cb;
    cb.on_envelope = [this](pb::ChatEnvelope e) {
      for (const auto& p : e.pongs()) pongs_.push_back(p.nonce());
    };
    cb.on_closed = [this](absl::Status s) { closed_.push_back(s); };
    return alice_->Open(address, std::move(cb));
  }

  const absl::Time start_ = absl::FromUnixSeconds(1700000000);
  runtime::SimClock clock_{start_};
  runtime::SimScheduler alice_s_{&clock_, 1};
  runtime::SimScheduler bob_s_{&clock_, 2};
  SimChatNetwork net_;
  std::unique_ptr<ChatTransport> alice_ = net_.TransportFor(&alice_s_);
  std::vector<uint64_t> received_, pongs_;
  std::vector<absl::Time> received_at_;
  std::vector<absl::Status> closed_;
};

TEST_F(SimChatNetworkTest, DeliversInOrderAfterTheLatencyEachWay) {
  auto stream = Open("bob:1");
  for (uint64_t i = 1; i <= 3; ++i) stream->Send(Ping(i));
  clock_.RunFor(absl::Milliseconds(4));
  EXPECT_TRUE(received_.empty());
  clock_.RunFor(absl::Milliseconds(1));
  EXPECT_EQ(received_, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(received_at_.front(), start_ + absl::Milliseconds(5));
  EXPECT_TRUE(pongs_.empty());
  clock_.RunFor(absl::Milliseconds(5));
  EXPECT_EQ(pongs_, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(net_.opens("bob:1"), 1);
  EXPECT_GT(net_.largest_envelope(), 0u);
  EXPECT_TRUE(closed_.empty());
  stream.reset();  // closes: the opener hears Cancelled, once
  clock_.RunFor(absl::Milliseconds(1));
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].code(), absl::StatusCode::kCancelled);
}

TEST_F(SimChatNetworkTest, UnknownOrDownAddressRefusesTheStream) {
  auto nobody = Open("nobody:1");
  net_.SetDown("bob:1", true);
  auto bob = Open("bob:1");
  bob->Send(Ping(1));
  clock_.RunFor(absl::Milliseconds(20));
  ASSERT_EQ(closed_.size(), 2u);
  for (const auto& s : closed_) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_EQ(s.message(), "connection refused");
  }
  EXPECT_TRUE(received_.empty());
  EXPECT_EQ(net_.opens("bob:1"), 1);

  net_.SetDown("bob:1", false);  // back: a new stream works
  auto again = Open("bob:1");
  again->Send(Ping(2));
  clock_.RunFor(absl::Milliseconds(20));
  EXPECT_EQ(received_, (std::vector<uint64_t>{2}));
  EXPECT_EQ(pongs_, (std::vector<uint64_t>{2}));
}

TEST_F(SimChatNetworkTest, WhatIsInFlightToAnAddressThatGoesDownIsLost) {
  auto stream = Open("bob:1");
  stream->Send(Ping(1));
  net_.SetDown("bob:1", true);
  stream->Send(Ping(2));
  clock_.RunFor(absl::Milliseconds(20));
  EXPECT_TRUE(received_.empty());
  EXPECT_EQ(net_.lost(), 2u);
  EXPECT_TRUE(closed_.empty());  // no one tells the sender
}

TEST_F(SimChatNetworkTest, MutedAddressReceivesButItsAnswersAreLost) {
  net_.SetMuted("bob:1", true);
  auto stream = Open("bob:1");
  stream->Send(Ping(1));
  clock_.RunFor(absl::Milliseconds(20));
  EXPECT_EQ(received_, (std::vector<uint64_t>{1}));
  EXPECT_TRUE(pongs_.empty());
  net_.SetMuted("bob:1", false);
  stream->Send(Ping(2));
  clock_.RunFor(absl::Milliseconds(20));
  EXPECT_EQ(pongs_, (std::vector<uint64_t>{2}));
}

TEST_F(SimChatNetworkTest, DroppedSendsAreLostAndTheStreamGoesOn) {
  auto stream = Open("bob:1");
  net_.DropNextSends("bob:1", 2);
  for (uint64_t i = 1; i <= 4; ++i) stream->Send(Ping(i));
  clock_.RunFor(absl::Milliseconds(20));
  EXPECT_EQ(received_, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(net_.lost(), 2u);
  EXPECT_TRUE(closed_.empty());
}

TEST_F(SimChatNetworkTest, BrokenStreamEndsUnavailableOnceAndTakesNoMore) {
  auto stream = Open("bob:1");
  stream->Send(Ping(1));
  net_.BreakStreamsTo("bob:1");  // before the ping arrives: it is lost
  stream->Send(Ping(2));
  clock_.RunFor(absl::Milliseconds(20));
  EXPECT_TRUE(received_.empty());
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(closed_[0].message(), "connection reset");
  stream.reset();  // closing an ended stream reports nothing more
  clock_.RunFor(absl::Milliseconds(1));
  EXPECT_EQ(closed_.size(), 1u);
}

TEST_F(SimChatNetworkTest, ReceiverClosingEndsTheOpenersStreamWithItsStatus) {
  net_.Attach("carol:1", &bob_s_,
              [](const std::shared_ptr<ChatReply>& reply, pb::ChatEnvelope) {
                reply->Close(absl::UnavailableError("chat stopped"));
              });
  auto stream = Open("carol:1");
  stream->Send(Ping(1));
  clock_.RunFor(absl::Milliseconds(20));
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(closed_[0], absl::UnavailableError("chat stopped"));
}

}  // namespace
}  // namespace peerlab::chat
