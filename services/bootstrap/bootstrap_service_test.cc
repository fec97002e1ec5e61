#include "services/bootstrap/bootstrap_service.h"

#include <future>
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/bootstrap/document.h"
#include "services/bootstrap/memory_store.h"

namespace peerlab::bootstrap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Runs an asynchronous service call and waits for its answer.
template <typename Response, typename Call>
absl::StatusOr<Response> Sync(Call call) {
  std::promise<absl::StatusOr<Response>> promise;
  call([&](absl::StatusOr<Response> r) { promise.set_value(std::move(r)); });
  return promise.get_future().get();
}

pb::Peer MakePeer(int n, int64_t started) {
  pb::Peer p;
  p.set_id(absl::StrFormat("00000000-0000-4000-8000-%012d", n));
  p.set_name(absl::StrFormat("peer%d", n));
  p.set_host("127.0.0.1");
  p.set_port(7000 + n);
  p.set_protocol(pb::PROTOCOL_UDP);
  p.mutable_started_at()->set_seconds(started);
  return p;
}

class BootstrapServiceTest : public ::testing::Test {
 protected:
  explicit BootstrapServiceTest(std::optional<std::string> token = std::nullopt)
      : store_(NewDocument([] {
          pb::Config c;
          c.set_max_peers(3);
          return c;
        }())),
        service_(
            &store_, &clock_,
            {.admin_token = token, .sweep_interval = absl::ZeroDuration()}) {}

  absl::StatusOr<pb::JoinResponse> Join(const pb::Peer& peer,
                                        int ttl_seconds = 0) {
    pb::JoinRequest req;
    *req.mutable_peer() = peer;
    if (ttl_seconds) req.mutable_ttl()->set_seconds(ttl_seconds);
    return Sync<pb::JoinResponse>(
        [&](auto done) { service_.Join(req, std::move(done)); });
  }
  // Join/Leave/Renew/Refill as a caller with `secret` and `token`.
  absl::StatusOr<pb::JoinResponse> JoinAs(const pb::Peer& peer,
                                          const std::string& secret,
                                          const std::string& token = "",
                                          const std::string& client = "") {
    pb::JoinRequest req;
    *req.mutable_peer() = peer;
    req.set_secret(secret);
    return Sync<pb::JoinResponse>([&](auto done) {
      service_.Join(req, {.token = token, .client = client}, std::move(done));
    });
  }
  absl::StatusOr<pb::LeaveResponse> Leave(const std::string& id,
                                          const std::string& secret = "",
                                          const std::string& token = "") {
    pb::LeaveRequest req;
    req.set_id(id);
    req.set_secret(secret);
    return Sync<pb::LeaveResponse>([&](auto done) {
      service_.Leave(req, {.token = token}, std::move(done));
    });
  }
  absl::StatusOr<pb::RefillResponse> Refill(const pb::Peer& peer,
                                            const std::string& token = "") {
    pb::RefillRequest req;
    *req.mutable_candidate() = peer;
    return Sync<pb::RefillResponse>([&](auto done) {
      service_.Refill(req, {.token = token}, std::move(done));
    });
  }
  absl::StatusOr<pb::ResetResponse> Reset(const std::string& token) {
    return Sync<pb::ResetResponse>([&](auto done) {
      service_.Reset(pb::ResetRequest(), token, std::move(done));
    });
  }
  absl::StatusOr<pb::UpdateConfigResponse> Config(
      std::optional<uint32_t> max, const std::string& token = "") {
    pb::UpdateConfigRequest req;
    if (max) req.set_max_peers(*max);
    return Sync<pb::UpdateConfigResponse>(
        [&](auto done) { service_.UpdateConfig(req, token, std::move(done)); });
  }
  absl::StatusOr<pb::RenewResponse> Renew(const std::string& id, int ttl,
                                          const std::string& secret = "",
                                          const std::string& token = "") {
    pb::RenewRequest req;
    req.set_id(id);
    req.set_secret(secret);
    req.mutable_ttl()->set_seconds(ttl);
    return Sync<pb::RenewResponse>([&](auto done) {
      service_.Renew(req, {.token = token}, std::move(done));
    });
  }
  std::vector<std::string> Expire() {
    auto r = Sync<std::vector<std::string>>(
        [&](auto done) { service_.ExpireLeases(std::move(done)); });
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::vector<std::string>{};
  }
  pb::Document Doc() { return service_.List()->document(); }
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    const pb::Document doc = Doc();
    for (const auto& p : doc.peers()) out.push_back(p.name());
    return out;
  }

  FakeClock clock_;
  MemoryStore store_;
  BootstrapService service_;
};

