// Gossip encryption on real sockets: three peerlab-peer processes on
// loopback with key files (memberlist.keyfile). The two sharing a key form a
// group; the third, with another key, is refused with "cannot decrypt: wrong
// key?" and never listed; `keys install/use/remove` rotate the group onto
// the third's key (the key files follow), and then it joins. Driven through
// PeerControl; every wait has a deadline.
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "peer/membership/keyring.h"
#include "peer/membership/node.h"
#include "proto/peer/v1/control.grpc.pb.h"
#include "proto/peer/v1/membership.grpc.pb.h"
#include "base/testing/eventually.h"
#include "base/testing/peer_process.h"
#include "base/testing/subprocess.h"

namespace peerlab::peer {
namespace {

using ::peerlab::testing::Eventually;

namespace pb = ::peer::v1;
using ::peerlab::testing::ExecuteLine;
using ::peerlab::testing::NewPeerChannel;
using ::peerlab::testing::StartPeerProcess;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::WriteFile;

constexpr absl::Duration kDeadline = absl::Seconds(30);

struct Peer {
  std::string name;
  std::string keyfile;
  std::string grpc_address;  // PeerControl and the reliable path
  std::unique_ptr<Subprocess> process;
  std::unique_ptr<pb::PeerControl::Stub> stub;

  // Runs `line`; returns its output lines joined, or the error (with the
  // output lines before the message, as a person sees them).
  absl::StatusOr<std::string> Run(const std::string& line) {
    pb::ExecuteResponse response;
    grpc::Status s = ExecuteLine(*stub, line, &response, absl::Seconds(20));
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    std::string out;
    for (const auto& l : response.output()) {
      absl::StrAppend(&out, l.text(), "\n");
    }
    if (response.code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(response.code()),
                          absl::StrCat(out, response.message()));
    }
    return out;
  }

  bool WaitFor(const std::string& line, const std::string& want,
               absl::Duration timeout = kDeadline) {
    return Eventually(
        [&] {
          auto out = Run(line);
          return out.ok() && absl::StrContains(*out, want);
        },
        timeout);
  }

  // memberlistcreate + memberliststart; returns the gossip address.
  std::string CreateAndStart() {
    auto created = Run("memberlistcreate");
    EXPECT_TRUE(created.ok()) << name << ": " << created.status();
    if (!created.ok()) return "";
    EXPECT_TRUE(Run("memberliststart").ok()) << name;
    std::string text(absl::StripAsciiWhitespace(*created));
    return text.substr(text.rfind(' ') + 1);
  }
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class KeysE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("keys-e2e")); }

  // `extra`: more JSON config members, each followed by a comma. An empty
  // `key`: no memberlist.keyfile (the peer's default, the per-user group
  // key under HOME, which is the test directory: shared by the test's
  // peers). `args`: more command-line options.
  Peer StartPeer(const std::string& name, const std::string& key,
                 const std::string& extra = "",
                 const std::vector<std::string>& args = {}) {
    Peer p;
    p.name = name;
    std::string keyfile_entry;
    if (!key.empty()) {
      p.keyfile = dir_->File(name + ".keys");
      EXPECT_TRUE(
          WriteFile(p.keyfile, absl::StrCat("# ", name, "\n", key, "\n")).ok());
      keyfile_entry =
          absl::StrCat(R"(, "memberlist.keyfile": ")", p.keyfile, R"(")");
    }
    const std::string config = dir_->File(name + ".json");
    EXPECT_TRUE(WriteFile(config, absl::StrCat("{", extra, R"(
        "memberlist.probe_interval": "200ms",
        "memberlist.probe_timeout": "100ms",
        "memberlist.gossip_interval": "50ms",
        "memberlist.reliable_timeout": "1s")",
                                               keyfile_entry, "}"))
                    .ok());
    std::vector<std::string> argv = {"--bootstrap", bootstrap_.address,
                                     "--serve",     "--no-init",
                                     "--config",    config};
    argv.insert(argv.end(), args.begin(), args.end());
    auto started = StartPeerProcess(dir_->path(), name, argv, kDeadline);
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return p;
    p.process = std::move(started->process);
    p.grpc_address = started->address;
    p.stub = pb::PeerControl::NewStub(NewPeerChannel(started->address));
    return p;
  }
};

