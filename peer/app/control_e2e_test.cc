// End-to-end tests of remote control: the real peerlab-peer, against the
// real peerlab-bootstrap, driven through peer.v1.PeerControl from this test.
#include <signal.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "proto/peer/v1/control.grpc.pb.h"
#include "proto/third_party/grpc/health/v1/health.grpc.pb.h"
#include "proto/third_party/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "services/common/testing/peer_process.h"
#include "services/common/testing/subprocess.h"

namespace peerlab::peer {
namespace {

namespace pb = ::peer::v1;
using ::peerlab::peer::e2e::WaitForText;
using ::peerlab::testing::ExecuteLine;
using ::peerlab::testing::NewPeerChannel;
using ::peerlab::testing::OutputTexts;
using ::peerlab::testing::PeerProcessOptions;
using ::peerlab::testing::StartPeerProcess;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::ViewWatcher;
using ::peerlab::testing::WriteFile;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(15);

// A client channel with no call in progress notices a server's GOAWAY only
// on the backup poll (5 s by default); poll often so peers end quickly.
[[maybe_unused]] const bool kBackupPollSet =
    setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "50", 0) == 0;

// A running peerlab-peer and a PeerControl stub on it.
struct Peer {
  std::unique_ptr<Subprocess> process;
  std::string address;  // from the ready file
  std::unique_ptr<pb::PeerControl::Stub> stub;

  grpc::Status Execute(const std::string& line, pb::ExecuteResponse* response,
                       const std::string& token = "") {
    return ExecuteLine(*stub, line, response, absl::Seconds(20), token);
  }
};

class ControlE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("peerlab-control-e2e"));
  }

  // The options of peerlab-peer NAME --serve --no-init (not started).
  Subprocess::Options PeerOptions(const std::string& name,
                                  const std::vector<std::string>& extra) {
    return PeerProcessOptions(bin_, dir_->path(), name, Args(extra));
  }

  // Starts peerlab-peer NAME --serve and waits until it serves.
  void StartPeer(const std::string& name, const std::vector<std::string>& extra,
                 Peer* peer) {
    auto started = StartPeerProcess(dir_->path(), name, Args(extra), kDeadline);
    ASSERT_TRUE(started.ok()) << started.status();
    peer->process = std::move(started->process);
    peer->address = started->address;
    peer->stub = pb::PeerControl::NewStub(NewPeerChannel(peer->address));
  }

  std::vector<std::string> Args(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--serve", "--no-init", "--bootstrap",
                                     bootstrap_.address};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

