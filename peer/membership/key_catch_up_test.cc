// Key-rotation catch-up (key_catch_up.h): the cryptography and bounded
// tables, then the protocol in the deterministic simulator: a member down
// during `keys install/use/remove` comes back with only the old key and
// catches up; a party with the old group key but no pinned node key gets
// nothing; answers are rate-limited. The seed is printed on failure;
// replay with PEERLAB_SIM_SEED=N.
#include "peer/membership/key_catch_up.h"

#include <optional>
#include <utility>

#include "gtest/gtest.h"
#include "peer/membership/keyring.h"
#include "peer/membership/protocol_version.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;

const std::string kKeyA(32, 'A');
const std::string kKeyB(32, 'B');
const std::string kKeyC(32, 'C');

// --- The pure pieces ---

TEST(KeyCatchUpCryptoTest, SealedToAnEphemeralKeyOpensOnlyForItsHolder) {
  auto asker = GenerateEphemeralKey();
  ASSERT_TRUE(asker.ok()) << asker.status();
  const std::string context =
      CatchUpContext("lab", "node2", "0123456789abcdef");
  auto sealed = SealToEphemeral(asker->public_key, kKeyB, context);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->sealed.find(kKeyB), std::string::npos);  // not in clear

  auto opened =
      OpenFromEphemeral(*asker, sealed->ephemeral_key, sealed->sealed, context);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kKeyB);

  // Another ephemeral key (an eavesdropper's), another context, a flipped
  // byte: nothing opens.
  auto other = GenerateEphemeralKey();
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      OpenFromEphemeral(*other, sealed->ephemeral_key, sealed->sealed, context)
          .status()));
  EXPECT_FALSE(
      OpenFromEphemeral(*asker, sealed->ephemeral_key, sealed->sealed,
                        CatchUpContext("lab", "node3", "0123456789abcdef"))
          .ok());
  std::string tampered = sealed->sealed;
  tampered[tampered.size() / 2] ^= 1;
  EXPECT_FALSE(
      OpenFromEphemeral(*asker, sealed->ephemeral_key, tampered, context).ok());
  // Malformed or low-order public keys: refused, never a crash.
  EXPECT_FALSE(SealToEphemeral("short", kKeyB, context).ok());
  EXPECT_FALSE(
      SealToEphemeral(std::string(kX25519KeySize, '\0'), kKeyB, context).ok());
  EXPECT_FALSE(OpenFromEphemeral(*asker, std::string(kX25519KeySize, '\0'),
                                 sealed->sealed, context)
                   .ok());
  EXPECT_FALSE(OpenFromEphemeral(*asker, "", "", context).ok());
}

TEST(KeyCatchUpCryptoTest, ClaimCoversEveryField) {
  ::peer::v1::KeyCatchUpRequest r;
  r.set_name("node2");
  r.set_generation(7);
  r.set_public_key(std::string(32, 'p'));
  r.set_ephemeral_key(std::string(32, 'e'));
  r.set_nonce(std::string(16, 'n'));
  r.set_label("lab");
  const std::string claim = CatchUpClaim(r);
  for (int field = 0; field < 6; ++field) {
    ::peer::v1::KeyCatchUpRequest c = r;
    switch (field) {
      case 0:
        c.set_name("node3");
        break;
      case 1:
        c.set_generation(8);
        break;
      case 2:
        c.set_public_key(std::string(32, 'q'));
        break;
      case 3:
        c.set_ephemeral_key(std::string(32, 'f'));
        break;
      case 4:
        c.set_nonce(std::string(16, 'm'));
        break;
      case 5:
        c.set_label("lab2");
        break;
    }
    EXPECT_NE(CatchUpClaim(c), claim) << field;
  }
  r.set_signature("ignored");
  EXPECT_EQ(CatchUpClaim(r), claim);
}

