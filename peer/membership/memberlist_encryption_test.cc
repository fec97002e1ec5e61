// Gossip encryption in the deterministic simulator: a cluster sharing a key
// converges; a member with another key (or none) is never admitted and
// learns why; keys rotate across the cluster with KeyOperation while it
// stays converged. The seed is printed on failure; replay with
// PEERLAB_SIM_SEED=N.
#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/protocol_version.h"
#include "peer/membership/sealing.h"
#include "peer/membership/sim/sim_seed.h"
#include "peer/membership/sim_cluster.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

using sim::SimSeed;

const std::string kKeyA(32, 'A');
const std::string kKeyB(32, 'B');
const std::string kKeyC(32, 'C');

SimCluster::Options Opts(int n, uint64_t seed, std::vector<std::string> keys) {
  SimCluster::Options o;
  o.nodes = n;
  o.seed = seed;
  o.config = Config::Local();
  o.keys = std::move(keys);
  return o;
}

// Long enough for any update to arrive through push/pull at the latest.
absl::Duration AntiEntropyBound(const Config& c, int n) {
  return PushPullScale(c.push_pull_interval, n) * 2;
}

sim::NodeId Id(int i) { return static_cast<sim::NodeId>(i); }

// Starts node i and joins it to `seed_node`, returning how the join ended.
absl::StatusOr<int> StartAndJoin(SimCluster& c, int i, int seed_node) {
  std::optional<absl::StatusOr<int>> out;
  const std::string addr = c.net().address(Id(seed_node));
  c.net().scheduler(Id(i))->Post([&] {
    if (!c.node(i).started()) {
      EXPECT_TRUE(c.node(i).Start().ok());
    }
    c.node(i).Join({addr}, [&](absl::StatusOr<int> r) { out = std::move(r); });
  });
  c.RunUntil([&] { return out.has_value(); }, absl::Seconds(10));
  if (!out) return absl::DeadlineExceededError("join did not finish");
  return *out;
}

