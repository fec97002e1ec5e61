// ChatCore over the real gRPC transport and service on loopback: messages
// both ways, many messages on one stream, a receiver that goes away and
// comes back on a new port, a stopped chat refusing streams.
#include "peer/chat/grpc_chat.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/chat/chat_core.h"
#include "peer/chat/fake_authenticator.h"
#include "peer/runtime/event_loop.h"
#include "base/logging.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;
using ::testing::ElementsAre;

constexpr absl::Duration kDeadline = absl::Seconds(20);

// The keys every test peer's is pinned in.
std::shared_ptr<testing::FakeKeys> Keys() {
  static auto* keys = new std::shared_ptr<testing::FakeKeys>(
      std::make_shared<testing::FakeKeys>());
  return *keys;
}

// One peer's chat: a loop, a core, a server with the service.
class Peer : public ChatGrpcService::Handler {
 public:
  explicit Peer(const std::string& name)
      : name_(name), auth_(Keys(), name + "-key"), loop_(name) {
    Keys()->Pin(name, name + "-key");
    ChatCore::Options o;
    o.authenticator = &auth_;
    o.name = name;
    o.session = absl::StrCat(name, "-1");
    o.initial_backoff = absl::Milliseconds(20);
    o.max_backoff = absl::Milliseconds(200);
    core_ = std::make_unique<ChatCore>(o, &loop_, &transport_,
                                       [this](const std::string& line) {
                                         std::lock_guard<std::mutex> l(mu_);
                                         view_.push_back(line);
                                         cv_.notify_all();
                                       });
    loop_.Call([&] { core_->Start(); });
    StartServer();
  }
  ~Peer() override {
    StopServer();
    loop_.Call([&] { core_.reset(); });
  }

  void StartServer() {
    service_ = std::make_unique<ChatGrpcService>(this);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ && port > 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  void StopServer() {
    if (!server_) return;
    service_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
    service_.reset();
  }

  void OnIncoming(const std::shared_ptr<ChatReply>& reply,
                  pb::ChatEnvelope envelope) override {
    loop_.Post([this, reply, e = std::move(envelope)]() mutable {
      if (core_) core_->OnIncoming(reply, std::move(e));
    });
  }

  void SetMember(const Peer& other) {
    loop_.Call([&] { core_->SetMember(other.name(), other.address_); });
  }
  // Sends and returns a slot filled when done.
  std::shared_ptr<absl::StatusOr<SendResult>> Send(const std::string& text) {
    auto r = std::make_shared<absl::StatusOr<SendResult>>(
        absl::UnknownError("pending"));
    loop_.Call([&] {
      core_->Send(pb::CHAT_KIND_MESSAGE, text,
                  [this, r](absl::StatusOr<SendResult> result) {
                    std::lock_guard<std::mutex> l(mu_);
                    *r = std::move(result);
                    cv_.notify_all();
                  });
    });
    return r;
  }
  bool WaitDone(const std::shared_ptr<absl::StatusOr<SendResult>>& r) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, absl::ToChronoNanoseconds(kDeadline), [&] {
      return r->status().code() != absl::StatusCode::kUnknown;
    });
  }
  bool WaitLines(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, absl::ToChronoNanoseconds(kDeadline),
                        [&] { return view_.size() >= n; });
  }
  std::vector<std::string> view() {
    std::lock_guard<std::mutex> l(mu_);
    return view_;
  }
  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  uint64_t closed_unread() const { return service_->closed_unread(); }
  ChatCore& core() { return *core_; }
  runtime::EventLoop& loop() { return loop_; }

 private:
  const std::string name_;
  testing::FakeAuthenticator auth_;
  runtime::EventLoop loop_;
  GrpcChatTransport transport_;
  std::unique_ptr<ChatCore> core_;
  std::unique_ptr<ChatGrpcService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> view_;
};

std::unique_ptr<Peer> MakePeer(const std::string& name) {
  return std::make_unique<Peer>(name);
}

TEST(GrpcChatTest, MessagesBothWaysInOrder) {
  auto alice = MakePeer("alice");
  auto bob = MakePeer("bob");
  alice->SetMember(*bob);
  bob->SetMember(*alice);
  std::vector<std::pair<Peer*, std::shared_ptr<absl::StatusOr<SendResult>>>>
      sent;
  for (int i = 0; i < 3; ++i) {
    sent.emplace_back(alice.get(), alice->Send(absl::StrCat("a", i)));
    sent.emplace_back(bob.get(), bob->Send(absl::StrCat("b", i)));
  }
  for (auto& [sender, r] : sent) {
    ASSERT_TRUE(sender->WaitDone(r));  // its own completion wakes it
    ASSERT_TRUE(r->ok()) << r->status();
    EXPECT_EQ((*r)->delivered.size(), 1u);
  }
  EXPECT_THAT(bob->view(),
              ElementsAre("<alice> a0", "<alice> a1", "<alice> a2"));
  EXPECT_THAT(alice->view(), ElementsAre("<bob> b0", "<bob> b1", "<bob> b2"));
}

TEST(GrpcChatTest, ManyMessagesArriveOnceInOrder) {
  auto alice = MakePeer("alice");
  auto bob = MakePeer("bob");
  alice->SetMember(*bob);
  const int n = 5000;
  std::shared_ptr<absl::StatusOr<SendResult>> last;
  for (int i = 0; i < n; ++i) last = alice->Send(absl::StrCat(i));
  ASSERT_TRUE(alice->WaitDone(last));
  ASSERT_TRUE(bob->WaitLines(n));
  std::vector<std::string> view = bob->view();
  ASSERT_EQ(view.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(view[i], absl::StrCat("<alice> ", i));
  auto members = alice->loop().Call([&] { return alice->core().Members(); });
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].reconnects, 0u);  // one stream for all of them
  EXPECT_EQ(members[0].pending, 0u);
}

