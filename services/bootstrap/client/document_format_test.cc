#include "services/bootstrap/client/document_format.h"

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace peerlab::bootstrap {
namespace {

namespace pb = ::bootstrap::v1;
using ::testing::HasSubstr;

constexpr int64_t kStart = 1'714'564'800;  // 2024-05-01T12:00:00Z

pb::Peer MakePeer(const std::string& id, const std::string& name,
                  const std::string& host, uint32_t port, int64_t started) {
  pb::Peer p;
  p.set_id(id);
  p.set_name(name);
  p.set_host(host);
  p.set_port(port);
  p.set_protocol(pb::PROTOCOL_UDP);
  p.mutable_started_at()->set_seconds(started);
  return p;
}

pb::Document SampleDocument() {
  pb::Document doc;
  doc.mutable_config()->set_max_peers(3);
  doc.mutable_config()->set_min_refill_candidates(1);
  doc.set_revision(7);
  *doc.add_peers() = MakePeer("11111111-1111-4111-8111-111111111111", "alice",
                              "127.0.0.1", 7001, kStart);
  pb::Peer bob = MakePeer("22222222-2222-4222-8222-222222222222",
                          "bob-the-long-name", "::1", 7002, kStart + 60);
  bob.set_protocol(pb::PROTOCOL_TCP);
  bob.mutable_lease_expires_at()->set_seconds(kStart + 3600 + 90);
  *doc.add_peers() = bob;
  return doc;
}

TEST(DocumentFormatTest, ProtocolNames) {
  EXPECT_EQ(ProtocolName(pb::PROTOCOL_TCP), "tcp");
  EXPECT_EQ(ProtocolName(pb::PROTOCOL_UDP), "udp");
  EXPECT_EQ(ProtocolName(pb::PROTOCOL_UNSPECIFIED), "unspecified");
  EXPECT_EQ(ProtocolName(static_cast<pb::Protocol>(42)), "unspecified");
}

TEST(DocumentFormatTest, Timestamps) {
  google::protobuf::Timestamp t;
  t.set_seconds(kStart);
  EXPECT_EQ(FormatTimestamp(t), "2024-05-01T12:00:00Z");
  t.set_nanos(250'000'000);
  EXPECT_EQ(FormatTimestamp(t), "2024-05-01T12:00:00.25Z");
  EXPECT_EQ(FormatTimestamp(t, /*is_set=*/false), "-");
}

TEST(DocumentFormatTest, Lease) {
  pb::Peer p = MakePeer("id", "n", "127.0.0.1", 1, kStart);
  const absl::Time now = absl::FromUnixSeconds(kStart);
  EXPECT_EQ(FormatLease(p, now), "-");
  p.mutable_lease_expires_at()->set_seconds(kStart + 29);
  EXPECT_EQ(FormatLease(p, now), "2024-05-01T12:00:29Z (in 29s)");
  p.mutable_lease_expires_at()->set_seconds(kStart + 250);
  EXPECT_EQ(FormatLease(p, now), "2024-05-01T12:04:10Z (in 4m10s)");
  p.mutable_lease_expires_at()->set_seconds(kStart + 2 * 86400 + 3 * 3600);
  EXPECT_THAT(FormatLease(p, now), HasSubstr("(in 2d3h)"));
  p.mutable_lease_expires_at()->set_seconds(kStart - 1);
  EXPECT_EQ(FormatLease(p, now), "2024-05-01T11:59:59Z (expired)");
}

TEST(DocumentFormatTest, DocumentTable) {
  const std::string out =
      FormatDocument(SampleDocument(), absl::FromUnixSeconds(kStart + 3600));
  const std::vector<std::string> lines =
      absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_EQ(lines[0],
            "revision 7, max_peers 3, min_refill_candidates 1, 2 of 3 peers");
  EXPECT_EQ(lines[1],
            "ID                                    NAME               ADDRESS  "
            "       PROTOCOL  STARTED_AT            LEASE");
  EXPECT_EQ(lines[2],
            "11111111-1111-4111-8111-111111111111  alice              "
            "127.0.0.1:7001  udp       2024-05-01T12:00:00Z  -");
  EXPECT_EQ(lines[3],
            "22222222-2222-4222-8222-222222222222  bob-the-long-name  "
            "[::1]:7002      tcp       2024-05-01T12:01:00Z  "
            "2024-05-01T13:01:30Z (in 1m30s)");
  EXPECT_EQ(out.back(), '\n');
}

TEST(DocumentFormatTest, EmptyDocumentIsOneLine) {
  pb::Document doc;
  doc.mutable_config()->set_max_peers(3);
  EXPECT_EQ(FormatDocument(doc, absl::Now()),
            "revision 0, max_peers 3, min_refill_candidates 0, 0 of 3 peers\n");
}

TEST(DocumentFormatTest, Config) {
  EXPECT_EQ(FormatConfig(SampleDocument()),
            "max_peers              3\n"
            "min_refill_candidates  1\n"
            "revision               7\n");
}

TEST(DocumentFormatTest, JsonParsesAndPrintsEveryField) {
  pb::ListResponse response;
  *response.mutable_document() = SampleDocument();
  response.mutable_document()->mutable_config()->set_min_refill_candidates(0);
  for (bool pretty : {true, false}) {
    auto out = ToJson(response, pretty);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->back(), '\n');
    // One line exactly when not pretty (JSON Lines).
    EXPECT_EQ(std::count(out->begin(), out->end(), '\n') == 1, !pretty);
    auto json = nlohmann::json::parse(*out);
    const auto& doc = json.at("document");
    EXPECT_EQ(doc.at("revision"), "7");  // uint64 is a string in proto JSON
    EXPECT_EQ(doc.at("config").at("maxPeers"), 3);
    // Zero values are printed too.
    EXPECT_EQ(doc.at("config").at("minRefillCandidates"), 0);
    ASSERT_EQ(doc.at("peers").size(), 2u);
    EXPECT_EQ(doc.at("peers")[0].at("name"), "alice");
    EXPECT_EQ(doc.at("peers")[0].at("protocol"), "PROTOCOL_UDP");
    EXPECT_EQ(doc.at("peers")[0].at("startedAt"), "2024-05-01T12:00:00Z");
    EXPECT_EQ(doc.at("peers")[1].at("leaseExpiresAt"), "2024-05-01T13:01:30Z");
  }
  pb::JoinResponse refused;
  auto out = ToJson(refused, false);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(nlohmann::json::parse(*out).at("joined"), false);
}

}  // namespace
}  // namespace peerlab::bootstrap
