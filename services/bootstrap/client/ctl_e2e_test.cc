// End to end: the real peerlab-bootstrap and peerlab-bootstrapctl binaries
// from $PEERLAB_BIN_DIR, as processes, on free loopback ports.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/testing/eventually.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace peerlab::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAlice[] = "11111111-1111-4111-8111-111111111111";
constexpr char kBob[] = "22222222-2222-4222-8222-222222222222";
constexpr char kCharly[] = "33333333-3333-4333-8333-333333333333";
constexpr char kDave[] = "44444444-4444-4444-8444-444444444444";

struct CtlRun {
  ExitStatus status;
  std::string out;
  std::string err;
};

size_t Lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

class CtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("peerlab-ctl-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    auto bin = BinDir();
    ASSERT_TRUE(bin.ok()) << bin.status();
    ctl_ = *bin + "/peerlab-bootstrapctl";
  }

  void TearDown() override {
    if (server_.process != nullptr && server_.process->Running()) {
      ASSERT_TRUE(server_.process->Signal(SIGTERM).ok());
      auto exit = server_.process->Wait(absl::Seconds(15));
      ASSERT_TRUE(exit.ok()) << exit.status();
      EXPECT_TRUE(exit->success()) << exit->ToString() << "\n"
                                   << server_.process->ReadStderr();
    }
  }

  // Starts the server on a file store in the temp dir, plus `args`.
  void StartServer(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--store", "file:" + dir_->File("store.json"),
                               "--log-level", "warn"});
    auto server = StartBootstrapServer(dir_->path(), args);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  Subprocess::Options CtlOptions(const std::vector<std::string>& args,
                                 bool with_server,
                                 std::map<std::string, std::string> env) {
    const int n = runs_++;
    Subprocess::Options options;
    options.argv = {ctl_};
    if (with_server) {
      options.argv.push_back("--server");
      options.argv.push_back(server_.address);
    }
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.env = std::move(env);
    options.stdout_path = dir_->File(absl::StrCat("ctl-", n, ".stdout"));
    options.stderr_path = dir_->File(absl::StrCat("ctl-", n, ".stderr"));
    return options;
  }

  // Runs the tool to completion (--server the test's server unless
  // `with_server` is false).
  CtlRun Ctl(const std::vector<std::string>& args, bool with_server = true,
             std::map<std::string, std::string> env = {}) {
    CtlRun run;
    auto process =
        Subprocess::Start(CtlOptions(args, with_server, std::move(env)));
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return run;
    auto status = (*process)->Wait(absl::Seconds(30));
    EXPECT_TRUE(status.ok()) << status.status();
    if (status.ok()) run.status = *status;
    run.out = (*process)->ReadStdout();
    run.err = (*process)->ReadStderr();
    return run;
  }

  nlohmann::json Json(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"--json"};
    full.insert(full.end(), args.begin(), args.end());
    CtlRun run = Ctl(full);
    EXPECT_TRUE(run.status.success()) << run.status.ToString() << run.err;
    try {
      return nlohmann::json::parse(run.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << run.out;
      return {};
    }
  }

  std::string WriteToken(const std::string& name, const std::string& token) {
    const std::string path = dir_->File(name);
    EXPECT_TRUE(WriteFile(path, token + "\n").ok());
    return path;
  }

  // The secret `join` printed ("secret: S ..."), written to a file for
  // --secret-file; "" when there is none.
  std::string SecretFile(const CtlRun& join, const std::string& name) {
    const size_t at = join.out.find("secret: ");
    EXPECT_NE(at, std::string::npos) << join.out;
    if (at == std::string::npos) return "";
    const size_t begin = at + 8;
    const std::string secret =
        join.out.substr(begin, join.out.find(' ', begin) - begin);
    EXPECT_EQ(secret.size(), 64u) << join.out;
    return WriteToken(name, secret);
  }

  std::unique_ptr<TempDir> dir_;
  std::string ctl_;
  BootstrapServer server_;
  int runs_ = 0;
};