TEST(KeyCatchUpCryptoTest, RetiredKeysAreBoundedInTimeAndNumber) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  RetiredKeys r(absl::Hours(24), 2);
  r.Add(kKeyA, t0);
  r.Add(kKeyB, t0 + absl::Hours(1));
  EXPECT_EQ(r.Keys(t0 + absl::Hours(2)),
            (std::vector<std::string>{kKeyB, kKeyA}));
  r.Add(kKeyC, t0 + absl::Hours(2));  // a third: the oldest goes
  EXPECT_EQ(r.evicted(), 1u);
  EXPECT_FALSE(r.Contains(kKeyA, t0 + absl::Hours(2)));
  EXPECT_TRUE(r.Contains(kKeyB, t0 + absl::Hours(2)));
  // Past the time: gone.
  EXPECT_EQ(r.Keys(t0 + absl::Hours(25) + absl::Seconds(1)),
            std::vector<std::string>{kKeyC});
  r.Erase(kKeyC);  // installed again
  EXPECT_TRUE(r.Keys(t0 + absl::Hours(3)) == std::vector<std::string>{kKeyB});

  RetiredKeys off(absl::ZeroDuration(), 8);
  off.Add(kKeyA, t0);
  EXPECT_TRUE(off.Keys(t0).empty());
  EXPECT_EQ(off.size(), 0u);
}

TEST(KeyCatchUpCryptoTest, TokenBucketRefills) {
  TokenBucket b(10, 20);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  int taken = 0;
  for (int i = 0; i < 100; ++i) taken += b.Take(t0) ? 1 : 0;
  EXPECT_EQ(taken, 20);
  EXPECT_FALSE(b.Take(t0 + absl::Milliseconds(50)));
  EXPECT_TRUE(b.Take(t0 + absl::Milliseconds(100)));
}

// --- The protocol in the simulator ---

SimCluster::Options Opts(int n, uint64_t seed, std::vector<std::string> keys) {
  SimCluster::Options o;
  o.nodes = n;
  o.seed = seed;
  o.config = Config::Local();
  o.keys = std::move(keys);
  return o;
}

sim::NodeId Id(int i) { return static_cast<sim::NodeId>(i); }

absl::StatusOr<KeyOpResult> KeyOpFrom(SimCluster& c, int i, KeyOp op,
                                      std::string key) {
  const absl::Duration timeout = absl::Seconds(5);
  std::optional<absl::StatusOr<KeyOpResult>> out;
  c.net().scheduler(Id(i))->Post([&] {
    c.node(i).KeyOperation(
        op, key, timeout,
        [&](absl::StatusOr<KeyOpResult> r) { out = std::move(r); });
  });
  c.RunUntil([&] { return out.has_value(); }, timeout + absl::Seconds(1),
             absl::Milliseconds(1));
  if (!out) return absl::DeadlineExceededError("no result");
  return *out;
}

// install B, use B, remove A from node `from`, each answered by all.
void Rotate(SimCluster& c, int from) {
  ASSERT_TRUE(KeyOpFrom(c, from, KeyOp::kInstall, kKeyB).ok());
  ASSERT_TRUE(KeyOpFrom(c, from, KeyOp::kUse, kKeyB).ok());
  ASSERT_TRUE(KeyOpFrom(c, from, KeyOp::kRemove, kKeyA).ok());
}

uint64_t Sum(SimCluster& c, uint64_t Stats::*field) {
  uint64_t total = 0;
  for (int i = 0; i < c.size(); ++i) total += c.node(i).stats().*field;
  return total;
}