// Runs a key operation from node i in its scheduler, to the end.
absl::StatusOr<KeyOpResult> KeyOpFrom(SimCluster& c, int i, KeyOp op,
                                      std::string key, absl::Duration timeout) {
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

// What a node sends, as an eavesdropper on the network sees it (sealed):
// every datagram and reliable request while `capture` is on.
class CapturingTransport : public TransportWrapper {
 public:
  using TransportWrapper::TransportWrapper;
  void SendPacket(const std::string& to, std::string bytes) override {
    if (capture) datagrams.emplace_back(to, bytes);
    TransportWrapper::SendPacket(to, std::move(bytes));
  }
  void SendReliable(const std::string& to, ::peer::v1::ReliableRequest request,
                    absl::Duration timeout, ReliableDone done) override {
    if (capture) requests.emplace_back(to, request);
    TransportWrapper::SendReliable(to, std::move(request), timeout,
                                   std::move(done));
  }
  bool capture = false;
  std::vector<std::pair<std::string, std::string>> datagrams;
  std::vector<std::pair<std::string, ::peer::v1::ReliableRequest>> requests;
};

// Nodes built directly on a SimNetwork, each with its own label and keys
// (SimCluster gives every node one config).
class Nodes {
 public:
  explicit Nodes(uint64_t seed)
      : net_([&] {
          sim::SimNetworkOptions o;
          o.seed = seed;
          return o;
        }()) {}
  ~Nodes() {
    for (auto& n : nodes_) n.reset();
  }
  sim::SimNetwork& net() { return net_; }
  Memberlist& node(int i) { return *nodes_[i]; }
  CapturingTransport& transport(int i) { return *transports_[i]; }

  // Adds and starts a node; `keys` empty: open (insecure_gossip).
  int Add(const std::string& name, const std::string& label,
          std::vector<std::string> keys) {
    const sim::NodeId id = net_.AddNode();
    Config config = Config::Local();
    config.name = name;
    config.label = label;
    config.insecure_gossip = keys.empty();
    transports_.push_back(
        std::make_unique<CapturingTransport>(net_.transport(id)));
    auto list = std::make_unique<Memberlist>(config, net_.scheduler(id),
                                             transports_.back().get(),
                                             net_.NodeSeed(id));
    if (!keys.empty()) {
      EXPECT_TRUE(list->SetKeyring(*Keyring::Create(std::move(keys))).ok());
    }
    net_.scheduler(id)->Post(
        [l = list.get()] { EXPECT_TRUE(l->Start().ok()); });
    nodes_.push_back(std::move(list));
    net_.clock().RunFor(absl::Milliseconds(1));
    return static_cast<int>(nodes_.size()) - 1;
  }

  // Node i joins node j; how the join ended.
  absl::StatusOr<int> Join(int i, int j) {
    std::optional<absl::StatusOr<int>> out;
    const std::string addr = net_.address(Id(j));
    net_.scheduler(Id(i))->Post([&] {
      nodes_[i]->Join({addr},
                      [&](absl::StatusOr<int> r) { out = std::move(r); });
    });
    net_.clock().RunUntilCondition([&] { return out.has_value(); },
                                   net_.Now() + absl::Seconds(10));
    if (!out) return absl::DeadlineExceededError("join did not finish");
    return *out;
  }

  // Whether node i lists exactly `names` as alive.
  bool Lists(int i, std::vector<std::string> names) {
    std::vector<std::string> got;
    for (const Member& m : nodes_[i]->Members()) got.push_back(m.name);
    std::sort(names.begin(), names.end());
    return got == names;
  }

 private:
  sim::SimNetwork net_;
  std::vector<std::unique_ptr<CapturingTransport>> transports_;
  std::vector<std::unique_ptr<Memberlist>> nodes_;
};

// Two labs on one network with one key (or both open) never merge: a join
// across labels is refused and says why, datagrams across are dropped and
// counted.
TEST(MemberlistEncryptionTest, GroupsWithAnotherLabelNeverMerge) {
  for (bool encrypted : {true, false}) {
    SCOPED_TRACE(encrypted ? "encrypted" : "open");
    const uint64_t seed = SimSeed(41);
    PEERLAB_SIM_TRACE_SEED(seed);
    Nodes g(seed);
    std::vector<std::string> keys;
    if (encrypted) keys = {kKeyA};
    const int a0 = g.Add("a0", "lab-a", keys);
    const int a1 = g.Add("a1", "lab-a", keys);
    const int b0 = g.Add("b0", "lab-b", keys);
    const int b1 = g.Add("b1", "lab-b", keys);
    const int none = g.Add("n0", "", keys);
    ASSERT_TRUE(g.Join(a1, a0).ok());
    ASSERT_TRUE(g.Join(b1, b0).ok());
    auto across = g.Join(b0, a0);
    ASSERT_FALSE(across.ok());
    EXPECT_NE(across.status().message().find("another group label"),
              std::string::npos)
        << across.status();
    EXPECT_FALSE(g.Join(none, a0).ok());
    EXPECT_GE(g.node(a0).stats().label_mismatches, 2u);  // the two joins
    // A datagram of lab-b (hand-built, open mode): an alive of b0 to a0.
    const uint64_t before = g.node(a0).stats().label_mismatches;
    if (!encrypted) {
      ::peer::v1::Message m;
      m.mutable_alive()->set_node("b0");
      m.mutable_alive()->set_addr(g.net().address(Id(b0)));
      m.mutable_alive()->set_incarnation(1);
      m.mutable_alive()->set_generation(1);
      ::peer::v1::Packet label;
      label.set_label("lab-b");
      g.net().transport(Id(b0))->SendPacket(
          g.net().address(Id(a0)),
          EncodePacket("b0", {EncodeMessage(m)}) + label.SerializeAsString());
    }
    g.net().clock().RunFor(absl::Seconds(30));
    EXPECT_TRUE(g.Lists(a0, {"a0", "a1"}));
    EXPECT_TRUE(g.Lists(a1, {"a0", "a1"}));
    EXPECT_TRUE(g.Lists(b0, {"b0", "b1"}));
    EXPECT_TRUE(g.Lists(b1, {"b0", "b1"}));
    EXPECT_TRUE(g.Lists(none, {"n0"}));
    EXPECT_EQ(g.node(a0).stats().label_mismatches,
              before + (encrypted ? 0 : 1));
    EXPECT_EQ(g.node(a0).label(), "lab-a");
  }
}

// A datagram or a request of a newer protocol version is refused, and the
// request's sender learns why; one of the older version (no field) is
// still understood in the open mode.
TEST(MemberlistEncryptionTest, NewerProtocolVersionIsRefusedClearly) {
  const uint64_t seed = SimSeed(43);
  PEERLAB_SIM_TRACE_SEED(seed);
  Nodes g(seed);
  const int a = g.Add("a", "", {});
  const int x = g.Add("x", "", {});
  const std::string to = g.net().address(Id(a));
  // A hand-built datagram: an alive for "ghost" from "x", of the version
  // after ours (a later field wins in protobuf, so appending the field
  // overrides).
  const uint32_t next = kProtocolVersion + 1;
  ::peer::v1::Message m;
  m.mutable_alive()->set_node("ghost");
  m.mutable_alive()->set_addr("10.9.9.9:7946");
  m.mutable_alive()->set_incarnation(1);
  m.mutable_alive()->set_generation(1);
  ::peer::v1::Packet v_next;
  v_next.set_version(next);
  const std::string newer =
      EncodePacket("x", {EncodeMessage(m)}) + v_next.SerializeAsString();
  g.net().transport(Id(x))->SendPacket(to, newer);
  g.net().clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(g.node(a).stats().versions_refused, 1u);
  EXPECT_TRUE(g.Lists(a, {"a"}));

  ::peer::v1::ReliableRequest request;
  request.set_version(next);
  request.mutable_push_pull()->set_from("x");
  std::optional<absl::StatusOr<::peer::v1::ReliableResponse>> answer;
  g.net().transport(Id(x))->SendReliable(
      to, request, absl::Seconds(1),
      [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
        answer = std::move(r);
      });
  g.net().clock().RunFor(absl::Seconds(1));
  ASSERT_TRUE(answer.has_value());
  ASSERT_FALSE(answer->ok());
  EXPECT_EQ(
      answer->status().message(),
      absl::StrCat("a refused the request: peer ", g.net().address(Id(x)),
                   " speaks protocol ", next, ", this node ", kProtocolVersion))
      << answer->status();
  EXPECT_EQ(g.node(a).stats().versions_refused, 2u);

  // Version 1 (no field): understood.
  ::peer::v1::Packet old;
  ASSERT_TRUE(old.ParseFromString(EncodePacket("x", {EncodeMessage(m)})));
  old.clear_version();
  g.net().transport(Id(x))->SendPacket(to, old.SerializeAsString());
  g.net().clock().RunFor(absl::Seconds(1));
  EXPECT_EQ(g.node(a).stats().versions_refused, 2u);
  EXPECT_EQ(kProtocolVersion, 5u);
}

// Datagrams a node handled: received less those refused before the
// protocol saw them.
uint64_t Handled(const Stats& s) {
  return s.packets_received - s.bad_packets - s.decrypt_failures -
         s.label_mismatches - s.versions_refused - s.replays_refused;
}

// An insider (it holds the group key, not a's node key) seals harmless
// datagrams and a request as a's own: a's name and generation numbered
// 2^62, or a newer generation of a. Before, b's window for a then jumped
// past everything a sends, and b refused a's own datagrams as replays or
// as an older generation (replays_refused grew with every probe and
// gossip of a; the adversary campaign: 16,317 refused). Now a's window at
// b moves only with datagrams that carry a's tag for b (an HMAC under the
// key a and b share, sealing.h), so a's traffic is never refused.
TEST(MemberlistEncryptionTest, OnlyTheSenderAdvancesItsReplayWindow) {
  const uint64_t seed = SimSeed(49);
  PEERLAB_SIM_TRACE_SEED(seed);
  Nodes g(seed);
  const int a = g.Add("a", "", {kKeyA});
  const int b = g.Add("b", "", {kKeyA});
  const int c = g.Add("c", "", {kKeyA});
  ASSERT_TRUE(g.Join(a, b).ok());
  ASSERT_TRUE(g.Join(c, b).ok());
  g.net().clock().RunFor(absl::Seconds(5));
  ASSERT_TRUE(g.Lists(b, {"a", "b", "c"}));
  const Member victim = g.node(a).LocalNode();
  const Keyring ring = *Keyring::Create({kKeyA});
  ::peer::v1::Message ack;
  ack.mutable_ack()->set_seq_no(4242);  // nobody waits for it
  const Sealer jump{"a", victim.generation, uint64_t{1} << 62};
  const Sealer newer{"a", victim.generation + 1, 7};
  // A tag made with a key that is not a's and b's.
  const Sealer wrong_tag{"a", victim.generation, (uint64_t{1} << 62) + 1, "b",
                         std::string(32, 'x')};
  const uint64_t refused_before = g.node(b).stats().replays_refused;
  const uint64_t received_before = g.node(b).stats().packets_received;
  const uint64_t unproven_before = g.node(b).stats().unproven_senders;
  for (const Sealer& sealer : {jump, newer, wrong_tag}) {
    g.net().transport(Id(c))->SendPacket(
        g.net().address(Id(b)),
        SealDatagram(ring, "", EncodePacket("a", {EncodeMessage(ack)}),
                     sealer));
    ::peer::v1::ReliableRequest ping;
    ping.mutable_ping()->set_target("b");
    g.net().transport(Id(c))->SendReliable(
        g.net().address(Id(b)), SealRequest(ring, "", ping, sealer),
        absl::Seconds(1), [](absl::StatusOr<::peer::v1::ReliableResponse>) {});
  }
  g.net().clock().RunFor(absl::Seconds(10));
  const Stats& after = g.node(b).stats();
  ASSERT_GT(after.packets_received - received_before, 10u);
  // Only the two with a wrong tag (refused as such); none of a's own.
  EXPECT_EQ(after.replays_refused - refused_before, 2u)
      << "a's own datagrams were refused";
  EXPECT_EQ(after.sender_tag_failures, 2u);
  EXPECT_TRUE(g.Lists(b, {"a", "b", "c"}));
  // The untagged forgeries were checked against windows of their own;
  // a's and c's own traffic carries tags b verifies.
  EXPECT_EQ(after.unproven_senders - unproven_before, 4u);
}

// A sealed datagram or request captured on the network and replayed later
// (by anyone: no key needed) is refused and counted; so is one of an older
// generation of its sender. Before the replay window, every replay was
// handled as new (a replayed ping was answered, a replayed push/pull merged
// and answered with the member list).
TEST(MemberlistEncryptionTest, ReplayedSealedTrafficIsRefused) {
  const uint64_t seed = SimSeed(47);
  PEERLAB_SIM_TRACE_SEED(seed);
  Nodes g(seed);
  const int a = g.Add("a", "", {kKeyA});
  const int b = g.Add("b", "", {kKeyA});
  const int c = g.Add("c", "", {kKeyA});
  g.transport(a).capture = true;
  ASSERT_TRUE(g.Join(a, b).ok());
  ASSERT_TRUE(g.Join(c, b).ok());
  g.net().clock().RunFor(absl::Seconds(5));
  g.transport(a).capture = false;
  ASSERT_TRUE(g.Lists(b, {"a", "b", "c"}));
  std::vector<std::string> to_b;
  for (const auto& [to, bytes] : g.transport(a).datagrams) {
    if (to == g.net().address(Id(b))) to_b.push_back(bytes);
  }
  ASSERT_GT(to_b.size(), 3u);
  ASSERT_FALSE(g.transport(a).requests.empty());  // the join's push/pull

  // A minute later, c (or anyone on the path) replays them to b.
  g.net().clock().RunFor(absl::Minutes(1));
  const Stats before = g.node(b).stats();
  for (const std::string& bytes : to_b) {
    g.net().transport(Id(c))->SendPacket(g.net().address(Id(b)), bytes);
  }
  g.net().clock().RunFor(absl::Milliseconds(100));
  const Stats after = g.node(b).stats();
  // Handled() grows only with b's own traffic meanwhile (acks, gossip):
  // compare against the datagrams of the other members in those 100 ms.
  EXPECT_EQ(after.replays_refused - before.replays_refused, to_b.size());
  EXPECT_LT(Handled(after) - Handled(before), to_b.size());

  // The join's push/pull, replayed: refused with the reason.
  std::optional<absl::StatusOr<::peer::v1::ReliableResponse>> answer;
  const auto& [to, request] = g.transport(a).requests.front();
  g.net().transport(Id(c))->SendReliable(
      to, request, absl::Seconds(1),
      [&](absl::StatusOr<::peer::v1::ReliableResponse> r) {
        answer = std::move(r);
      });
  g.net().clock().RunFor(absl::Seconds(1));
  ASSERT_TRUE(answer.has_value());
  EXPECT_FALSE(answer->ok());
  EXPECT_NE(answer->status().message().find("replay"), std::string::npos)
      << answer->status();
  EXPECT_EQ(g.node(b).stats().replays_refused - after.replays_refused, 1u);
  EXPECT_TRUE(g.Lists(b, {"a", "b", "c"}));
}

// Nothing is ever silently open: a node given neither a keyring nor
// insecure_gossip refuses to start.
TEST(MemberlistEncryptionTest, NoKeyringAndNotInsecureRefusesToStart) {
  sim::SimNetwork net(sim::SimNetworkOptions{});
  sim::NodeId id = net.AddNode();
  Config config = Config::Local();
  config.name = "open";
  Memberlist list(config, net.scheduler(id), net.transport(id), 1);
  absl::Status s = list.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(s.message(), "no group key: give a keyring or set insecure_gossip");

  config.insecure_gossip = true;
  Memberlist open(config, net.scheduler(id), net.transport(id), 1);
  EXPECT_TRUE(open.Start().ok());

  sim::NodeId id2 = net.AddNode();
  config.insecure_gossip = false;
  Memberlist keyed(config, net.scheduler(id2), net.transport(id2), 1);
  ASSERT_TRUE(keyed.SetKeyring(*Keyring::Create({kKeyA})).ok());
  EXPECT_TRUE(keyed.Start().ok());
}

TEST(MemberlistEncryptionTest, SharedKeyConvergesAndDatagramsFit) {
  const uint64_t seed = SimSeed(11);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster::Options o = Opts(8, seed, {kKeyA});
  o.with_kv = true;
  SimCluster c(o);
  size_t largest = 0;
  c.net().SetPacketObserver(
      [&](const sim::PacketEvent& e) { largest = std::max(largest, e.bytes); });
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  // Fill datagrams with broadcasts: sealed, they still fit packet_size.
  for (int k = 0; k < 40; ++k) {
    c.net().scheduler(Id(k % 8))->Post([&c, k] {
      EXPECT_TRUE(c.kv(k % 8)
                      ->Set("key" + std::to_string(k), std::string(100, 'v'))
                      .ok());
    });
  }
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (int i = 0; i < c.size(); ++i) {
          if (c.kv(i)->Items().size() != 40) return false;
        }
        return true;
      },
      absl::Seconds(60)));
  EXPECT_GT(largest, 1000u);
  EXPECT_LE(largest, static_cast<size_t>(o.config.packet_size));
  for (int i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c.node(i).stats().decrypt_failures, 0u) << i;
    EXPECT_EQ(c.node(i).stats().bad_packets, 0u) << i;
    ASSERT_NE(c.node(i).keyring(), nullptr);
  }
  EXPECT_TRUE(c.Converged());
}

