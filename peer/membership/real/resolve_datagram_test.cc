#include "peer/membership/real/resolve_datagram.h"

#include <string>

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

TEST(ResolveDatagramTest, QueryRoundTrips) {
  const std::string query = EncodeResolveQuery(0x0102030405060708ULL);
  ASSERT_EQ(query.size(), kResolveQuerySize);
  EXPECT_TRUE(IsResolveDatagram(query));
  auto decoded = DecodeResolveDatagram(query);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->kind, ResolveDatagram::Kind::kQuery);
  EXPECT_EQ(decoded->token, 0x0102030405060708ULL);
  EXPECT_EQ(decoded->address, "");
  // The token is little-endian on the wire, whatever the host.
  EXPECT_EQ(query[2], '\x08');
  EXPECT_EQ(query[9], '\x01');
}

TEST(ResolveDatagramTest, AnswerRoundTripsAndIsNeverLongerThanTheQuery) {
  auto answer = EncodeResolveAnswer(42, "127.0.0.1:50051", kResolveQuerySize);
  ASSERT_TRUE(answer.has_value());
  EXPECT_LE(answer->size(), kResolveQuerySize);
  auto decoded = DecodeResolveDatagram(*answer);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->kind, ResolveDatagram::Kind::kAnswer);
  EXPECT_EQ(decoded->token, 42u);
  EXPECT_EQ(decoded->address, "127.0.0.1:50051");
}

struct AnswerCase {
  const char* what;
  std::string address;
  size_t query_size;
  bool answered;
};

TEST(ResolveDatagramTest, AnswerTable) {
  const std::string long_name = std::string(60, 'h') + ":1";
  const AnswerCase cases[] = {
      {"fits", "10.0.0.1:7947", 64, true},
      {"exactly the query's size", std::string(52, 'h') + ":1", 64, true},
      {"one byte over: no amplification", std::string(53, 'h') + ":1", 64,
       false},
      {"a larger query allows a longer name", long_name, 128, true},
      {"not host:port", "no-port", 64, false},
      {"port 0", "h:0", 64, false},
      {"port too large", "h:65536", 64, false},
      {"empty host", ":80", 64, false},
      {"space in the name", "a b:80", 64, false},
  };
  for (const AnswerCase& c : cases) {
    EXPECT_EQ(EncodeResolveAnswer(1, c.address, c.query_size).has_value(),
              c.answered)
        << c.what;
  }
}

struct DecodeCase {
  const char* what;
  std::string bytes;
  bool ok;
};

TEST(ResolveDatagramTest, DecodeTable) {
  std::string answer_header(kResolveHeaderSize, '\0');
  answer_header[1] = 2;
  const std::string query = EncodeResolveQuery(7);
  std::string not_zero = query;
  not_zero[0] = '\x01';
  std::string unknown_kind = query;
  unknown_kind[1] = '\x03';
  const DecodeCase cases[] = {
      {"empty", "", false},
      {"shorter than the header", std::string(9, '\0'), false},
      {"first byte not zero", not_zero, false},
      {"unpadded query", query.substr(0, kResolveQuerySize - 1), false},
      {"padded query", query, true},
      {"longer query", query + std::string(100, '\0'), true},
      {"unknown kind", unknown_kind, false},
      {"answer", answer_header + "host:1", true},
      {"answer without address", answer_header, false},
      {"answer with a bad port", answer_header + "host:x", false},
      {"answer with a control byte", answer_header + "ho\nst:1", false},
      {"answer too long", answer_header + std::string(300, 'h') + ":1", false},
  };
  for (const DecodeCase& c : cases) {
    EXPECT_EQ(DecodeResolveDatagram(c.bytes).ok(), c.ok) << c.what;
  }
}

TEST(ResolveDatagramTest, ProtocolDatagramsAreNotResolveDatagrams) {
  EXPECT_FALSE(IsResolveDatagram(""));
  EXPECT_FALSE(IsResolveDatagram("\x0a\x05hello"));  // a protobuf field 1
  EXPECT_TRUE(IsResolveDatagram(std::string(1, '\0')));
}

}  // namespace
}  // namespace peerlab::membership
