#include "services/bootstrap/bootstrap_service.h"

#include <algorithm>
#include <future>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"
#include "services/bootstrap/document.h"
#include "services/bootstrap/entry_secret.h"
#include "services/bootstrap/validation.h"
#include "base/logging.h"

namespace peerlab::bootstrap {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

// Runs `apply` as one store mutation, after dropping expired leases, and
// hands `finish` the outcome and the durable document.
template <typename Outcome, typename Response>
void MutateAndAnswer(Store* store, absl::Time now,
                     std::function<absl::StatusOr<Outcome>(Document&)> apply,
                     std::function<Response(const Outcome&, Document)> finish,
                     BootstrapService::Done<Response> done) {
  auto outcome = std::make_shared<Outcome>();
  store->Mutate(
      [apply = std::move(apply), outcome,
       now](Document& doc) -> absl::StatusOr<bool> {
        std::vector<std::string> expired = ExpireLeases(doc, now);
        for (const auto& id : expired) {
          spdlog::info("lease of peer {} expired; dropped", id);
        }
        absl::StatusOr<Outcome> result = apply(doc);
        if (!result.ok()) return result.status();
        *outcome = *std::move(result);
        return outcome->changed || !expired.empty();
      },
      [outcome, finish = std::move(finish),
       done = std::move(done)](absl::StatusOr<Document> doc) {
        if (!doc.ok()) {
          done(doc.status());
          return;
        }
        StripSecrets(*doc);
        done(finish(*outcome, *std::move(doc)));
      });
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

struct ExpireOutcome {
  bool changed = false;
};

Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Time FromTimestamp(const Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Duration ToDurationProto(absl::Duration d) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

// OK when `admin`, or `secret` is the owner secret of `stored`;
// PermissionDenied saying what is missing otherwise.
absl::Status CheckOwner(const pb::Peer& stored, const std::string& secret,
                        bool admin, absl::string_view what) {
  if (admin) return absl::OkStatus();
  if (stored.owner_secret_sha256().empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, " ", stored.id(),
        ": the entry was stored before entries had owners; only the admin "
        "token (or its lease running out) removes or changes it"));
  }
  if (secret.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, " ", stored.id(),
        ": the entry belongs to the client that created it; present its "
        "secret (the one Join returned) or the admin token"));
  }
  if (!EntrySecretMatches(secret, stored.owner_secret_sha256())) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, " ", stored.id(), ": the secret does not match the entry's"));
  }
  return absl::OkStatus();
}

// The secret a request offers for a new entry: its own (validated), or a
// new random one.
absl::StatusOr<std::string> OfferedSecret(const std::string& secret) {
  if (secret.empty()) return NewEntrySecret();
  if (auto s = ValidateEntrySecret(secret, "secret"); !s.ok()) return s;
  return secret;
}

// Fills in the server's fields of `peer` about to be stored: the owner hash
// and first sight (kept from `stored` when the id is stored, else `hash` and
// `now`), and started_at raised to the first sight.
void Own(pb::Peer& peer, const pb::Peer* stored, const std::string& hash,
         absl::Time now) {
  if (stored != nullptr) {
    peer.set_owner_secret_sha256(stored->owner_secret_sha256());
    if (stored->has_first_seen_at()) {
      *peer.mutable_first_seen_at() = stored->first_seen_at();
    } else {
      peer.clear_first_seen_at();  // an entry from before owners
    }
  } else {
    peer.set_owner_secret_sha256(hash);
    *peer.mutable_first_seen_at() = ToTimestamp(now);
  }
  if (peer.has_first_seen_at() &&
      FromTimestamp(peer.started_at()) < FromTimestamp(peer.first_seen_at())) {
    *peer.mutable_started_at() = peer.first_seen_at();
  }
}

}  // namespace

std::string BearerToken(const std::string& authorization) {
  constexpr absl::string_view kPrefix = "Bearer ";
  if (!absl::StartsWithIgnoreCase(authorization, kPrefix)) return "";
  return authorization.substr(kPrefix.size());
}