TEST(MemberlistEncryptionTest, WrongKeyIsNotAdmitted) {
  const uint64_t seed = SimSeed(12);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(5, seed, {kKeyA}));
  c.SetKeys(3, {kKeyB});                 // another key
  c.SetKeys(4, {});                      // no encryption at all
  std::vector<int> seen_outsider(5, 0);  // events about 3 or 4 seen by 0..2
  c.SetChangeHook([&](int observer, int target, MemberState) {
    if (observer < 3 && target >= 3) ++seen_outsider[target];
  });
  c.Start(0);
  for (int i : {1, 2}) ASSERT_TRUE(StartAndJoin(c, i, 0).ok());

  auto wrong = StartAndJoin(c, 3, 0);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("cannot decrypt: wrong key?"),
            std::string::npos)
      << wrong.status();
  auto plain = StartAndJoin(c, 4, 1);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(wrong.status().message().find("node0 refused"), std::string::npos)
      << wrong.status();
  EXPECT_NE(plain.status().message().find("unencrypted"), std::string::npos)
      << plain.status();

  // Give the outsiders every chance: their probes, gossip and periodic
  // push/pull keep arriving (to the members they were told of: the seed).
  c.RunFor(AntiEntropyBound(Config::Local(), 5) * 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.node(i).NumAlive(), 3) << i;
    for (const Member& m : c.node(i).AllMembers()) {
      EXPECT_NE(m.name, "node3");
      EXPECT_NE(m.name, "node4");
    }
  }
  EXPECT_EQ(seen_outsider[3], 0);
  EXPECT_EQ(seen_outsider[4], 0);
  EXPECT_EQ(c.node(3).NumAlive(), 1);
  EXPECT_EQ(c.node(4).NumAlive(), 1);
  EXPECT_GT(c.node(0).stats().decrypt_failures, 0u);
  EXPECT_GT(c.node(1).stats().decrypt_failures, 0u);
  // The outsider with a key refuses the members' answers and gossip too.
  EXPECT_EQ(c.node(3).keyring()->keys().size(), 1u);
}