class AdminTokenTest : public BootstrapServiceTest {
 protected:
  AdminTokenTest() : BootstrapServiceTest("s3cret") {}
};

TEST_F(BootstrapServiceTest, PingSaysOk) {
  EXPECT_EQ(service_.Ping().message(), "OK");
  EXPECT_EQ(service_.Ping().server_time().seconds(),
            absl::ToUnixSeconds(clock_.Now()));
}

TEST_F(BootstrapServiceTest, JoinUntilFullThenUnchanged) {
  for (int i = 1; i <= 3; ++i) {
    auto r = Join(MakePeer(i, i));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->joined());
    EXPECT_EQ(r->document().revision(), static_cast<uint64_t>(i));
  }
  auto full = Join(MakePeer(4, 0));
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full->joined());
  EXPECT_EQ(full->document().revision(), 3u);
  EXPECT_THAT(Names(), ElementsAre("peer1", "peer2", "peer3"));
}

TEST_F(BootstrapServiceTest, JoinWithoutStartTimeUsesServerTime) {
  pb::Peer p = MakePeer(1, 0);
  p.clear_started_at();
  ASSERT_TRUE(Join(p).ok());
  EXPECT_EQ(Doc().peers(0).started_at().seconds(),
            absl::ToUnixSeconds(clock_.Now()));
}

TEST_F(AdminTokenTest, InvalidInputChangesNothing) {
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  const pb::Document before = Doc();
  pb::Peer bad = MakePeer(2, 2);
  bad.set_port(0);
  auto r = Join(bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("peer.port"));
  bad = MakePeer(2, 2);
  bad.set_host("not a host");
  EXPECT_THAT(std::string(Refill(bad).status().message()),
              HasSubstr("candidate.host"));
  EXPECT_EQ(Leave("nope").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Join(MakePeer(3, 3), -5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Config(0, "s3cret").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Doc().SerializeAsString(), before.SerializeAsString());
}

TEST_F(BootstrapServiceTest, LeaveIsIdempotent) {
  auto joined = Join(MakePeer(1, 1));
  ASSERT_TRUE(joined.ok());
  auto first = Leave(MakePeer(1, 0).id(), joined->secret());
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->removed());
  EXPECT_EQ(first->document().revision(), 2u);
  auto again = Leave(MakePeer(1, 0).id(), joined->secret());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->removed());
  EXPECT_EQ(again->document().revision(), 2u);
}

// A new candidate starts "now" (its first sight), so with a full list it is
// the newest and replaces nobody; with room it is added, owned by the
// refiller's secret.
TEST_F(BootstrapServiceTest, RefillTakesRoomButANewCandidateReplacesNobody) {
  for (int i = 1; i <= 2; ++i) ASSERT_TRUE(Join(MakePeer(i, 10 * i)).ok());
  auto room = Refill(MakePeer(3, 5));
  ASSERT_TRUE(room.ok()) << room.status();
  EXPECT_TRUE(room->accepted());
  EXPECT_EQ(room->secret().size(), 64u);
  EXPECT_TRUE(Leave(MakePeer(3, 0).id(), room->secret())->removed());
  ASSERT_TRUE(Refill(MakePeer(3, 5)).ok());
  clock_.Advance(absl::Seconds(1));
  auto older = Refill(MakePeer(5, 5));  // claims an old start: no use
  ASSERT_TRUE(older.ok());
  EXPECT_FALSE(older->accepted());
  EXPECT_TRUE(older->secret().empty());
  EXPECT_THAT(Names(), ElementsAre("peer1", "peer2", "peer3"));
}

TEST_F(BootstrapServiceTest, OwnerUpdatesRenewsAndLeavesWithItsSecret) {
  auto joined = Join(MakePeer(1, 1), 10);
  ASSERT_TRUE(joined.ok());
  const std::string secret = joined->secret();
  EXPECT_EQ(secret.size(), 64u);  // 256 random bits in hex
  const std::string id = MakePeer(1, 0).id();
  pb::Peer moved = MakePeer(1, 1);
  moved.set_host("127.0.0.2");
  auto updated = JoinAs(moved, secret);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->secret(), secret);
  EXPECT_EQ(Doc().peers(0).host(), "127.0.0.2");
  EXPECT_TRUE(Renew(id, 20, secret).ok());
  EXPECT_EQ(Leave(id, std::string(64, '0')).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Leave(id, "short").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Leave(id, secret)->removed());
}