BootstrapService::BootstrapService(Store* store, Clock* clock, Options options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      limiter_(options_.join_limit) {
  if (options_.sweep_interval > absl::ZeroDuration()) {
    sweeper_ = std::thread([this] { SweeperLoop(); });
  }
}

BootstrapService::~BootstrapService() {
  {
    std::lock_guard<std::mutex> lock(sweeper_mu_);
    stopping_ = true;
  }
  sweeper_wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

absl::Status BootstrapService::CheckAdmin(const std::string& token) const {
  if (!options_.admin_token.has_value()) {
    return absl::PermissionDeniedError(
        "this server has no admin token, so nobody may administer it "
        "(peerlab-bootstrap always makes one: --admin-token-file, or its "
        "per-user file)");
  }
  if (token.empty()) {
    return absl::PermissionDeniedError(
        "admin token required: send metadata \"authorization: Bearer TOKEN\"");
  }
  if (!ConstantTimeEquals(token, *options_.admin_token)) {
    return absl::PermissionDeniedError("admin token does not match");
  }
  return absl::OkStatus();
}

bool BootstrapService::IsAdmin(const std::string& token) const {
  return options_.admin_token.has_value() && !token.empty() &&
         ConstantTimeEquals(token, *options_.admin_token);
}

std::optional<absl::Duration> BootstrapService::LeaseFor(
    std::optional<absl::Duration> ttl, bool admin) const {
  if (admin) return ttl;
  if (!ttl.has_value()) {
    return std::min(options_.default_lease, options_.max_lease);
  }
  return std::min(*ttl, options_.max_lease);
}

absl::Status BootstrapService::Admit(const Caller& caller, absl::Time now) {
  if (IsAdmin(caller.token)) return absl::OkStatus();
  return limiter_.Take(caller.client, now);
}

absl::Status BootstrapService::CheckStartedAt(const pb::Peer& peer,
                                              absl::string_view field,
                                              absl::Time now) const {
  const absl::Time started = FromTimestamp(peer.started_at());
  if (started > now + options_.max_clock_skew) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".started_at: ", absl::FormatTime(started, absl::UTCTimeZone()),
        " is in the future (the server's clock says ",
        absl::FormatTime(now, absl::UTCTimeZone()), "; at most ",
        absl::FormatDuration(options_.max_clock_skew), " ahead is accepted)"));
  }
  return absl::OkStatus();
}

pb::PingResponse BootstrapService::Ping() const {
  pb::PingResponse response;
  response.set_message("OK");
  response.set_server_version(options_.version);
  *response.mutable_server_time() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  return response;
}

void BootstrapService::Join(const pb::JoinRequest& request,
                            const Caller& caller, Done<pb::JoinResponse> done) {
  absl::Time now = clock_->Now();
  auto peer = ValidatePeer(request.peer(), "peer", now);
  if (!peer.ok()) return done(peer.status());
  auto ttl = ValidateTtl(&request.ttl(), request.has_ttl(), false);
  if (!ttl.ok()) return done(ttl.status());
  if (auto s = CheckStartedAt(*peer, "peer", now); !s.ok()) return done(s);
  if (auto s = Admit(caller, now); !s.ok()) return done(s);
  auto secret = OfferedSecret(request.secret());
  if (!secret.ok()) return done(secret.status());
  peer->clear_first_seen_at();
  peer->clear_owner_secret_sha256();
  const bool admin = IsAdmin(caller.token);
  const std::optional<absl::Duration> lease = LeaseFor(*ttl, admin);
  // The secret the answer carries: empty when an admin changed a stored
  // entry without presenting its secret.
  auto answer_secret = std::make_shared<std::string>(*secret);
  MutateAndAnswer<JoinOutcome, pb::JoinResponse>(
      store_, now,
      [peer = *peer, ttl = lease, now, secret = *secret,
       presented = request.secret(), admin,
       answer_secret](Document& doc) -> absl::StatusOr<JoinOutcome> {
        pb::Peer stored = peer;
        int index = FindPeer(doc, peer.id());
        if (index >= 0) {
          const pb::Peer& old = doc.peers(index);
          if (auto s = CheckOwner(old, presented, admin, "peer.id"); !s.ok()) {
            return s;
          }
          if (presented.empty()) answer_secret->clear();
          Own(stored, &old, "", now);
        } else {
          Own(stored, nullptr, EntrySecretHash(secret), now);
        }
        return ApplyJoin(doc, stored, ttl, now);
      },
      [name = peer->name(), id = peer->id(), answer_secret, lease](
          const JoinOutcome& o, Document doc) {
        if (o.changed) {
          spdlog::info("join {} ({}): {} (revision {})", name, id,
                       o.joined ? "joined" : "list full", doc.revision());
        }
        pb::JoinResponse r;
        r.set_joined(o.joined);
        r.set_secret(*answer_secret);
        if (o.joined && lease.has_value()) {
          *r.mutable_lease() = ToDurationProto(*lease);
        }
        *r.mutable_document() = std::move(doc);
        return r;
      },
      std::move(done));
}