// What an outsider with no key gets from a push/pull on the peer's
// reliable path (its gRPC port): the member list, or the refusal.
grpc::Status OutsiderPushPull(const std::string& grpc_address,
                              pb::ReliableResponse* response) {
  auto stub = pb::MembershipStream::NewStub(NewPeerChannel(grpc_address));
  pb::ReliableRequest request;
  pb::PushPull* pp = request.mutable_push_pull();
  pp->set_from("outsider");
  pp->set_join(true);
  pb::PushNodeState* self = pp->add_nodes();
  self->set_name("outsider");
  self->set_addr("127.0.0.1:9");
  self->set_incarnation(1);
  self->set_generation(1);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return stub->Exchange(&context, request, response);
}

// A peer with no key configured uses the per-user group key: an outsider
// without it neither reads the member list nor pushes itself in.
TEST_F(KeysE2eTest, DefaultPeerRefusesOutsiderPushPull) {
  Peer alice = StartPeer("alice", "");
  ASSERT_NE(alice.stub, nullptr);
  alice.CreateAndStart();
  pb::ReliableResponse response;
  grpc::Status s = OutsiderPushPull(alice.grpc_address, &response);
  EXPECT_FALSE(s.ok() && response.has_push_pull())
      << "an outsider read the member list: " << response.DebugString();
  EXPECT_FALSE(alice.WaitFor("showmemberlist", "outsider", absl::Seconds(1)));
  EXPECT_TRUE(alice.Run("exit 0").ok());
  ASSERT_TRUE(alice.process->Wait(kDeadline).ok());
}

// A key file other users may read lets them into the group: the peer says
// so at start, with the chmod that fixes it, as it does for token files.
// Before: it loaded such a file silently.
TEST_F(KeysE2eTest, KeyFileOthersMayReadIsNamedInAWarning) {
  const std::string key = membership::FormatKey(membership::GenerateKey());
  Peer alice = StartPeer("alice", key);
  ASSERT_NE(alice.stub, nullptr);
  ASSERT_EQ(::chmod(alice.keyfile.c_str(), 0644), 0);
  alice.CreateAndStart();
  const std::string log = dir_->File("alice.log");
  Eventually(
      [&] {
        return absl::StrContains(ReadAll(log),
                                 "is readable or writable by other users");
      },
      absl::Seconds(10));
  EXPECT_TRUE(absl::StrContains(ReadAll(log), "chmod 600 " + alice.keyfile))
      << ReadAll(log);
  EXPECT_TRUE(alice.Run("exit 0").ok());
  ASSERT_TRUE(alice.process->Wait(kDeadline).ok());
}

// Two peers of one user with no key configured form a group with no set-up
// (the per-user group key, made by the first, read by the second); the
// file is private (0600).
TEST_F(KeysE2eTest, DefaultPeersOfOneUserFormAGroup) {
  Peer alice = StartPeer("alice", "");
  Peer bob = StartPeer("bob", "");
  ASSERT_NE(alice.stub, nullptr);
  ASSERT_NE(bob.stub, nullptr);
  const std::string alice_addr = alice.CreateAndStart();
  bob.CreateAndStart();
  ASSERT_TRUE(bob.Run("memberlistjoin " + alice_addr).ok());
  for (Peer* p : {&alice, &bob}) {
    EXPECT_TRUE(p->WaitFor("memberlist", "2 member(s)")) << p->name;
  }
  auto list = alice.Run("keys list");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(absl::StrContains(*list, "held by 2/2, primary on 2")) << *list;
  const std::string keyfile =
      dir_->File(".local/state/peerlab/gossip.keys");  // HOME is the dir
  struct stat st;
  ASSERT_EQ(::stat(keyfile.c_str(), &st), 0) << keyfile;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (Peer* p : {&alice, &bob}) {
    EXPECT_TRUE(p->Run("exit 0").ok()) << p->name;
    ASSERT_TRUE(p->process->Wait(kDeadline).ok());
  }
}

// The embedding API is secure with no set-up in the same way: a Node in
// this process and a default peerlab-peer of the same user (one state
// directory) share the per-user group key and form one group; the peer
// lists the Node with its metadata and sees it leave.
TEST_F(KeysE2eTest, AnEmbeddedNodeAndAPeerOfOneUserFormAGroup) {
  const std::string state = dir_->File(".local/state/peerlab");
  ASSERT_EQ(::setenv("PEERLAB_STATE_DIR", state.c_str(), 1), 0);
  Peer alice = StartPeer("alice", "");
  ASSERT_NE(alice.stub, nullptr);
  const std::string alice_addr = alice.CreateAndStart();

  membership::NodeOptions options;
  options.name = "embedded";
  options.profile = "local";
  options.metadata = "from=node";
  auto node = membership::Node::Start(options);
  ASSERT_TRUE(node.ok()) << node.status();
  auto joined = (*node)->Join({alice_addr});
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_TRUE(alice.WaitFor("memberlist", "2 member(s)"));
  EXPECT_TRUE(alice.WaitFor("memberlist", "meta from=node"));
  bool node_sees_alice = false;
  for (const membership::Member& m : (*node)->Members()) {
    node_sees_alice |= m.name == "alice";
  }
  EXPECT_TRUE(node_sees_alice);

  EXPECT_TRUE((*node)->Leave(absl::Seconds(5)).ok());
  EXPECT_TRUE(alice.WaitFor("memberlist", "1 member(s)"));
  (*node)->Shutdown();
  EXPECT_TRUE(alice.Run("exit 0").ok());
  ASSERT_TRUE(alice.process->Wait(kDeadline).ok());
}

