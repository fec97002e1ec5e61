// The agent end to end: three real peers with tags, driven by peerlab-ctl
// (members --json parsed, info --json, tags, exit codes) and a
// peer.v1.Agent Stream that sees another member's tag change.
#include <signal.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/testing/eventually.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "peer/app/e2e_testing.h"
#include "proto/peer/v1/agent.grpc.pb.h"

namespace peerlab::peer {
namespace {

namespace pb = ::peer::v1;
using ::peerlab::testing::Eventually;
using ::peerlab::testing::Subprocess;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(20);

struct CtlRun {
  int code = -1;
  std::string out;
  std::string err;
};

class AgentE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("agent-e2e"));
    ASSERT_NO_FATAL_FAILURE(WriteConfig());
  }

  std::unique_ptr<e2e::WatchedPeer> Start(const std::string& name) {
    auto peer = StartWatchedPeer(name, {"--serve", "--config", config_,
                                        "--bootstrap", bootstrap_.address});
    if (peer) {
      EXPECT_TRUE(peer->WaitForLine("outputView", "init: done", kDeadline))
          << name << " did not finish init";
    }
    return peer;
  }

  // peerlab-ctl ARGS, with the test's control token in the environment.
  CtlRun Ctl(const std::vector<std::string>& args,
             std::map<std::string, std::string> env = {}) {
    Subprocess::Options o;
    o.argv = {bin_ + "/peerlab-ctl"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env["PEERLAB_CONTROL_TOKEN_FILE"] = testing::TestControlTokenFile();
    o.env["PEERLAB_RPC_ADDR"] = "";
    for (auto& [k, v] : env) o.env[k] = v;
    const std::string base = dir_->File(absl::StrCat("ctl", ++runs_));
    o.stdout_path = base + ".stdout";
    o.stderr_path = base + ".stderr";
    CtlRun run;
    auto started = Subprocess::Start(o);
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return run;
    auto exit = (*started)->Wait(kDeadline);
    EXPECT_TRUE(exit.ok()) << exit.status();
    if (!exit.ok() || !exit->exited) return run;
    run.code = exit->code;
    run.out = (*started)->ReadStdout();
    run.err = (*started)->ReadStderr();
    return run;
  }

  // `members --json` at `addr`: name -> member object.
  std::map<std::string, nlohmann::json> Members(const std::string& addr) {
    CtlRun run = Ctl({"members", "--json", "--rpc-addr", addr});
    std::map<std::string, nlohmann::json> out;
    if (run.code != 0) return out;
    auto j = nlohmann::json::parse(run.out, nullptr, false);
    if (j.is_discarded()) return out;
    for (const auto& m : j["members"]) out[m["name"]] = m;
    return out;
  }

  // The gRPC address the peer wrote to its ready file.
  std::string Address(const std::string& name) {
    return std::string(absl::StripAsciiWhitespace(
        testing::ReadFile(dir_->File(name + ".ready")).value_or("")));
  }

  int runs_ = 0;
};