TEST_F(BootstrapServiceTest, AClientChosenSecretMakesRetriesHarmless) {
  const std::string secret(40, 'k');
  auto first = JoinAs(MakePeer(1, 1), secret);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->secret(), secret);
  auto retry = JoinAs(MakePeer(1, 1), secret);  // the answer was lost
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->joined());
  EXPECT_EQ(retry->document().revision(), 1u);
  EXPECT_EQ(JoinAs(MakePeer(2, 1), "too short").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JoinAs(MakePeer(2, 1), std::string(40, ' ')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BootstrapServiceTest, TheSecretHashNeverLeavesTheServer) {
  auto joined = Join(MakePeer(1, 1));
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(joined->document().peers(0).owner_secret_sha256().empty());
  EXPECT_TRUE(Doc().peers(0).owner_secret_sha256().empty());
  EXPECT_EQ(Doc().peers(0).first_seen_at().seconds(),
            absl::ToUnixSeconds(clock_.Now()));
  // The store holds the hash, never the secret.
  auto stored = store_.Read();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->peers(0).owner_secret_sha256().size(), 32u);
  EXPECT_EQ(stored->SerializeAsString().find(joined->secret()),
            std::string::npos);
  // A client cannot plant a hash or a first sight of its own.
  pb::Peer planted = MakePeer(2, 1);
  planted.set_owner_secret_sha256(std::string(32, 'h'));
  planted.mutable_first_seen_at()->set_seconds(1);
  ASSERT_TRUE(Join(planted).ok());
  stored = store_.Read();
  EXPECT_NE(stored->peers(1).owner_secret_sha256(), std::string(32, 'h'));
  EXPECT_EQ(stored->peers(1).first_seen_at().seconds(),
            absl::ToUnixSeconds(clock_.Now()));
}

TEST_F(BootstrapServiceTest, AnUpdateKeepsTheFirstSight) {
  auto joined = Join(MakePeer(1, 1));
  ASSERT_TRUE(joined.ok());
  const int64_t first = absl::ToUnixSeconds(clock_.Now());
  clock_.Advance(absl::Seconds(50));  // within the lease
  ASSERT_TRUE(JoinAs(MakePeer(1, 1), joined->secret()).ok());
  EXPECT_EQ(Doc().peers(0).first_seen_at().seconds(), first);
  EXPECT_EQ(Doc().peers(0).started_at().seconds(), first);
}

// Issue 13, squatting without a lease: an entry made without a lease
// stayed until an admin removed it, so a client that joined first and
// then went silent held a free place for good.
TEST_F(BootstrapServiceTest, AnUnrenewedJoinFreesItsSlotAfterTheDefaultLease) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Join(MakePeer(i, 1)).ok());
  auto refused = Join(MakePeer(4, 1));
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->joined());
  clock_.Advance(absl::Seconds(61));  // nobody renewed
  // List no longer shows them, even before the sweeper has run.
  EXPECT_THAT(Names(), ::testing::IsEmpty());
  auto joined = Join(MakePeer(4, 1));
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_TRUE(joined->joined());
  EXPECT_THAT(Names(), ElementsAre("peer4"));
}

TEST_F(BootstrapServiceTest, EveryClientLeaseIsBoundedByTheServerMaximum) {
  auto forever = Join(MakePeer(1, 1), 30 * 24 * 3600);
  ASSERT_TRUE(forever.ok()) << forever.status();
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  EXPECT_EQ(Doc().peers(0).lease_expires_at().seconds(), now + 3600);
  EXPECT_EQ(forever->lease().seconds(), 3600);
  auto plain = Join(MakePeer(2, 2));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->lease().seconds(), 60);  // the default
  auto renewed = Renew(MakePeer(2, 0).id(), 30 * 24 * 3600, plain->secret());
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->peer().lease_expires_at().seconds(), now + 3600);
  EXPECT_EQ(renewed->lease().seconds(), 3600);
  auto refill = Refill(MakePeer(3, 3));
  ASSERT_TRUE(refill.ok());
  EXPECT_EQ(refill->lease().seconds(), 60);
  EXPECT_EQ(Doc().peers(2).lease_expires_at().seconds(), now + 60);
}