TEST(GrpcChatTest, ReceiverComesBackOnANewPort) {
  auto alice = MakePeer("alice");
  auto bob = MakePeer("bob");
  alice->SetMember(*bob);
  auto first = alice->Send("first");
  ASSERT_TRUE(alice->WaitDone(first));
  bob->StopServer();
  auto second = alice->Send("second");
  // Retried meanwhile; bob's process "restarts" on another port and the
  // membership tells alice.
  bob->StartServer();
  alice->SetMember(*bob);
  ASSERT_TRUE(alice->WaitDone(second));
  ASSERT_TRUE(second->ok()) << second->status();
  EXPECT_THAT((*second)->delivered, ElementsAre("bob"));
  EXPECT_THAT(bob->view(), ElementsAre("<alice> first", "<alice> second"));
}

TEST(GrpcChatTest, StoppedChatRefusesAndSenderReportsUndelivered) {
  auto alice = MakePeer("alice");
  auto bob = MakePeer("bob");
  alice->SetMember(*bob);
  alice->loop().Call(
      [&] { alice->core().SetDeliveryTimeout(absl::Milliseconds(500)); });
  bob->loop().Call([&] { bob->core().Stop("stopped"); });
  auto r = alice->Send("hello?");
  ASSERT_TRUE(alice->WaitDone(r));
  ASSERT_TRUE(r->ok()) << r->status();
  ASSERT_EQ((*r)->undelivered.size(), 1u);
  EXPECT_EQ((*r)->undelivered[0].member, "bob");
  EXPECT_TRUE(bob->view().empty());
  EXPECT_THAT(alice->view(),
              ElementsAre(::testing::HasSubstr("<error> undelivered to bob")));
}

TEST(GrpcChatTest, PingOverTheStream) {
  auto alice = MakePeer("alice");
  auto bob = MakePeer("bob");
  alice->SetMember(*bob);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<absl::Duration>> rtt;
  alice->loop().Call([&] {
    alice->core().Ping("bob", absl::Seconds(5),
                       [&](absl::StatusOr<absl::Duration> r) {
                         std::lock_guard<std::mutex> l(mu);
                         rtt = r;
                         cv.notify_all();
                       });
  });
  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10),
                          [&] { return rtt.has_value(); }));
  ASSERT_TRUE(rtt->ok()) << rtt->status();
  EXPECT_GT(**rtt, absl::ZeroDuration());
}

// issue 12: pongs for a stream that never reads were queued without bound
// (2.5 GiB in 20 s). The stream is now ended once its queue is too large.
TEST(GrpcChatTest, StreamThatNeverReadsIsEndedInsteadOfGrowing) {
  auto bob = MakePeer("bob");
  auto channel =
      grpc::CreateChannel(bob->address(), grpc::InsecureChannelCredentials());
  auto stub = pb::Chat::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto stream = stub->Connect(&context);
  Keys()->Pin("tester", "tester-key");
  testing::FakeAuthenticator tester(Keys(), "tester-key");
  pb::ChatEnvelope hello;
  *hello.mutable_hello() =
      *MakeHello(tester, "tester", "bob", "", "t1", absl::Now());
  ASSERT_TRUE(stream->Write(hello));
  pb::ChatEnvelope pings;
  for (int i = 0; i < 1000; ++i) pings.add_pings()->set_nonce(i + 1);
  // Each envelope asks for ~1000 pongs (about 9 KB); 5000 of them would
  // queue ~45 MB of answers for this stream, which reads nothing. The
  // server ends the stream instead (the writes may all have been taken by
  // then: it reads ahead of its answers).
  int written = 0;
  while (written < 5000 && stream->Write(pings)) ++written;
  // The status comes after what was sent before it.
  pb::ChatEnvelope in;
  while (stream->Read(&in)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_EQ(bob->closed_unread(), 1u);
}

// A Chat service whose streams never read: what a peer that stopped
// reading looks like to the opener.
class DeafChatService final : public pb::Chat::CallbackService {
 public:
  class Reactor final
      : public grpc::ServerBidiReactor<pb::ChatEnvelope, pb::ChatEnvelope> {
   public:
    void OnCancel() override { Finish(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }
  };
  grpc::ServerBidiReactor<pb::ChatEnvelope, pb::ChatEnvelope>* Connect(
      grpc::CallbackServerContext*) override {
    return new Reactor();
  }
};

// issue 12: the opener's write queue is bounded too: a stream whose other
// end does not read is closed (and reopened by the core) instead of
// growing.
TEST(GrpcChatTest, OutgoingStreamToAPeerThatDoesNotReadIsClosed) {
  DeafChatService deaf;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&deaf);
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server && port > 0);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::Status> closed;
  {
    GrpcChatTransport transport(nullptr, /*max_queued_bytes=*/1 << 20);
    ChatStreamCallbacks callbacks;
    callbacks.on_envelope = [](pb::ChatEnvelope) {};
    callbacks.on_closed = [&](absl::Status s) {
      std::lock_guard<std::mutex> l(mu);
      closed = s;
      cv.notify_all();
    };
    auto stream =
        transport.Open(absl::StrCat("127.0.0.1:", port), std::move(callbacks));
    pb::ChatEnvelope big;
    big.add_messages()->set_text(std::string(64 * 1024, 'x'));
    // 64 MiB offered; far more than the windows of a stream nobody reads.
    for (int i = 0; i < 1024; ++i) stream->Send(big);
    {
      std::unique_lock<std::mutex> l(mu);
      EXPECT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] {
        return closed.has_value();
      })) << "the stream kept queueing";
    }
    stream->Close();
  }
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
}

}  // namespace
}  // namespace peerlab::chat
