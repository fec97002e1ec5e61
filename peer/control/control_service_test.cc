// ControlService over a real in-process gRPC server on 127.0.0.1:0, with the
// built-in commands in its registry.
#include "peer/control/control_service.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/cli/builtins.h"
#include "peer/cli/config.h"
#include "peer/cli/registry.h"
#include "peer/cli/view.h"

namespace peerlab::peer {
namespace {

namespace pb = ::peer::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kDeadline = absl::Seconds(10);

// A WatchViews stream read on a thread of its own into a list that tests
// wait on. Pause() stops reading (after at most one more message).
class Watch {
 public:
  struct State {
    std::vector<pb::ViewLine> lines;
    uint64_t dropped = 0;
    int messages = 0;
    bool finished = false;
    grpc::Status status;
  };

  Watch(pb::PeerControl::Stub* stub, const pb::WatchViewsRequest& request,
        const std::string& token = "") {
    if (!token.empty()) {
      context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
    reader_ = stub->WatchViews(&context_, request);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Watch() {
    context_.TryCancel();
    Resume();
    thread_.join();
  }

  void Pause() {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = true;
  }
  void Resume() {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = false;
    cv_.notify_all();
  }

  // Waits until `done(state)` holds; false after `timeout`.
  bool WaitFor(const std::function<bool(const State&)>& done,
               absl::Duration timeout = kDeadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                        [&] { return done(state_); });
  }
  bool WaitForText(const std::string& text,
                   absl::Duration timeout = kDeadline) {
    return WaitFor(
        [&](const State& s) {
          for (const auto& l : s.lines) {
            if (l.text() == text) return true;
          }
          return false;
        },
        timeout);
  }
  State state() {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }

 private:
  void Loop() {
    pb::WatchViewsResponse message;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !paused_; });
      }
      if (!reader_->Read(&message)) break;
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& l : message.lines()) state_.lines.push_back(l);
      state_.dropped += message.dropped();
      ++state_.messages;
      cv_.notify_all();
    }
    grpc::Status status = reader_->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    state_.finished = true;
    state_.status = status;
    cv_.notify_all();
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<pb::WatchViewsResponse>> reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false;
  State state_;
  std::thread thread_;
};

class ControlServiceTest : public ::testing::Test {
 protected:
  ControlServiceTest() {
    EXPECT_TRUE(cli::RegisterBuiltins(
                    {.registry = &registry_,
                     .config = &config_,
                     .request_exit = [this](int code) { exit_code_ = code; }},
                    &settings_)
                    .ok());
    // `block`: runs until the test releases it (or 20 s pass).
    EXPECT_TRUE(registry_
                    .Register({.name = "block",
                               .group = "test",
                               .handler =
                                   [this](const cli::Call&, cli::Output& out) {
                                     std::unique_lock<std::mutex> lock(mu_);
                                     ++blocked_;
                                     cv_.notify_all();
                                     cv_.wait_for(lock,
                                                  std::chrono::seconds(20),
                                                  [this] { return released_; });
                                     out.Print("unblocked");
                                     return absl::OkStatus();
                                   }})
                    .ok());
  }
  ~ControlServiceTest() override { StopServer(); }

