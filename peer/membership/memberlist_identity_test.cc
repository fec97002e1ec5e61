// Signed claims about oneself (docs/security.md, "Signed claims about
// oneself"): in the simulator, a party that can send datagrams to the
// members (anyone in the open mode; a member holding the group key with
// encryption) forges alive, leave and metadata claims about another
// member, and accusations of it. None redirects its traffic, marks it left,
// changes its metadata or evicts it for good.
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/identity/node_key.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;

SimCluster::Options Opts(int n, uint64_t seed) {
  SimCluster::Options o;
  o.nodes = n;
  o.seed = seed;
  o.config = Config::Local();
  return o;
}

::testing::AssertionResult StartAndConverge(SimCluster& c) {
  c.StartAll();
  if (c.RunUntil([&] { return c.Converged(); }, absl::Seconds(30))) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "not converged";
}

std::optional<Member> RecordOf(SimCluster& c, int observer,
                               const std::string& name) {
  for (const Member& m : c.node(observer).AllMembers()) {
    if (m.name == name) return m;
  }
  return std::nullopt;
}

// Node `from` sends `m` in one datagram to each of `to`.
void Send(SimCluster& c, int from, const std::vector<int>& to,
          const ::peer::v1::Message& m) {
  const std::string sender = "node" + std::to_string(from);
  c.net().scheduler(from)->Post([&c, from, to, m, sender] {
    for (int i : to) {
      c.net().transport(from)->SendPacket(
          c.net().address(i), EncodePacket(sender, {EncodeMessage(m)}));
    }
  });
}

// An alive about `victim` with its current fields, as a forger starts it.
::peer::v1::Message AliveLike(const Member& victim) {
  ::peer::v1::Message m;
  auto* a = m.mutable_alive();
  a->set_node(victim.name);
  a->set_addr(victim.addr);
  a->set_id(victim.id);
  a->set_meta(victim.meta);
  a->set_generation(victim.generation);
  a->set_incarnation(victim.incarnation);
  return m;
}

// Node `victim` is held by 0 and 2 at its own address and metadata.
void ExpectUntouched(SimCluster& c, const Member& victim) {
  for (int i : {0, 2}) {
    auto r = RecordOf(c, i, victim.name);
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->addr, victim.addr) << i << " redirected";
    EXPECT_EQ(r->meta, victim.meta) << i;
    EXPECT_EQ(r->id, victim.id) << i;
    EXPECT_EQ(r->state, MemberState::kAlive) << i;
  }
}