// serf#579: three members, one stopped, the other two rotate A -> B; the
// stopped one (another machine: its key file still holds A only) returns
// and is alive everywhere within seconds, its key file rewritten.
TEST(KeyCatchUpTest, MemberDownDuringRotationCatchesUpWithItsOldKey) {
  const uint64_t seed = SimSeed(31);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed, {kKeyA}));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  c.Crash(2);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  Rotate(c, 0);
  EXPECT_EQ(c.node(1).keyring()->keys(), std::vector<std::string>{kKeyB});
  EXPECT_EQ(c.node(1).RetiredKeyList(), std::vector<std::string>{kKeyA});

  c.SetKeys(2, {kKeyA});  // what its own key file holds
  std::vector<std::string> file = {kKeyA};
  const absl::Time back = c.Now();
  c.Restart(2, 0);
  c.node(2).SetKeyringListener(
      [&](const Keyring& ring) { file = ring.keys(); });
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(10)))
      << "node2 did not catch up; its join: "
      << (c.join_result(2) ? c.join_result(2)->status().ToString()
                           : "still running");
  EXPECT_LT(c.Now() - back, absl::Seconds(10));
  ASSERT_TRUE(c.join_result(2).has_value());
  EXPECT_TRUE(c.join_result(2)->ok()) << c.join_result(2)->status();
  EXPECT_EQ(c.node(2).keyring()->keys(), std::vector<std::string>{kKeyB});
  EXPECT_EQ(file, std::vector<std::string>{kKeyB});  // the file rewritten
  EXPECT_EQ(c.node(2).stats().keyring_catch_ups, 1u);
  EXPECT_EQ(c.node(2).RetiredKeyList(), std::vector<std::string>{kKeyA});
  EXPECT_GE(Sum(c, &Stats::catch_ups_answered), 1u);
}

// serf#579 as its issue phrases it: "a member down during `keys
// install/use/remove` never catches up". Five members on key A; member 4
// crashes; the others install B, use B, remove A; member 4 restarts with
// only A (its key file), rejoins, ends with B primary and talks to every
// member, and `keys list` (KeyOp::kList) then counts each key's holders:
// B held by all five, primary on all five, A by none.
TEST(KeyCatchUpTest, Serf579MemberDownDuringInstallUseRemoveCatchesUp) {
  const uint64_t seed = SimSeed(34);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(5, seed, {kKeyA}));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(30)));
  c.Crash(4);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  Rotate(c, 0);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(c.node(i).keyring()->keys(), std::vector<std::string>{kKeyB})
        << "node" << i;
  }
  c.SetKeys(4, {kKeyA});  // its key file still holds A only
  c.Restart(4, 1);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)))
      << "node4 did not catch up; its join: "
      << (c.join_result(4) ? c.join_result(4)->status().ToString()
                           : "still running");
  ASSERT_NE(c.node(4).keyring(), nullptr);
  EXPECT_EQ(c.node(4).keyring()->keys(), std::vector<std::string>{kKeyB});
  EXPECT_EQ(c.node(4).keyring()->primary(), kKeyB);
  // Talking to all: every member holds it alive, it holds every member.
  EXPECT_EQ(c.node(4).NumAlive(), 5);
  for (int i = 0; i < 4; ++i) {
    bool alive = false;
    for (const Member& m : c.node(i).Members()) {
      if (m.name == "node4") alive = m.state == MemberState::kAlive;
    }
    EXPECT_TRUE(alive) << "node" << i << " does not hold node4 alive";
  }
  // keys list, from the member that was down and from another one.
  for (int from : {4, 2}) {
    absl::StatusOr<KeyOpResult> list = KeyOpFrom(c, from, KeyOp::kList, "");
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_EQ(list->members, 5) << "from node" << from;
    EXPECT_EQ(list->acks, 5) << "from node" << from;
    EXPECT_EQ(list->keys, (std::map<std::string, int>{{kKeyB, 5}}))
        << "from node" << from;
    EXPECT_EQ(list->primary_keys, (std::map<std::string, int>{{kKeyB, 5}}))
        << "from node" << from;
  }
}

// A member that shut down cleanly (a leave) before the rotation, and
// whose record every member has since dropped, still catches up: members
// remember departed members' node keys for retired_key_time.
TEST(KeyCatchUpTest, MemberThatLeftLongBeforeTheRotationCatchesUp) {
  const uint64_t seed = SimSeed(32);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed, {kKeyA}));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  std::optional<absl::Status> left;
  c.net().scheduler(Id(2))->Post([&] {
    c.node(2).Leave(absl::Seconds(5), [&](absl::Status s) { left = s; });
  });
  ASSERT_TRUE(c.RunUntil([&] { return left.has_value(); }, absl::Seconds(10)));
  c.Crash(2);
  // Long after gossip_to_the_dead_time: nobody holds node2's record.
  c.RunFor(absl::Minutes(5));
  for (int i = 0; i < 2; ++i) {
    for (const Member& m : c.node(i).AllMembers()) EXPECT_NE(m.name, "node2");
  }
  Rotate(c, 1);
  c.SetKeys(2, {kKeyA});
  c.Restart(2, 0);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(10)));
  EXPECT_EQ(c.node(2).keyring()->keys(), std::vector<std::string>{kKeyB});
}

