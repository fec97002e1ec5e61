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

}  // namespace
}  // namespace peerlab::membership
