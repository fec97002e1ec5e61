#include "services/bootstrap/bootstrap_service.h"

#include <future>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"
#include "services/bootstrap/document.h"
#include "services/bootstrap/validation.h"
#include "services/common/logging.h"

namespace peerlab::bootstrap {
namespace {

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

}  // namespace

std::string BearerToken(const std::string& authorization) {
  constexpr absl::string_view kPrefix = "Bearer ";
  if (!absl::StartsWithIgnoreCase(authorization, kPrefix)) return "";
  return authorization.substr(kPrefix.size());
}

BootstrapService::BootstrapService(Store* store, Clock* clock, Options options)
    : store_(store), clock_(clock), options_(std::move(options)) {
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
  if (!options_.admin_token.has_value()) return absl::OkStatus();
  if (token.empty()) {
    return absl::PermissionDeniedError(
        "admin token required: send metadata \"authorization: Bearer TOKEN\"");
  }
  if (!ConstantTimeEquals(token, *options_.admin_token)) {
    return absl::PermissionDeniedError("admin token does not match");
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
                            Done<pb::JoinResponse> done) {
  absl::Time now = clock_->Now();
  auto peer = ValidatePeer(request.peer(), "peer", now);
  if (!peer.ok()) return done(peer.status());
  auto ttl = ValidateTtl(&request.ttl(), request.has_ttl(), false);
  if (!ttl.ok()) return done(ttl.status());
  MutateAndAnswer<JoinOutcome, pb::JoinResponse>(
      store_, now,
      [peer = *peer, ttl = *ttl,
       now](Document& doc) -> absl::StatusOr<JoinOutcome> {
        return ApplyJoin(doc, peer, ttl, now);
      },
      [name = peer->name(), id = peer->id()](const JoinOutcome& o,
                                             Document doc) {
        if (o.changed) {
          spdlog::info("join {} ({}): {} (revision {})", name, id,
                       o.joined ? "joined" : "list full", doc.revision());
        }
        pb::JoinResponse r;
        r.set_joined(o.joined);
        *r.mutable_document() = std::move(doc);
        return r;
      },
      std::move(done));
}

void BootstrapService::Leave(const pb::LeaveRequest& request,
                             Done<pb::LeaveResponse> done) {
  auto id = ValidateId(request.id(), "id");
  if (!id.ok()) return done(id.status());
  MutateAndAnswer<LeaveOutcome, pb::LeaveResponse>(
      store_, clock_->Now(),
      [id = *id](Document& doc) -> absl::StatusOr<LeaveOutcome> {
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
                              Done<pb::RefillResponse> done) {
  absl::Time now = clock_->Now();
  auto peer = ValidatePeer(request.candidate(), "candidate", now);
  if (!peer.ok()) return done(peer.status());
  auto ttl = ValidateTtl(&request.ttl(), request.has_ttl(), false);
  if (!ttl.ok()) return done(ttl.status());
  MutateAndAnswer<RefillOutcome, pb::RefillResponse>(
      store_, now,
      [peer = *peer, ttl = *ttl,
       now](Document& doc) -> absl::StatusOr<RefillOutcome> {
        return ApplyRefill(doc, peer, ttl, now);
      },
      [name = peer->name()](const RefillOutcome& o, Document doc) {
        if (o.accepted) {
          spdlog::info("refill {}: accepted{}{} (revision {})", name,
                       o.replaced_id.empty() ? "" : ", replaced ",
                       o.replaced_id, doc.revision());
        }
        pb::RefillResponse r;
        r.set_accepted(o.accepted);
        r.set_replaced_id(o.replaced_id);
        *r.mutable_document() = std::move(doc);
        return r;
      },
      std::move(done));
}

absl::StatusOr<pb::ListResponse> BootstrapService::List() {
  auto doc = store_->Read();
  if (!doc.ok()) return doc.status();
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
                             Done<pb::RenewResponse> done) {
  auto id = ValidateId(request.id(), "id");
  if (!id.ok()) return done(id.status());
  auto ttl = ValidateTtl(&request.ttl(), request.has_ttl(), true);
  if (!ttl.ok()) return done(ttl.status());
  absl::Time now = clock_->Now();
  struct RenewOutcome {
    bool changed = true;
  };
  MutateAndAnswer<RenewOutcome, pb::RenewResponse>(
      store_, now,
      [id = *id, ttl = **ttl,
       now](Document& doc) -> absl::StatusOr<RenewOutcome> {
        if (auto s = ApplyRenew(doc, id, ttl, now); !s.ok()) return s;
        return RenewOutcome{};
      },
      [id = *id](const RenewOutcome&, Document doc) {
        pb::RenewResponse r;
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
