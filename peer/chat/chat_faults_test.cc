#include "peer/chat/chat_faults.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "peer/runtime/sim_clock.h"
#include "peer/runtime/sim_scheduler.h"

namespace peerlab::chat {
namespace {

constexpr char kBob[] = "127.0.0.1:5002";
constexpr char kCarol[] = "127.0.0.1:5003";

// Records what each stream writes, with the virtual time of the write.
class FakeTransport : public ChatTransport {
 public:
  struct Record {
    std::string address;
    std::vector<std::pair<absl::Time, std::string>> sent;
    bool closed = false;
    ChatStreamCallbacks callbacks;
  };
  explicit FakeTransport(runtime::SimClock* clock) : clock_(clock) {}

  std::unique_ptr<ChatStream> Open(const std::string& address,
                                   ChatStreamCallbacks callbacks) override {
    auto record = std::make_shared<Record>();
    record->address = address;
    record->callbacks = std::move(callbacks);
    opened.push_back(record);
    return std::make_unique<Stream>(record, clock_);
  }

  std::vector<std::shared_ptr<Record>> opened;

 private:
  class Stream : public ChatStream {
   public:
    Stream(std::shared_ptr<Record> r, runtime::SimClock* clock)
        : r_(std::move(r)), clock_(clock) {}
    void Send(::peer::v1::ChatEnvelope e) override {
      if (!r_->closed) r_->sent.emplace_back(clock_->Now(), e.ack().session());
    }
    void Close() override {
      if (r_->closed) return;
      r_->closed = true;
      r_->callbacks.on_closed(absl::CancelledError("closed"));
    }

   private:
    std::shared_ptr<Record> r_;
    runtime::SimClock* clock_;
  };
  runtime::SimClock* clock_;
};

::peer::v1::ChatEnvelope Tagged(const std::string& tag) {
  ::peer::v1::ChatEnvelope e;
  e.mutable_ack()->set_session(tag);
  return e;
}

struct Closes {
  std::vector<absl::Status> statuses;
  ChatStreamCallbacks Callbacks() {
    return {.on_envelope = [](::peer::v1::ChatEnvelope) {},
            .on_closed = [this](absl::Status s) { statuses.push_back(s); }};
  }
};

class ChatFaultsTest : public ::testing::Test {
 protected:
  runtime::SimClock clock_;
  runtime::SimScheduler scheduler_{&clock_};
  FakeTransport* target_owned_ = new FakeTransport(&clock_);
  FakeTransport& target_ = *target_owned_;
  std::shared_ptr<runtime::FaultPlan> plan_ =
      std::make_shared<runtime::FaultPlan>();
  FaultyChatTransport faulty_{std::unique_ptr<ChatTransport>(target_owned_),
                              plan_, &scheduler_};
};

TEST_F(ChatFaultsTest, NoRulePassesStraightThrough) {
  Closes closes;
  auto s = faulty_.Open(kBob, closes.Callbacks());
  s->Send(Tagged("a"));
  ASSERT_EQ(target_.opened.size(), 1u);
  EXPECT_EQ(target_.opened[0]->sent.size(), 1u);
}

TEST_F(ChatFaultsTest, BlockedStreamFailsAfterOpenAndOthersFlow) {
  runtime::FaultRule block;
  block.block = true;
  ASSERT_TRUE(plan_->Set(kBob, block).ok());
  Closes bob, carol;
  auto to_bob = faulty_.Open(kBob, bob.Callbacks());
  auto to_carol = faulty_.Open(kCarol, carol.Callbacks());
  EXPECT_TRUE(bob.statuses.empty());  // never inside Open
  clock_.RunFor(absl::Milliseconds(1));
  ASSERT_EQ(bob.statuses.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(bob.statuses[0])) << bob.statuses[0];
  EXPECT_NE(bob.statuses[0].message().find("blocked"), std::string::npos);
  to_bob->Send(Tagged("x"));
  to_carol->Send(Tagged("y"));
  ASSERT_EQ(target_.opened.size(), 1u);  // only carol's reached the network
  EXPECT_EQ(target_.opened[0]->address, kCarol);
  EXPECT_EQ(target_.opened[0]->sent.size(), 1u);
  to_bob.reset();
  EXPECT_EQ(bob.statuses.size(), 1u);  // on_closed once
}

TEST_F(ChatFaultsTest, AnOpenStreamBreaksAtItsNextEnvelopeOnceBlocked) {
  Closes bob;
  auto s = faulty_.Open(kBob, bob.Callbacks());
  s->Send(Tagged("before"));
  runtime::FaultRule block;
  block.block = true;
  ASSERT_TRUE(plan_->Set(kBob, block).ok());
  s->Send(Tagged("after"));
  ASSERT_EQ(target_.opened.size(), 1u);
  EXPECT_EQ(target_.opened[0]->sent.size(), 1u);
  EXPECT_TRUE(target_.opened[0]->closed);
  ASSERT_EQ(bob.statuses.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(bob.statuses[0]));
}

TEST_F(ChatFaultsTest, HungStreamSwallowsEverythingUntilClosed) {
  runtime::FaultRule hang;
  hang.call = runtime::CallFault::kHang;
  ASSERT_TRUE(plan_->Set(kBob, hang).ok());
  Closes bob;
  auto s = faulty_.Open(kBob, bob.Callbacks());
  s->Send(Tagged("a"));
  clock_.RunFor(absl::Minutes(1));
  EXPECT_TRUE(target_.opened.empty());
  EXPECT_TRUE(bob.statuses.empty());
  s->Close();
  ASSERT_EQ(bob.statuses.size(), 1u);
  EXPECT_TRUE(absl::IsCancelled(bob.statuses[0]));
}

TEST_F(ChatFaultsTest, DelayedEnvelopesKeepTheStreamsOrder) {
  runtime::FaultRule delay;
  delay.delay = absl::Milliseconds(20);
  delay.jitter = absl::Milliseconds(15);
  ASSERT_TRUE(plan_->Set("*", delay).ok());
  Closes bob;
  auto s = faulty_.Open(kBob, bob.Callbacks());
  const absl::Time start = clock_.Now();
  for (int i = 0; i < 50; ++i) {
    s->Send(Tagged(std::to_string(i)));
    clock_.RunFor(absl::Milliseconds(1));
  }
  clock_.RunFor(absl::Milliseconds(100));
  ASSERT_EQ(target_.opened.size(), 1u);
  const auto& sent = target_.opened[0]->sent;
  ASSERT_EQ(sent.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(sent[i].second, std::to_string(i));
    EXPECT_GE(sent[i].first - start, absl::Milliseconds(20 + i));
    if (i > 0) {
      EXPECT_GE(sent[i].first, sent[i - 1].first);
    }
  }
  // Closed: what is still held back is not written.
  s->Send(Tagged("late"));
  s.reset();
  clock_.RunFor(absl::Milliseconds(100));
  EXPECT_EQ(target_.opened[0]->sent.size(), 50u);
}

TEST_F(ChatFaultsTest, FailedCallsRuleFailsStreams) {
  runtime::FaultRule fail;
  fail.call = runtime::CallFault::kFail;
  ASSERT_TRUE(plan_->Set(kBob, fail).ok());
  Closes bob;
  auto s = faulty_.Open(kBob, bob.Callbacks());
  clock_.RunFor(absl::Milliseconds(1));
  ASSERT_EQ(bob.statuses.size(), 1u);
  EXPECT_NE(bob.statuses[0].message().find("fails by a fault rule"),
            std::string::npos);
}

}  // namespace
}  // namespace peerlab::chat