TEST_F(CtlTest, PingAndTableOutput) {
  StartServer();
  CtlRun ping = Ctl({"ping"});
  ASSERT_TRUE(ping.status.success()) << ping.err;
  EXPECT_THAT(ping.out, HasSubstr("OK from " + server_.address));

  CtlRun empty = Ctl({"list"});
  ASSERT_TRUE(empty.status.success()) << empty.err;
  EXPECT_EQ(empty.out,
            "revision 0, max_peers 3, min_refill_candidates 0, 0 of 3 peers\n");

  CtlRun join = Ctl({"join", "alice", "127.0.0.1", "7001", "--id", kAlice,
                     "--started-at", "2024-05-01T12:00:00Z"});
  ASSERT_TRUE(join.status.success()) << join.err;
  EXPECT_THAT(join.out, HasSubstr(absl::StrCat("joined: yes, id ", kAlice)));

  CtlRun list = Ctl({"list"});
  ASSERT_TRUE(list.status.success()) << list.err;
  std::vector<std::string> lines =
      absl::StrSplit(list.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << list.out;
  EXPECT_EQ(lines[0],
            "revision 1, max_peers 3, min_refill_candidates 0, 1 of 3 peers");
  EXPECT_THAT(lines[1], HasSubstr("ID"));
  EXPECT_THAT(lines[1], HasSubstr("STARTED_AT"));
  EXPECT_THAT(lines[2], HasSubstr(kAlice));
  EXPECT_THAT(lines[2], HasSubstr("alice"));
  EXPECT_THAT(lines[2], HasSubstr("127.0.0.1:7001"));
  EXPECT_THAT(lines[2], HasSubstr("udp"));
  // A start before the server first saw the peer counts as the first sight.
  EXPECT_THAT(lines[2], Not(HasSubstr("2024-05-01T12:00:00Z")));
}

TEST_F(CtlTest, FullListLeaveRefillRenew) {
  const std::string token = WriteToken("admin-token", "s3cret-admin");
  StartServer({"--admin-token-file", token});
  CtlRun first = Ctl({"join", "alice", "127.0.0.1", "7001", "--id", kAlice,
                      "--started-at", "2024-05-01T12:00:00Z"});
  ASSERT_TRUE(first.status.success()) << first.status.ToString() << "\n"
                                      << first.err;
  CtlRun bob =
      Ctl({"join", "bob", "127.0.0.1", "7002", "--id", kBob, "--started-at",
           "2024-05-01T12:01:00Z", "--protocol", "tcp"});
  ASSERT_TRUE(bob.status.success()) << bob.err;
  const std::string bob_secret = SecretFile(bob, "bob.secret");
  ASSERT_TRUE(Ctl({"join", "charly", "127.0.0.1", "7003", "--id", kCharly,
                   "--started-at", "2024-05-01T12:02:00Z"})
                  .status.success());

  // The list is full: refused, but the call itself succeeded.
  CtlRun refused = Ctl({"join", "dave", "127.0.0.1", "7004", "--id", kDave});
  EXPECT_TRUE(refused.status.success()) << refused.err;
  EXPECT_THAT(refused.out, HasSubstr("joined: no"));
  EXPECT_THAT(refused.out, Not(HasSubstr("dave")));

  // Only the owner (its secret) or the admin may remove an entry.
  CtlRun stranger = Ctl({"leave", kBob});
  EXPECT_EQ(stranger.status.code, 1) << stranger.status.ToString();
  EXPECT_THAT(stranger.err, HasSubstr("PERMISSION_DENIED"));
  CtlRun leave = Ctl({"leave", kBob, "--secret-file", bob_secret});
  ASSERT_TRUE(leave.status.success()) << leave.err;
  EXPECT_THAT(leave.out, HasSubstr("removed: yes"));
  EXPECT_THAT(leave.out, HasSubstr("2 of 3 peers"));

  CtlRun refill = Ctl({"refill", "dave", "127.0.0.1", "7004", "--id", kDave,
                       "--started-at", "2024-05-01T11:00:00Z"});
  ASSERT_TRUE(refill.status.success()) << refill.err;
  EXPECT_THAT(refill.out, HasSubstr("accepted: yes"));
  EXPECT_THAT(refill.out, HasSubstr("3 of 3 peers"));

  // Full again: a candidate claiming an old start replaces nobody (the
  // server first saw it now: it is the newest).
  CtlRun replace = Ctl({"refill", "erin", "127.0.0.1", "7005", "--started-at",
                        "2024-05-01T10:00:00Z"});
  ASSERT_TRUE(replace.status.success()) << replace.err;
  EXPECT_THAT(replace.out, HasSubstr("accepted: no"));

  EXPECT_FALSE(Ctl({"renew", kAlice, "--ttl", "120"}).status.success());
  CtlRun renew =
      Ctl({"--admin-token-file", token, "renew", kAlice, "--ttl", "120"});
  ASSERT_TRUE(renew.status.success()) << renew.err;
  EXPECT_THAT(renew.out, HasSubstr(absl::StrCat("renewed ", kAlice)));
  EXPECT_THAT(renew.out, HasSubstr("(in "));
}

TEST_F(CtlTest, JsonOutputParses) {
  StartServer();
  nlohmann::json join =
      Json({"join", "alice", "127.0.0.1", "7001", "--id", kAlice, "--ttl", "30",
            "--protocol", "tcp", "--status", "hello", "--started-at",
            "2024-05-01T12:00:00Z"});
  EXPECT_EQ(join.at("joined"), true);
  ASSERT_EQ(join.at("document").at("peers").size(), 1u);
  const auto& peer = join.at("document").at("peers")[0];
  EXPECT_EQ(peer.at("id"), kAlice);
  EXPECT_EQ(peer.at("protocol"), "PROTOCOL_TCP");
  EXPECT_EQ(peer.at("status"), "hello");
  EXPECT_EQ(peer.at("startedAt"), peer.at("firstSeenAt"));  // not 2024
  EXPECT_EQ(peer.value("ownerSecretSha256", ""), "");       // never sent
  EXPECT_EQ(join.at("secret").get<std::string>().size(), 64u);
  EXPECT_TRUE(peer.contains("leaseExpiresAt"));

  nlohmann::json list = Json({"list"});
  EXPECT_EQ(list.at("document").at("revision"), "1");
  EXPECT_EQ(list.at("document").at("config").at("maxPeers"), 3);

  // Global options may follow the subcommand.
  CtlRun trailing = Ctl({"list", "--json"});
  ASSERT_TRUE(trailing.status.success()) << trailing.err;
  EXPECT_EQ(nlohmann::json::parse(trailing.out).at("document").at("revision"),
            "1");

  nlohmann::json ping = Json({"ping"});
  EXPECT_EQ(ping.at("message"), "OK");

  nlohmann::json config = Json({"config"});
  EXPECT_EQ(config.at("maxPeers"), 3);
  EXPECT_EQ(config.at("minRefillCandidates"), 0);

  nlohmann::json leave = Json({"leave", kBob});
  EXPECT_EQ(leave.at("removed"), false);
}

TEST_F(CtlTest, FailuresExitOneWithTheStatusOnStderr) {
  StartServer();
  // Values outside an option's domain are usage errors (exit 2), refused
  // before any call; the server's own checks answer the rest.
  CtlRun bad_port = Ctl({"join", "alice", "127.0.0.1", "0"});
  EXPECT_TRUE(bad_port.status.exited);
  EXPECT_EQ(bad_port.status.code, 2);
  EXPECT_THAT(bad_port.err, HasSubstr("PORT"));
  EXPECT_EQ(bad_port.out, "");

  CtlRun bad_id = Ctl({"leave", "not-a-uuid"});
  EXPECT_EQ(bad_id.status.code, 1);
  EXPECT_THAT(bad_id.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(bad_id.err, HasSubstr("id"));

  CtlRun bad_time =
      Ctl({"join", "alice", "127.0.0.1", "7001", "--started-at", "yesterday"});
  EXPECT_EQ(bad_time.status.code, 2);
  EXPECT_THAT(bad_time.err, HasSubstr("--started-at"));

  CtlRun unknown = Ctl({"renew", kAlice, "--ttl", "60"});
  EXPECT_EQ(unknown.status.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));

  // Nothing was stored.
  EXPECT_EQ(Json({"list"}).at("document").at("revision"), "0");
}

TEST_F(CtlTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"join", "alice"},
           {"join", "alice", "127.0.0.1", "7001", "--protocol", "sctp"},
           {"join", "alice", "127.0.0.1", "seventy"},
           {"renew", kAlice},
           {"--timeout", "-1", "ping"},
           {"--admin-token-file", "/nonexistent/token", "reset"},
       }) {
    CtlRun run = Ctl(args, /*with_server=*/false);
    EXPECT_TRUE(run.status.exited);
    EXPECT_EQ(run.status.code, 2) << absl::StrJoin(args, " ") << "\n"
                                  << run.err;
  }
}

