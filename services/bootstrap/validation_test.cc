#include "services/bootstrap/validation.h"

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::bootstrap {
namespace {

using ::bootstrap::v1::Peer;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

Peer GoodPeer() {
  Peer p;
  p.set_id("123E4567-E89B-42D3-A456-426614174000");
  p.set_name("alice");
  p.set_host("127.0.0.1");
  p.set_port(7946);
  p.set_protocol(::bootstrap::v1::PROTOCOL_UDP);
  return p;
}

TEST(ValidatePeerTest, NormalisesAGoodPeer) {
  auto p = ValidatePeer(GoodPeer(), "peer", kNow);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id(), "123e4567-e89b-42d3-a456-426614174000");
  EXPECT_EQ(p->started_at().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_FALSE(p->has_lease_expires_at());
}

TEST(ValidatePeerTest, KeepsGivenStartTimeAndDropsClientLease) {
  Peer in = GoodPeer();
  in.mutable_started_at()->set_seconds(42);
  in.mutable_lease_expires_at()->set_seconds(99);
  auto p = ValidatePeer(in, "peer", kNow);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->started_at().seconds(), 42);
  EXPECT_FALSE(p->has_lease_expires_at());
}

struct BadPeerCase {
  std::string name;
  std::function<void(Peer&)> spoil;
  std::string want_field;
};

class BadPeerTest : public ::testing::TestWithParam<BadPeerCase> {};

TEST_P(BadPeerTest, IsRefusedNamingTheField) {
  Peer p = GoodPeer();
  GetParam().spoil(p);
  auto result = ValidatePeer(p, "candidate", kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr(GetParam().want_field + ":"));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadPeerTest,
    ::testing::Values(
        BadPeerCase{"EmptyId", [](Peer& p) { p.clear_id(); }, "candidate.id"},
        BadPeerCase{"ShortId", [](Peer& p) { p.set_id("123"); },
                    "candidate.id"},
        BadPeerCase{
            "IdWithoutDashes",
            [](Peer& p) { p.set_id("123e4567e89b42d3a456426614174000"); },
            "candidate.id"},
        BadPeerCase{
            "IdNotHex",
            [](Peer& p) { p.set_id("zzze4567-e89b-42d3-a456-426614174000"); },
            "candidate.id"},
        BadPeerCase{"EmptyName", [](Peer& p) { p.clear_name(); },
                    "candidate.name"},
        BadPeerCase{"LongName",
                    [](Peer& p) { p.set_name(std::string(129, 'a')); },
                    "candidate.name"},
        BadPeerCase{"ControlCharInName", [](Peer& p) { p.set_name("ali\nce"); },
                    "candidate.name"},
        BadPeerCase{"BrokenUtf8Name", [](Peer& p) { p.set_name("al\xC3"); },
                    "candidate.name"},
        BadPeerCase{"EmptyHost", [](Peer& p) { p.clear_host(); },
                    "candidate.host"},
        BadPeerCase{"HostWithSpace", [](Peer& p) { p.set_host("my host"); },
                    "candidate.host"},
        BadPeerCase{"HostBadIpv4", [](Peer& p) { p.set_host("999.1.1.1"); },
                    "candidate.host"},
        BadPeerCase{"HostLabelDash",
                    [](Peer& p) { p.set_host("-bad.example"); },
                    "candidate.host"},
        BadPeerCase{"HostWithPort", [](Peer& p) { p.set_host("127.0.0.1:80"); },
                    "candidate.host"},
        BadPeerCase{"PortZero", [](Peer& p) { p.set_port(0); },
                    "candidate.port"},
        BadPeerCase{"PortTooBig", [](Peer& p) { p.set_port(65536); },
                    "candidate.port"},
        BadPeerCase{"ProtocolUnspecified",
                    [](Peer& p) {
                      p.set_protocol(::bootstrap::v1::PROTOCOL_UNSPECIFIED);
                    },
                    "candidate.protocol"},
        BadPeerCase{"ProtocolUnknownNumber",
                    [](Peer& p) {
                      p.set_protocol(static_cast<::bootstrap::v1::Protocol>(7));
                    },
                    "candidate.protocol"},
        BadPeerCase{"LongStatus",
                    [](Peer& p) { p.set_status(std::string(65, 's')); },
                    "candidate.status"},
        BadPeerCase{"BadStartedAt",
                    [](Peer& p) { p.mutable_started_at()->set_nanos(-1); },
                    "candidate.started_at"}),
    [](const auto& info) { return info.param.name; });

TEST(IsValidHostTest, AcceptsAddressesAndNames) {
  for (const char* host :
       {"127.0.0.1", "10.1.2.3", "::1", "fe80::1", "localhost",
        "peer-1.lab.example.org", "example.org.", "a", "xn--bcher-kva.example",
        "1a.example"}) {
    EXPECT_TRUE(IsValidHost(host)) << host;
  }
}

TEST(IsValidHostTest, RefusesTheRest) {
  for (const char* host : {"", " ", "1.2.3", "256.0.0.1", "a..b",
                           "under_score.example", "-a.example", "a-.example",
                           "http://x", "[::1]", "xn--bcher-kva.example/path"}) {
    EXPECT_FALSE(IsValidHost(host)) << host;
  }
  EXPECT_FALSE(IsValidHost(std::string(254, 'a')));
  EXPECT_FALSE(IsValidHost(std::string(64, 'a') + ".example"));
}

TEST(ValidateTtlTest, UnsetOrZeroMeansNoLease) {
  google::protobuf::Duration d;
  auto none = ValidateTtl(&d, false, false);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto zero = ValidateTtl(&d, true, false);
  ASSERT_TRUE(zero.ok());
  EXPECT_FALSE(zero->has_value());
  EXPECT_EQ(ValidateTtl(&d, false, true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTtlTest, Bounds) {
  google::protobuf::Duration d;
  d.set_seconds(30);
  auto ok = ValidateTtl(&d, true, false);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(**ok, absl::Seconds(30));
  d.set_seconds(0);
  d.set_nanos(500'000'000);
  EXPECT_EQ(ValidateTtl(&d, true, false).status().code(),
            absl::StatusCode::kInvalidArgument);
  d.set_seconds(-5);
  d.set_nanos(0);
  EXPECT_EQ(ValidateTtl(&d, true, false).status().code(),
            absl::StatusCode::kInvalidArgument);
  d.set_seconds(31LL * 24 * 3600);
  EXPECT_THAT(std::string(ValidateTtl(&d, true, false).status().message()),
              HasSubstr("ttl:"));
}

TEST(ValidateConfigTest, Bounds) {
  ::bootstrap::v1::Config c;
  c.set_max_peers(3);
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.set_max_peers(0);
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("max_peers"));
  c.set_max_peers(10001);
  EXPECT_FALSE(ValidateConfig(c).ok());
  c.set_max_peers(3);
  c.set_min_refill_candidates(10001);
  EXPECT_THAT(std::string(ValidateConfig(c).message()),
              HasSubstr("min_refill_candidates"));
}

}  // namespace
}  // namespace peerlab::bootstrap