// A member partitioned away (not restarted) during the rotation: its
// traffic is refused by everyone; it notices and catches up by itself.
TEST(KeyCatchUpTest, RunningMemberCutOffDuringRotationCatchesUp) {
  const uint64_t seed = SimSeed(33);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(4, seed, {kKeyA}));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  c.net().Partition({{Id(0), Id(1), Id(2)}, {Id(3)}});
  Rotate(c, 0);
  c.net().Heal();
  ASSERT_TRUE(c.RunUntil(
      [&] {
        return c.Converged() &&
               c.node(3).keyring()->keys() == std::vector<std::string>{kKeyB};
      },
      absl::Seconds(60)));
  EXPECT_EQ(c.node(3).stats().keyring_catch_ups, 1u);
}

// The negative side: a party holding the old group key A but whose node
// key no member pinned (an outsider who stole the old key file, or a
// process under a member's name with another node key) gets nothing, and
// stays out.
TEST(KeyCatchUpTest, OldGroupKeyWithoutPinnedNodeKeyGetsNothing) {
  const uint64_t seed = SimSeed(34);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed, {kKeyA}));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  c.Crash(2);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  Rotate(c, 0);

  // A stranger with A.
  const int stranger = c.AddNode("mallory");
  c.SetKeys(stranger, {kKeyA});
  c.StartAndJoin(stranger, 0);
  ASSERT_TRUE(c.RunUntil([&] { return c.join_result(stranger).has_value(); },
                         absl::Seconds(10)));
  EXPECT_FALSE(c.join_result(stranger)->ok());
  EXPECT_NE(c.join_result(stranger)->status().message().find(
                "no member of that name is known"),
            std::string::npos)
      << c.join_result(stranger)->status();
  // node2's name with A, but another node key (not node2's state dir).
  c.SetKeys(2, {kKeyA});
  c.SetNodeKey(2, c.KeyOf("not-node2"));
  c.Restart(2, 1);
  ASSERT_TRUE(c.RunUntil([&] { return c.join_result(2).has_value(); },
                         absl::Seconds(10)));
  EXPECT_FALSE(c.join_result(2)->ok());
  EXPECT_NE(c.join_result(2)->status().message().find("not the one pinned"),
            std::string::npos)
      << c.join_result(2)->status();
  c.RunFor(absl::Seconds(30));  // their retries too

  for (int i : {stranger, 2}) {
    EXPECT_EQ(c.node(i).keyring()->keys(), std::vector<std::string>{kKeyA});
    EXPECT_EQ(c.node(i).stats().keyring_catch_ups, 0u);
  }
  EXPECT_EQ(Sum(c, &Stats::catch_ups_answered), 0u);
  EXPECT_GE(Sum(c, &Stats::catch_ups_refused), 2u);
  for (int i = 0; i < 2; ++i) {
    for (const Member& m : c.node(i).Members()) {
      EXPECT_NE(m.name, "mallory");
      EXPECT_NE(m.name, "node2");
    }
  }
}