TEST_F(CtlTest, HelpOnEverySubcommand) {
  CtlRun top = Ctl({"--help"}, false);
  EXPECT_TRUE(top.status.success());
  for (const char* sub : {"ping", "list", "join", "leave", "refill", "renew",
                          "reset", "config", "watch"}) {
    EXPECT_THAT(top.out, HasSubstr(sub));
    CtlRun help = Ctl({sub, "--help"}, false);
    EXPECT_TRUE(help.status.success()) << sub << ": " << help.err;
    EXPECT_THAT(help.out, HasSubstr(sub)) << help.out;
  }
  CtlRun join_help = Ctl({"join", "--help"}, false);
  for (const char* flag :
       {"--id", "--ttl", "--protocol", "--status", "--started-at"}) {
    EXPECT_THAT(join_help.out, HasSubstr(flag));
  }
}

TEST_F(CtlTest, ServerDownIsUnavailable) {
  StartServer();
  const std::string address = server_.address;
  ASSERT_TRUE(server_.process->Signal(SIGTERM).ok());
  ASSERT_TRUE(server_.process->Wait(absl::Seconds(15)).ok());
  CtlRun run = Ctl({"--timeout", "2", "--server", address, "ping"}, false);
  EXPECT_EQ(run.status.code, 1);
  EXPECT_THAT(run.err, HasSubstr("UNAVAILABLE"));
}