void BootstrapService::Leave(const pb::LeaveRequest& request,
                             const Caller& caller,
                             Done<pb::LeaveResponse> done) {
  auto id = ValidateId(request.id(), "id");
  if (!id.ok()) return done(id.status());
  MutateAndAnswer<LeaveOutcome, pb::LeaveResponse>(
      store_, clock_->Now(),
      [id = *id, secret = request.secret(), admin = IsAdmin(caller.token)](
          Document& doc) -> absl::StatusOr<LeaveOutcome> {
        int index = FindPeer(doc, id);
        if (index < 0) return LeaveOutcome{};
        if (auto s = CheckOwner(doc.peers(index), secret, admin, "id");
            !s.ok()) {
          return s;
        }
        return ApplyLeave(doc, id);
      },
      [id = *id](const LeaveOutcome& o, Document doc) {
        if (o.changed) {
          spdlog::info("leave {} (revision {})", id, doc.revision());
        }
        pb::LeaveResponse r;
        r.set_removed(o.changed);
        *r.mutable_document() = std::move(doc);
        return r;
      },
      std::move(done));
}

void BootstrapService::Refill(const pb::RefillRequest& request,
                              const Caller& caller,
                              Done<pb::RefillResponse> done) {
  absl::Time now = clock_->Now();
  auto peer = ValidatePeer(request.candidate(), "candidate", now);
  if (!peer.ok()) return done(peer.status());
  auto ttl = ValidateTtl(&request.ttl(), request.has_ttl(), false);
  if (!ttl.ok()) return done(ttl.status());
  if (auto s = CheckStartedAt(*peer, "candidate", now); !s.ok()) {
    return done(s);
  }
  if (auto s = Admit(caller, now); !s.ok()) return done(s);
  auto secret = OfferedSecret(request.secret());
  if (!secret.ok()) return done(secret.status());
  peer->clear_first_seen_at();
  peer->clear_owner_secret_sha256();
  const bool admin = IsAdmin(caller.token);
  const std::optional<absl::Duration> lease = LeaseFor(*ttl, admin);
  MutateAndAnswer<RefillOutcome, pb::RefillResponse>(
      store_, now,
      [peer = *peer, ttl = lease, now, secret = *secret,
       admin](Document& doc) -> absl::StatusOr<RefillOutcome> {
        if (FindPeer(doc, peer.id()) >= 0) return RefillOutcome{};
        pb::Peer stored = peer;
        Own(stored, nullptr, EntrySecretHash(secret), now);
        RefillOutcome o = ApplyRefill(doc, stored, ttl, now);
        if (!o.replaced_id.empty() && !admin) {
          // The store drops `doc` on an error: nothing is replaced.
          return absl::PermissionDeniedError(
              absl::StrCat("candidate ", peer.id(), " would replace the entry ",
                           o.replaced_id,
                           ", which belongs to another client; only the "
                           "admin token replaces another's entry"));
        }
        return o;
      },
      [name = peer->name(), secret = *secret, lease](const RefillOutcome& o,
                                                     Document doc) {
        if (o.accepted) {
          spdlog::info("refill {}: accepted{}{} (revision {})", name,
                       o.replaced_id.empty() ? "" : ", replaced ",
                       o.replaced_id, doc.revision());
        }
        pb::RefillResponse r;
        r.set_accepted(o.accepted);
        if (o.accepted) r.set_secret(secret);
        if (o.accepted && lease.has_value()) {
          *r.mutable_lease() = ToDurationProto(*lease);
        }
        r.set_replaced_id(o.replaced_id);
        *r.mutable_document() = std::move(doc);
        return r;
      },
      std::move(done));
}

absl::StatusOr<pb::ListResponse> BootstrapService::List() {
  auto doc = store_->Read();
  if (!doc.ok()) return doc.status();
  // Not yet swept (or swept by another replica later): not listed.
  bootstrap::ExpireLeases(*doc, clock_->Now());
  StripSecrets(*doc);
  pb::ListResponse r;
  *r.mutable_document() = *std::move(doc);
  return r;
}

void BootstrapService::Reset(const pb::ResetRequest&, const std::string& token,
                             Done<pb::ResetResponse> done) {
  if (auto s = CheckAdmin(token); !s.ok()) return done(s);
  MutateAndAnswer<ResetOutcome, pb::ResetResponse>(
      store_, clock_->Now(),
      [](Document& doc) -> absl::StatusOr<ResetOutcome> {
        return ApplyReset(doc);
      },
      [](const ResetOutcome&, Document doc) {
        spdlog::info("reset: every peer removed (revision {})", doc.revision());
        pb::ResetResponse r;
        *r.mutable_document() = std::move(doc);
        return r;
      },
      std::move(done));
}

