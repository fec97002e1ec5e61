// End-to-end tests of remote control: the real peerlab-peer, against the
// real peerlab-bootstrap, driven through peer.v1.PeerControl from this test.
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "proto/peer/v1/control.grpc.pb.h"
#include "proto/third_party/grpc/health/v1/health.grpc.pb.h"
#include "proto/third_party/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"
#include "base/token_file.h"

namespace peerlab::peer {
namespace {

namespace pb = ::peer::v1;
using ::peerlab::peer::e2e::WaitForText;
using ::peerlab::testing::ExecuteLine;
using ::peerlab::testing::NewPeerChannel;
using ::peerlab::testing::OutputTexts;
using ::peerlab::testing::PeerProcessOptions;
using ::peerlab::testing::ReadFile;
using ::peerlab::testing::StartPeerProcess;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::ViewWatcher;
using ::peerlab::testing::WaitForFileLine;
using ::peerlab::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

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

  // Starts peerlab-peer NAME --serve with no token option and no
  // $PEERLAB_CONTROL_TOKEN_FILE, its state directory in dir_/state-NAME
  // (so its token file is StateDir(NAME)/nodes/NAME/control.token).
  void StartDefaultPeer(const std::string& name,
                        const std::vector<std::string>& extra, Peer* peer) {
    Subprocess::Options options = PeerOptions(name, extra);
    options.env["PEERLAB_CONTROL_TOKEN_FILE"] = "";
    options.env["PEERLAB_STATE_DIR"] = StateDir(name);
    auto process = Subprocess::Start(options);
    ASSERT_TRUE(process.ok()) << process.status();
    peer->process = *std::move(process);
    auto ready = WaitForFileLine(dir_->File(name + ".ready"), kDeadline,
                                 peer->process.get());
    ASSERT_TRUE(ready.ok()) << ready.status();
    peer->address = std::string(absl::StripAsciiWhitespace(*ready));
    // No token sent: the caller every local user can be.
    peer->stub = pb::PeerControl::NewStub(
        grpc::CreateChannel(peer->address, grpc::InsecureChannelCredentials()));
  }
  std::string StateDir(const std::string& name) {
    return dir_->File("state-" + name);
  }
  std::string TokenPath(const std::string& name) {
    return StateDir(name) + "/nodes/" + name + "/control.token";
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

TEST_F(ControlE2eTest, OtherLoopbackAddressServes) {
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
  Subprocess::Options options = PeerOptions("carol", {"--bind", "0.0.0.0"});
  options.env["PEERLAB_CONTROL_TOKEN_FILE"] = "";
  auto process = Subprocess::Start(options);
  ASSERT_TRUE(process.ok()) << process.status();
  auto exit = (*process)->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 2) << exit->ToString();
  EXPECT_THAT((*process)->ReadStderr(),
              HasSubstr("--bind 0.0.0.0 is not a loopback address"));
  EXPECT_THAT((*process)->ReadStderr(), HasSubstr("--control-token-file"));
}

// A peer open to the network is not guarded by a token one can guess:
// before, "a" in --control-token-file was accepted with --bind 0.0.0.0
// (remote shell behind one character, and wrong tokens cost nothing).
TEST_F(ControlE2eTest, NonLoopbackBindRefusesAShortToken) {
  std::string token_file = dir_->File("short-token");
  ASSERT_TRUE(WriteFile(token_file, "a\n").ok());
  ASSERT_EQ(::chmod(token_file.c_str(), 0600), 0);
  auto process = Subprocess::Start(PeerOptions(
      "frank", {"--bind", "0.0.0.0", "--control-token-file", token_file}));
  ASSERT_TRUE(process.ok()) << process.status();
  auto exit = (*process)->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 2) << exit->ToString();
  EXPECT_THAT((*process)->ReadStderr(), HasSubstr("too short"));
}

TEST_F(ControlE2eTest, TokenFileIsEnforced) {
  std::string token_file = dir_->File("token");
  ASSERT_TRUE(WriteFile(token_file, "  t0ken-for-dave\n").ok());
  ASSERT_EQ(::chmod(token_file.c_str(), 0644), 0);
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
  // Other users could read it: said at start.
  auto log = ReadFile(dir_->File("dave.log"));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_THAT(*log, HasSubstr("chmod 600"));

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

// The attack of issue 13: a peer started with no token options served
// `shell` to any local caller on loopback, with no token.
TEST_F(ControlE2eTest, LoopbackCallerWithoutTokenIsRefusedByDefault) {
  Peer frank;
  ASSERT_NO_FATAL_FAILURE(StartDefaultPeer("frank", {}, &frank));
  pb::ExecuteResponse response;
  grpc::Status s = frank.Execute("shell echo owned", &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "a caller without token ran: "
      << absl::StrJoin(OutputTexts(response), "|");
  const std::string path = TokenPath("frank");
  EXPECT_THAT(s.error_message(), HasSubstr(path));
  EXPECT_EQ(frank.Execute("echo x", &response, "wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  {
    // Nor does it watch the views (chat messages, logs).
    ViewWatcher watch(frank.stub.get(), pb::WatchViewsRequest());
    auto end = watch.WaitForEnd(kDeadline);
    ASSERT_TRUE(end.has_value()) << "an untokened watch stayed open";
    EXPECT_EQ(end->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }

  // The token: fresh, only the peer's user may read it, announced at start.
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto token = ReadTokenFile(path, "token");
  ASSERT_TRUE(token.ok()) << token.status();
  s = frank.Execute("echo with the token", &response, *token);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(OutputTexts(response), ::testing::ElementsAre("with the token"));
  auto log = ReadFile(dir_->File("frank.log"));
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_THAT(*log, HasSubstr(path));

  // peerlab-control finds it by the peer's name.
  Subprocess::Options tool;
  tool.argv = {bin_ + "/peerlab-control",
               "--peer",
               "frank",
               frank.address,
               "echo",
               "found"};
  tool.env["PEERLAB_STATE_DIR"] = StateDir("frank");
  tool.env["PEERLAB_CONTROL_TOKEN_FILE"] = "";
  tool.stdout_path = dir_->File("tool.stdout");
  tool.stderr_path = dir_->File("tool.stderr");
  auto run = Subprocess::Start(tool);
  ASSERT_TRUE(run.ok()) << run.status();
  auto ran = (*run)->Wait(kDeadline);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_TRUE(ran->success()) << ran->ToString() << (*run)->ReadStderr();
  EXPECT_EQ((*run)->ReadStdout(), "found\n");

  // A clean exit removes it.
  ASSERT_TRUE(frank.process->Signal(SIGTERM).ok());
  auto exit = frank.process->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString();
  EXPECT_NE(::stat(path.c_str(), &st), 0) << path << " is still there";
}

// No usable state directory: the peer still starts, closed to remote
// callers (a token nobody is told), and says why.
TEST_F(ControlE2eTest, NoTokenFileMeansClosedNotOpen) {
  const std::string blocker = dir_->File("not-a-dir");
  ASSERT_TRUE(WriteFile(blocker, "x").ok());
  Subprocess::Options options = PeerOptions("kate", {});
  options.env["PEERLAB_CONTROL_TOKEN_FILE"] = "";
  options.env["PEERLAB_STATE_DIR"] = blocker;
  auto process = Subprocess::Start(options);
  ASSERT_TRUE(process.ok()) << process.status();
  auto ready =
      WaitForFileLine(dir_->File("kate.ready"), kDeadline, process->get());
  ASSERT_TRUE(ready.ok()) << ready.status();
  auto stub = pb::PeerControl::NewStub(
      grpc::CreateChannel(std::string(absl::StripAsciiWhitespace(*ready)),
                          grpc::InsecureChannelCredentials()));
  pb::ExecuteResponse response;
  grpc::Status s =
      ExecuteLine(*stub, "shell echo owned", &response, kDeadline, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("could not write"));
  auto log = ReadFile(dir_->File("kate.log"));
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, HasSubstr("remote control is closed"));
}

// --control-open-loopback: today's open loopback, with a warning.
TEST_F(ControlE2eTest, OpenLoopbackOptionNeedsNoToken) {
  Peer gina;
  ASSERT_NO_FATAL_FAILURE(
      StartDefaultPeer("gina", {"--control-open-loopback"}, &gina));
  pb::ExecuteResponse response;
  grpc::Status s = gina.Execute("echo open", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(OutputTexts(response), ::testing::ElementsAre("open"));
  auto log = ReadFile(dir_->File("gina.log"));
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, HasSubstr("--control-open-loopback"));
  struct stat st;
  EXPECT_NE(::stat(TokenPath("gina").c_str(), &st), 0);

  // Never beyond loopback.
  auto process = Subprocess::Start(
      PeerOptions("hank", {"--bind", "0.0.0.0", "--control-open-loopback"}));
  ASSERT_TRUE(process.ok()) << process.status();
  auto exit = (*process)->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 2) << exit->ToString();
}

// A throwaway system user, removed when the object goes (even when the
// test fails half-way).
class ThrowawayUser {
 public:
  ~ThrowawayUser() {
    if (created_) Run({userdel_, name_}).IgnoreError();
  }
  absl::Status Create(const std::string& useradd, const std::string& userdel,
                      const std::string& dir) {
    dir_ = dir;
    userdel_ = userdel;
    // Unique: the pid and the clock (a crashed run may have left one).
    name_ = absl::StrCat("plctl", ::getpid(), "x",
                         absl::ToUnixMicros(absl::Now()) % 1000000);
    absl::Status s =
        Run({useradd, "--system", "--no-create-home", "--user-group", "--shell",
             "/usr/sbin/nologin", name_});
    if (!s.ok()) return s;
    created_ = true;
    struct passwd* pw = ::getpwnam(name_.c_str());
    if (pw == nullptr) return absl::NotFoundError("no passwd entry");
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    return absl::OkStatus();
  }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }

 private:
  absl::Status Run(std::vector<std::string> argv) {
    Subprocess::Options o;
    o.argv = std::move(argv);
    o.stderr_path = absl::StrCat(dir_, "/user-admin.stderr");
    auto p = Subprocess::Start(o);
    if (!p.ok()) return p.status();
    auto exit = (*p)->Wait(absl::Seconds(30));
    if (!exit.ok()) return exit.status();
    if (!exit->success()) {
      return absl::InternalError(absl::StrCat(o.argv[0], ": ", exit->ToString(),
                                              ": ", (*p)->ReadStderr()));
    }
    return absl::OkStatus();
  }
  std::string dir_, userdel_, name_;
  bool created_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

std::string FindProgram(const std::vector<std::string>& paths) {
  for (const std::string& p : paths) {
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// Another local user calls a peer's control port with no token (issue 13:
// it ran `shell` as the peer's user). Needs root to create that user.
TEST_F(ControlE2eTest, OtherLocalUserWithoutTokenIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "not root: cannot create a second Unix user to call the "
                    "peer as";
  }
  const std::string useradd =
      FindProgram({"/usr/sbin/useradd", "/sbin/useradd"});
  const std::string userdel =
      FindProgram({"/usr/sbin/userdel", "/sbin/userdel"});
  const std::string setpriv = FindProgram({"/usr/bin/setpriv", "/bin/setpriv"});
  if (useradd.empty() || userdel.empty() || setpriv.empty()) {
    GTEST_SKIP() << "useradd, userdel or setpriv missing";
  }
  ThrowawayUser user;
  ASSERT_TRUE(user.Create(useradd, userdel, dir_->path()).ok());
  Peer ivan;
  ASSERT_NO_FATAL_FAILURE(StartDefaultPeer("ivan", {}, &ivan));

  // As the other user: no token, then the owner's token file.
  auto call = [&](const std::vector<std::string>& extra,
                  const std::string& label) {
    Subprocess::Options o;
    o.argv = {setpriv, absl::StrCat("--reuid=", user.uid()),
              absl::StrCat("--regid=", user.gid()), "--clear-groups",
              bin_ + "/peerlab-control"};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.argv.insert(o.argv.end(), {ivan.address, "--", "shell", "-c", "id -un"});
    o.env["HOME"] = "/nonexistent";
    o.env["PEERLAB_STATE_DIR"] = "";
    o.env["PEERLAB_CONTROL_TOKEN_FILE"] = "";
    o.stdout_path = dir_->File(label + ".stdout");
    o.stderr_path = dir_->File(label + ".stderr");
    auto p = Subprocess::Start(o);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return std::make_pair(-1, std::string());
    auto exit = (*p)->Wait(kDeadline);
    EXPECT_TRUE(exit.ok()) << exit.status();
    return std::make_pair(exit.ok() ? exit->code : -1,
                          (*p)->ReadStdout() + (*p)->ReadStderr());
  };
  auto [code, output] = call({}, "no-token");
  EXPECT_EQ(code, 3) << output;
  EXPECT_THAT(output, HasSubstr("UNAUTHENTICATED")) << output;
  EXPECT_THAT(output, Not(HasSubstr("root")));
  std::tie(code, output) =
      call({"--control-token-file", TokenPath("ivan")}, "owner-file");
  EXPECT_EQ(code, 2) << output;
  EXPECT_THAT(output, Not(HasSubstr("root")));
}

// Remote callers change no security setting by any path: set,
// memberlistconfigure, loadconfig, or a script they execute. The rule
// belongs to the setting (ConfigRegistry: local_only by name), so settings
// other components add later are covered too.
TEST_F(ControlE2eTest, RemoteCallersCannotChangeSecuritySettings) {
  Peer jill;
  ASSERT_NO_FATAL_FAILURE(StartPeer("jill", {}, &jill));
  const std::string keys = dir_->File("attacker.keys");
  ASSERT_TRUE(
      WriteFile(keys, "uatnmx0UA4oS5ahXHHX5mTZJvJ9Aj+OD4Gq111v5Rp4=\n").ok());
  const std::string json = dir_->File("attacker.json");
  ASSERT_TRUE(WriteFile(json, absl::StrCat("{\"memberlist.key\\u0066ile\": \"",
                                           keys, "\"}"))
                  .ok());
  const std::string script = dir_->File("attacker.script");
  ASSERT_TRUE(WriteFile(script, absl::StrCat("set memberlist.keyfile ", keys,
                                             "\nset shell.allow_remote true\n"))
                  .ok());
  pb::ExecuteResponse response;
  for (const std::string& line :
       {absl::StrCat("set memberlist.keyfile ", keys),
        absl::StrCat("memberlistconfigure keyfile ", keys),
        absl::StrCat("loadconfig ", json), absl::StrCat("execute ", script),
        std::string("set shell.allow_remote false"),
        std::string("set execute.allow_remote false")}) {
    grpc::Status s = jill.Execute(line, &response);
    ASSERT_TRUE(s.ok()) << line << ": " << s.error_message();
    EXPECT_EQ(response.code(),
              static_cast<int>(grpc::StatusCode::PERMISSION_DENIED))
        << line << ": " << response.message();
  }
  ASSERT_TRUE(jill.Execute("show config", &response).ok());
  EXPECT_THAT(absl::StrJoin(OutputTexts(response), "\n"), Not(HasSubstr(keys)));
}

}  // namespace
}  // namespace peerlab::peer