TEST(MemberlistEncryptionTest, EncryptedNodeCannotJoinAPlainCluster) {
  const uint64_t seed = SimSeed(13);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(3, seed, {}));
  c.SetKeys(2, {kKeyA});
  c.Start(0);
  ASSERT_TRUE(StartAndJoin(c, 1, 0).ok());
  auto r = StartAndJoin(c, 2, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not use gossip encryption"),
            std::string::npos)
      << r.status();
  c.RunFor(absl::Seconds(40));
  EXPECT_EQ(c.node(0).NumAlive(), 2);
  EXPECT_EQ(c.node(2).NumAlive(), 1);
}

// serf#579: a member down during a rotation (install, use, remove) never
// caught up. Peers of one user share the per-user key file, which every
// member rewrites after each key operation (the keyring listener), so a
// member restarted on that machine reads the current keys and converges.
// With the key catch-up off (retired_key_time 0; key_catch_up_test covers
// it on), a node that holds only the removed key (another machine, no
// current file) does not get in. The file is modelled by the listener's
// copy.
TEST(MemberlistEncryptionTest,
     MemberDownDuringRotationCatchesUpFromTheKeyFile) {
  const uint64_t seed = SimSeed(15);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 5;
  SimCluster::Options o = Opts(n, seed, {kKeyA});
  o.config.retired_key_time = absl::ZeroDuration();
  SimCluster c(o);
  std::vector<std::string> file = {kKeyA};  // the shared key file
  auto listen = [&](int i) {
    c.node(i).SetKeyringListener(
        [&](const Keyring& ring) { file = ring.keys(); });
  };
  for (int i = 0; i < n; ++i) listen(i);
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  c.Crash(4);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  const absl::Duration timeout = absl::Seconds(5);
  ASSERT_TRUE(KeyOpFrom(c, 0, KeyOp::kInstall, kKeyB, timeout).ok());
  ASSERT_TRUE(KeyOpFrom(c, 1, KeyOp::kUse, kKeyB, timeout).ok());
  ASSERT_TRUE(KeyOpFrom(c, 2, KeyOp::kRemove, kKeyA, timeout).ok());
  EXPECT_EQ(file, std::vector<std::string>{kKeyB});

  // Restarted with its old keys only (what it had before): refused.
  c.SetKeys(4, {kKeyA});
  c.Restart(4, 0);
  ASSERT_TRUE(c.RunUntil([&] { return c.join_result(4).has_value(); },
                         absl::Seconds(10)));
  EXPECT_FALSE(c.join_result(4)->ok());
  c.RunFor(absl::Seconds(10));
  for (int i = 0; i < 4; ++i) {
    for (const Member& m : c.node(i).Members()) EXPECT_NE(m.name, "node4");
  }
  // Restarted on the same machine: reads the current file, and converges.
  c.Crash(4);
  c.SetKeys(4, file);
  c.Restart(4, 0);
  listen(4);
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(60)));
  EXPECT_EQ(c.node(4).keyring()->keys(), std::vector<std::string>{kKeyB});
}