// A server started without an admin token let anyone Reset the list.
TEST_F(BootstrapServiceTest, WithoutAnAdminTokenNobodyAdministers) {
  EXPECT_TRUE(service_.open());
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  auto reset = Reset("");
  EXPECT_EQ(reset.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(reset.status().message()),
              HasSubstr("no admin token"));
  EXPECT_EQ(Reset("anything").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Config(5).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(Names(), ElementsAre("peer1"));
}

TEST_F(AdminTokenTest, ResetKeepsConfig) {
  ASSERT_TRUE(Config(5, "s3cret").ok());
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  auto r = Reset("s3cret");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->document().peers_size(), 0);
  EXPECT_EQ(r->document().config().max_peers(), 5u);
}

TEST_F(AdminTokenTest, LoweringMaxPeersTrimsAtOnce) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Join(MakePeer(i, 10 * i)).ok());
  auto r = Config(1, "s3cret");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->trimmed_ids(),
              ElementsAre(MakePeer(3, 0).id(), MakePeer(2, 0).id()));
  EXPECT_THAT(Names(), ElementsAre("peer1"));
  EXPECT_EQ(r->document().revision(), 4u);
}

TEST_F(BootstrapServiceTest, LeaseExpiresWithTheClock) {
  int seen = 0;
  store_.Subscribe([&](const pb::Document&) { ++seen; });
  ASSERT_TRUE(Join(MakePeer(1, 1), 10).ok());
  ASSERT_TRUE(Join(MakePeer(2, 2)).ok());
  EXPECT_TRUE(Doc().peers(0).has_lease_expires_at());
  clock_.Advance(absl::Seconds(9));
  EXPECT_TRUE(Expire().empty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(Expire(), ElementsAre(MakePeer(1, 0).id()));
  EXPECT_THAT(Names(), ElementsAre("peer2"));
  EXPECT_EQ(seen, 3);  // two joins and the expiry: watchers see it
}

TEST_F(BootstrapServiceTest, MutationsDropExpiredLeasesFirst) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Join(MakePeer(i, i), 5).ok());
  clock_.Advance(absl::Seconds(6));
  auto r = Join(MakePeer(4, 4));  // full list, but every lease has run out
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->joined());
  EXPECT_THAT(Names(), ElementsAre("peer4"));
}