// --insecure-gossip keeps the open mode (for teaching): such peers still
// form a group, answer an outsider, and never mix with keyed peers.
TEST_F(KeysE2eTest, InsecureGossipPeersInteroperate) {
  Peer alice = StartPeer("alice", "", "", {"--insecure-gossip"});
  Peer bob = StartPeer("bob", "", "", {"--insecure-gossip"});
  Peer carol = StartPeer("carol", "");  // the per-user key
  ASSERT_NE(alice.stub, nullptr);
  ASSERT_NE(bob.stub, nullptr);
  ASSERT_NE(carol.stub, nullptr);
  const std::string alice_addr = alice.CreateAndStart();
  bob.CreateAndStart();
  carol.CreateAndStart();
  ASSERT_TRUE(bob.Run("memberlistjoin " + alice_addr).ok());
  for (Peer* p : {&alice, &bob}) {
    EXPECT_TRUE(p->WaitFor("memberlist", "2 member(s)")) << p->name;
  }
  EXPECT_FALSE(carol.Run("memberlistjoin " + alice_addr).ok());
  pb::ReliableResponse response;
  EXPECT_TRUE(OutsiderPushPull(alice.grpc_address, &response).ok());
  EXPECT_TRUE(absl::StrContains(ReadAll(dir_->File("alice.stderr")),
                                "warning: --insecure-gossip"));
  for (Peer* p : {&alice, &bob, &carol}) {
    EXPECT_TRUE(p->Run("exit 0").ok()) << p->name;
    ASSERT_TRUE(p->process->Wait(kDeadline).ok());
  }
}

// Two labs of one user on one machine (one group key) with other group
// labels never merge: the join is refused and says why.
TEST_F(KeysE2eTest, PeersWithAnotherGroupLabelAreRefused) {
  Peer alice = StartPeer("alice", "", "", {"--group-label", "lab-a"});
  Peer bob = StartPeer("bob", "", R"("memberlist.label": "lab-b",)");
  ASSERT_NE(alice.stub, nullptr);
  ASSERT_NE(bob.stub, nullptr);
  const std::string alice_addr = alice.CreateAndStart();
  bob.CreateAndStart();
  auto refused = bob.Run("memberlistjoin " + alice_addr);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "alice refused the request: another group "
                                "label"))
      << refused.status();
  // The label is a security setting: remote callers cannot change it.
  EXPECT_EQ(bob.Run("set memberlist.label lab-a").status().code(),
            absl::StatusCode::kPermissionDenied);
  Peer carol = StartPeer("carol", "", R"("memberlist.label": "lab-a",)");
  ASSERT_NE(carol.stub, nullptr);
  carol.CreateAndStart();
  ASSERT_TRUE(carol.Run("memberlistjoin " + alice_addr).ok());
  EXPECT_TRUE(alice.WaitFor("memberlist", "2 member(s)"));
  EXPECT_TRUE(carol.Run("exit 0").ok());
  ASSERT_TRUE(carol.process->Wait(kDeadline).ok());
  for (Peer* p : {&alice, &bob}) {
    EXPECT_TRUE(p->Run("exit 0").ok()) << p->name;
    ASSERT_TRUE(p->process->Wait(kDeadline).ok());
  }
}