void BootstrapService::UpdateConfig(const pb::UpdateConfigRequest& request,
                                    const std::string& token,
                                    Done<pb::UpdateConfigResponse> done) {
  if (auto s = CheckAdmin(token); !s.ok()) return done(s);
  std::optional<uint32_t> max_peers, min_refill;
  if (request.has_max_peers()) max_peers = request.max_peers();
  if (request.has_min_refill_candidates()) {
    min_refill = request.min_refill_candidates();
  }
  MutateAndAnswer<ConfigOutcome, pb::UpdateConfigResponse>(
      store_, clock_->Now(),
      [max_peers, min_refill](Document& doc) -> absl::StatusOr<ConfigOutcome> {
        pb::Config next = doc.config();
        if (max_peers) next.set_max_peers(*max_peers);
        if (min_refill) next.set_min_refill_candidates(*min_refill);
        if (auto s = ValidateConfig(next); !s.ok()) return s;
        return ApplyConfig(doc, max_peers, min_refill);
      },
      [](const ConfigOutcome& o, Document doc) {
        if (o.changed) {
          spdlog::info(
              "config: max_peers={} min_refill_candidates={}{}{} "
              "(revision {})",
              doc.config().max_peers(), doc.config().min_refill_candidates(),
              o.trimmed_ids.empty() ? "" : ", trimmed ",
              absl::StrJoin(o.trimmed_ids, ","), doc.revision());
        }
        pb::UpdateConfigResponse r;
        for (const auto& id : o.trimmed_ids) r.add_trimmed_ids(id);
        *r.mutable_document() = std::move(doc);
        return r;
      },
      std::move(done));
}

void BootstrapService::Renew(const pb::RenewRequest& request,
                             const Caller& caller,
                             Done<pb::RenewResponse> done) {
  auto id = ValidateId(request.id(), "id");
  if (!id.ok()) return done(id.status());
  auto ttl = ValidateTtl(&request.ttl(), request.has_ttl(), true);
  if (!ttl.ok()) return done(ttl.status());
  absl::Time now = clock_->Now();
  struct RenewOutcome {
    bool changed = true;
  };
  const bool admin = IsAdmin(caller.token);
  const absl::Duration lease = *LeaseFor(*ttl, admin);
  MutateAndAnswer<RenewOutcome, pb::RenewResponse>(
      store_, now,
      [id = *id, ttl = lease, now, secret = request.secret(),
       admin](Document& doc) -> absl::StatusOr<RenewOutcome> {
        if (int index = FindPeer(doc, id); index >= 0) {
          if (auto s = CheckOwner(doc.peers(index), secret, admin, "id");
              !s.ok()) {
            return s;
          }
        }
        if (auto s = ApplyRenew(doc, id, ttl, now); !s.ok()) return s;
        return RenewOutcome{};
      },
      [id = *id, lease](const RenewOutcome&, Document doc) {
        pb::RenewResponse r;
        *r.mutable_lease() = ToDurationProto(lease);
        int index = FindPeer(doc, id);
        if (index >= 0) *r.mutable_peer() = doc.peers(index);
        *r.mutable_document() = std::move(doc);
        return r;
      },
      std::move(done));
}

void BootstrapService::ExpireLeases(Done<std::vector<std::string>> done) {
  auto dropped = std::make_shared<std::vector<std::string>>();
  absl::Time now = clock_->Now();
  store_->Mutate(
      [dropped, now](Document& doc) -> absl::StatusOr<bool> {
        *dropped = bootstrap::ExpireLeases(doc, now);
        return !dropped->empty();
      },
      [dropped, done = std::move(done)](absl::StatusOr<Document> doc) {
        if (!doc.ok()) return done(doc.status());
        for (const auto& id : *dropped) {
          spdlog::info("lease of peer {} expired; dropped (revision {})", id,
                       doc->revision());
        }
        done(*dropped);
      });
}

void BootstrapService::SweeperLoop() {
  std::unique_lock<std::mutex> lock(sweeper_mu_);
  while (!stopping_) {
    absl::Duration wait = options_.sweep_interval;
    if (auto doc = store_->Read(); doc.ok()) {
      if (auto next = NextLeaseExpiry(*doc)) {
        absl::Duration until = *next - clock_->Now();
        if (until <= absl::ZeroDuration()) {
          lock.unlock();
          auto result = std::make_shared<std::promise<bool>>();
          ExpireLeases([result](absl::StatusOr<std::vector<std::string>> r) {
            if (!r.ok()) {
              spdlog::warn("lease sweep failed: {}", r.status().message());
            }
            result->set_value(r.ok());
          });
          bool swept = result->get_future().get();
          lock.lock();
          if (swept) continue;
          until = options_.sweep_interval;  // the store refused: back off
        }
        wait = std::min(wait, until);
      }
    }
    sweeper_wake_.wait_for(lock, absl::ToChronoNanoseconds(wait),
                           [this] { return stopping_; });
  }
}

}  // namespace peerlab::bootstrap