  void StartServer(ControlService::Options options = {}) {
    service_ =
        std::make_unique<ControlService>(&registry_, &hub_, std::move(options));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ != nullptr);
    ASSERT_NE(port, 0);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    stub_ = pb::PeerControl::NewStub(channel);
  }

  // Shuts down the way PeerApp does; returns how long the server took.
  absl::Duration StopServer() {
    if (!server_) return absl::ZeroDuration();
    absl::Time start = absl::Now();
    service_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(10));
    server_->Wait();
    absl::Duration took = absl::Now() - start;
    server_.reset();
    service_.reset();
    return took;
  }

  grpc::Status Execute(const std::string& line, pb::ExecuteResponse* response,
                       const std::string& token = "") {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    if (!token.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
    pb::ExecuteRequest request;
    request.set_line(line);
    return stub_->Execute(&context, request, response);
  }

  // Waits until `n` `block` commands are running.
  bool WaitBlocked(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return blocked_ >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  // Writes "sync-N" lines to `view` until `watch` has seen one, so that
  // later writes are known to reach it.
  void Sync(Watch& watch, const std::string& view) {
    absl::Time deadline = absl::Now() + kDeadline;
    for (int i = 0; absl::Now() < deadline; ++i) {
      std::string text = absl::StrCat("sync-", i);
      hub_.Write(view, text);
      if (watch.WaitForText(text, absl::Milliseconds(100))) return;
    }
    FAIL() << "the watcher never saw a sync line";
  }

  cli::ViewHub hub_;
  cli::Registry registry_;
  cli::ConfigRegistry config_;
  cli::BuiltinSettings settings_;
  std::atomic<int> exit_code_{-100};

  std::mutex mu_;
  std::condition_variable cv_;
  int blocked_ = 0;
  bool released_ = false;

  std::unique_ptr<ControlService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::PeerControl::Stub> stub_;
};

TEST_F(ControlServiceTest, ExecuteReturnsOutputLines) {
  StartServer();
  absl::Time before = absl::Now();
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("echo hello   'big world'", &response).ok());
  EXPECT_EQ(response.code(), 0);
  EXPECT_EQ(response.message(), "");
  ASSERT_EQ(response.output_size(), 1);
  const pb::ViewLine& line = response.output(0);
  EXPECT_EQ(line.text(), "hello big world");
  EXPECT_EQ(line.view(), cli::kOutputView);
  EXPECT_GT(line.seq(), 0u);
  EXPECT_GE(line.time().seconds(), absl::ToUnixSeconds(before));
  EXPECT_LE(line.time().seconds(), absl::ToUnixSeconds(absl::Now()));
  // The same lines went to the view, for every watcher.
  auto held = hub_.History(cli::kOutputView);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].seq, line.seq());
}

TEST_F(ControlServiceTest, QuietExecuteAnswersAndWritesNoViewLine) {
  StartServer();
  grpc::ClientContext context;
  pb::ExecuteRequest request;
  request.set_line("echo probe");
  request.set_quiet(true);
  pb::ExecuteResponse response;
  ASSERT_TRUE(stub_->Execute(&context, request, &response).ok());
  ASSERT_EQ(response.output_size(), 1);
  EXPECT_EQ(response.output(0).text(), "probe");
  EXPECT_TRUE(hub_.History(cli::kOutputView).empty());
  // Nor does its error.
  grpc::ClientContext context2;
  request.set_line("nosuchcommand");
  ASSERT_TRUE(stub_->Execute(&context2, request, &response).ok());
  EXPECT_NE(response.code(), 0);
  EXPECT_TRUE(hub_.Views().empty());
}

TEST_F(ControlServiceTest, WatchCarriesRecords) {
  StartServer();
  pb::ViewRecord record;
  record.mutable_member()->set_name("bob");
  record.mutable_member()->set_kind(pb::MemberEvent::SUSPECT);
  hub_.WriteRecord(cli::kEventsView, "member bob is suspect",
                   record.SerializeAsString());
  hub_.WriteRecord(cli::kEventsView, "garbage", "\xff\xff\xff");
  Watch watch(stub_.get(), [] {
    pb::WatchViewsRequest r;
    r.set_include_history(true);
    return r;
  }());
  ASSERT_TRUE(watch.WaitForText("garbage"));
  const auto& lines = watch.state().lines;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].record().member().name(), "bob");
  EXPECT_EQ(lines[0].record().member().kind(), pb::MemberEvent::SUSPECT);
  EXPECT_FALSE(lines[1].has_record());  // unreadable: left out
}

TEST_F(ControlServiceTest, UnknownCommandIsACodeNotAnRpcError) {
  StartServer();
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("ech hi", &response).ok());
  EXPECT_EQ(response.code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_THAT(response.message(), HasSubstr("unknown command \"ech\""));
  EXPECT_THAT(response.message(), HasSubstr("echo"));
  // As at the prompt, the error is printed to outputView too.
  ASSERT_GE(response.output_size(), 1);
  EXPECT_EQ(response.output(response.output_size() - 1).text(),
            absl::StrCat("error: ", response.message()));
}

TEST_F(ControlServiceTest, WrongArgumentsGiveTheUsage) {
  StartServer();
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("sleep", &response).ok());
  EXPECT_EQ(response.code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(response.message(), HasSubstr("sleep SECONDS"));
}

