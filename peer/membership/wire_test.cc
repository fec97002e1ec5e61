#include "peer/membership/wire.h"

#include <random>

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

::peer::v1::Message Alive(const std::string& node, int meta_bytes = 0) {
  ::peer::v1::Message m;
  m.mutable_alive()->set_node(node);
  m.mutable_alive()->set_addr("127.0.0.1:7946");
  m.mutable_alive()->set_incarnation(3);
  m.mutable_alive()->set_meta(std::string(meta_bytes, 'm'));
  return m;
}

TEST(WireTest, PacketRoundTripAndExactSize) {
  std::vector<std::string> messages = {EncodeMessage(Alive("alice")),
                                       EncodeMessage(Alive("bob", 300))};
  std::string bytes = EncodePacket("carol", messages);
  int expected = PacketHeaderSize("carol");
  for (const auto& m : messages) expected += FramedSize(int(m.size()));
  EXPECT_EQ(int(bytes.size()), expected);
  auto packet = DecodePacket(bytes, 1400);
  ASSERT_TRUE(packet.ok()) << packet.status();
  ASSERT_EQ(packet->messages_size(), 2);
  EXPECT_EQ(packet->messages(1).alive().node(), "bob");
  EXPECT_EQ(packet->messages(1).alive().meta().size(), 300u);
  EXPECT_EQ(packet->from(), "carol");
}

TEST(WireTest, FramedSizeBoundedByOverhead) {
  for (int size : {0, 1, 127, 128, 16383, 16384, 65000}) {
    EXPECT_LE(FramedSize(size) - size, kFrameOverhead) << size;
  }
}

TEST(WireTest, RefusesEmptyOversizedAndGarbage) {
  EXPECT_FALSE(DecodePacket("", 1400).ok());
  std::string big = EncodePacket("x", {EncodeMessage(Alive("a", 2000))});
  EXPECT_FALSE(DecodePacket(big, 1400).ok());
  EXPECT_TRUE(DecodePacket(big, kMaxDatagram).ok());
  EXPECT_FALSE(DecodePacket("\xff\xff\xff\xff\xff", 1400).ok());
  // A packet with only a sender name holds no message.
  EXPECT_FALSE(DecodePacket(EncodePacket("x", {}), 1400).ok());
}

TEST(WireTest, TruncationsNeverCrashAndAreMostlyRefused) {
  std::string bytes = EncodePacket(
      "sender", {EncodeMessage(Alive("alice", 40)), EncodeMessage(Alive("b"))});
  int refused = 0;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    if (!DecodePacket(bytes.substr(0, cut), 1400).ok()) ++refused;
  }
  // Cuts at a field boundary can still parse (protobuf has no end marker);
  // most cuts land inside a field.
  EXPECT_GT(refused, int(bytes.size()) / 2);
}

TEST(WireTest, RandomMutationsNeverCrash) {
  std::mt19937 rng(1234);  // seed printed by the failure message below
  std::string base = EncodePacket(
      "sender", {EncodeMessage(Alive("alice", 40)), EncodeMessage(Alive("b"))});
  for (int i = 0; i < 20000; ++i) {
    std::string m = base;
    int flips = 1 + rng() % 4;
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = char(rng());
    if (rng() % 4 == 0) m.resize(rng() % m.size());
    auto r = DecodePacket(m, 1400);  // must not crash; either outcome is fine
    (void)r;
  }
  SUCCEED() << "seed 1234";
}

TEST(WireTest, EncodeAliveMessageMatchesEncodeMessage) {
  ::peer::v1::Message m;
  auto* a = m.mutable_alive();
  a->set_incarnation(300);
  a->set_node("node-1");
  a->set_addr("127.0.0.1:7946");
  a->set_id("1234567890123456789");
  a->set_meta(std::string(200, 'm'));  // a length past one varint byte
  EXPECT_EQ(EncodeAliveMessage(*a), EncodeMessage(m));
}