TEST_F(AgentE2eTest, ThreePeersWithTagsThroughPeerlabCtl) {
  auto alice = Start("alice");
  auto bob = Start("bob");
  auto carol = Start("carol");
  ASSERT_TRUE(alice && bob && carol);
  const std::string alice_addr = Address("alice");
  const std::string bob_addr = Address("bob");
  const std::string carol_addr = Address("carol");

  // A Stream on alice that follows member updates.
  auto stub = pb::Agent::NewStub(testing::NewPeerChannel(alice_addr));
  grpc::ClientContext stream_context;
  pb::AgentStreamRequest stream_request;
  stream_request.add_filters("member-update");
  auto stream = stub->Stream(&stream_context, stream_request);

  for (const auto& [addr, role] :
       std::vector<std::pair<std::string, std::string>>{
           {alice_addr, "web"}, {bob_addr, "db"}, {carol_addr, "web"}}) {
    CtlRun run = Ctl({"tags", "--set", "role=" + role, "--set", "dc=east",
                      "--rpc-addr", addr});
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_THAT(run.out, ::testing::ContainsRegex("role +=  " + role));
  }

  // Every peer sees the three with their tags.
  ASSERT_TRUE(Eventually(
      [&] {
        auto m = Members(alice_addr);
        return m.size() == 3 && m["bob"]["tags"]["role"] == "db" &&
               !m["alice"]["tags"].contains("chat") &&
               m["carol"]["tags"]["role"] == "web" &&
               m["alice"]["status"] == "alive" &&
               m["carol"]["status"] == "alive";
      },
      kDeadline))
      << Ctl({"members", "--rpc-addr", alice_addr}).out;

  // The update of bob's tags reached alice's stream.
  pb::AgentStreamResponse event;
  bool seen = false;
  while (!seen && stream->Read(&event)) {
    seen = event.has_member() && event.member().member().name() == "bob" &&
           event.member().member().tags().count("role") > 0;
  }
  EXPECT_TRUE(seen);
  stream_context.TryCancel();
  stream->Finish().IgnoreError();

  // monitor: the log and the events asked for, as JSON lines, until
  // interrupted (then exit 0).
  {
    Subprocess::Options o;
    o.argv = {bin_ + "/peerlab-ctl", "monitor",    "--json",  "--filter",
              "member-update",       "--rpc-addr", alice_addr};
    o.env["PEERLAB_CONTROL_TOKEN_FILE"] = testing::TestControlTokenFile();
    o.stdout_path = dir_->File("monitor.stdout");
    o.stderr_path = dir_->File("monitor.stderr");
    auto monitor = Subprocess::Start(o);
    ASSERT_TRUE(monitor.ok()) << monitor.status();
    int n = 0;
    EXPECT_TRUE(Eventually(
        [&] {
          Ctl({"tags", "--set", absl::StrCat("n=", ++n), "--rpc-addr",
               bob_addr});
          const std::string out = (*monitor)->ReadStdout();
          return out.find("\"event\":\"member-update\"") != std::string::npos &&
                 out.find("member bob updated") != std::string::npos;
        },
        kDeadline))
        << (*monitor)->ReadStdout() << (*monitor)->ReadStderr();
    ASSERT_TRUE((*monitor)->Signal(SIGINT).ok());
    auto exit = (*monitor)->Wait(kDeadline);
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_TRUE(exit->success())
        << exit->ToString() << (*monitor)->ReadStderr();
  }

  // Filters: anchored tag expressions and statuses.
  CtlRun web = Ctl({"members", "--json", "--tag", "role=w.b", "--status",
                    "alive", "--rpc-addr", carol_addr});
  ASSERT_EQ(web.code, 0) << web.err;
  auto j = nlohmann::json::parse(web.out);
  std::vector<std::string> names;
  for (const auto& m : j["members"]) names.push_back(m["name"]);
  EXPECT_THAT(names, ::testing::ElementsAre("alice", "carol"));

  // The table, by default.
  CtlRun table = Ctl({"members", "--rpc-addr", bob_addr});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("NAME"));
  EXPECT_THAT(table.out, HasSubstr("role=db"));

  // info --json: this peer and its statistics.
  CtlRun info = Ctl({"info", "--json"},
                    {{"PEERLAB_RPC_ADDR", alice_addr}});  // the variable
  ASSERT_EQ(info.code, 0) << info.err;
  auto i = nlohmann::json::parse(info.out);
  EXPECT_EQ(i["self"]["name"], "alice");
  EXPECT_EQ(i["self"]["tags"]["dc"], "east");
  EXPECT_EQ(i["stats"]["peerlab.members.alive"], 3);
  EXPECT_TRUE(i["stats"].contains("memberlist.health.score"));

  // rtt: from the coordinates that ride on probes (bob's arrives with
  // alice's first probe of bob); with one name, between it and this peer.
  CtlRun rtt;
  EXPECT_TRUE(Eventually(
      [&] {
        rtt = Ctl({"rtt", "bob", "--json", "--rpc-addr", alice_addr});
        return rtt.code == 0;
      },
      kDeadline))
      << rtt.err;
  if (rtt.code == 0) {
    auto r = nlohmann::json::parse(rtt.out);
    EXPECT_EQ(r["a"], "bob");
    EXPECT_EQ(r["b"], "this peer");
    EXPECT_GT(r["rtt_ms"].get<double>(), 0);
  }

  // keys --list: every member answers (the group key).
  CtlRun keys = Ctl({"keys", "--list", "--json", "--rpc-addr", bob_addr});
  EXPECT_EQ(keys.code, 0) << keys.err << keys.out;

  // Exit codes: a refused value is a usage error (2); a bad tag a failed
  // call (1, the reason on stderr); no token: 1, saying where to find one.
  EXPECT_EQ(Ctl({"members", "--status", "gone"}).code, 2);
  // Past the metadata's limit: refused as the peer's `tags set` refuses
  // it, with the sizes named.
  CtlRun big = Ctl({"tags", "--set", "big=" + std::string(600, 'x'),
                    "--rpc-addr", alice_addr});
  EXPECT_EQ(big.code, 1);
  EXPECT_THAT(big.err, HasSubstr("at most 512 (memberlist.max_meta_bytes)"));
  CtlRun no_token = Ctl({"members", "--rpc-addr", alice_addr},
                        {{"PEERLAB_CONTROL_TOKEN_FILE", ""}});
  EXPECT_EQ(no_token.code, 1);
  EXPECT_THAT(no_token.err, HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(no_token.err, HasSubstr("--peer NAME"));
}