TEST_F(CtlTest, ServerAddressFromTheEnvironment) {
  StartServer();
  CtlRun run = Ctl({"ping"}, /*with_server=*/false,
                   {{"BOOTSTRAP_DATA_SERVER", server_.address}});
  EXPECT_TRUE(run.status.success()) << run.err;
  EXPECT_THAT(run.out, HasSubstr("OK from " + server_.address));
}

TEST_F(CtlTest, AdminTokenFlow) {
  const std::string token = WriteToken("server.token", "s3cret-token");
  const std::string wrong = WriteToken("wrong.token", "guess");
  StartServer({"--admin-token-file", token});
  CtlRun first = Ctl({"join", "alice", "127.0.0.1", "7001", "--id", kAlice,
                      "--started-at", "2024-05-01T12:00:00Z"});
  ASSERT_TRUE(first.status.success()) << first.status.ToString() << "\n"
                                      << first.err;
  ASSERT_TRUE(Ctl({"join", "bob", "127.0.0.1", "7002", "--id", kBob,
                   "--started-at", "2024-05-01T12:01:00Z"})
                  .status.success());

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"reset"},
           {"config", "--max-peers", "1"},
           {"--admin-token-file", wrong, "reset"},
           {"--admin-token-file", wrong, "config", "--max-peers", "1"}}) {
    CtlRun denied = Ctl(args);
    EXPECT_EQ(denied.status.code, 1) << absl::StrJoin(args, " ");
    EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));
  }
  // Showing the config needs no token.
  CtlRun show = Ctl({"config"});
  EXPECT_TRUE(show.status.success()) << show.err;
  EXPECT_THAT(show.out, HasSubstr("max_peers              3"));

  CtlRun trim = Ctl({"--admin-token-file", token, "config", "--max-peers", "1",
                     "--min-refill-candidates", "2"});
  ASSERT_TRUE(trim.status.success()) << trim.err;
  EXPECT_THAT(trim.out, HasSubstr("max_peers              1"));
  EXPECT_THAT(trim.out, HasSubstr("min_refill_candidates  2"));
  EXPECT_THAT(trim.out, HasSubstr(absl::StrCat("trimmed ", kBob)));

  CtlRun reset = Ctl({"--admin-token-file", token, "reset"});
  ASSERT_TRUE(reset.status.success()) << reset.err;
  EXPECT_THAT(reset.out, HasSubstr("0 of 1 peers"));
}

