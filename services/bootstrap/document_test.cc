#include "services/bootstrap/document.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::bootstrap {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

// A peer whose id encodes `n` and which started `started` seconds after the
// epoch, so tests can say "older" and "newer" with small numbers.
Peer MakePeer(int n, int64_t started) {
  Peer p;
  p.set_id(absl::StrFormat("00000000-0000-4000-8000-%012d", n));
  p.set_name(absl::StrFormat("peer%d", n));
  p.set_host("127.0.0.1");
  p.set_port(7000 + n);
  p.set_protocol(::bootstrap::v1::PROTOCOL_UDP);
  p.mutable_started_at()->set_seconds(started);
  return p;
}

Document Doc(uint32_t max_peers, const std::vector<Peer>& peers) {
  Config c;
  c.set_max_peers(max_peers);
  Document d = NewDocument(c);
  for (const Peer& p : peers) *d.add_peers() = p;
  SortPeers(d);
  return d;
}

std::vector<std::string> Names(const Document& d) {
  std::vector<std::string> out;
  for (const Peer& p : d.peers()) out.push_back(p.name());
  return out;
}

TEST(DocumentTest, NewDocumentIsEmptyAtRevisionZero) {
  Config c;
  c.set_max_peers(3);
  Document d = NewDocument(c);
  EXPECT_EQ(d.revision(), 0u);
  EXPECT_EQ(d.peers_size(), 0);
  EXPECT_EQ(d.config().max_peers(), 3u);
}

TEST(DocumentTest, PeersSortOldestFirstThenById) {
  Document d = Doc(10, {MakePeer(3, 30), MakePeer(1, 10), MakePeer(2, 10)});
  EXPECT_THAT(Names(d), ElementsAre("peer1", "peer2", "peer3"));
}

struct JoinCase {
  std::string name;
  uint32_t max_peers;
  std::vector<Peer> stored;
  Peer joining;
  bool want_changed;
  bool want_joined;
  std::vector<std::string> want_names;
};

class JoinTest : public ::testing::TestWithParam<JoinCase> {};

TEST_P(JoinTest, FollowsTheOriginalRule) {
  const JoinCase& c = GetParam();
  Document d = Doc(c.max_peers, c.stored);
  JoinOutcome o = ApplyJoin(d, c.joining, std::nullopt, kNow);
  EXPECT_EQ(o.changed, c.want_changed);
  EXPECT_EQ(o.joined, c.want_joined);
  EXPECT_EQ(Names(d), c.want_names);
}

Peer Renamed(Peer p, const std::string& name) {
  p.set_name(name);
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, JoinTest,
    ::testing::Values(
        JoinCase{"EmptyList", 3, {}, MakePeer(1, 10), true, true, {"peer1"}},
        JoinCase{"NotFull",
                 3,
                 {MakePeer(1, 10)},
                 MakePeer(2, 20),
                 true,
                 true,
                 {"peer1", "peer2"}},
        JoinCase{"FullChangesNothing",
                 2,
                 {MakePeer(1, 10), MakePeer(2, 20)},
                 MakePeer(3, 5),
                 false,
                 false,
                 {"peer1", "peer2"}},
        JoinCase{"SameIdAgainIsANoOp",
                 2,
                 {MakePeer(1, 10), MakePeer(2, 20)},
                 MakePeer(1, 10),
                 false,
                 true,
                 {"peer1", "peer2"}},
        JoinCase{"SameIdUpdatesInPlaceEvenWhenFull",
                 2,
                 {MakePeer(1, 10), MakePeer(2, 20)},
                 Renamed(MakePeer(2, 20), "renamed"),
                 true,
                 true,
                 {"peer1", "renamed"}}),
    [](const auto& info) { return info.param.name; });

TEST(DocumentTest, JoinWithTtlSetsLease) {
  Document d = Doc(3, {});
  ApplyJoin(d, MakePeer(1, 10), absl::Seconds(30), kNow);
  ASSERT_TRUE(d.peers(0).has_lease_expires_at());
  EXPECT_EQ(d.peers(0).lease_expires_at().seconds(),
            absl::ToUnixSeconds(kNow + absl::Seconds(30)));
  EXPECT_EQ(NextLeaseExpiry(d), kNow + absl::Seconds(30));
}

TEST(DocumentTest, LeaveRemovesOnlyThatPeer) {
  Document d = Doc(3, {MakePeer(1, 10), MakePeer(2, 20)});
  EXPECT_TRUE(ApplyLeave(d, MakePeer(1, 0).id()).changed);
  EXPECT_THAT(Names(d), ElementsAre("peer2"));
  EXPECT_FALSE(ApplyLeave(d, MakePeer(1, 0).id()).changed);
  EXPECT_THAT(Names(d), ElementsAre("peer2"));
}

struct RefillCase {
  std::string name;
  uint32_t max_peers;
  std::vector<Peer> stored;
  Peer candidate;
  bool want_accepted;
  std::string want_replaced;  // name of the replaced peer, or ""
  std::vector<std::string> want_names;
};

class RefillTest : public ::testing::TestWithParam<RefillCase> {};

TEST_P(RefillTest, LongestLivedWins) {
  const RefillCase& c = GetParam();
  Document d = Doc(c.max_peers, c.stored);
  std::string replaced_id;
  for (const Peer& p : c.stored) {
    if (p.name() == c.want_replaced) replaced_id = p.id();
  }
  RefillOutcome o = ApplyRefill(d, c.candidate, std::nullopt, kNow);
  EXPECT_EQ(o.accepted, c.want_accepted);
  EXPECT_EQ(o.changed, c.want_accepted);
  EXPECT_EQ(o.replaced_id, replaced_id);
  EXPECT_EQ(Names(d), c.want_names);
}