// Expelling: the operator rotates with `keys purge OLD` instead of `keys
// remove OLD`. No member keeps OLD retired, so the member that was away
// (node key pinned, old key kept) is not answered and stays out.
TEST(KeyCatchUpTest, PurgedKeyLetsNobodyCatchUp) {
  const uint64_t seed = SimSeed(37);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed, {kKeyA}));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  c.Crash(2);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  ASSERT_TRUE(KeyOpFrom(c, 0, KeyOp::kInstall, kKeyB).ok());
  ASSERT_TRUE(KeyOpFrom(c, 0, KeyOp::kUse, kKeyB).ok());
  ASSERT_TRUE(KeyOpFrom(c, 0, KeyOp::kPurge, kKeyA).ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(c.node(i).keyring()->keys(), std::vector<std::string>{kKeyB});
    EXPECT_TRUE(c.node(i).RetiredKeyList().empty()) << i;
  }
  c.SetKeys(2, {kKeyA});
  c.Restart(2, 0);
  ASSERT_TRUE(c.RunUntil([&] { return c.join_result(2).has_value(); },
                         absl::Seconds(10)));
  EXPECT_FALSE(c.join_result(2)->ok());
  c.RunFor(absl::Seconds(30));
  EXPECT_EQ(c.node(2).keyring()->keys(), std::vector<std::string>{kKeyA});
  EXPECT_EQ(Sum(c, &Stats::catch_ups_answered), 0u);
  for (int i = 0; i < 2; ++i) {
    for (const Member& m : c.node(i).Members()) EXPECT_NE(m.name, "node2");
  }
  // A purge also forgets a key already removed (retired), and refuses a
  // key neither held nor retired.
  ASSERT_TRUE(KeyOpFrom(c, 0, KeyOp::kInstall, kKeyC).ok());
  ASSERT_TRUE(KeyOpFrom(c, 0, KeyOp::kRemove, kKeyC).ok());
  EXPECT_EQ(c.node(1).RetiredKeyList(), std::vector<std::string>{kKeyC});
  ASSERT_TRUE(KeyOpFrom(c, 0, KeyOp::kPurge, kKeyC).ok());
  EXPECT_TRUE(c.node(1).RetiredKeyList().empty());
  EXPECT_FALSE(KeyOpFrom(c, 0, KeyOp::kPurge, kKeyC).ok());
}

// retired_key_time bounds the catch-up: a member back after it (or with
// catch-up off, 0) is refused as before and needs the key file.
TEST(KeyCatchUpTest, NoCatchUpAfterRetiredKeyTime) {
  const uint64_t seed = SimSeed(35);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster::Options o = Opts(3, seed, {kKeyA});
  o.config.retired_key_time = absl::Minutes(2);
  SimCluster c(o);
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  c.Crash(2);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  Rotate(c, 0);
  c.RunFor(absl::Minutes(3));
  EXPECT_TRUE(c.node(0).RetiredKeyList().empty());
  c.SetKeys(2, {kKeyA});
  c.Restart(2, 0);
  ASSERT_TRUE(c.RunUntil([&] { return c.join_result(2).has_value(); },
                         absl::Seconds(10)));
  EXPECT_FALSE(c.join_result(2)->ok());
  EXPECT_EQ(c.node(2).keyring()->keys(), std::vector<std::string>{kKeyA});
  EXPECT_EQ(Sum(c, &Stats::catch_ups_answered), 0u);
}