// An unsigned alive naming the forger's address (the same process, one
// incarnation up) redirected every member's traffic for node1, the chat's
// included, to the forger; a forged "restart" (a newer generation) did so
// at once and for good. Both are refused now.
TEST(MemberlistIdentityTest, ForgedAliveWithAnotherAddressIsRefused) {
  const uint64_t seed = SimSeed(40);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(4, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Member victim = c.node(1).LocalNode();
  ::peer::v1::Message up = AliveLike(victim);
  up.mutable_alive()->set_addr(c.net().address(3));
  up.mutable_alive()->set_incarnation(victim.incarnation + 1);
  Send(c, 3, {0, 2}, up);
  ::peer::v1::Message restart = AliveLike(victim);
  restart.mutable_alive()->set_addr(c.net().address(3));
  restart.mutable_alive()->set_generation(victim.generation + 1);
  restart.mutable_alive()->set_id("forged");
  Send(c, 3, {0, 2}, restart);
  c.RunFor(absl::Milliseconds(50));
  ExpectUntouched(c, victim);
  c.RunFor(absl::Seconds(30));
  ExpectUntouched(c, victim);
  EXPECT_TRUE(c.Converged());
  for (int i : {0, 2}) {
    EXPECT_GE(c.node(i).stats().signature_failures, 2u) << i;
  }
}

// The same claims, signed with the forger's own key: the name's pinned key
// is another, and its member is alive, so they are refused and counted as
// key conflicts, also by the victim, which keeps its name.
TEST(MemberlistIdentityTest, ClaimSignedWithAnotherKeyIsRefused) {
  const uint64_t seed = SimSeed(41);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(4, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Member victim = c.node(1).LocalNode();
  auto forger = identity::NodeKey::FromSeed(std::string(32, 'f'));
  ASSERT_TRUE(forger.ok());
  ::peer::v1::Message restart = AliveLike(victim);
  restart.mutable_alive()->set_addr(c.net().address(3));
  restart.mutable_alive()->set_generation(victim.generation + 1);
  restart.mutable_alive()->set_id("forged");
  ASSERT_TRUE(SignAlive(*forger, *restart.mutable_alive()).ok());
  Send(c, 3, {0, 1, 2}, restart);
  c.RunFor(absl::Seconds(30));
  ExpectUntouched(c, victim);
  EXPECT_FALSE(c.node(1).replaced());
  for (int i : {0, 1, 2}) {
    EXPECT_GE(c.node(i).stats().key_conflicts, 1u) << i;
  }
  EXPECT_TRUE(c.Converged());
}

// A genuine signed alive of node1 with one field changed after signing
// (address, metadata) does not verify.
TEST(MemberlistIdentityTest, TamperedSignedAliveIsRefused) {
  const uint64_t seed = SimSeed(42);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(4, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Member victim = c.node(1).LocalNode();
  ::peer::v1::Message m = AliveLike(victim);
  m.mutable_alive()->set_incarnation(victim.incarnation + 1);
  ASSERT_TRUE(SignAlive(c.KeyOf("node1"), *m.mutable_alive()).ok());
  ::peer::v1::Message addr = m;
  addr.mutable_alive()->set_addr(c.net().address(3));
  ::peer::v1::Message meta = m;
  meta.mutable_alive()->set_meta("chat=evil");
  Send(c, 3, {0, 2}, addr);
  Send(c, 3, {0, 2}, meta);
  c.RunFor(absl::Seconds(5));
  ExpectUntouched(c, victim);
  for (int i : {0, 2}) {
    EXPECT_EQ(c.node(i).stats().signature_failures, 2u) << i;
  }
}

// An unsigned leave of node1 (a dead from node1 about node1) marked it left
// on every member it reached. Refused now; nobody ever sees node1 leave.
TEST(MemberlistIdentityTest, ForgedLeaveIsRefused) {
  const uint64_t seed = SimSeed(43);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 4;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Member victim = c.node(1).LocalNode();
  ::peer::v1::Message m;
  auto* d = m.mutable_dead();
  d->set_node("node1");
  d->set_from("node1");
  d->set_incarnation(victim.incarnation);
  d->set_generation(victim.generation);
  d->set_signature(std::string(64, 'x'));
  Send(c, 3, {0, 2}, m);
  d->clear_signature();
  Send(c, 3, {0, 2}, m);
  c.RunFor(absl::Seconds(30));
  for (int i = 0; i < n; ++i) EXPECT_FALSE(c.observed(i, 1).left) << i;
  ExpectUntouched(c, victim);
  for (int i : {0, 2}) {
    EXPECT_EQ(c.node(i).stats().signature_failures, 2u) << i;
  }
}

// A real leave is signed and spreads as before.
TEST(MemberlistIdentityTest, SignedLeaveSpreads) {
  const uint64_t seed = SimSeed(44);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 4;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  c.net().scheduler(1)->Post(
      [&] { c.node(1).Leave(absl::Seconds(5), [](absl::Status) {}); });
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i : {0, 2, 3}) {
          if (!c.observed(i, 1).left) return false;
        }
        return true;
      },
      absl::Seconds(5)));
  for (int i : {0, 2, 3}) {
    EXPECT_EQ(c.node(i).stats().signature_failures, 0u) << i;
  }
}

