// CoordinatorService in process, through gRPC: what remote parties can grow
// (live registrations, runs in progress, challenges) is bounded and refused
// clearly; nobody without the lab token registers, takes over a live name,
// or starts, watches or lists anything.
#include "test-harness/coordinator/coordinator_service.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/peer/v1/control.grpc.pb.h"
#include "base/testing/eventually.h"
#include "test-harness/coordinator/lab_auth.h"

namespace peerlab::harness {
namespace {

using ::peerlab::testing::Eventually;

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "the-lab-token";

// A PeerControl server that records the authorization of every call.
class TokenRecorder final : public ::peer::v1::PeerControl::Service {
 public:
  TokenRecorder() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~TokenRecorder() override {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }
  grpc::Status Execute(grpc::ServerContext* context,
                       const ::peer::v1::ExecuteRequest*,
                       ::peer::v1::ExecuteResponse*) override {
    Record(*context);
    return grpc::Status::OK;
  }
  grpc::Status WatchViews(
      grpc::ServerContext* context, const ::peer::v1::WatchViewsRequest*,
      grpc::ServerWriter<::peer::v1::WatchViewsResponse>*) override {
    Record(*context);
    return grpc::Status::OK;
  }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  const std::string& address() const { return address_; }

 private:
  void Record(const grpc::ServerContext& context) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [b, e] = context.client_metadata().equal_range("authorization");
    std::string value = "(none)";
    if (b != e) value = std::string(b->second.data(), b->second.size());
    seen_.push_back(value);
  }
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::mutex mu_;
  std::vector<std::string> seen_;
};

class CoordinatorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());
    stub_ = ::harness::v1::Coordinator::NewStub(channel_);
  }
  void TearDown() override {
    readers_.clear();
    contexts_.clear();
    service_.Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(2));
    server_->Wait();
  }

  // A registration of `name` as a peer holding `token` makes it: after a
  // Challenge, with the proof. `token` empty: no challenge, no proof.
  ::harness::v1::RegisterRequest Request(const std::string& name,
                                         const std::string& address,
                                         const std::string& token = kToken,
                                         uint64_t generation = 1) {
    ::harness::v1::RegisterRequest request;
    request.set_name(name);
    request.set_control_address(address);
    request.set_pid(42);
    request.set_host("here");
    request.set_peer_generation(generation);
    if (token.empty()) return request;
    grpc::ClientContext context;
    ::harness::v1::ChallengeRequest ask;
    ask.set_peer_nonce(std::string(kNonceBytes, 'n'));
    ::harness::v1::ChallengeResponse challenge;
    EXPECT_TRUE(stub_->Challenge(&context, ask, &challenge).ok());
    request.set_coordinator_nonce(challenge.coordinator_nonce());
    request.set_peer_nonce(ask.peer_nonce());
    request.set_proof(RegisterProof(token, request));
    return request;
  }

  // Opens a Register stream and reads its first answer.
  grpc::Status Register(const ::harness::v1::RegisterRequest& request) {
    auto& context = contexts_.emplace_back(new grpc::ClientContext);
    auto& reader =
        readers_.emplace_back(stub_->Register(context.get(), request));
    ::harness::v1::RegisterResponse response;
    if (reader->Read(&response) && response.accepted()) return grpc::Status::OK;
    grpc::Status s = reader->Finish();
    readers_.pop_back();
    contexts_.pop_back();
    return s;
  }
  grpc::Status RegisterPeer(const std::string& name,
                            const std::string& address = "127.0.0.1:1") {
    return Register(Request(name, address));
  }

  grpc::Status StartRun(const std::string& id, std::string text = "",
                        const std::string& token = kToken) {
    grpc::ClientContext context;
    if (!token.empty()) AddBearer(&context, token);
    ::harness::v1::StartRunRequest request;
    request.set_run_id(id);
    request.set_script_text(text.empty() ? absl::StrCat(id, "-peer echo hi\n")
                                         : text);
    request.mutable_options()->set_peer_wait_timeout_ms(30000);
    ::harness::v1::StartRunResponse response;
    return stub_->StartRun(&context, request, &response);
  }

  CoordinatorService service_{kToken};
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::harness::v1::Coordinator::Stub> stub_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  std::vector<
      std::unique_ptr<grpc::ClientReader<::harness::v1::RegisterResponse>>>
      readers_;
};

TEST_F(CoordinatorServiceTest, LiveRegistrationsAreBounded) {
  constexpr size_t kLimit = CoordinatorService::kMaxRegistrations;
  for (size_t i = 0; i < kLimit; ++i) {
    grpc::Status s = RegisterPeer(absl::StrCat("p", i));
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
  }
  grpc::Status over = RegisterPeer("one-too-many");
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(over.error_message(), HasSubstr("registrations"));
  // A peer that goes makes room.
  contexts_.front()->TryCancel();
  const bool registered =
      Eventually([&] { return RegisterPeer("room-again").ok(); });
  EXPECT_TRUE(registered);
}

TEST_F(CoordinatorServiceTest, RunsInProgressAreBounded) {
  constexpr size_t kLimit = CoordinatorService::kMaxActiveRuns;
  for (size_t i = 0; i < kLimit; ++i) {
    grpc::Status s = StartRun(absl::StrCat("run", i));
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
  }
  grpc::Status over = StartRun("one-too-many");
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(over.error_message(), HasSubstr("runs in progress"));
}