// Issue 13: a server started without --admin-token-file let anyone Reset
// the list. Now it makes a per-user admin token; its user's tool finds it
// with no set-up, a client without it (here: another state directory, as
// another user has) is refused.
TEST_F(CtlTest, WithoutSetUpOnlyTheServersUserAdministers) {
  StartServer({"--max-peers", "3"});
  ASSERT_TRUE(Ctl({"join", "alice", "127.0.0.1", "7001", "--id", kAlice})
                  .status.success());
  const std::string stranger = dir_->File("stranger-state");
  ASSERT_EQ(::mkdir(stranger.c_str(), 0700), 0);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"reset"},
                                             {"config", "--max-peers", "1"}}) {
    CtlRun denied = Ctl(args, true, {{"PEERLAB_STATE_DIR", stranger}});
    EXPECT_EQ(denied.status.code, 1) << absl::StrJoin(args, " ");
    EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));
  }
  EXPECT_THAT(Ctl({"list"}).out, HasSubstr("alice"));
  CtlRun reset = Ctl({"reset"});
  EXPECT_TRUE(reset.status.success()) << reset.err;
  EXPECT_THAT(reset.out, HasSubstr("0 of 3 peers"));
}

TEST_F(CtlTest, WatchPrintsEachDocumentUntilInterrupted) {
  StartServer();
  auto watch = Subprocess::Start(CtlOptions({"--json", "watch"}, true, {}));
  ASSERT_TRUE(watch.ok()) << watch.status();
  Subprocess& w = **watch;
  ASSERT_TRUE(Eventually([&] { return Lines(w.ReadStdout()) >= 1; }))
      << w.ReadStderr();
  CtlRun join = Ctl({"join", "alice", "127.0.0.1", "7001", "--id", kAlice});
  ASSERT_TRUE(join.status.success());
  ASSERT_TRUE(
      Ctl({"leave", kAlice, "--secret-file", SecretFile(join, "alice.secret")})
          .status.success());
  ASSERT_TRUE(Eventually([&] { return Lines(w.ReadStdout()) >= 3; }))
      << w.ReadStdout();
  ASSERT_TRUE(w.Signal(SIGINT).ok());
  auto exit = w.Wait(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString() << w.ReadStderr();

  std::vector<std::string> lines =
      absl::StrSplit(w.ReadStdout(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  std::vector<size_t> peers;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto json = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(json.at("document").at("revision"), std::to_string(i));
    peers.push_back(json.at("document").at("peers").size());
  }
  EXPECT_THAT(peers, ::testing::ElementsAre(0, 1, 0));
}

TEST_F(CtlTest, WatchEndsCleanlyWhenTheServerStops) {
  StartServer();
  auto watch = Subprocess::Start(CtlOptions({"watch"}, true, {}));
  ASSERT_TRUE(watch.ok()) << watch.status();
  Subprocess& w = **watch;
  ASSERT_TRUE(Eventually([&] {
    return absl::StrContains(w.ReadStdout(), "revision 0");
  })) << w.ReadStderr();
  ASSERT_TRUE(server_.process->Signal(SIGTERM).ok());
  auto server_exit = server_.process->Wait(absl::Seconds(15));
  ASSERT_TRUE(server_exit.ok()) << server_exit.status();
  EXPECT_TRUE(server_exit->success()) << server_exit->ToString();
  auto exit = w.Wait(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString() << w.ReadStderr();
}

// The tool tells apart why it cannot reach a server.
class CtlConnectionTest : public CtlTest {
 protected:
  void MakeCerts() {
    certs_ = dir_->File("certs");
    const std::string cmd =
        absl::StrCat(PEERLAB_SOURCE_DIR, "/deploy/tls/make-lab-certs.sh ",
                     certs_, " server:127.0.0.1 client:127.0.0.1 > /dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::vector<std::string> ServerTls(bool require_client_cert) {
    std::vector<std::string> args = {"--tls-cert", certs_ + "/server.crt",
                                     "--tls-key",  certs_ + "/server.key",
                                     "--tls-ca",   certs_ + "/ca.crt"};
    if (require_client_cert) args.push_back("--tls-require-client-cert");
    return args;
  }
  std::string certs_;
};

TEST_F(CtlConnectionTest, ServerDownSaysNothingListens) {
  StartServer();
  const std::string address = server_.address;
  ASSERT_TRUE(server_.process->Signal(SIGTERM).ok());
  ASSERT_TRUE(server_.process->Wait(absl::Seconds(15)).ok());
  CtlRun run = Ctl({"--timeout", "2", "--server", address, "ping"}, false);
  EXPECT_EQ(run.status.code, 1);
  EXPECT_THAT(run.err, HasSubstr("server down: nothing listens on " + address));
}

TEST_F(CtlConnectionTest, AnAddressWithoutAPortIsAUsageError) {
  CtlRun flag = Ctl({"--server", "127.0.0.1", "ping"}, false);
  EXPECT_EQ(flag.status.code, 2) << flag.err;
  EXPECT_THAT(flag.err, HasSubstr("no port"));
  CtlRun env = Ctl({"ping"}, false, {{"BOOTSTRAP_DATA_SERVER", "127.0.0.1"}});
  EXPECT_EQ(env.status.code, 2) << env.err;
  EXPECT_THAT(env.err, HasSubstr("no port"));
}

TEST_F(CtlConnectionTest, APlaintextClientIsToldTheServerExpectsTls) {
  MakeCerts();
  StartServer(ServerTls(/*require_client_cert=*/false));
  CtlRun run = Ctl({"--timeout", "2", "ping"});
  EXPECT_EQ(run.status.code, 1);
  EXPECT_THAT(run.err, HasSubstr("expects TLS"));
}

TEST_F(CtlConnectionTest, AClientWithoutCertificateIsToldOneIsRequired) {
  MakeCerts();
  StartServer(ServerTls(/*require_client_cert=*/true));
  CtlRun run = Ctl({"--timeout", "2", "--tls-ca", certs_ + "/ca.crt", "ping"});
  EXPECT_EQ(run.status.code, 1);
  EXPECT_THAT(run.err, HasSubstr("requires a client certificate"));
  CtlRun full = Ctl({"--timeout", "2", "--tls-ca", certs_ + "/ca.crt",
                     "--tls-cert", certs_ + "/client.crt", "--tls-key",
                     certs_ + "/client.key", "ping"});
  EXPECT_TRUE(full.status.success()) << full.err;
}

TEST_F(CtlConnectionTest, ATlsClientIsToldTheServerSpeaksPlaintext) {
  MakeCerts();
  StartServer();
  CtlRun run = Ctl({"--timeout", "2", "--tls-ca", certs_ + "/ca.crt", "ping"});
  EXPECT_EQ(run.status.code, 1);
  EXPECT_THAT(run.err, HasSubstr("speaks plaintext"));
}

TEST_F(CtlConnectionTest, ATokenFileNoClientCouldSendIsRefusedAtStart) {
  StartServer();
  const std::string two_lines = dir_->File("two-lines.token");
  ASSERT_TRUE(WriteFile(two_lines, "first\nsecond\n").ok());
  CtlRun run = Ctl({"--admin-token-file", two_lines, "reset"});
  EXPECT_TRUE(run.status.exited) << run.status.ToString();
  EXPECT_EQ(run.status.code, 2) << run.err;
  EXPECT_THAT(run.err, HasSubstr("more than one line"));
  CtlRun missing = Ctl({"--admin-token-file", dir_->File("none"), "reset"});
  EXPECT_EQ(missing.status.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("no such file"));
}

}  // namespace
}  // namespace peerlab::testing