TEST_F(ControlServiceTest, ShellFollowsAllowRemote) {
  StartServer();
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("shell echo from-shell", &response).ok());
  EXPECT_EQ(response.code(), 0) << response.message();
  ASSERT_GE(response.output_size(), 1);
  EXPECT_EQ(response.output(0).text(), "from-shell");

  // Remote callers may not lift or set the refusal themselves; the owner
  // of the peer sets it locally.
  ASSERT_TRUE(Execute("set shell.allow_remote false", &response).ok());
  EXPECT_EQ(response.code(),
            static_cast<int>(absl::StatusCode::kPermissionDenied));
  ASSERT_TRUE(config_.Set("shell.allow_remote", "false").ok());
  ASSERT_TRUE(Execute("shell echo from-shell", &response).ok());
  EXPECT_EQ(response.code(),
            static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(response.message(), HasSubstr("shell.allow_remote"));
  // Nested in a script, the call is still remote.
  std::string script = ::testing::TempDir() + "/control_shell_script.txt";
  std::ofstream(script) << "echo before\nshell true\n";
  ASSERT_TRUE(Execute(absl::StrCat("execute ", script), &response).ok());
  EXPECT_EQ(response.code(),
            static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(response.message(), HasSubstr(":2:"));
  std::remove(script.c_str());
}

TEST_F(ControlServiceTest, ExitReachesTheProgram) {
  StartServer();
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("exit 3", &response).ok());
  EXPECT_EQ(response.code(), 0);
  EXPECT_EQ(exit_code_, 3);
}