TEST_F(ControlE2eTest, DrivenThroughPeerControl) {
  Peer alice;
  ASSERT_NO_FATAL_FAILURE(StartPeer("alice", {}, &alice));
  EXPECT_TRUE(absl::StartsWith(alice.address, "127.0.0.1:")) << alice.address;

  pb::ExecuteResponse response;
  ASSERT_TRUE(alice.Execute("bootstrapjoin", &response).ok());
  ASSERT_EQ(response.code(), 0) << response.message();
  ASSERT_TRUE(alice.Execute("bootstrappeers", &response).ok());
  ASSERT_EQ(response.code(), 0) << response.message();
  EXPECT_THAT(OutputTexts(response), ::testing::Contains(HasSubstr("alice")));

  // A failing command: the RPC is fine, the code says what went wrong.
  ASSERT_TRUE(alice.Execute("bootstrapjion", &response).ok());
  EXPECT_EQ(response.code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(response.message(), HasSubstr("bootstrapjoin"));

  // A watcher of outputView sees what later commands print.
  pb::WatchViewsRequest request;
  request.add_views("outputView");
  ViewWatcher watch(alice.stub.get(), request);
  bool synced = false;
  for (int i = 0; !synced && i < 100; ++i) {
    std::string text = absl::StrCat("sync-", i);
    ASSERT_TRUE(alice.Execute(absl::StrCat("echo ", text), &response).ok());
    synced = WaitForText(watch, text, absl::Milliseconds(100));
  }
  ASSERT_TRUE(synced) << "the watcher never saw an echo";
  ASSERT_TRUE(alice.Execute("echo said later", &response).ok());
  EXPECT_TRUE(WaitForText(watch, "said later", kDeadline));
  for (const auto& l : watch.lines()) EXPECT_EQ(l.view(), "outputView");

  // Health and reflection.
  auto channel = NewPeerChannel(alice.address);
  auto health = grpc::health::v1::Health::NewStub(channel);
  for (const std::string service : {"", "peer.v1.PeerControl"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest check;
    check.set_service(service);
    grpc::health::v1::HealthCheckResponse answer;
    grpc::Status s = health->Check(&context, check, &answer);
    ASSERT_TRUE(s.ok()) << service << ": " << s.error_message();
    EXPECT_EQ(answer.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << service;
  }
  {
    auto reflection =
        grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
    grpc::ClientContext context;
    auto stream = reflection->ServerReflectionInfo(&context);
    grpc::reflection::v1alpha::ServerReflectionRequest ask;
    ask.set_list_services("");
    ASSERT_TRUE(stream->Write(ask));
    stream->WritesDone();
    grpc::reflection::v1alpha::ServerReflectionResponse answer;
    ASSERT_TRUE(stream->Read(&answer));
    std::vector<std::string> names;
    for (const auto& s : answer.list_services_response().service()) {
      names.push_back(s.name());
    }
    EXPECT_THAT(names, ::testing::Contains("peer.v1.PeerControl"));
    EXPECT_TRUE(stream->Finish().ok());
  }

  // `exit 0` answers, ends the watcher's stream cleanly and the process.
  grpc::Status s = alice.Execute("exit 0", &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.code(), 0) << response.message();
  auto end = watch.WaitForEnd(kDeadline);
  ASSERT_TRUE(end.has_value()) << "the watch stream did not end";
  EXPECT_TRUE(end->ok()) << end->error_message();
  auto exit = alice.process->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString() << "\n"
                               << alice.process->ReadStderr();
}

TEST_F(ControlE2eTest, OtherLoopbackAddressNeedsNoToken) {
  Peer bob;
  ASSERT_NO_FATAL_FAILURE(StartPeer("bob", {"--bind", "127.0.0.2"}, &bob));
  EXPECT_TRUE(absl::StartsWith(bob.address, "127.0.0.2:")) << bob.address;
  pb::ExecuteResponse response;
  grpc::Status s = bob.Execute("echo via 127.0.0.2", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(OutputTexts(response), ::testing::ElementsAre("via 127.0.0.2"));

  ASSERT_TRUE(bob.process->Signal(SIGTERM).ok());
  auto exit = bob.process->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString();
}

TEST_F(ControlE2eTest, NonLoopbackBindWithoutTokenRefusesToStart) {
  auto process = Subprocess::Start(PeerOptions("carol", {"--bind", "0.0.0.0"}));
  ASSERT_TRUE(process.ok()) << process.status();
  auto exit = (*process)->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 2) << exit->ToString();
  EXPECT_THAT((*process)->ReadStderr(),
              HasSubstr("--bind 0.0.0.0 is not a loopback address"));
  EXPECT_THAT((*process)->ReadStderr(), HasSubstr("--control-token-file"));
}

TEST_F(ControlE2eTest, TokenFileIsEnforced) {
  std::string token_file = dir_->File("token");
  ASSERT_TRUE(WriteFile(token_file, "  t0ken-for-dave\n").ok());
  Peer dave;
  ASSERT_NO_FATAL_FAILURE(
      StartPeer("dave", {"--control-token-file", token_file}, &dave));
  pb::ExecuteResponse response;
  EXPECT_EQ(dave.Execute("echo x", &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(dave.Execute("echo x", &response, "wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status s = dave.Execute("echo x", &response, "t0ken-for-dave");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.code(), 0);

  // An empty token file is refused.
  std::string empty = dir_->File("empty-token");
  ASSERT_TRUE(WriteFile(empty, "\n").ok());
  auto process =
      Subprocess::Start(PeerOptions("erin", {"--control-token-file", empty}));
  ASSERT_TRUE(process.ok()) << process.status();
  auto exit = (*process)->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 2) << exit->ToString();
  EXPECT_THAT((*process)->ReadStderr(), HasSubstr("is empty"));
}

}  // namespace
}  // namespace peerlab::peer