// Query is a server stream that hands each ack over as it arrives: with a
// minute-long timeout, the acks of both peers are read long before it ends
// (before: everything came at the end). Cancelling the call mid-query ends
// it; the peer goes on serving queries. A query the cluster layer refuses
// ends the call with its status (before: OK with an empty summary).
TEST_F(AgentE2eTest, QueryStreamsAcksAsTheyComeAndRefusalsAreStatuses) {
  auto alice = Start("alice");
  auto bob = Start("bob");
  ASSERT_TRUE(alice && bob);
  const std::string alice_addr = Address("alice");
  auto stub = pb::Agent::NewStub(testing::NewPeerChannel(alice_addr));
  ASSERT_TRUE(
      Eventually([&] { return Members(alice_addr).size() == 2; }, kDeadline));

  pb::AgentQueryRequest request;
  request.set_name("slow");
  request.set_request_ack(true);
  request.mutable_timeout()->set_seconds(60);
  {
    grpc::ClientContext context;
    // Far less than the query's timeout: the acks must come before it.
    context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
    auto reader = stub->Query(&context, request);
    std::vector<std::string> order;
    pb::AgentQueryResponse item;
    while (order.size() < 2 && reader->Read(&item)) {
      order.push_back(item.has_ack()       ? "ack " + item.ack().from()
                      : item.has_summary() ? "summary"
                                           : "reply");
    }
    EXPECT_THAT(order, ::testing::UnorderedElementsAre("ack alice", "ack bob"));
    context.TryCancel();  // mid-query: the client goes away
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED) << s.error_message();
  }

  // The peer serves the next query, whose end comes by its timeout.
  request.set_name("quick");
  request.mutable_timeout()->set_seconds(1);
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
    auto reader = stub->Query(&context, request);
    std::vector<std::string> order;
    pb::AgentQueryResponse item;
    while (reader->Read(&item)) {
      order.push_back(item.has_summary() ? "summary" : "answer");
      if (item.has_summary()) EXPECT_EQ(item.summary().acked(), 2u);
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_THAT(order, ::testing::ElementsAre("answer", "answer", "summary"));
  }

  // Refusals: a bad tag expression; a peer whose membership is not
  // running (the cluster layer's FailedPrecondition).
  pb::AgentQueryRequest bad = request;
  (*bad.mutable_tags())["role"] = "(";
  {
    grpc::ClientContext context;
    auto reader = stub->Query(&context, bad);
    pb::AgentQueryResponse item;
    EXPECT_FALSE(reader->Read(&item));
    EXPECT_EQ(reader->Finish().error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  auto idle =
      StartWatchedPeer("idle", {"--serve", "--no-init", "--config", config_,
                                "--bootstrap", bootstrap_.address});
  ASSERT_TRUE(idle);
  auto idle_stub = pb::Agent::NewStub(testing::NewPeerChannel(Address("idle")));
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
    auto reader = idle_stub->Query(&context, request);
    pb::AgentQueryResponse item;
    EXPECT_FALSE(reader->Read(&item)) << item.DebugString();
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << s.error_message();
  }
}