TEST_F(ControlServiceTest, TokenIsRequiredWhenSet) {
  StartServer({.token = "s3cret-token"});
  pb::ExecuteResponse response;
  EXPECT_EQ(Execute("echo x", &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Execute("echo x", &response, "wrong-token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Execute("echo x", &response, "s3cret-tokeN").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status ok = Execute("echo x", &response, "s3cret-token");
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.code(), 0);

  Watch without(stub_.get(), {});
  ASSERT_TRUE(
      without.WaitFor([](const Watch::State& s) { return s.finished; }));
  EXPECT_EQ(without.state().status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  Watch with(stub_.get(), {}, "s3cret-token");
  Sync(with, cli::kOutputView);
}

// The harness coordinator proves the lab's token, not the owner's: by
// default it may not start programs here (issue 13: an anonymous or
// lab-token StartRun ran a shell as the peer's user).
TEST_F(ControlServiceTest, LabSessionRunsNoProgramByDefault) {
  StartServer({.token = "owner-token"});
  service_->SetAlsoAccept(
      [](absl::string_view t) { return t == "lab-session"; });
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("shell echo ran-a-shell", &response, "lab-session").ok());
  EXPECT_EQ(response.code(),
            static_cast<int>(absl::StatusCode::kPermissionDenied))
      << response.message();
  EXPECT_THAT(response.message(), HasSubstr("lab.allow_programs"));
  for (const auto& line : response.output()) {
    EXPECT_THAT(line.text(), Not(HasSubstr("ran-a-shell")));
  }
  const std::string script = ::testing::TempDir() + "/lab_script.cmd";
  {
    std::ofstream f(script);
    f << "shell echo ran-a-shell\n";
  }
  response.Clear();
  ASSERT_TRUE(Execute("/execute " + script, &response, "lab-session").ok());
  EXPECT_EQ(response.code(),
            static_cast<int>(absl::StatusCode::kPermissionDenied));
  // Other commands, and the owner's token, are not affected.
  response.Clear();
  ASSERT_TRUE(Execute("echo x", &response, "lab-session").ok());
  EXPECT_EQ(response.code(), 0);
  response.Clear();
  ASSERT_TRUE(Execute("shell echo owner", &response, "owner-token").ok());
  EXPECT_EQ(response.code(), 0) << response.message();
}

// `handler add` starts programs later (event handlers): the lab session
// needs lab.allow_programs for it, as for shell.
TEST_F(ControlServiceTest, LabSessionAddsNoEventHandlerByDefault) {
  int ran = 0;
  ASSERT_TRUE(registry_
                  .Register({.name = "handler",
                             .group = "test",
                             .usage = "handler ...",
                             .summary = "test stand-in",
                             .handler =
                                 [&ran](const cli::Call&, cli::Output&) {
                                   ++ran;
                                   return absl::OkStatus();
                                 }})
                  .ok());
  std::atomic<bool> allowed{false};
  StartServer({.token = "owner-token",
               .lab_may_run_programs = [&allowed] { return allowed.load(); }});
  service_->SetAlsoAccept(
      [](absl::string_view t) { return t == "lab-session"; });
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("handler add /bin/true", &response, "lab-session").ok());
  EXPECT_EQ(response.code(),
            static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(ran, 0);
  allowed = true;
  response.Clear();
  ASSERT_TRUE(Execute("handler add /bin/true", &response, "lab-session").ok());
  EXPECT_EQ(response.code(), 0) << response.message();
  response.Clear();
  ASSERT_TRUE(Execute("handler add /bin/true", &response, "owner-token").ok());
  EXPECT_EQ(response.code(), 0) << response.message();
  EXPECT_EQ(ran, 2);
}

// Faults are their own permission (lab.allow_faults): lab.allow_programs
// does not imply it, the owner's token needs neither.
TEST_F(ControlServiceTest, LabSessionInjectsFaultsOnlyWithItsOwnPermission) {
  std::atomic<bool> faults_allowed{false};
  int ran = 0;
  ASSERT_TRUE(registry_
                  .Register({.name = "faults",
                             .group = "test",
                             .usage = "faults ...",
                             .summary = "test stand-in",
                             .handler =
                                 [&ran](const cli::Call&, cli::Output&) {
                                   ++ran;
                                   return absl::OkStatus();
                                 }})
                  .ok());
  StartServer({.token = "owner-token",
               .lab_may_run_programs = [] { return true; },
               .lab_may_inject_faults =
                   [&faults_allowed] { return faults_allowed.load(); }});
  service_->SetAlsoAccept(
      [](absl::string_view t) { return t == "lab-session"; });
  pb::ExecuteResponse response;
  for (const char* line : {"faults block *", "/faults block *"}) {
    response.Clear();
    ASSERT_TRUE(Execute(line, &response, "lab-session").ok());
    EXPECT_EQ(response.code(),
              static_cast<int>(absl::StatusCode::kPermissionDenied))
        << line;
    EXPECT_THAT(response.message(), HasSubstr("lab.allow_faults"));
  }
  EXPECT_EQ(ran, 0);
  response.Clear();
  ASSERT_TRUE(Execute("faults list", &response, "owner-token").ok());
  EXPECT_EQ(response.code(), 0) << response.message();
  EXPECT_EQ(ran, 1);
  faults_allowed = true;
  response.Clear();
  ASSERT_TRUE(Execute("faults block *", &response, "lab-session").ok());
  EXPECT_EQ(response.code(), 0) << response.message();
  EXPECT_EQ(ran, 2);
}

TEST_F(ControlServiceTest, LabSessionRunsProgramsWhenTheOwnerAllows) {
  std::atomic<bool> allowed{false};
  StartServer({.token = "owner-token",
               .lab_may_run_programs = [&allowed] { return allowed.load(); }});
  service_->SetAlsoAccept(
      [](absl::string_view t) { return t == "lab-session"; });
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("shell echo hi", &response, "lab-session").ok());
  EXPECT_EQ(response.code(),
            static_cast<int>(absl::StatusCode::kPermissionDenied));
  allowed = true;
  response.Clear();
  ASSERT_TRUE(Execute("shell echo hi", &response, "lab-session").ok());
  EXPECT_EQ(response.code(), 0) << response.message();
}

TEST_F(ControlServiceTest, LongCommandDoesNotBlockOthers) {
  StartServer();
  // A command that runs until released.
  std::thread blocked([&] {
    pb::ExecuteResponse response;
    EXPECT_TRUE(Execute("block", &response).ok());
    EXPECT_EQ(response.code(), 0);
  });
  ASSERT_TRUE(WaitBlocked(1));
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("echo x", &response).ok());
  ASSERT_EQ(response.output_size(), 1);
  EXPECT_EQ(response.output(0).text(), "x");
  Release();
  blocked.join();

  // The same with the built-in `sleep`: 3 s, so that an echo slowed by a
  // loaded machine still answers well before the sleep ends.
  absl::Time start = absl::Now();
  std::atomic<bool> slept{false};
  absl::Duration sleep_took;
  std::thread sleeper([&] {
    pb::ExecuteResponse r;
    EXPECT_TRUE(Execute("sleep 3", &r).ok());
    EXPECT_EQ(r.code(), 0);
    sleep_took = absl::Now() - start;
    slept = true;
  });
  ASSERT_TRUE(Execute("echo y", &response).ok());
  absl::Duration echo_took = absl::Now() - start;
  EXPECT_FALSE(slept);
  EXPECT_LT(echo_took, absl::Milliseconds(2500));
  sleeper.join();
  EXPECT_GE(sleep_took, absl::Seconds(3));
}

