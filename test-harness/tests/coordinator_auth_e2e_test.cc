// The coordinator's authentication end to end: a real peerlab-coordinator and
// a real peerlab-peer (--test --coordinator) on loopback, attacked and used
// through raw harness.v1.Coordinator calls from this test.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/testing/eventually.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/harness/v1/coordinator.grpc.pb.h"

namespace peerlab::harness {
namespace {

using ::peerlab::testing::Eventually;

using ::peerlab::testing::BinDir;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;
using ::peerlab::testing::WaitForFileLine;
using ::peerlab::testing::WriteFile;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(20);

class CoordinatorAuthE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bin = BinDir();
    ASSERT_TRUE(bin.ok()) << bin.status();
    bin_ = *bin;
    auto dir = TempDir::Create("peerlab-coordauth-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    control_token_file_ = dir_->File("control.token");
    ASSERT_TRUE(WriteFile(control_token_file_, "peer-control-secret\n").ok());
    ::chmod(control_token_file_.c_str(), 0600);
    lab_token_ = "lab-token-of-this-test";
    lab_token_file_ = dir_->File("lab.token");
    ASSERT_TRUE(WriteFile(lab_token_file_, lab_token_ + "\n").ok());
    ::chmod(lab_token_file_.c_str(), 0600);
    auto coordinator = Subprocess::Start(
        {.argv = {bin_ + "/peerlab-coordinator", "--listen", "127.0.0.1:0",
                  "--ready-file", dir_->File("coordinator.ready"),
                  "--token-file", lab_token_file_},
         .stdout_path = dir_->File("coordinator.out"),
         .stderr_path = dir_->File("coordinator.err")});
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    coordinator_ = *std::move(coordinator);
    auto ready = WaitForFileLine(dir_->File("coordinator.ready"), kDeadline,
                                 coordinator_.get());
    ASSERT_TRUE(ready.ok()) << ready.status();
    address_ = std::string(absl::StripAsciiWhitespace(*ready));
    stub_ = ::harness::v1::Coordinator::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  // Starts `peerlab-peer NAME --test --coordinator ...` with a control
  // token, the lab token and `extra` arguments; unless `wait` is false,
  // waits until it has registered. `log` names its log file.
  Subprocess* StartPeer(const std::string& name,
                        std::vector<std::string> extra = {}, bool wait = true,
                        const std::string& log = "") {
    const std::string stem = dir_->File(log.empty() ? name : log);
    std::vector<std::string> argv = {bin_ + "/peerlab-peer",
                                     name,
                                     "--test",
                                     "--serve",
                                     "--no-init",
                                     "--coordinator",
                                     address_,
                                     "--control-token-file",
                                     control_token_file_,
                                     "--log-file",
                                     stem + ".log"};
    if (std::find(extra.begin(), extra.end(), "--token-file") == extra.end()) {
      argv.insert(argv.end(), {"--token-file", lab_token_file_});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto peer = Subprocess::Start({.argv = argv,
                                   .stdout_path = stem + ".out",
                                   .stderr_path = stem + ".err"});
    EXPECT_TRUE(peer.ok()) << peer.status();
    if (!peer.ok()) return nullptr;
    peers_.push_back(*std::move(peer));
    Subprocess* started = peers_.back().get();
    if (wait) {
      EXPECT_TRUE(Eventually([&] { return PidOf(name) == started->pid(); }))
          << name << " did not register";
    }
    return started;
  }

  // The pid of the live registration of `name`, or 0.
  int64_t PidOf(const std::string& name) {
    grpc::ClientContext context;
    Authorize(&context);
    ::harness::v1::ListPeersResponse list;
    if (!stub_->ListPeers(&context, {}, &list).ok()) return 0;
    for (const auto& p : list.peers()) {
      if (p.name() == name && p.alive()) return p.pid();
    }
    return 0;
  }

  // Waits until run `id` has finished; its summary.
  ::harness::v1::RunSummary Finished(const std::string& id) {
    ::harness::v1::RunSummary summary;
    Eventually([&] {
      grpc::ClientContext context;
      Authorize(&context);
      ::harness::v1::GetSummaryRequest request;
      request.set_run_id(id);
      return stub_->GetSummary(&context, request, &summary).ok() &&
             summary.state() >= ::harness::v1::RUN_STATE_PASSED;
    });
    return summary;
  }

  // Adds the lab's token, when this test knows one.
  void Authorize(grpc::ClientContext* context) {
    if (!lab_token_.empty()) {
      context->AddMetadata("authorization", "Bearer " + lab_token_);
    }
  }

  grpc::Status StartRun(const std::string& id, const std::string& text,
                        bool authorized) {
    grpc::ClientContext context;
    if (authorized) Authorize(&context);
    ::harness::v1::StartRunRequest request;
    request.set_run_id(id);
    request.set_script_name(id + ".cmd");
    request.set_script_text(text);
    request.mutable_options()->set_end_timeout_ms(100);
    request.mutable_options()->set_quiet_ms(10);
    ::harness::v1::StartRunResponse response;
    return stub_->StartRun(&context, request, &response);
  }

  std::string bin_;
  std::unique_ptr<TempDir> dir_;
  std::string control_token_file_;
  std::string lab_token_, lab_token_file_;
  std::unique_ptr<Subprocess> coordinator_;
  std::string address_;
  std::unique_ptr<::harness::v1::Coordinator::Stub> stub_;
  std::vector<std::unique_ptr<Subprocess>> peers_;
};

// Before: the coordinator took StartRun from anybody and ran its `shell`
// step on alice with alice's control token.
TEST_F(CoordinatorAuthE2eTest, AnAnonymousStartRunRunsNoShell) {
  ASSERT_NE(StartPeer("alice", {"--exec", "set lab.allow_programs true"}),
            nullptr);
  const std::string marker = dir_->File("shell-ran");
  grpc::Status s =
      StartRun("anon", absl::StrCat("alice shell touch ", marker, "\n"),
               /*authorized=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << s.error_message();
  if (s.ok()) {
    // The run was accepted: see whether the shell ran.
    Eventually([&] { return std::filesystem::exists(marker); },
               absl::Seconds(10));
  }
  EXPECT_FALSE(std::filesystem::exists(marker))
      << "an anonymous run ran a shell on alice";
  // With the token, the same run works: the coordinator reaches alice's
  // PeerControl (which wants a control token) with its session token.
  ASSERT_TRUE(StartRun("mine", absl::StrCat("alice shell touch ", marker, "\n"),
                       /*authorized=*/true)
                  .ok());
  auto summary = Finished("mine");
  EXPECT_EQ(summary.state(), ::harness::v1::RUN_STATE_PASSED)
      << summary.verdict();
  EXPECT_TRUE(std::filesystem::exists(marker));
}

// Every step the coordinator sends is checked by the peer's own rules: a
// peer whose owner refused `shell` to remote callers refuses it from the
// coordinator too.
TEST_F(CoordinatorAuthE2eTest,
       APeerRefusesShellFromTheCoordinatorIfItsOwnerDid) {
  ASSERT_NE(StartPeer("alice", {"--exec", "set lab.allow_programs true",
                                "--exec", "set shell.allow_remote false"}),
            nullptr);
  const std::string marker = dir_->File("shell-ran");
  ASSERT_TRUE(StartRun("shell",
                       absl::StrCat("alice shell touch ", marker, "\n"),
                       /*authorized=*/true)
                  .ok());
  auto summary = Finished("shell");
  EXPECT_EQ(summary.state(), ::harness::v1::RUN_STATE_FAILED);
  ASSERT_EQ(summary.steps_size(), 1);
  EXPECT_THAT(summary.steps(0).message(),
              HasSubstr("refused to remote callers"));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

// A peer runs no program for the coordinator unless its owner said so
// (lab.allow_programs; the local lab says so for the peers it starts).
// Before: any holder of the lab token ran a shell as the peer's user.
TEST_F(CoordinatorAuthE2eTest,
       APeerRunsNoProgramForTheLabUnlessItsOwnerAllows) {
  ASSERT_NE(StartPeer("alice"), nullptr);
  const std::string marker = dir_->File("shell-ran");
  ASSERT_TRUE(StartRun("lab-shell",
                       absl::StrCat("alice shell touch ", marker, "\n"),
                       /*authorized=*/true)
                  .ok());
  auto summary = Finished("lab-shell");
  EXPECT_EQ(summary.state(), ::harness::v1::RUN_STATE_FAILED);
  ASSERT_EQ(summary.steps_size(), 1);
  EXPECT_THAT(summary.steps(0).message(), HasSubstr("lab.allow_programs"));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

// Before: a second peer registering a live name took its steps. Now it is
// refused while the first lives, and registers once the first is killed
// (a restart after `kill`: keyed by name and generation, not address).
TEST_F(CoordinatorAuthE2eTest, ALiveNameIsNotTakenOverButARestartIs) {
  Subprocess* first = StartPeer("alice");
  ASSERT_NE(first, nullptr);
  Subprocess* second = StartPeer("alice", {}, /*wait=*/false, "alice-2");
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(Eventually([&] {
    auto log = ::peerlab::testing::ReadFile(dir_->File("alice-2.log"));
    return log.ok() && absl::StrContains(*log, "is registered already");
  })) << "the second alice was not refused";
  EXPECT_EQ(PidOf("alice"), first->pid());
  ASSERT_TRUE(first->Kill().ok());
  EXPECT_TRUE(Eventually([&] { return PidOf("alice") == second->pid(); }))
      << "the restarted alice did not register";
}

// A peer with another lab's token cannot register, and learns that the
// coordinator is not its lab's (the proof of the coordinator fails).
TEST_F(CoordinatorAuthE2eTest, APeerWithAnotherTokenDoesNotRegister) {
  const std::string other = dir_->File("other.token");
  ASSERT_TRUE(WriteFile(other, "another-lab\n").ok());
  ::chmod(other.c_str(), 0600);
  Subprocess* mallory =
      StartPeer("mallory", {"--token-file", other}, /*wait=*/false);
  ASSERT_NE(mallory, nullptr);
  EXPECT_TRUE(Eventually([&] {
    auto log = ::peerlab::testing::ReadFile(dir_->File("mallory.log"));
    return log.ok() &&
           absl::StrContains(*log, "does not hold this peer's lab token");
  }));
  EXPECT_EQ(PidOf("mallory"), 0);
}

// One script run twice in a row by peerlab-test against the same
// coordinator peers passes both times: filters count the lines of their own
// run. Before: the second run counted the first run's lines too (its view
// history) and failed "1 of 1 filters failed".
TEST_F(CoordinatorAuthE2eTest, AScriptRunTwiceAgainstTheSamePeersPassesTwice) {
  ASSERT_NE(StartPeer("alice"), nullptr);
  const std::string script = dir_->File("twice.cmd");
  ASSERT_TRUE(WriteFile(script,
                        "alice echo hello twice\n"
                        "expect alice outputView == 1 hello twice\n")
                  .ok());
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {bin_ + "/peerlab-test", "run",
                                     "--coordinator",        address_,
                                     "--token-file",         lab_token_file_,
                                     "--report-dir",         dir_->File("runs"),
                                     "--quiet-ms",           "50"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(script);
    auto p = Subprocess::Start({.argv = argv,
                                .stdout_path = dir_->File("test.out"),
                                .stderr_path = dir_->File("test.err")});
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return -1;
    auto exit = (*p)->Wait(kDeadline);
    EXPECT_TRUE(exit.ok()) << "peerlab-test hangs";
    if (!exit.ok()) return -1;
    EXPECT_TRUE(exit->exited) << exit->ToString();
    if (exit->code != 0) ADD_FAILURE() << (*p)->ReadStdout();
    return exit->code;
  };
  std::filesystem::create_directories(dir_->File("runs"));
  EXPECT_EQ(run({}), 0) << "first run";
  EXPECT_EQ(run({}), 0) << "second run";
}

}  // namespace
}  // namespace peerlab::harness