TEST(MemberlistEncryptionTest, RotationAcrossTheClusterStaysConverged) {
  const uint64_t seed = SimSeed(14);
  PEERLAB_SIM_TRACE_SEED(seed);
  const int n = 6;
  SimCluster c(Opts(n, seed, {kKeyA}));
  int trouble = 0;  // suspect/dead/left events anywhere, at any time
  c.SetChangeHook([&](int, int, MemberState state) {
    if (state != MemberState::kAlive) ++trouble;
  });
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));
  const absl::Duration timeout = absl::Seconds(5);

  // Install B everywhere (from node 2).
  auto install = KeyOpFrom(c, 2, KeyOp::kInstall, kKeyB, timeout);
  ASSERT_TRUE(install.ok()) << install.status();
  EXPECT_EQ(install->members, n);
  EXPECT_EQ(install->acks, n);
  EXPECT_TRUE(install->errors.empty());
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(c.node(i).keyring()->Contains(kKeyB)) << i;
    EXPECT_EQ(c.node(i).keyring()->primary(), kKeyA) << i;
  }
  EXPECT_TRUE(c.Converged());

  // List: every member holds A and B, A primary.
  auto list = KeyOpFrom(c, 0, KeyOp::kList, "", timeout);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->acks, n);
  EXPECT_EQ(list->keys, (std::map<std::string, int>{{kKeyA, n}, {kKeyB, n}}));
  EXPECT_EQ(list->primary_keys, (std::map<std::string, int>{{kKeyA, n}}));

  // Switch the primary (from node 5); then every member seals with B.
  auto use = KeyOpFrom(c, 5, KeyOp::kUse, kKeyB, timeout);
  ASSERT_TRUE(use.ok()) << use.status();
  EXPECT_EQ(use->acks, n);
  EXPECT_TRUE(use->errors.empty());
  c.RunFor(absl::Seconds(2));
  EXPECT_TRUE(c.Converged());

  // The primary cannot be removed, and nothing is sent when refused.
  auto refused = KeyOpFrom(c, 1, KeyOp::kRemove, kKeyB, timeout);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("primary"), std::string::npos);

  // Remove A (from node 0).
  auto remove = KeyOpFrom(c, 0, KeyOp::kRemove, kKeyA, timeout);
  ASSERT_TRUE(remove.ok()) << remove.status();
  EXPECT_EQ(remove->acks, n);
  EXPECT_TRUE(remove->errors.empty());
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(c.node(i).keyring()->keys(), std::vector<std::string>{kKeyB})
        << i;
  }
  // Keep running: the cluster stays converged on B alone, nothing failed.
  c.RunFor(AntiEntropyBound(Config::Local(), n));
  EXPECT_TRUE(c.Converged());
  EXPECT_EQ(trouble, 0);
  uint64_t failures = 0;
  for (int i = 0; i < n; ++i) failures += c.node(i).stats().decrypt_failures;
  EXPECT_EQ(failures, 0u);

  // A newcomer with the old key is now refused; one with the new key joins.
  int old_key = c.AddNode();
  c.SetKeys(old_key, {kKeyA});
  EXPECT_FALSE(StartAndJoin(c, old_key, 3).ok());
  int new_key = c.AddNode();
  c.SetKeys(new_key, {kKeyB});
  EXPECT_TRUE(StartAndJoin(c, new_key, 3).ok());
  c.Crash(old_key);  // not a member: out of the convergence check
  EXPECT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(30)));
}

