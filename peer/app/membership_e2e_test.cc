// The membership on real sockets: three peerlab-peer processes on loopback
// run the seed script memberlist-steps.script, see each other, and detect a
// kill -9'd member. Driven through PeerControl; every wait has a deadline.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"
#include "proto/peer/v1/control.grpc.pb.h"
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

constexpr absl::Duration kDeadline = absl::Seconds(30);

struct Peer {
  std::string name;
  std::unique_ptr<Subprocess> process;
  std::unique_ptr<pb::PeerControl::Stub> stub;

  // Runs `line`; returns its output lines joined, or the error.
  absl::StatusOr<std::string> Run(const std::string& line) {
    pb::ExecuteResponse response;
    grpc::Status s = ExecuteLine(*stub, line, &response, absl::Seconds(20));
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    if (response.code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(response.code()),
                          response.message());
    }
    std::string out;
    for (const auto& l : response.output())
      absl::StrAppend(&out, l.text(), "\n");
    return out;
  }

  // Polls `line` until its output contains `want`.
  bool WaitFor(const std::string& line, const std::string& want,
               absl::Duration timeout = kDeadline) {
    return Eventually(
        [&] {
          auto out = Run(line);
          return out.ok() && absl::StrContains(*out, want);
        },
        timeout);
  }
};

class MembershipE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("membership-e2e"));
    // The seed script, with short probe timings so that a failure is
    // detected in a couple of seconds.
    ASSERT_NO_FATAL_FAILURE(
        WriteConfig(R"({"memberlist.probe_interval": "200ms",
                        "memberlist.probe_timeout": "100ms",
                        "memberlist.gossip_interval": "50ms",
                        "memberlist.reliable_timeout": "300ms"})"));
    script_ = absl::StrCat(PEERLAB_SOURCE_DIR,
                           "/test-harness/seed-tests/memberlist-steps.script");
  }

  // Starts a peer that runs the seed script (unless `with_script` is
  // false) and then serves, with its files in `dir` (default: the test's).
  Peer StartPeer(const std::string& name, bool with_script = true,
                 std::string dir = "") {
    Peer p;
    p.name = name;
    std::vector<std::string> args = {"--bootstrap", bootstrap_.address,
                                     "--serve",     "--no-init",
                                     "--config",    config_};
    if (with_script) {
      args.push_back("--script");
      args.push_back(script_);
    }
    auto started = StartPeerProcess(dir.empty() ? dir_->path() : dir, name,
                                    args, kDeadline);
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return p;
    p.process = std::move(started->process);
    p.stub = pb::PeerControl::NewStub(NewPeerChannel(started->address));
    return p;
  }

  // The gossip address of `p` (second column of `localnode`).
  static std::string GossipAddress(Peer& p) {
    auto out = p.Run("localnode");
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return "";
    std::vector<std::string> words =
        absl::StrSplit(*out, ' ', absl::SkipEmpty());
    return words.size() > 1 ? words[1] : "";
  }

  std::string script_;
};

TEST_F(MembershipE2eTest, SeedScriptJoinsThreePeersAndKillIsDetected) {
  std::vector<Peer> peers;
  for (const char* name : {"alice", "bob", "charly"}) {
    peers.push_back(StartPeer(name));
    ASSERT_NE(peers.back().stub, nullptr);
    // The script ends with `memberlist`, which prints "N member(s)"; its
    // lines must contain no error.
    ASSERT_TRUE(peers.back().WaitFor("echo ready", "ready"));
  }
  for (Peer& p : peers) {
    EXPECT_TRUE(p.WaitFor("memberlist", "3 member(s)")) << p.name;
  }
  for (Peer& p : peers) {
    std::string out = p.process->ReadStdout();
    EXPECT_FALSE(absl::StrContains(out, "error:")) << p.name << ":\n" << out;
  }
  // kill -9 charly: alice and bob see it fail.
  ASSERT_TRUE(peers[2].process->Kill().ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(peers[i].WaitFor("showmemberlist", "charly")) << peers[i].name;
    EXPECT_TRUE(peers[i].WaitFor("memberlist", "2 member(s)")) << peers[i].name;
    auto all = peers[i].Run("showmemberlist");
    ASSERT_TRUE(all.ok());
    EXPECT_TRUE(absl::StrContains(*all, "dead")) << *all;
  }
  for (int i = 0; i < 2; ++i) {
    auto r = peers[i].Run("exit 0");
    EXPECT_TRUE(r.ok()) << r.status();
    auto status = peers[i].process->Wait(kDeadline);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(status->success()) << status->ToString();
  }
}