INSTANTIATE_TEST_SUITE_P(
    SpecCases, RefillTest,
    ::testing::Values(
        // "if the candidate is not stored yet, then if there is room it is
        // added"
        RefillCase{"RoomAddsCandidate",
                   3,
                   {MakePeer(1, 10)},
                   MakePeer(2, 50),
                   true,
                   "",
                   {"peer1", "peer2"}},
        RefillCase{"EmptyListAddsCandidate",
                   1,
                   {},
                   MakePeer(2, 50),
                   true,
                   "",
                   {"peer2"}},
        // A stored candidate changes nothing.
        RefillCase{"AlreadyStored",
                   2,
                   {MakePeer(1, 10), MakePeer(2, 20)},
                   MakePeer(2, 20),
                   false,
                   "",
                   {"peer1", "peer2"}},
        // Full: the newest among stored + candidate is a stored one, which
        // the candidate replaces.
        RefillCase{"FullOlderCandidateReplacesNewest",
                   2,
                   {MakePeer(1, 10), MakePeer(2, 30)},
                   MakePeer(3, 20),
                   true,
                   "peer2",
                   {"peer1", "peer3"}},
        RefillCase{"FullOldestCandidateReplacesNewest",
                   3,
                   {MakePeer(1, 10), MakePeer(2, 30), MakePeer(4, 20)},
                   MakePeer(3, 1),
                   true,
                   "peer2",
                   {"peer3", "peer1", "peer4"}},
        // Full and the candidate is the newest: nothing changes.
        RefillCase{"FullNewestCandidateRefused",
                   2,
                   {MakePeer(1, 10), MakePeer(2, 30)},
                   MakePeer(3, 40),
                   false,
                   "",
                   {"peer1", "peer2"}},
        // Same start time: the id breaks the tie (peer3's id is larger than
        // peer2's, so peer3 counts as newer and is refused).
        RefillCase{"TieBrokenById",
                   2,
                   {MakePeer(1, 10), MakePeer(2, 30)},
                   MakePeer(3, 30),
                   false,
                   "",
                   {"peer1", "peer2"}}),
    [](const auto& info) { return info.param.name; });

TEST(DocumentTest, ResetKeepsConfig) {
  Document d = Doc(5, {MakePeer(1, 10), MakePeer(2, 20)});
  d.mutable_config()->set_min_refill_candidates(2);
  EXPECT_TRUE(ApplyReset(d).changed);
  EXPECT_THAT(Names(d), IsEmpty());
  EXPECT_EQ(d.config().max_peers(), 5u);
  EXPECT_EQ(d.config().min_refill_candidates(), 2u);
  EXPECT_FALSE(ApplyReset(d).changed);
}

TEST(DocumentTest, LoweringMaxPeersTrimsNewestFirst) {
  Document d = Doc(
      4, {MakePeer(1, 40), MakePeer(2, 10), MakePeer(3, 30), MakePeer(4, 20)});
  ConfigOutcome o = ApplyConfig(d, 2, std::nullopt);
  EXPECT_TRUE(o.changed);
  EXPECT_THAT(Names(d), ElementsAre("peer2", "peer4"));
  EXPECT_THAT(o.trimmed_ids,
              ElementsAre(MakePeer(1, 0).id(), MakePeer(3, 0).id()));
}

TEST(DocumentTest, RaisingMaxPeersKeepsEveryone) {
  Document d = Doc(2, {MakePeer(1, 10), MakePeer(2, 20)});
  ConfigOutcome o = ApplyConfig(d, 5, 3);
  EXPECT_TRUE(o.changed);
  EXPECT_THAT(o.trimmed_ids, IsEmpty());
  EXPECT_EQ(d.config().max_peers(), 5u);
  EXPECT_EQ(d.config().min_refill_candidates(), 3u);
  EXPECT_FALSE(ApplyConfig(d, 5, 3).changed);
  EXPECT_FALSE(ApplyConfig(d, std::nullopt, std::nullopt).changed);
}

TEST(DocumentTest, ExpireLeasesDropsOnlyExpired) {
  Document d = Doc(5, {});
  ApplyJoin(d, MakePeer(1, 10), absl::Seconds(10), kNow);
  ApplyJoin(d, MakePeer(2, 20), absl::Seconds(20), kNow);
  ApplyJoin(d, MakePeer(3, 30), std::nullopt, kNow);
  EXPECT_THAT(ExpireLeases(d, kNow + absl::Seconds(9)), IsEmpty());
  EXPECT_THAT(ExpireLeases(d, kNow + absl::Seconds(10)),
              ElementsAre(MakePeer(1, 0).id()));
  EXPECT_THAT(Names(d), ElementsAre("peer2", "peer3"));
  EXPECT_THAT(ExpireLeases(d, kNow + absl::Hours(1000)),
              ElementsAre(MakePeer(2, 0).id()));
  EXPECT_THAT(Names(d), ElementsAre("peer3"));
  EXPECT_EQ(NextLeaseExpiry(d), std::nullopt);
}

TEST(DocumentTest, RenewExtendsLeaseOrSaysNotFound) {
  Document d = Doc(5, {MakePeer(1, 10)});
  ASSERT_TRUE(ApplyRenew(d, MakePeer(1, 0).id(), absl::Seconds(5), kNow).ok());
  EXPECT_EQ(NextLeaseExpiry(d), kNow + absl::Seconds(5));
  EXPECT_EQ(ApplyRenew(d, MakePeer(9, 0).id(), absl::Seconds(5), kNow).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace peerlab::bootstrap