// An insider (any member: it holds the group key when there is one, and
// here the open mode lets it send anything) forges claims about node1 and
// accuses it: alive with its own address, a leave, new metadata, suspect
// and dead at node1's current incarnation, and one above it. node1 keeps
// its address and metadata everywhere, never leaves, refutes the
// accusations, and is alive everywhere at the end; no incarnation was
// raised by an accusation.
TEST(MemberlistIdentityTest, InsiderCannotEvictOrImpersonate) {
  const uint64_t seed = SimSeed(45);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Member victim = c.node(1).LocalNode();
  const std::vector<int> all = {0, 1, 2, 4};
  ::peer::v1::Message alive = AliveLike(victim);
  alive.mutable_alive()->set_addr(c.net().address(3));
  alive.mutable_alive()->set_incarnation(victim.incarnation + 1);
  ASSERT_TRUE(SignAlive(c.KeyOf("node3"), *alive.mutable_alive()).ok());
  Send(c, 3, all, alive);
  ::peer::v1::Message meta = AliveLike(victim);
  meta.mutable_alive()->set_meta("chat=127.0.0.1:1");
  meta.mutable_alive()->set_incarnation(victim.incarnation + 1);
  Send(c, 3, all, meta);
  ::peer::v1::Message leave;
  leave.mutable_dead()->set_node("node1");
  leave.mutable_dead()->set_from("node1");
  leave.mutable_dead()->set_incarnation(victim.incarnation);
  leave.mutable_dead()->set_generation(victim.generation);
  Send(c, 3, all, leave);
  c.RunFor(absl::Milliseconds(50));
  ExpectUntouched(c, victim);
  ::peer::v1::Message above;
  above.mutable_suspect()->set_node("node1");
  above.mutable_suspect()->set_from("node3");
  above.mutable_suspect()->set_incarnation(victim.incarnation + 1);
  above.mutable_suspect()->set_generation(victim.generation);
  Send(c, 3, {0, 2, 4}, above);
  c.RunFor(absl::Milliseconds(50));
  for (int i : {0, 2, 4}) {
    EXPECT_EQ(RecordOf(c, i, "node1")->incarnation, victim.incarnation) << i;
    EXPECT_FALSE(c.observed(i, 1).suspect) << i;
  }
  ::peer::v1::Message suspect = above;
  suspect.mutable_suspect()->set_incarnation(victim.incarnation);
  Send(c, 3, all, suspect);
  c.RunFor(absl::Seconds(2));
  ::peer::v1::Message dead;
  dead.mutable_dead()->set_node("node1");
  dead.mutable_dead()->set_from("node3");
  dead.mutable_dead()->set_incarnation(c.node(1).LocalNode().incarnation);
  dead.mutable_dead()->set_generation(victim.generation);
  Send(c, 3, all, dead);
  c.RunFor(absl::Seconds(60));
  EXPECT_TRUE(c.Converged());
  EXPECT_GE(c.node(1).stats().refutations, 2u);
  for (int i = 0; i < n; ++i) {
    if (i == 1) continue;
    EXPECT_FALSE(c.observed(i, 1).left) << i;
    auto r = RecordOf(c, i, "node1");
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->state, MemberState::kAlive) << i;
    EXPECT_EQ(r->addr, victim.addr) << i;
    EXPECT_EQ(r->meta, victim.meta) << i;
  }
  EXPECT_FALSE(c.node(1).replaced());
}

// A replacement with a new key (its key file lost) takes the name over
// only once the old process has been declared dead for
// gossip_to_the_dead_time, the time a live member has to refute; the same
// key (a restart with its state directory) takes it over at once
// (MemberlistSimTest.RestartedNameTakesOverWithinOneProbePeriod).
TEST(MemberlistIdentityTest, ReplacementWithANewKeyWaitsForTheOldOneToDie) {
  const uint64_t seed = SimSeed(46);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Config& cfg = c.node(0).config();
  c.Crash(3);
  const int fresh = c.AddNode("node3");
  auto other = identity::NodeKey::FromSeed(std::string(32, 'n'));
  ASSERT_TRUE(other.ok());
  c.SetNodeKey(fresh, *other);
  c.StartAndJoin(fresh, 1);
  const std::string addr = c.net().address(fresh);
  auto taken_over = [&] {
    for (int i : {0, 1, 2, 4}) {
      auto r = RecordOf(c, i, "node3");
      if (!r || r->addr != addr || r->state != MemberState::kAlive) {
        return false;
      }
    }
    return true;
  };
  c.RunFor(cfg.probe_interval * 2);
  EXPECT_FALSE(taken_over());
  EXPECT_GE(c.node(1).stats().key_conflicts, 1u);
  ASSERT_TRUE(c.RunUntil(taken_over, absl::Minutes(3)))
      << "the replacement never took the name over";
  for (int i : {0, 1, 2, 4}) {
    auto key = c.node(i).PinnedKeyOf("node3");
    ASSERT_TRUE(key.has_value()) << i;
    EXPECT_EQ(*key, other->public_key()) << i;
  }
}

// Each claim is verified once per simulator, however many members hear it
// and however often: a 20-member group's start costs about one
// verification per alive signed, not one per member that hears it.
TEST(MemberlistIdentityTest, EachClaimIsVerifiedOnce) {
  const uint64_t seed = SimSeed(47);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 20;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  c.RunFor(absl::Seconds(30));
  uint64_t verified = 0;
  for (int i = 0; i < n; ++i) verified += c.node(i).stats().signatures_verified;
  EXPECT_LE(verified, static_cast<uint64_t>(2 * n));
  EXPECT_GE(verified, static_cast<uint64_t>(n - 1));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(c.node(i).stats().signature_failures, 0u) << i;
    EXPECT_EQ(c.node(i).stats().key_conflicts, 0u) << i;
  }
}