// Answers are bounded: one per name every 2 s, 20 at once for the whole
// node (requests naming a member with its pinned key); requests from a raw
// sender (crafted as the real node2 would, and under made-up names) get
// refusals, counted.
TEST(KeyCatchUpTest, AnswersAreRateLimitedPerNameAndGlobally) {
  const uint64_t seed = SimSeed(36);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed, {kKeyA}));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  c.Crash(2);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  Rotate(c, 0);
  const sim::NodeId raw = c.net().AddNode();
  const std::string to = c.net().address(Id(0));
  const identity::NodeKey node2 = c.KeyOf("node2");

  auto request = [&](const std::string& name) {
    ::peer::v1::KeyCatchUpRequest r;
    r.set_name(name);
    r.set_generation(uint64_t{1} << 50);
    r.set_public_key(node2.public_key().bytes());
    r.set_ephemeral_key(GenerateEphemeralKey()->public_key);
    r.set_nonce(RandomBytes(kCatchUpNonceSize));
    r.set_signature(*node2.Sign(CatchUpClaim(r)));
    std::string aad("peerlab key catch-up request");
    aad.push_back('\0');
    ::peer::v1::ReliableRequest outer;
    outer.set_key_catch_up(
        Seal(kKeyA, RandomNonce(), r.SerializeAsString(), aad));
    outer.set_version(kProtocolVersion);
    return outer;
  };
  int answered = 0, limited = 0, refused = 0;
  auto send = [&](const std::string& name) {
    c.net().transport(raw)->SendReliable(
        to, request(name), absl::Seconds(1),
        [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
          if (r.ok()) {
            ++answered;
          } else if (absl::IsResourceExhausted(r.status())) {
            ++limited;
          } else {
            ++refused;
          }
        });
  };
  for (int i = 0; i < 5; ++i) send("node2");
  c.RunFor(absl::Milliseconds(500));
  EXPECT_EQ(answered, 1);
  EXPECT_EQ(limited, 4);
  for (int i = 0; i < 100; ++i) send("stranger" + std::to_string(i));
  c.RunFor(absl::Milliseconds(500));
  EXPECT_EQ(answered, 1);
  // Made-up names are refused (no such member) without taking the
  // node's answers (MadeUpNamesDoNotUseUpTheAnswers).
  EXPECT_EQ(refused, 100);
  EXPECT_EQ(limited, 4);
  EXPECT_EQ(c.node(0).stats().catch_ups_limited, 4u);
  c.RunFor(absl::Seconds(3));  // refilled; node2's 2 s passed
  // A captured request replayed (by anyone) is refused without taking
  // node2's turn; node2's own next request is answered.
  const ::peer::v1::ReliableRequest captured = request("node2");
  for (int i = 0; i < 2; ++i) {
    c.net().transport(raw)->SendReliable(
        to, captured, absl::Seconds(1),
        [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
          if (r.ok()) ++answered;
          if (!r.ok() &&
              r.status().message().find("replayed") != std::string::npos) {
            ++refused;
          }
        });
    c.RunFor(absl::Milliseconds(500));
  }
  EXPECT_EQ(answered, 2);
  EXPECT_EQ(refused, 101);
  c.RunFor(absl::Seconds(2));
  send("node2");
  c.RunFor(absl::Milliseconds(500));
  EXPECT_EQ(answered, 3);
}

// Requests under made-up names (anyone holding a retired key can send
// them, the signature is never checked) are refused without taking the
// node's answers: a member that is behind still gets its keys while
// they flood in.
TEST(KeyCatchUpTest, MadeUpNamesDoNotUseUpTheAnswers) {
  const uint64_t seed = SimSeed(37);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed, {kKeyA}));
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  c.Crash(2);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  Rotate(c, 0);
  const sim::NodeId raw = c.net().AddNode();
  const std::string to = c.net().address(Id(0));
  const identity::NodeKey node2 = c.KeyOf("node2");

  auto request = [&](const std::string& name) {
    ::peer::v1::KeyCatchUpRequest r;
    r.set_name(name);
    r.set_generation(uint64_t{1} << 50);
    r.set_public_key(node2.public_key().bytes());
    r.set_ephemeral_key(GenerateEphemeralKey()->public_key);
    r.set_nonce(RandomBytes(kCatchUpNonceSize));
    r.set_signature(*node2.Sign(CatchUpClaim(r)));
    std::string aad("peerlab key catch-up request");
    aad.push_back('\0');
    ::peer::v1::ReliableRequest outer;
    outer.set_key_catch_up(
        Seal(kKeyA, RandomNonce(), r.SerializeAsString(), aad));
    outer.set_version(kProtocolVersion);
    return outer;
  };
  int answered = 0, limited = 0;
  auto send = [&](const std::string& name) {
    c.net().transport(raw)->SendReliable(
        to, request(name), absl::Seconds(1),
        [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
          if (r.ok()) ++answered;
          if (absl::IsResourceExhausted(r.status())) ++limited;
        });
  };
  for (int i = 0; i < 100; ++i) send("stranger" + std::to_string(i));
  c.RunFor(absl::Milliseconds(100));
  for (int i = 100; i < 110; ++i) send("stranger" + std::to_string(i));
  c.RunFor(absl::Milliseconds(10));
  send("node2");
  c.RunFor(absl::Milliseconds(500));
  EXPECT_EQ(answered, 1) << limited << " limited";
  EXPECT_EQ(limited, 0);
  EXPECT_EQ(c.node(0).stats().catch_ups_limited, 0u);
}

}  // namespace
}  // namespace peerlab::membership