// Out of the box: a peer started with its defaults (its own control token,
// a free gRPC port) is found by peerlab-ctl with neither --rpc-addr nor
// $PEERLAB_RPC_ADDR (the peer's address file in the state directory,
// base/peer_address_file.h); with two peers, --peer NAME chooses. Before,
// the default was Serf's 127.0.0.1:7373, where no peer listens.
TEST_F(AgentE2eTest, PeerlabCtlFindsALocalPeerWithoutAnAddress) {
  // HOME is the test's directory, as for the peers: one state directory.
  const std::map<std::string, std::string> user = {
      {"HOME", dir_->path()},
      {"PEERLAB_STATE_DIR", ""},
      {"XDG_STATE_HOME", ""},
      {"PEERLAB_CONTROL_TOKEN_FILE", ""}};
  auto start = [&](const std::string& name) {
    auto bin = testing::BinDir();
    EXPECT_TRUE(bin.ok());
    Subprocess::Options o = testing::PeerProcessOptions(
        *bin, dir_->path(), name,
        {"--serve", "--config", config_, "--bootstrap", bootstrap_.address});
    for (const auto& [k, v] : user) o.env[k] = v;
    auto process = Subprocess::Start(o);
    EXPECT_TRUE(process.ok()) << process.status();
    EXPECT_TRUE(Eventually([&] { return !Address(name).empty(); }, kDeadline))
        << name << " wrote no ready file";
    return process.ok() ? *std::move(process) : nullptr;
  };
  auto alice = start("alice");
  ASSERT_TRUE(alice);
  CtlRun run;
  EXPECT_TRUE(Eventually(
      [&] {
        run = Ctl({"members", "--json"}, user);
        return run.code == 0;
      },
      kDeadline))
      << run.code << " " << run.err;
  auto j = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << run.out;
  EXPECT_EQ(j["members"][0]["name"], "alice") << run.out;

  auto bob = start("bob");
  ASSERT_TRUE(bob);
  CtlRun several = Ctl({"members"}, user);
  EXPECT_EQ(several.code, 2);
  EXPECT_THAT(several.err, HasSubstr("(alice, bob)"));
  CtlRun chosen = Ctl({"info", "--json", "--peer", "bob"}, user);
  ASSERT_EQ(chosen.code, 0) << chosen.err;
  EXPECT_EQ(nlohmann::json::parse(chosen.out)["self"]["name"], "bob");

  // Nothing running: what was tried, and exit code 1.
  for (auto* p : {alice.get(), bob.get()}) {
    ASSERT_TRUE(p->Signal(SIGTERM).ok());
    EXPECT_TRUE(p->Wait(kDeadline).ok());
  }
  CtlRun none = Ctl({"members"}, user);
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err, HasSubstr("no --rpc-addr, $PEERLAB_RPC_ADDR not set"));
  EXPECT_THAT(none.err, HasSubstr("grpc.addr"));
}

}  // namespace
}  // namespace peerlab::peer