TEST_F(BootstrapServiceTest, RenewExtendsTheLease) {
  auto joined = Join(MakePeer(1, 1), 10);
  ASSERT_TRUE(joined.ok());
  clock_.Advance(absl::Seconds(8));
  auto r = Renew(MakePeer(1, 0).id(), 10, joined->secret());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->peer().lease_expires_at().seconds(),
            absl::ToUnixSeconds(clock_.Now() + absl::Seconds(10)));
  clock_.Advance(absl::Seconds(5));  // past the first lease, not the second
  EXPECT_TRUE(Expire().empty());
  EXPECT_EQ(Renew(MakePeer(9, 0).id(), 10).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Renew(MakePeer(1, 0).id(), 0, joined->secret()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Issue 13, the attacks on the bootstrap list (fail on the code before
// entry ownership): ids are public through List, so any client could
// rewrite, renew or remove any entry.
TEST_F(BootstrapServiceTest, AnotherClientCannotRemoveOrRewriteAnEntry) {
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  const std::string id = Doc().peers(0).id();  // public, as List shows it
  const int64_t lease = Doc().peers(0).lease_expires_at().seconds();
  clock_.Advance(absl::Seconds(1));
  pb::Peer hijack = MakePeer(1, 1);
  hijack.set_host("10.6.6.6");
  EXPECT_EQ(Join(hijack).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Leave(id).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Renew(id, 10).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(Doc().peers_size(), 1);
  EXPECT_EQ(Doc().peers(0).host(), "127.0.0.1");
  EXPECT_EQ(Doc().peers(0).lease_expires_at().seconds(), lease);
}

// Three fake peers claiming to have started in year 1 took every place of
// a full list through Refill (each the "longest-lived"), and no honest
// peer could ever displace them.
TEST_F(AdminTokenTest, StartTimesInYearOneCannotTakeTheSlots) {
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Join(MakePeer(i, now - 60)).ok());
  constexpr int64_t kYearOne = -62135596800;  // 0001-01-01T00:00:00Z
  for (int i = 7; i <= 9; ++i) {
    auto r = Refill(MakePeer(i, kYearOne));
    if (r.ok()) EXPECT_FALSE(r->accepted()) << "peer" << i;
  }
  EXPECT_THAT(Names(), ElementsAre("peer1", "peer2", "peer3"));
  // Into an empty list a claimed year 1 is recorded as the first sight.
  ASSERT_TRUE(Reset("s3cret").ok());
  ASSERT_TRUE(Join(MakePeer(7, kYearOne)).ok());
  EXPECT_EQ(Doc().peers(0).started_at().seconds(), now);
}

TEST_F(BootstrapServiceTest, StartTimeInTheFutureIsRefused) {
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  auto r = Join(MakePeer(1, now + 24 * 3600));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("peer.started_at"));
  EXPECT_EQ(Refill(MakePeer(2, now + 24 * 3600)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Join(MakePeer(3, now + 30)).ok());  // within the clock skew
}

// One client could join without limit (each join one durable write).
TEST_F(BootstrapServiceTest, AJoinFloodFromOneClientIsLimited) {
  int refused = 0;
  std::string message;
  for (int i = 1; i <= 1000; ++i) {
    auto r = Join(MakePeer(i, 1));
    if (absl::IsResourceExhausted(r.status())) {
      ++refused;
      message = std::string(r.status().message());
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_THAT(message, HasSubstr("retry in"));
}

TEST_F(AdminTokenTest, ResetAndConfigNeedTheToken) {
  EXPECT_FALSE(service_.open());
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  const pb::Document before = Doc();
  EXPECT_EQ(Reset("").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Reset("wrong").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Config(1, "").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Config(1, "s3cret-").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Doc().SerializeAsString(), before.SerializeAsString());
  EXPECT_TRUE(Config(1, "s3cret").ok());
  EXPECT_TRUE(Reset("s3cret").ok());
  // Other calls need no token.
  EXPECT_TRUE(Join(MakePeer(2, 2)).ok());
}

TEST_F(AdminTokenTest, OnlyTheAdminMakesPermanentEntries) {
  auto admin = JoinAs(MakePeer(1, 1), "", "s3cret");
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_FALSE(admin->has_lease());
  auto client = Join(MakePeer(2, 2));
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->lease().seconds(), 60);
  clock_.Advance(absl::Hours(24 * 365));
  EXPECT_THAT(Names(), ElementsAre("peer1"));
}

TEST_F(AdminTokenTest, TheAdminTokenOverridesOwnership) {
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  ASSERT_TRUE(Join(MakePeer(2, 1)).ok());
  const std::string id = MakePeer(1, 0).id();
  EXPECT_EQ(Renew(id, 10, "", "wrong").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Renew(id, 10, "", "s3cret").ok());
  pb::Peer moved = MakePeer(1, 1);
  moved.set_port(9999);
  auto rewritten = JoinAs(moved, "", "s3cret");
  ASSERT_TRUE(rewritten.ok()) << rewritten.status();
  EXPECT_TRUE(rewritten->secret().empty());  // the admin is not the owner
  EXPECT_TRUE(Leave(id, "", "s3cret")->removed());
  EXPECT_THAT(Names(), ElementsAre("peer2"));
}

// Entries stored before ownership have no hash: only the admin (or their
// lease) removes them; a Refill that would replace one needs the admin.
TEST_F(AdminTokenTest, EntriesFromBeforeOwnershipAreTheAdminsOnly) {
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  ASSERT_TRUE(store_
                  .MutateSync([&](pb::Document& doc) -> absl::StatusOr<bool> {
                    for (int i = 1; i <= 3; ++i) {
                      // Legacy entries, one claiming a later start.
                      *doc.add_peers() = MakePeer(i, i == 3 ? now + 50 : 1);
                    }
                    SortPeers(doc);
                    return true;
                  })
                  .ok());
  const std::string id = MakePeer(1, 0).id();
  EXPECT_EQ(Leave(id, std::string(64, 'a')).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(JoinAs(MakePeer(1, 1), std::string(64, 'a')).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto refill = Refill(MakePeer(4, 1));
  EXPECT_EQ(refill.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refill.status().message()),
              HasSubstr(MakePeer(3, 0).id()));
  auto admin_refill = Refill(MakePeer(4, 1), "s3cret");
  ASSERT_TRUE(admin_refill.ok()) << admin_refill.status();
  EXPECT_EQ(admin_refill->replaced_id(), MakePeer(3, 0).id());
  EXPECT_TRUE(Leave(id, "", "s3cret")->removed());
}

TEST_F(AdminTokenTest, JoinsAreRateLimitedPerClientButNotForTheAdmin) {
  int ok = 0;
  for (int i = 1; i <= 250; ++i) ok += JoinAs(MakePeer(i, 1), "", "", "a").ok();
  EXPECT_EQ(ok, 200);  // the default burst
  auto refused = JoinAs(MakePeer(300, 1), "", "", "a");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("retry in 20ms"));                  // 50 per second
  EXPECT_TRUE(JoinAs(MakePeer(301, 1), "", "", "b").ok());  // another client
  EXPECT_TRUE(JoinAs(MakePeer(302, 1), "", "s3cret", "a").ok());
  clock_.Advance(absl::Milliseconds(20));
  EXPECT_TRUE(JoinAs(MakePeer(303, 1), "", "", "a").ok());
}

TEST(RateLimiterTest, TheTableIsBounded) {
  ClientRateLimiter limiter({.rate = 1, .burst = 1, .max_clients = 2});
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Take("a", t).ok());
  EXPECT_TRUE(limiter.Take("b", t).ok());
  auto full = limiter.Take("c", t);  // a and b are busy
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limiter.clients(), 2u);
  // Once a and b are idle (full buckets) they make room.
  EXPECT_TRUE(limiter.Take("c", t + absl::Seconds(1)).ok());
  EXPECT_LE(limiter.clients(), 2u);
  EXPECT_GE(limiter.refused(), 1u);
}

// Issue 13: the join rate limit was per address, so a client with an IPv6
// /64 (2^64 addresses) had as many buckets as it liked.
TEST(RateLimiterTest, OneBucketPerIpv6Slash64AndMappedIpv4AsIpv4) {
  ClientRateLimiter limiter({.rate = 1, .burst = 1});
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Take("2001:db8:1:2::1", t).ok());
  EXPECT_EQ(limiter.Take("2001:db8:1:2::2", t).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limiter.Take("2001:db8:1:2:ffff:ffff:ffff:ffff", t).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(limiter.Take("2001:db8:1:3::1", t).ok());  // another /64
  EXPECT_TRUE(limiter.Take("10.0.0.1", t).ok());
  EXPECT_EQ(limiter.Take("::ffff:10.0.0.1", t).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(limiter.Take("10.0.0.2", t).ok());  // IPv4: per address
  EXPECT_EQ(limiter.clients(), 4u);  // two /64s, two IPv4 addresses
}

TEST(RateLimitKeyTest, Table) {
  struct Case {
    const char* client;
    const char* key;
  };
  for (const Case& c : std::vector<Case>{
           {"10.1.2.3", "10.1.2.3"},
           {"::ffff:10.1.2.3", "10.1.2.3"},
           {"::FFFF:10.1.2.3", "10.1.2.3"},
           {"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
           {"2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
           {"2001:db8:1:3::1", "2001:db8:1:3::/64"},
           {"2001:db8::", "2001:db8::/64"},
           {"::1", "::/64"},
           {"fe80::1%eth0", "fe80::/64"},
           {"::", "::/64"},
           {"unix:/tmp/s", "unix:/tmp/s"},
           {"not-an-address", "not-an-address"},
           {"", ""},
       }) {
    EXPECT_EQ(RateLimitKey(c.client), c.key) << c.client;
  }
}

TEST(ClientAddressTest, DropsThePort) {
  EXPECT_EQ(ClientAddress("ipv4:127.0.0.1:5000"), "127.0.0.1");
  EXPECT_EQ(ClientAddress("ipv6:[::1]:5000"), "::1");
  EXPECT_EQ(ClientAddress("ipv6:%5B::1%5D:5000"), "::1");
  EXPECT_EQ(ClientAddress("unix:/tmp/s"), "unix:/tmp/s");
}

TEST(BearerTokenTest, Parses) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(LeaseSweeperTest, DropsExpiredPeersOnTheRealClock) {
  pb::Config c;
  c.set_max_peers(3);
  MemoryStore store(NewDocument(c));
  BootstrapService service(
      &store, &Clock::Real(),
      {.admin_token = std::nullopt, .sweep_interval = absl::Milliseconds(100)});
  std::promise<void> dropped;
  bool done = false;
  store.Subscribe([&](const pb::Document& d) {
    if (d.peers_size() == 0 && d.revision() == 2 && !done) {
      done = true;
      dropped.set_value();
    }
  });
  pb::JoinRequest req;
  *req.mutable_peer() = MakePeer(1, 1);
  req.mutable_ttl()->set_seconds(1);
  auto r = Sync<pb::JoinResponse>(
      [&](auto cb) { service.Join(req, std::move(cb)); });
  ASSERT_TRUE(r.ok());
  // The lease is one second; allow generous slack for a loaded machine.
  EXPECT_EQ(dropped.get_future().wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
}

}  // namespace
}  // namespace peerlab::bootstrap