// A relayed alive travels as a notice: node, generation and incarnation
// only, a fraction of the signed alive (protocol 3).
TEST(WireTest, NoticeOfAnAliveCarriesItsNameGenerationAndIncarnation) {
  struct Case {
    std::string node;
    uint64_t generation;
    uint64_t incarnation;
  };
  const Case cases[] = {
      {"node-1", 0, 0},
      {"node-1", 1765000000000, 1},    // a generation in ms
      {"n", uint64_t{1} << 62, 1023},  // the saturation bound
      {std::string(128, 'x'), 1, 0},   // a long name
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.node.substr(0, 8) + " " + std::to_string(c.generation));
    ::peer::v1::Alive a;
    a.set_node(c.node);
    a.set_generation(c.generation);
    a.set_incarnation(c.incarnation);
    a.set_addr("127.0.0.1:7946");
    a.set_id("1234567890123456789");
    a.set_meta("chat=127.0.0.1:9000");
    a.set_public_key(std::string(32, 'k'));
    a.set_signature(std::string(64, 's'));
    const std::string notice = EncodeNoticeMessage(a);
    auto packet = DecodePacket(EncodePacket("relay", {notice}), 1400);
    ASSERT_TRUE(packet.ok()) << packet.status();
    ASSERT_EQ(packet->messages_size(), 1);
    ASSERT_TRUE(packet->messages(0).has_notice());
    const auto& n = packet->messages(0).notice();
    EXPECT_EQ(n.node(), c.node);
    EXPECT_EQ(n.generation(), c.generation);
    EXPECT_EQ(n.incarnation(), c.incarnation);
    // Nothing of the claim itself: no address, key or signature.
    EXPECT_LT(notice.size(), c.node.size() + 24);
    EXPECT_LT(notice.size() + 100, EncodeAliveMessage(a).size());
  }
}

// PushPull.want: the names whose signed claims a member fetches; a request
// holds them and no entries.
TEST(WireTest, PushPullWantRoundTrips) {
  ::peer::v1::ReliableRequest request;
  auto* pp = request.mutable_push_pull();
  pp->set_from("alice");
  for (const char* n : {"bob", "carol", ""}) pp->add_want(n);
  ::peer::v1::ReliableRequest back;
  ASSERT_TRUE(back.ParseFromString(request.SerializeAsString()));
  ASSERT_TRUE(back.has_push_pull());
  ASSERT_EQ(back.push_pull().want_size(), 3);
  EXPECT_EQ(back.push_pull().want(1), "carol");
  EXPECT_EQ(back.push_pull().want(2), "");
  EXPECT_EQ(back.push_pull().nodes_size(), 0);
  EXPECT_FALSE(back.push_pull().join());
}

// A quarantine declaration's signed bytes cover every field that decides
// what it does (the member, its generation and incarnation, the time, and
// the declarer), apart from a leave's by their domain; a signature passes
// for its declaration only.
TEST(WireTest, QuarantineClaimCoversEveryFieldAndItsSignatureItsDeclaration) {
  ::peer::v1::Dead d;
  d.set_node("victim");
  d.set_generation(7);
  d.set_incarnation(3);
  d.set_quarantine_at_ms(1'000'000);
  d.set_from("declarer");
  const std::string claim = QuarantineClaim(d);
  EXPECT_NE(claim, LeaveClaim("victim", 7, 3));
  auto changed = [&](auto change) {
    ::peer::v1::Dead other = d;
    change(other);
    return QuarantineClaim(other) != claim;
  };
  EXPECT_TRUE(changed([](::peer::v1::Dead& x) { x.set_node("victin"); }));
  EXPECT_TRUE(changed([](::peer::v1::Dead& x) { x.set_generation(8); }));
  EXPECT_TRUE(changed([](::peer::v1::Dead& x) { x.set_incarnation(4); }));
  EXPECT_TRUE(
      changed([](::peer::v1::Dead& x) { x.set_quarantine_at_ms(1'000'001); }));
  EXPECT_TRUE(changed([](::peer::v1::Dead& x) { x.set_from("declarez"); }));
  // Length-prefixed: moving bytes between node and from changes it too.
  EXPECT_TRUE(changed([](::peer::v1::Dead& x) {
    x.set_node("victimd");
    x.set_from("eclarer");
  }));

  auto key = identity::NodeKey::FromSeed(std::string(32, 'd'));
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_TRUE(SignQuarantine(*key, d).ok());
  const std::string public_key = key->public_key().bytes();
  SignatureCache cache(16);
  EXPECT_TRUE(cache.Check(public_key, QuarantineClaim(d), d.signature()));
  ::peer::v1::Dead named_other = d;
  named_other.set_from("someone-else");
  EXPECT_FALSE(cache.Check(public_key, QuarantineClaim(named_other),
                           named_other.signature()));
  ::peer::v1::Dead earlier = d;
  earlier.set_quarantine_at_ms(1);
  EXPECT_FALSE(
      cache.Check(public_key, QuarantineClaim(earlier), earlier.signature()));
}

}  // namespace
}  // namespace peerlab::membership