namespace peerlab::bootstrap {
namespace {

// The largest peer validation lets through: every field at its limit, and
// timestamps whose varints are longest (negative seconds take 10 bytes).
Peer LargestPeer(int n) {
  Peer p;
  p.set_id(absl::StrFormat("00000000-0000-4000-8000-%012d", n));
  p.set_name(std::string(kMaxNameBytes, 'n'));
  p.set_host(absl::StrCat(std::string(63, 'a'), ".", std::string(63, 'b'), ".",
                          std::string(63, 'c'), ".", std::string(61, 'd')));
  p.set_port(65535);
  p.set_protocol(::bootstrap::v1::PROTOCOL_UDP);
  p.set_status(std::string(kMaxStatusBytes, 's'));
  p.mutable_started_at()->set_seconds(-62135596800LL + n);
  p.mutable_started_at()->set_nanos(999999999);
  p.mutable_lease_expires_at()->set_seconds(-62135596800LL);
  p.mutable_lease_expires_at()->set_nanos(999999999);
  // Answers carry the first sight (never the owner hash).
  *p.mutable_first_seen_at() = p.started_at();
  return p;
}

::bootstrap::v1::Document LargestDocument() {
  ::bootstrap::v1::Document doc;
  doc.mutable_config()->set_max_peers(kMaxMaxPeers);
  doc.mutable_config()->set_min_refill_candidates(kMaxMaxPeers);
  doc.set_revision(kMaxRevision);
  for (uint32_t i = 0; i < kMaxMaxPeers; ++i) *doc.add_peers() = LargestPeer(i);
  return doc;
}

TEST(MessageLimitTest, LargestPeerIsValid) {
  Peer p = LargestPeer(1);
  auto valid = ValidatePeer(p, "peer", kNow);
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_TRUE(ValidateDocument(LargestDocument()).ok())
      << ValidateDocument(LargestDocument());
}

// Issue 12: the whole document and every answer stay under the 4 MiB that
// gRPC clients accept by default, whatever validation lets in.
TEST(MessageLimitTest, EveryAnswerFitsTheClientLimit) {
  const ::bootstrap::v1::Document doc = LargestDocument();
  std::vector<std::pair<std::string, size_t>> sizes;
  {
    ::bootstrap::v1::JoinResponse r;
    *r.mutable_document() = doc;
    r.set_joined(true);
    sizes.emplace_back("JoinResponse", r.ByteSizeLong());
  }
  {
    ::bootstrap::v1::RefillResponse r;
    *r.mutable_document() = doc;
    r.set_accepted(true);
    r.set_replaced_id(doc.peers(0).id());
    sizes.emplace_back("RefillResponse", r.ByteSizeLong());
  }
  {
    ::bootstrap::v1::RenewResponse r;
    *r.mutable_document() = doc;
    *r.mutable_peer() = doc.peers(0);
    sizes.emplace_back("RenewResponse", r.ByteSizeLong());
  }
  {
    // Trimming from the largest list to one peer: every id but one listed.
    ::bootstrap::v1::UpdateConfigResponse r;
    *r.mutable_document() = doc;
    for (const Peer& p : doc.peers()) r.add_trimmed_ids(p.id());
    sizes.emplace_back("UpdateConfigResponse", r.ByteSizeLong());
  }
  {
    ::bootstrap::v1::WatchResponse r;
    *r.mutable_document() = doc;
    sizes.emplace_back("WatchResponse", r.ByteSizeLong());
  }
  for (const auto& [what, size] : sizes) {
    EXPECT_LT(size, kClientMessageLimit)
        << what << " of " << kMaxMaxPeers << " largest peers";
    std::cout << what << ": " << size << " bytes\n";
  }
}

TEST(ConfigLimitTest, MaxPeersAboveTheLimitNamesFieldAndLimit) {
  ::bootstrap::v1::Config c;
  c.set_max_peers(kMaxMaxPeers + 1);
  absl::Status s = ValidateConfig(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat("max_peers: ", kMaxMaxPeers + 1,
                                     " is outside 1..", kMaxMaxPeers)));
}

TEST(ValidatePeerTest, HostLongerThanADnsNameNamesTheLimit) {
  Peer p = GoodPeer();
  p.set_host(std::string(300, 'a'));
  auto r = ValidatePeer(p, "peer", kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("peer.host: is 300 bytes long (at most 253)"));
}

::bootstrap::v1::Document SmallDocument() {
  ::bootstrap::v1::Document doc;
  doc.mutable_config()->set_max_peers(2);
  for (int i = 0; i < 2; ++i) {
    Peer* p = doc.add_peers();
    *p = GoodPeer();
    p->set_id(absl::StrFormat("00000000-0000-4000-8000-%012d", i));
    p->mutable_started_at()->set_seconds(100 + i);
  }
  return doc;
}

TEST(ValidateDocumentTest, AcceptsAGoodDocument) {
  EXPECT_TRUE(ValidateDocument(SmallDocument()).ok());
  ::bootstrap::v1::Document doc = SmallDocument();
  doc.set_revision(kMaxRevision);
  EXPECT_TRUE(ValidateDocument(doc).ok());
}

struct BadDocumentCase {
  std::string name;
  std::function<void(::bootstrap::v1::Document&)> spoil;
  std::string want;
};

class BadDocumentTest : public ::testing::TestWithParam<BadDocumentCase> {};

TEST_P(BadDocumentTest, IsRefusedNamingTheField) {
  ::bootstrap::v1::Document doc = SmallDocument();
  GetParam().spoil(doc);
  absl::Status s = ValidateDocument(doc);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(GetParam().want));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadDocumentTest,
    ::testing::Values(
        // A stored revision of 2^64-1 was served; the next change reported
        // revision 0 and watchers never saw another change.
        BadDocumentCase{"RevisionThatWouldWrap",
                        [](auto& d) { d.set_revision(~uint64_t{0}); },
                        "revision: 18446744073709551615 is above the limit"},
        BadDocumentCase{"MorePeersThanMax",
                        [](auto& d) { d.mutable_config()->set_max_peers(1); },
                        "peers: holds 2 peers, more than config.max_peers (1)"},
        BadDocumentCase{"BadConfig",
                        [](auto& d) { d.mutable_config()->set_max_peers(0); },
                        "config.max_peers: 0 is outside"},
        BadDocumentCase{"BadPort",
                        [](auto& d) { d.mutable_peers(1)->set_port(0); },
                        "peers[1].port: 0 is outside 1..65535"},
        BadDocumentCase{"ControlCharInName",
                        [](auto& d) { d.mutable_peers(0)->set_name("a\nb"); },
                        "peers[0].name:"},
        BadDocumentCase{"UpperCaseId",
                        [](auto& d) {
                          d.mutable_peers(0)->set_id(
                              "ABCDEF00-0000-4000-8000-000000000000");
                        },
                        "peers[0].id: is not in lower case"},
        BadDocumentCase{
            "DuplicateId",
            [](auto& d) { d.mutable_peers(1)->set_id(d.peers(0).id()); },
            "peers[1].id:"},
        BadDocumentCase{"NoStartTime",
                        [](auto& d) { d.mutable_peers(0)->clear_started_at(); },
                        "peers[0].started_at: is missing"},
        BadDocumentCase{
            "BadLease",
            [](auto& d) {
              d.mutable_peers(0)->mutable_lease_expires_at()->set_nanos(-1);
            },
            "peers[0].lease_expires_at:"},
        BadDocumentCase{"OwnerHashNotSha256",
                        [](auto& d) {
                          d.mutable_peers(0)->set_owner_secret_sha256("short");
                        },
                        "peers[0].owner_secret_sha256: 5 bytes"},
        BadDocumentCase{
            "BadFirstSight",
            [](auto& d) {
              d.mutable_peers(0)->mutable_first_seen_at()->set_nanos(-1);
            },
            "peers[0].first_seen_at:"}),
    [](const auto& info) { return info.param.name; });

TEST(CheckJsonDepthTest, CountsNestingOutsideStrings) {
  EXPECT_TRUE(CheckJsonDepth(R"({"a": [{"b": "[[[[[[[[[["}]})", 3).ok());
  EXPECT_TRUE(CheckJsonDepth(R"({"a\"[[[[": [1]})", 2).ok());
  absl::Status s = CheckJsonDepth(std::string(100000, '[') + "]", 32);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("deeper than 32"));
}

}  // namespace
}  // namespace peerlab::bootstrap
