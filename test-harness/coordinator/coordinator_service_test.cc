// CoordinatorService in process, through gRPC: what remote parties can grow
// (live registrations, runs in progress) is bounded and refused clearly.
#include "test-harness/coordinator/coordinator_service.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

using ::testing::HasSubstr;

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

  // Opens a Register stream for `name` and reads its first answer.
  grpc::Status RegisterPeer(const std::string& name) {
    auto& context = contexts_.emplace_back(new grpc::ClientContext);
    ::harness::v1::RegisterRequest request;
    request.set_name(name);
    request.set_control_address("127.0.0.1:1");
    auto& reader =
        readers_.emplace_back(stub_->Register(context.get(), request));
    ::harness::v1::RegisterResponse response;
    if (reader->Read(&response) && response.accepted()) return grpc::Status::OK;
    grpc::Status s = reader->Finish();
    readers_.pop_back();
    return s;
  }

  grpc::Status StartRun(const std::string& id) {
    grpc::ClientContext context;
    ::harness::v1::StartRunRequest request;
    request.set_run_id(id);
    request.set_script_text(absl::StrCat(id, "-peer echo hi\n"));
    request.mutable_options()->set_peer_wait_timeout_ms(30000);
    ::harness::v1::StartRunResponse response;
    return stub_->StartRun(&context, request, &response);
  }

  CoordinatorService service_;
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
  bool registered = false;
  for (int i = 0; i < 200 && !registered; ++i) {
    registered = RegisterPeer("room-again").ok();
    if (!registered) absl::SleepFor(absl::Milliseconds(10));
  }
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

}  // namespace
}  // namespace peerlab::harness