// One 64 KiB datagram of alives about new names with forged signatures
// cost one Ed25519 verification each (~400, tens of ms of CPU). Now a
// datagram gets at most 32 verifications; the rest are dropped unverified
// and counted (gossip and push/pull bring genuine claims again).
TEST(MemberlistIdentityTest, DatagramOfForgedSignaturesCostsBoundedWork) {
  const uint64_t seed = SimSeed(48);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const uint64_t before = c.node(0).stats().signatures_verified;
  std::vector<std::string> messages;
  for (int k = 0; k < 300; ++k) {
    ::peer::v1::Message m;
    auto* a = m.mutable_alive();
    a->set_node("fake" + std::to_string(k));
    a->set_addr("10.66.0.1:" + std::to_string(1000 + k));
    a->set_id("x");
    a->set_incarnation(1);
    a->set_public_key(std::string(32, 'k'));
    a->set_signature(std::string(64, static_cast<char>(k)));
    messages.push_back(EncodeMessage(m));
  }
  c.net().scheduler(2)->Post([&] {
    c.net().transport(2)->SendPacket(c.net().address(0),
                                     EncodePacket("node2", messages));
  });
  c.RunFor(absl::Milliseconds(50));
  const Stats& s = c.node(0).stats();
  EXPECT_EQ(s.signatures_verified - before, 32u);
  EXPECT_EQ(s.verifications_refused, 300u - 32u);
  EXPECT_EQ(s.signature_failures, 32u);
  EXPECT_EQ(c.node(0).NumAlive(), 3);
}

// Relayed alives travel as notices (protocol 3); a member fetches each
// claim it learns of from the notice's sender once, not once per relay
// (before, every relay carried the key and the signature: an alive was
// about three times its unsigned size).
TEST(MemberlistIdentityTest, RelayedAlivesAreNoticesWhoseClaimsAreFetched) {
  const uint64_t seed = SimSeed(49);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 20;
  SimCluster c(Opts(n, seed));
  ASSERT_TRUE(StartAndConverge(c));
  c.RunFor(absl::Seconds(30));
  EXPECT_TRUE(c.Converged());
  uint64_t fetches = 0;
  for (int i = 0; i < n; ++i) {
    const Stats& s = c.node(i).stats();
    fetches += s.claim_fetches;
    EXPECT_LE(s.claims_wanted, static_cast<uint64_t>(2 * n)) << i;
    EXPECT_EQ(s.wants_refused, 0u) << i;
    EXPECT_EQ(s.signature_failures, 0u) << i;
  }
  EXPECT_GT(fetches, 0u);
}

// Notices change nothing by themselves: forged ones (a newer incarnation
// or generation of node1, a member nobody has) make the receivers fetch
// the claims from the forger's member, which holds only node1's genuine
// one. The fetch is bounded: more than 64 names, or entries with it, are
// refused.
TEST(MemberlistIdentityTest, ForgedNoticesChangeNothing) {
  const uint64_t seed = SimSeed(50);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(4, seed));
  ASSERT_TRUE(StartAndConverge(c));
  const Member victim = c.node(1).LocalNode();
  const uint64_t fetches0 = c.node(0).stats().claim_fetches;
  for (int k = 0; k < 3; ++k) {
    ::peer::v1::Message m;
    auto* notice = m.mutable_notice();
    notice->set_node(k == 2 ? "ghost" : victim.name);
    notice->set_generation(victim.generation + (k == 1 ? 1 : 0));
    notice->set_incarnation(victim.incarnation + 1);
    Send(c, 3, {0, 2}, m);
  }
  c.RunFor(absl::Seconds(5));
  ExpectUntouched(c, victim);
  EXPECT_FALSE(RecordOf(c, 0, "ghost").has_value());
  EXPECT_GT(c.node(0).stats().claim_fetches, fetches0);
  EXPECT_EQ(c.node(0).stats().signature_failures, 0u);

  auto fetch = [&](int names, int entries) {
    ::peer::v1::ReliableRequest request;
    auto* pp = request.mutable_push_pull();
    pp->set_from("node3");
    for (int k = 0; k < names; ++k) pp->add_want("node" + std::to_string(k));
    for (int k = 0; k < entries; ++k) pp->add_nodes()->set_name("x");
    std::optional<absl::StatusOr<::peer::v1::ReliableResponse>> answer;
    c.net().scheduler(3)->Post([&] {
      c.net().transport(3)->SendReliable(
          c.net().address(0), request, absl::Seconds(1),
          [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
            answer = std::move(r);
          });
    });
    c.RunFor(absl::Seconds(1));
    return answer;
  };
  auto ok = fetch(64, 0);
  ASSERT_TRUE(ok.has_value() && ok->ok());
  ASSERT_TRUE((*ok)->has_push_pull());
  EXPECT_EQ((*ok)->push_pull().nodes_size(), 4);  // node0..node3 known
  auto many = fetch(65, 0);
  ASSERT_TRUE(many.has_value());
  EXPECT_FALSE(many->ok());
  auto mixed = fetch(1, 1);
  ASSERT_TRUE(mixed.has_value());
  EXPECT_FALSE(mixed->ok());
}

}  // namespace
}  // namespace peerlab::membership
