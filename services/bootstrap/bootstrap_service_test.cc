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
  absl::StatusOr<pb::LeaveResponse> Leave(const std::string& id) {
    pb::LeaveRequest req;
    req.set_id(id);
    return Sync<pb::LeaveResponse>(
        [&](auto done) { service_.Leave(req, std::move(done)); });
  }
  absl::StatusOr<pb::RefillResponse> Refill(const pb::Peer& peer) {
    pb::RefillRequest req;
    *req.mutable_candidate() = peer;
    return Sync<pb::RefillResponse>(
        [&](auto done) { service_.Refill(req, std::move(done)); });
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
  absl::StatusOr<pb::RenewResponse> Renew(const std::string& id, int ttl) {
    pb::RenewRequest req;
    req.set_id(id);
    req.mutable_ttl()->set_seconds(ttl);
    return Sync<pb::RenewResponse>(
        [&](auto done) { service_.Renew(req, std::move(done)); });
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

TEST_F(BootstrapServiceTest, InvalidInputChangesNothing) {
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
  EXPECT_EQ(Config(0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Doc().SerializeAsString(), before.SerializeAsString());
}

TEST_F(BootstrapServiceTest, LeaveIsIdempotent) {
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  auto first = Leave(MakePeer(1, 0).id());
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->removed());
  EXPECT_EQ(first->document().revision(), 2u);
  auto again = Leave(MakePeer(1, 0).id());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->removed());
  EXPECT_EQ(again->document().revision(), 2u);
}

TEST_F(BootstrapServiceTest, RefillLetsTheLongestLivedIn) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Join(MakePeer(i, 10 * i)).ok());
  auto newer = Refill(MakePeer(4, 40));
  ASSERT_TRUE(newer.ok());
  EXPECT_FALSE(newer->accepted());
  auto older = Refill(MakePeer(5, 5));
  ASSERT_TRUE(older.ok());
  EXPECT_TRUE(older->accepted());
  EXPECT_EQ(older->replaced_id(), MakePeer(3, 0).id());
  EXPECT_THAT(Names(), ElementsAre("peer5", "peer1", "peer2"));
}

TEST_F(BootstrapServiceTest, OpenServiceLetsAnyoneAdminister) {
  EXPECT_TRUE(service_.open());
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  EXPECT_TRUE(Reset("").ok());
  EXPECT_TRUE(Config(5).ok());
}

TEST_F(BootstrapServiceTest, ResetKeepsConfig) {
  ASSERT_TRUE(Config(5).ok());
  ASSERT_TRUE(Join(MakePeer(1, 1)).ok());
  auto r = Reset("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->document().peers_size(), 0);
  EXPECT_EQ(r->document().config().max_peers(), 5u);
}

TEST_F(BootstrapServiceTest, LoweringMaxPeersTrimsAtOnce) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Join(MakePeer(i, 10 * i)).ok());
  auto r = Config(1);
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
  ASSERT_TRUE(Join(MakePeer(1, 1), 10).ok());
  clock_.Advance(absl::Seconds(8));
  auto r = Renew(MakePeer(1, 0).id(), 10);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->peer().lease_expires_at().seconds(),
            absl::ToUnixSeconds(clock_.Now() + absl::Seconds(10)));
  clock_.Advance(absl::Seconds(5));  // past the first lease, not the second
  EXPECT_TRUE(Expire().empty());
  EXPECT_EQ(Renew(MakePeer(9, 0).id(), 10).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Renew(MakePeer(1, 0).id(), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class AdminTokenTest : public BootstrapServiceTest {
 protected:
  AdminTokenTest() : BootstrapServiceTest("s3cret") {}
};

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