TEST_F(KeysE2eTest, WrongKeyRefusedThenRotationAdmitsIt) {
  const std::string key_a = membership::FormatKey(membership::GenerateKey());
  const std::string key_b = membership::FormatKey(membership::GenerateKey());
  Peer alice = StartPeer("alice", key_a);
  Peer bob = StartPeer("bob", key_a);
  Peer mallory = StartPeer("mallory", key_b);
  ASSERT_NE(alice.stub, nullptr);
  ASSERT_NE(bob.stub, nullptr);
  ASSERT_NE(mallory.stub, nullptr);

  const std::string alice_addr = alice.CreateAndStart();
  bob.CreateAndStart();
  mallory.CreateAndStart();
  ASSERT_TRUE(bob.Run("memberlistjoin " + alice_addr).ok());
  EXPECT_TRUE(alice.WaitFor("memberlist", "2 member(s)"));

  // Another key: refused, and told why.
  auto refused = mallory.Run("memberlistjoin " + alice_addr);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "cannot decrypt: wrong key?"))
      << refused.status();
  // Bad keys on the command line are refused before anything is sent.
  auto bad = alice.Run("keys install not-a-key");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);

  // Rotate alice and bob onto mallory's key.
  auto install = alice.Run("keys install " + key_b);
  ASSERT_TRUE(install.ok()) << install.status();
  EXPECT_TRUE(absl::StrContains(*install, "2 of 2 member(s) installed"))
      << *install;
  auto use = bob.Run("keys use " + key_b);
  ASSERT_TRUE(use.ok()) << use.status();
  EXPECT_TRUE(absl::StrContains(*use, "2 of 2 member(s) now use the key"))
      << *use;
  auto primary = alice.Run("keys remove " + key_b);
  EXPECT_EQ(primary.status().code(), absl::StatusCode::kFailedPrecondition);
  auto remove = alice.Run("keys remove " + key_a);
  ASSERT_TRUE(remove.ok()) << remove.status();
  auto list = bob.Run("keys list");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(absl::StrContains(*list, key_b + "  held by 2/2, primary on 2"))
      << *list;
  EXPECT_FALSE(absl::StrContains(*list, key_a)) << *list;
  // The key files followed.
  EXPECT_EQ(ReadAll(alice.keyfile), key_b + "\n");
  EXPECT_EQ(ReadAll(bob.keyfile), key_b + "\n");

  // Mallory never made it in; with the key it now does.
  auto members = alice.Run("showmemberlist");
  ASSERT_TRUE(members.ok());
  EXPECT_FALSE(absl::StrContains(*members, "mallory")) << *members;
  auto join = mallory.Run("memberlistjoin " + alice_addr);
  ASSERT_TRUE(join.ok()) << join.status();
  for (Peer* p : {&alice, &bob, &mallory}) {
    EXPECT_TRUE(p->WaitFor("memberlist", "3 member(s)")) << p->name;
  }
  for (Peer* p : {&alice, &bob, &mallory}) {
    EXPECT_TRUE(p->Run("exit 0").ok()) << p->name;
    auto status = p->process->Wait(kDeadline);
    ASSERT_TRUE(status.ok()) << status.status();
  }
}

// Without UDP (memberlist.grpc_only): sealed datagrams travel as
// Packet{encrypted} in gRPC calls. Periodic push/pull is off, so what bob
// learns of carol (who joined through alice) and of alice's broadcast came
// in sealed datagrams; a kill -9 is detected by sealed probes.
TEST_F(KeysE2eTest, GrpcOnlyModeCarriesSealedDatagrams) {
  const std::string key = membership::FormatKey(membership::GenerateKey());
  const std::string grpc_only =
      R"("memberlist.grpc_only": true, "memberlist.push_pull_interval": "0s",)";
  Peer alice = StartPeer("alice", key, grpc_only);
  Peer bob = StartPeer("bob", key, grpc_only);
  Peer carol = StartPeer("carol", key, grpc_only);
  ASSERT_NE(alice.stub, nullptr);
  ASSERT_NE(bob.stub, nullptr);
  ASSERT_NE(carol.stub, nullptr);
  const std::string alice_addr = alice.CreateAndStart();
  bob.CreateAndStart();
  carol.CreateAndStart();
  ASSERT_TRUE(bob.Run("memberlistjoin " + alice_addr).ok());
  ASSERT_TRUE(carol.Run("memberlistjoin " + alice_addr).ok());
  for (Peer* p : {&alice, &bob, &carol}) {
    EXPECT_TRUE(p->WaitFor("memberlist", "3 member(s)")) << p->name;
  }
  ASSERT_TRUE(alice.Run("broadcastadd sealed yes").ok());
  for (Peer* p : {&bob, &carol}) {
    EXPECT_TRUE(p->WaitFor("broadcastlist", "sealed = yes")) << p->name;
  }
  ASSERT_TRUE(carol.process->Kill().ok());
  for (Peer* p : {&alice, &bob}) {
    EXPECT_TRUE(p->WaitFor("memberlist", "2 member(s)")) << p->name;
  }
  for (Peer* p : {&alice, &bob}) {
    EXPECT_TRUE(p->Run("exit 0").ok()) << p->name;
    auto status = p->process->Wait(kDeadline);
    ASSERT_TRUE(status.ok()) << status.status();
  }
}

}  // namespace
}  // namespace peerlab::peer