// Before: a Register with no credential was accepted, and a run using its
// name sent "authorization: Bearer <the coordinator's control token>" to
// the address it gave. Now a Register without a valid proof is refused,
// and a registered peer receives only its own session token.
TEST_F(CoordinatorServiceTest, AFakeRegisterNeverReceivesAToken) {
  TokenRecorder fake;
  grpc::Status none = Register(Request("alice", fake.address(), ""));
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << none.error_message();
  grpc::Status wrong =
      Register(Request("alice", fake.address(), "a-guessed-token"));
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.error_message(), HasSubstr("wrong proof"));
  // A captured registration replayed: its challenge is used up.
  ::harness::v1::RegisterRequest honest = Request("bob", "127.0.0.1:1");
  ASSERT_TRUE(Register(honest).ok());
  honest.set_name("alice");
  honest.set_control_address(fake.address());
  EXPECT_EQ(Register(honest).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_GE(service_.refused(), 3u);

  // alice is not registered: a run that uses her has nobody to call.
  EXPECT_FALSE(service_.registry().Get("alice").has_value());

  // A peer that proves the token gets its session token, never the lab's.
  ::harness::v1::RegisterRequest carol = Request("carol", fake.address());
  ASSERT_TRUE(Register(carol).ok());
  ASSERT_TRUE(StartRun("r", "carol echo hi\n").ok());
  Eventually([&] { return !fake.seen().empty(); }, absl::Seconds(5));
  ASSERT_FALSE(fake.seen().empty());
  for (const auto& v : fake.seen()) {
    EXPECT_EQ(v, "Bearer " + ControlSessionToken(kToken, carol));
    EXPECT_THAT(v, Not(HasSubstr(kToken)));
  }
}

// Before: a second Register of a live name replaced the first, and runs
// sent the name's steps to the newcomer.
TEST_F(CoordinatorServiceTest, ALiveNameCannotBeTakenOver) {
  ASSERT_TRUE(RegisterPeer("alice").ok());
  grpc::Status second = Register(Request("alice", "127.0.0.1:2", kToken, 2));
  EXPECT_EQ(second.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << second.error_message();
  EXPECT_THAT(second.error_message(), HasSubstr("pid 42"));
  EXPECT_EQ(service_.registry().Get("alice")->control_address(), "127.0.0.1:1");
  // Once the holder's stream has ended, a newer generation registers (a
  // restart), an older one does not.
  contexts_.front()->TryCancel();
  const bool gone =
      Eventually([&] { return !service_.registry().Get("alice")->alive(); });
  ASSERT_TRUE(gone);
  EXPECT_EQ(Register(Request("alice", "127.0.0.1:2", kToken, 0)).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Register(Request("alice", "127.0.0.1:2", kToken, 2)).ok());
}

// Before: anybody could start runs (a `shell` step on any peer), watch
// them, list the peers and read summaries.
TEST_F(CoordinatorServiceTest, ClientCallsNeedTheLabToken) {
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    EXPECT_EQ(StartRun("anon", "", token).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    auto call = [&](auto method, auto request, auto response) {
      grpc::ClientContext context;
      if (!token.empty()) AddBearer(&context, token);
      return ((*stub_).*method)(&context, request, &response).error_code();
    };
    using Stub = ::harness::v1::Coordinator::Stub;
    EXPECT_EQ(call(&Stub::ListPeers, ::harness::v1::ListPeersRequest(),
                   ::harness::v1::ListPeersResponse()),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(call(&Stub::GetSummary, ::harness::v1::GetSummaryRequest(),
                   ::harness::v1::RunSummary()),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(call(&Stub::ListRuns, ::harness::v1::ListRunsRequest(),
                   ::harness::v1::ListRunsResponse()),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(call(&Stub::CancelRun, ::harness::v1::CancelRunRequest(),
                   ::harness::v1::CancelRunResponse()),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(call(&Stub::ResolveFault, ::harness::v1::ResolveFaultRequest(),
                   ::harness::v1::ResolveFaultResponse()),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext context;
    if (!token.empty()) AddBearer(&context, token);
    auto watch = stub_->WatchRun(&context, ::harness::v1::WatchRunRequest());
    ::harness::v1::RunEvent event;
    EXPECT_FALSE(watch->Read(&event));
    EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_TRUE(StartRun("mine").ok());
  grpc::ClientContext context;
  AddBearer(&context, kToken);
  ::harness::v1::ListPeersResponse peers;
  EXPECT_TRUE(stub_->ListPeers(&context, {}, &peers).ok());
}

// The coordinator proves the token to whoever asks; a client checks that
// before it sends the token.
TEST_F(CoordinatorServiceTest, TheCoordinatorProvesItHoldsTheToken) {
  EXPECT_TRUE(ChallengeCoordinator(stub_.get(), kToken,
                                   absl::Now() + absl::Seconds(5), false)
                  .ok());
  absl::Status wrong = ChallengeCoordinator(
      stub_.get(), "another-lab", absl::Now() + absl::Seconds(5), false);
  EXPECT_TRUE(absl::IsPermissionDenied(wrong)) << wrong;
}

// Challenges waiting for their Register are bounded: beyond the bound the
// oldest is dropped (its Register refused), the newest still works.
TEST_F(CoordinatorServiceTest, PendingChallengesAreBounded) {
  ::harness::v1::RegisterRequest oldest = Request("old", "127.0.0.1:1");
  for (size_t i = 0; i < CoordinatorService::kMaxPendingChallenges; ++i) {
    grpc::ClientContext context;
    ::harness::v1::ChallengeRequest ask;
    ask.set_peer_nonce(std::string(kNonceBytes, 'x'));
    ::harness::v1::ChallengeResponse answer;
    ASSERT_TRUE(stub_->Challenge(&context, ask, &answer).ok());
  }
  EXPECT_EQ(Register(oldest).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(RegisterPeer("new").ok());
}

}  // namespace
}  // namespace peerlab::harness