TEST_F(ControlServiceTest, TooManyRunningCommandsAreRefused) {
  StartServer({.max_running_commands = 2});
  std::vector<std::thread> running;
  for (int i = 0; i < 2; ++i) {
    running.emplace_back([&] {
      pb::ExecuteResponse r;
      EXPECT_TRUE(Execute("block", &r).ok());
    });
  }
  ASSERT_TRUE(WaitBlocked(2));
  pb::ExecuteResponse response;
  EXPECT_EQ(Execute("echo x", &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  Release();
  for (auto& t : running) t.join();
  EXPECT_TRUE(Execute("echo x", &response).ok());
}

// A command that prints more than a default client accepts (4 MiB): the
// answer is capped and says so, instead of failing the call.
TEST_F(ControlServiceTest, HugeOutputIsCappedWithANote) {
  ASSERT_TRUE(registry_
                  .Register({.name = "flood",
                             .group = "test",
                             .handler =
                                 [](const cli::Call&, cli::Output& out) {
                                   const std::string line(1000, 'x');
                                   for (int i = 0; i < 6000; ++i) {
                                     out.Print(line);
                                   }
                                   return absl::OkStatus();
                                 }})
                  .ok());
  StartServer();
  pb::ExecuteResponse response;
  grpc::Status s = Execute("flood", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.code(), 0) << response.message();
  EXPECT_LT(response.ByteSizeLong(), size_t{4} << 20);
  ASSERT_GT(response.output_size(), 1000);
  EXPECT_LT(response.output_size(), 6000);
  const std::string& note = response.output(response.output_size() - 1).text();
  EXPECT_THAT(note, HasSubstr("output truncated"));
  EXPECT_THAT(note, HasSubstr(absl::StrCat(6000 - (response.output_size() - 1),
                                           " more line(s)")));
  // The views still got every line.
  EXPECT_GE(hub_.History(cli::kOutputView).size(), 1u);
  // A single line larger than the whole cap is cut, not lost.
  ASSERT_TRUE(registry_
                  .Register({.name = "oneline",
                             .group = "test",
                             .handler =
                                 [](const cli::Call&, cli::Output& out) {
                                   out.Print(std::string(5 << 20, 'y'));
                                   return absl::OkStatus();
                                 }})
                  .ok());
  s = Execute("oneline", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_LT(response.ByteSizeLong(), size_t{4} << 20);
  ASSERT_EQ(response.output_size(), 2);
  EXPECT_GT(response.output(0).text().size(), size_t{1} << 20);
  EXPECT_THAT(response.output(1).text(), HasSubstr("output truncated"));
}

TEST_F(ControlServiceTest, WatchSeesLaterLinesOfItsViewsOnly) {
  StartServer();
  pb::WatchViewsRequest request;
  request.add_views(cli::kOutputView);
  Watch watch(stub_.get(), request);
  Sync(watch, cli::kOutputView);

  hub_.Write(cli::kMessagesView, "<bob> not for this watcher");
  pb::ExecuteResponse response;
  ASSERT_TRUE(Execute("echo one\\ntwo", &response).ok());
  ASSERT_TRUE(Execute("echo three", &response).ok());
  ASSERT_TRUE(watch.WaitForText("three"));

  Watch::State state = watch.state();
  std::vector<std::string> texts;
  uint64_t last_seq = 0;
  for (const auto& l : state.lines) {
    EXPECT_EQ(l.view(), cli::kOutputView);
    EXPECT_GT(l.seq(), last_seq);
    last_seq = l.seq();
    if (!absl::StartsWith(l.text(), "sync-")) texts.push_back(l.text());
  }
  EXPECT_THAT(texts, ::testing::Contains("three"));
  EXPECT_EQ(texts.back(), "three");
  EXPECT_EQ(state.dropped, 0u);
}

TEST_F(ControlServiceTest, WatchWithHistoryMergesViewsInSeqOrder) {
  StartServer();
  hub_.Write(cli::kOutputView, "o1");
  hub_.Write(cli::kMessagesView, "m1");
  hub_.Write(cli::kLogView, "l1");
  hub_.Write(cli::kOutputView, "o2");

  pb::WatchViewsRequest request;
  request.add_views(cli::kOutputView);
  request.add_views(cli::kMessagesView);
  request.set_include_history(true);
  Watch watch(stub_.get(), request);
  ASSERT_TRUE(watch.WaitForText("o2"));
  hub_.Write(cli::kMessagesView, "m2");
  hub_.Write(cli::kLogView, "l2");
  ASSERT_TRUE(watch.WaitForText("m2"));

  std::vector<std::string> texts;
  uint64_t last_seq = 0;
  for (const auto& l : watch.state().lines) {
    EXPECT_GT(l.seq(), last_seq) << "a line came twice or out of order";
    last_seq = l.seq();
    texts.push_back(l.text());
  }
  EXPECT_THAT(texts, ::testing::ElementsAre("o1", "m1", "o2", "m2"));
}

TEST_F(ControlServiceTest, WatchAllViewsWithHistory) {
  StartServer();
  hub_.Write(cli::kLogView, "l1");
  hub_.Write("customView", "c1");
  Watch watch(stub_.get(), [] {
    pb::WatchViewsRequest r;
    r.set_include_history(true);
    return r;
  }());
  ASSERT_TRUE(watch.WaitForText("c1"));
  hub_.Write(cli::kMessagesView, "m1");
  ASSERT_TRUE(watch.WaitForText("m1"));
  std::vector<std::string> texts;
  for (const auto& l : watch.state().lines) texts.push_back(l.text());
  EXPECT_THAT(texts, ::testing::ElementsAre("l1", "c1", "m1"));
}

TEST_F(ControlServiceTest, SlowWatcherDoesNotBlockWriters) {
  StartServer({.watch_queue_capacity = 64});
  pb::WatchViewsRequest request;
  request.add_views(cli::kMessagesView);
  Watch watch(stub_.get(), request);
  Sync(watch, cli::kMessagesView);
  watch.Pause();

  // Far more than gRPC's flow-control window and the queue hold.
  constexpr int kLines = 20000;
  const std::string padding(200, 'x');
  absl::Duration slowest;
  absl::Time start = absl::Now();
  for (int i = 0; i < kLines; ++i) {
    absl::Time t = absl::Now();
    hub_.Write(cli::kMessagesView, absl::StrCat("line-", i, " ", padding));
    slowest = std::max(slowest, absl::Now() - t);
  }
  absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(5));
  std::cout << kLines << " lines written in " << took << ", slowest write "
            << slowest << "\n";

  watch.Resume();
  const std::string last = absl::StrCat("line-", kLines - 1, " ", padding);
  ASSERT_TRUE(watch.WaitForText(last));
  Watch::State state = watch.state();
  uint64_t received = 0;
  uint64_t last_seq = 0;
  for (const auto& l : state.lines) {
    EXPECT_GT(l.seq(), last_seq);
    last_seq = l.seq();
    if (absl::StartsWith(l.text(), "line-")) ++received;
  }
  std::cout << "received " << received << ", dropped " << state.dropped
            << ", in " << state.messages << " messages\n";
  EXPECT_GT(state.dropped, 0u);
  // Every line either arrived or was counted as dropped.
  EXPECT_EQ(received + state.dropped, static_cast<uint64_t>(kLines));
}

TEST_F(ControlServiceTest, ShutdownEndsStreamsWithOk) {
  StartServer();
  Watch watch(stub_.get(), {});
  Sync(watch, cli::kOutputView);
  service_->Shutdown();
  ASSERT_TRUE(watch.WaitFor([](const Watch::State& s) { return s.finished; }));
  EXPECT_TRUE(watch.state().status.ok())
      << watch.state().status.error_message();

  // Later calls are refused.
  pb::ExecuteResponse response;
  EXPECT_EQ(Execute("echo x", &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  Watch late(stub_.get(), {});
  ASSERT_TRUE(late.WaitFor([](const Watch::State& s) { return s.finished; }));
  EXPECT_EQ(late.state().status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ControlServiceTest, WatcherThatDoesNotReadDoesNotHoldUpShutdown) {
  StartServer();
  Watch watch(stub_.get(), {});
  Sync(watch, cli::kOutputView);
  watch.Pause();
  const std::string padding(1000, 'x');
  for (int i = 0; i < 10000; ++i) hub_.Write(cli::kOutputView, padding);
  absl::Duration took = StopServer();
  std::cout << "shutdown took " << took << "\n";
  EXPECT_LT(took, absl::Seconds(5));  // the server's own deadline is 10 s
}

TEST_F(ControlServiceTest, ClientCancelEndsTheStream) {
  StartServer();
  {
    Watch watch(stub_.get(), {});
    Sync(watch, cli::kOutputView);
  }  // cancels
  // The service forgets the stream: shutting down is quick.
  EXPECT_LT(StopServer(), absl::Seconds(5));
}

}  // namespace
}  // namespace peerlab::peer