// Issue 20: after memberlistleave, memberliststart and memberlistjoin
// reported success while the node stayed `left`. They refuse now, saying
// what to do, and memberlistcreate makes a new node that joins for real.
// `set` of a membership key while a node exists says when it applies.
TEST_F(MembershipE2eTest, AfterLeaveStartAndJoinRefuseAndCreateMakesANewNode) {
  Peer alice = StartPeer("alice");
  Peer bob = StartPeer("bob");
  ASSERT_NE(alice.stub, nullptr);
  ASSERT_NE(bob.stub, nullptr);
  ASSERT_TRUE(alice.WaitFor("memberlist", "2 member(s)"));
  ASSERT_TRUE(bob.WaitFor("memberlist", "2 member(s)"));
  const std::string bob_addr = GossipAddress(bob);
  ASSERT_FALSE(bob_addr.empty());

  ASSERT_TRUE(alice.Run("memberlistleave").ok());
  ASSERT_TRUE(bob.WaitFor("memberlist", "1 member(s)"));
  auto started = alice.Run("memberliststart");
  EXPECT_TRUE(absl::IsFailedPrecondition(started.status()))
      << (started.ok() ? *started : started.status().ToString());
  EXPECT_TRUE(absl::StrContains(started.status().message(), "left the group"))
      << started.status();
  EXPECT_TRUE(absl::StrContains(started.status().message(), "memberlistcreate"))
      << started.status();
  auto joined = alice.Run("memberlistjoin " + bob_addr);
  EXPECT_TRUE(absl::IsFailedPrecondition(joined.status()))
      << (joined.ok() ? *joined : joined.status().ToString());
  EXPECT_TRUE(absl::StrContains(joined.status().message(), "memberlistcreate"))
      << joined.status();

  auto set = alice.Run("set memberlist.probe_interval 300ms");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(absl::StrContains(*set,
                                "takes effect at the next "
                                "memberlistcreate"))
      << *set;

  // A new node: it joins, and both see each other alive again.
  ASSERT_TRUE(alice.Run("memberlistcreate").ok());
  auto restarted = alice.Run("memberliststart");
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_TRUE(absl::StrContains(*restarted, "membership started"));
  // A partial failure says which part failed (nothing listens on port 1).
  auto rejoined = alice.Run("memberlistjoin " + bob_addr + " 127.0.0.1:1");
  ASSERT_TRUE(rejoined.ok()) << rejoined.status();
  EXPECT_TRUE(absl::StrContains(*rejoined, "joined via 1 of 2")) << *rejoined;
  EXPECT_TRUE(absl::StrContains(*rejoined, "not reached: 127.0.0.1:1"))
      << *rejoined;
  EXPECT_TRUE(bob.WaitFor("memberlist", "2 member(s)"));
  EXPECT_TRUE(alice.WaitFor("memberlist", "2 member(s)"));
  auto again = alice.Run("memberliststart");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(absl::StrContains(*again, "already started")) << *again;
  for (Peer* p : {&alice, &bob}) {
    EXPECT_TRUE(p->Run("exit 0").ok());
    EXPECT_TRUE(p->process->Wait(kDeadline).ok());
  }
}

// Issue 12: a second live peer under a taken name is refused with the
// holder's address; the group keeps the holder.
TEST_F(MembershipE2eTest, DuplicateNameIsRefusedWithTheHoldersAddress) {
  Peer alice = StartPeer("alice");
  Peer bob = StartPeer("bob");
  ASSERT_NE(alice.stub, nullptr);
  ASSERT_NE(bob.stub, nullptr);
  ASSERT_TRUE(bob.WaitFor("memberlist", "2 member(s)"));
  const std::string alice_addr = GossipAddress(alice);
  const std::string bob_addr = GossipAddress(bob);
  const std::string other = dir_->File("other");
  ASSERT_EQ(mkdir(other.c_str(), 0700), 0);
  ASSERT_TRUE(e2e::ShareGroupKey(dir_->path(), other));  // one user's group
  Peer twin = StartPeer("alice", /*with_script=*/false, other);
  ASSERT_NE(twin.stub, nullptr);
  ASSERT_TRUE(twin.Run("memberlistcreate").ok());
  ASSERT_TRUE(twin.Run("memberliststart").ok());
  auto joined = twin.Run("memberlistjoin " + bob_addr);
  EXPECT_TRUE(absl::IsAlreadyExists(joined.status()))
      << (joined.ok() ? *joined : joined.status().ToString());
  EXPECT_TRUE(
      absl::StrContains(joined.status().message(),
                        "name alice is held by live member at " + alice_addr))
      << joined.status();
  auto members = bob.Run("memberlist");
  ASSERT_TRUE(members.ok());
  EXPECT_TRUE(absl::StrContains(*members, alice_addr)) << *members;
  EXPECT_TRUE(absl::StrContains(*members, "2 member(s)")) << *members;
  for (Peer* p : {&alice, &bob, &twin}) {
    EXPECT_TRUE(p->Run("exit 0").ok());
    EXPECT_TRUE(p->process->Wait(kDeadline).ok());
  }
}

}  // namespace
}  // namespace peerlab::peer