TEST(MemberlistEncryptionTest, KeyOperationReportsRefusalsAndMissingAnswers) {
  const uint64_t seed = SimSeed(15);
  PEERLAB_SIM_TRACE_SEED(seed);
  SimCluster c(Opts(4, seed, {kKeyA}));
  c.SetKeys(3, {kKeyA, kKeyC});  // node 3 also accepts C
  c.StartAll();
  ASSERT_TRUE(c.RunUntil([&] { return c.Converged(); }, absl::Seconds(20)));

  // Removing C: node 3 applies it; the others never held C and say so.
  auto remove = KeyOpFrom(c, 3, KeyOp::kRemove, kKeyC, absl::Seconds(5));
  ASSERT_TRUE(remove.ok()) << remove.status();
  EXPECT_EQ(remove->acks, 4);
  EXPECT_EQ(remove->errors.size(), 3u);
  EXPECT_NE(remove->errors["node0"].find("not installed"), std::string::npos);
  EXPECT_EQ(c.node(3).keyring()->keys(), std::vector<std::string>{kKeyA});
  // This node refuses to use a key it does not hold: nothing is sent.
  auto use = KeyOpFrom(c, 0, KeyOp::kUse, kKeyC, absl::Seconds(5));
  EXPECT_EQ(use.status().code(), absl::StatusCode::kFailedPrecondition);

  // A member that does not answer (crashed, or cannot decrypt): the
  // operation ends at its timeout with the answers it got.
  c.Crash(2);
  auto list = KeyOpFrom(c, 0, KeyOp::kList, "", absl::Seconds(2));
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->members, 4);  // node 2 not yet noticed dead
  EXPECT_EQ(list->acks, 3);

  // Without a keyring there is nothing to operate on.
  SimCluster plain(Opts(1, seed, {}));
  plain.Start(0);
  auto none = KeyOpFrom(plain, 0, KeyOp::kList, "", absl::Seconds(1));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace peerlab::membership
