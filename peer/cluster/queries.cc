#include "peer/cluster/queries.h"

#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <random>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "peer/identity/node_key.h"
#include "peer/membership/memberlist.h"
#include "proto/peer/v1/query.pb.h"
#include "re2/re2.h"

namespace peerlab::cluster {
namespace {

std::string Sha256(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

bool IsAnnouncement(const ::peer::v1::Query& q) {
  return !q.payload_digest().empty() && q.payload().empty() &&
         q.payload_size() > 0;
}

// What a relayed reply's signature covers: a domain, then each field
// length-prefixed (8 bytes, little-endian) so no two replies share bytes.
std::string ReplyClaim(const std::string& origin,
                       const ::peer::v1::QueryReply& reply) {
  std::string out("peerlab.v1.query-reply\0", 23);
  auto field = [&out](absl::string_view s) {
    uint64_t n = s.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
    out.append(s.data(), s.size());
  };
  auto number = [&field](uint64_t v) {
    std::string b;
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>(v >> (8 * i)));
    field(b);
  };
  field(origin);
  number(reply.id());
  number(reply.ltime());
  number(reply.ack() ? 1 : 0);
  field(reply.responder());
  field(reply.payload());
  return out;
}

RE2::Options RegexOptions() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(1 << 20);  // a bounded program, whoever wrote the pattern
  return o;
}

bool HasControl(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

QueryParams ParamsOf(const ::peer::v1::Query& q) {
  QueryParams p;
  p.name = q.name();
  p.nodes.assign(q.nodes().begin(), q.nodes().end());
  for (const auto& t : q.tags()) p.tags.push_back({t.key(), t.regex()});
  p.ack = q.ack();
  p.relay = static_cast<int>(q.relay());
  return p;
}

// Whether `m` may answer a query asked at `now`: alive or suspect, or
// declared dead here within `dead_window` (Config::gossip_to_the_dead_time,
// the time memberlist keeps telling the dead the news because a death may
// be false, or Config::hold_down when longer: a member held down here may
// still be refuting, alive): under loss and load a live member is declared dead
// by one member and goes on answering through gossip and relays, so a query
// that left it out ended as soon as the others had answered and dropped its
// answer as late.
bool MayAnswer(const membership::Member& m, absl::Time now,
               absl::Duration dead_window) {
  switch (m.state) {
    case membership::MemberState::kAlive:
    case membership::MemberState::kSuspect:
      return true;
    case membership::MemberState::kDead:
      return now - m.state_change <= dead_window;
    case membership::MemberState::kLeft:
      return false;
  }
  return false;
}

std::string SeenKey(const ::peer::v1::Query& q) {
  return absl::StrCat(q.origin(), "/", q.origin_generation(), "/", q.id());
}

}  // namespace

absl::Duration DefaultQueryTimeout(absl::Duration gossip_interval, int members,
                                   int mult) {
  const double scale =
      std::max(1.0, std::ceil(std::log10(std::max(members, 0) + 1.0)));
  return gossip_interval * mult * scale;
}

struct Queries::Pending {
  ::peer::v1::Query query;  // as gossiped
  runtime::Scheduler::TimerId direct_timer = 0;
  uint64_t ltime = 0;
  bool ack = false;
  bool wait_responses = true;  // false: acks only (reachability)
  absl::Time start;
  absl::Duration timeout;
  runtime::Scheduler::TimerId timer = 0;
  std::set<std::string> matched;
  QueryResult result;
  size_t bytes = 0;
  OnAnswer on_answer;
  std::function<void(QueryResult)> done;
};

Queries::Queries(runtime::Scheduler* scheduler,
                 membership::BroadcastFn broadcast, TagsOf tags_of,
                 Options options, runtime::ComponentLog log)
    : scheduler_(scheduler),
      broadcast_(std::move(broadcast)),
      tags_of_(std::move(tags_of)),
      options_(options),
      log_(std::move(log)) {}

Queries::~Queries() {
  *alive_ = false;
  for (auto& [id, p] : pending_) {
    if (p->timer) scheduler_->Cancel(p->timer);
    if (p->direct_timer) scheduler_->Cancel(p->direct_timer);
  }
  for (auto& [key, f] : fetches_) {
    if (f.timer) scheduler_->Cancel(f.timer);
  }
}

absl::Status Queries::ValidateOptions(const Options& o) {
  if (o.max_payload_bytes < 1 || o.max_payload_bytes > kMaxQueryPayloadLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("query max payload bytes: ", o.max_payload_bytes,
                     ", must be in 1..", kMaxQueryPayloadLimit));
  }
  if (o.max_response_bytes < 1 ||
      o.max_response_bytes > kMaxQueryResponseLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("query max response bytes: ", o.max_response_bytes,
                     ", must be in 1..", kMaxQueryResponseLimit));
  }
  return absl::OkStatus();
}

absl::Duration Queries::DefaultTimeout() const {
  const int n = node_ != nullptr ? node_->NumAlive() : 1;
  const absl::Duration interval = node_ != nullptr
                                      ? node_->config().gossip_interval
                                      : absl::Milliseconds(200);
  return DefaultQueryTimeout(interval, n, options_.timeout_mult);
}

bool Queries::Matches(const QueryParams& params,
                      const membership::Member& member,
                      const std::map<std::string, std::string>& tags) {
  if (!params.nodes.empty() &&
      std::find(params.nodes.begin(), params.nodes.end(), member.name) ==
          params.nodes.end()) {
    return false;
  }
  for (const TagFilter& f : params.tags) {
    auto it = tags.find(f.key);
    if (it == tags.end()) return false;
    RE2 re(f.regex, RegexOptions());
    if (!re.ok() || !RE2::PartialMatch(it->second, re)) return false;
  }
  return true;
}

absl::Status Queries::Check(const QueryParams& params) const {
  if (params.name.empty() || params.name.size() > kMaxQueryNameBytes ||
      HasControl(params.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("query name: 1..", kMaxQueryNameBytes,
                     " bytes without control characters"));
  }
  if (params.payload.size() > options_.max_payload_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("query ", params.name, ": payload of ",
                     params.payload.size(), " bytes, at most ",
                     options_.max_payload_bytes, " (the query payload limit)"));
  }
  if (params.nodes.size() > options_.max_nodes) {
    return absl::InvalidArgumentError(absl::StrCat(
        params.nodes.size(), " --node filters: at most ", options_.max_nodes));
  }
  if (params.tags.size() > options_.max_tags) {
    return absl::InvalidArgumentError(absl::StrCat(
        params.tags.size(), " --tag filters: at most ", options_.max_tags));
  }
  for (const TagFilter& f : params.tags) {
    if (f.key.empty()) {
      return absl::InvalidArgumentError("--tag KEY=REGEX: empty KEY");
    }
    if (f.regex.size() > options_.max_regex_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tag ", f.key, "=...: a regular expression of ", f.regex.size(),
          " bytes, at most ", options_.max_regex_bytes));
    }
    RE2 re(f.regex, RegexOptions());
    if (!re.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tag ", f.key, "=", f.regex,
                       ": bad regular expression: ", re.error()));
    }
  }
  if (params.relay < 0 || params.relay > options_.max_relay) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--relay ", params.relay, ": must be in 0..", options_.max_relay));
  }
  if (params.timeout < absl::ZeroDuration() ||
      params.timeout > options_.max_timeout) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout ", absl::FormatDuration(params.timeout), ": must be in 0..",
        absl::FormatDuration(options_.max_timeout)));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Queries::Query(QueryParams params, OnAnswer on_answer,
                                        std::function<void(QueryResult)> done) {
  if (params.name.rfind("_peerlab", 0) == 0) {
    return absl::InvalidArgumentError(
        "query names starting with _peerlab are reserved");
  }
  return Start(std::move(params), false, std::move(on_answer), std::move(done));
}

absl::StatusOr<uint64_t> Queries::Reachability(
    absl::Duration timeout, OnAnswer on_answer,
    std::function<void(QueryResult)> done) {
  QueryParams params;
  params.name = kReachabilityQuery;
  params.ack = true;
  params.timeout = timeout;
  return Start(std::move(params), true, std::move(on_answer), std::move(done));
}

absl::StatusOr<uint64_t> Queries::Start(QueryParams params, bool internal,
                                        OnAnswer on_answer,
                                        std::function<void(QueryResult)> done) {
  if (node_ == nullptr || !node_->started() || node_->left()) {
    return absl::FailedPreconditionError("the node is not running");
  }
  if (absl::Status s = Check(params); !s.ok()) return s;
  if (pending_.size() >= options_.max_pending) {
    ++stats_.pending_refused;
    return absl::ResourceExhaustedError(
        absl::StrCat(pending_.size(), " queries are waiting already (at most ",
                     options_.max_pending, ")"));
  }
  absl::StatusOr<uint64_t> ltime = clock_.Increment();
  if (!ltime.ok()) return ltime.status();
  const absl::Duration timeout =
      params.timeout > absl::ZeroDuration() ? params.timeout : DefaultTimeout();
  const membership::Member self = node_->LocalNode();
  ::peer::v1::Query q;
  q.set_ltime(*ltime);
  q.set_id(++next_id_);
  q.set_origin(self.name);
  q.set_origin_generation(self.generation);
  q.set_name(params.name);
  q.set_payload(params.payload);
  for (const std::string& n : params.nodes) q.add_nodes(n);
  for (const TagFilter& f : params.tags) {
    auto* t = q.add_tags();
    t->set_key(f.key);
    t->set_regex(f.regex);
  }
  q.set_ack(params.ack);
  q.set_relay(static_cast<uint32_t>(params.relay));
  q.set_timeout_ms(static_cast<uint64_t>(absl::ToInt64Milliseconds(timeout)));
  // Larger than a datagram: gossiped as an announcement, the payload
  // fetched from here (GossipForm).
  std::string encoded = GossipForm(q);
  const int room = node_->MaxBroadcastBytes() - membership::kMuxHeaderBytes;
  if (encoded.size() > static_cast<size_t>(std::max(room, 0))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query of ", encoded.size(), " bytes without its payload (name and ",
        "filters) does not fit one gossip datagram: at most ", room));
  }
  auto p = std::make_unique<Pending>();
  p->ltime = *ltime;
  p->ack = params.ack;
  p->wait_responses = !internal;
  p->start = scheduler_->Now();
  p->timeout = timeout;
  p->result.id = q.id();
  p->result.timeout = timeout;
  for (const membership::Member& m : node_->AllMembers()) {
    if (!MayAnswer(m, p->start,
                   std::max(node_->config().gossip_to_the_dead_time,
                            node_->config().hold_down))) {
      continue;
    }
    if (Matches(
            params, m,
            tags_of_ ? tags_of_(m) : std::map<std::string, std::string>{})) {
      p->matched.insert(m.name);
      p->result.matched.push_back(m.name);
    }
  }
  p->on_answer = std::move(on_answer);
  p->done = std::move(done);
  const uint64_t id = q.id();
  std::weak_ptr<bool> alive = alive_;
  p->timer = scheduler_->After(timeout, [this, alive, id] {
    if (auto a = alive.lock(); !a || !*a) return;
    auto it = pending_.find(id);
    if (it != pending_.end()) it->second->timer = 0;
    Complete(id);
  });
  p->direct_timer = scheduler_->After(timeout / 4, [this, alive, id] {
    if (auto a = alive.lock(); !a || !*a) return;
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    it->second->direct_timer = 0;
    SendDirect(id);
  });
  p->query = q;
  pending_[id] = std::move(p);
  ++stats_.queries_started;
  broadcast_(std::move(encoded), "");
  Handle(q, /*own=*/true);
  return id;
}

void Queries::Finish(uint64_t id) { Complete(id); }

void Queries::Complete(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  if (p->timer) scheduler_->Cancel(p->timer);
  if (p->direct_timer) scheduler_->Cancel(p->direct_timer);
  QueryResult result = std::move(p->result);
  result.elapsed = scheduler_->Now() - p->start;
  for (const std::string& name : result.matched) {
    if (!result.acked.contains(name) && !result.answered.contains(name)) {
      result.missing.push_back(name);
    }
  }
  if (p->done) p->done(std::move(result));
}

void Queries::SendDirect(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end() || node_ == nullptr) return;
  Pending& p = *it->second;
  const std::string self = node_->config().name;
  ::peer::v1::QueryDirect direct;
  *direct.mutable_query() = p.query;
  const std::string bytes = direct.SerializeAsString();
  size_t sent = 0;
  std::weak_ptr<bool> alive = alive_;
  for (const std::string& name : p.matched) {
    if (sent >= options_.max_direct) break;
    if (name == self || p.result.acked.contains(name) ||
        p.result.answered.contains(name)) {
      continue;
    }
    ++sent;
    ++stats_.direct_queries;
    node_->SendUserMessage(name, membership::kQueryChannel, bytes,
                           [this, alive](absl::Status s) {
                             if (auto a = alive.lock(); !a || !*a) return;
                             if (!s.ok()) ++stats_.replies_failed;
                           });
  }
}

std::string Queries::GossipForm(const ::peer::v1::Query& q) const {
  const int room = node_ != nullptr ? node_->MaxBroadcastBytes() -
                                          membership::kMuxHeaderBytes
                                    : 0;
  if (room <= 0 || q.ByteSizeLong() <= static_cast<size_t>(room)) {
    return q.SerializeAsString();
  }
  ::peer::v1::Query a = q;
  a.set_payload_size(q.payload().size());
  a.set_payload_digest(Sha256(q.payload()));
  a.clear_payload();
  return a.SerializeAsString();
}

bool Queries::Valid(const ::peer::v1::Query& q) {
  if (q.payload().size() > options_.max_payload_bytes ||
      q.payload_size() > options_.max_payload_bytes ||
      (!q.payload_digest().empty() && q.payload_digest().size() != 32)) {
    LogDrop(
        ++stats_.bad_queries,
        absl::StrCat("a query whose payload is over the limit (",
                     std::max<uint64_t>(q.payload().size(), q.payload_size()),
                     " bytes, at most ", options_.max_payload_bytes, ")"));
    return false;
  }
  if (q.origin().empty() || q.name().empty() ||
      q.name().size() > kMaxQueryNameBytes ||
      static_cast<size_t>(q.nodes_size()) > options_.max_nodes ||
      static_cast<size_t>(q.tags_size()) > options_.max_tags ||
      q.relay() > static_cast<uint32_t>(options_.max_relay) ||
      q.timeout_ms() > static_cast<uint64_t>(
                           absl::ToInt64Milliseconds(options_.max_timeout)) ||
      std::any_of(q.tags().begin(), q.tags().end(), [&](const auto& t) {
        return t.regex().size() > options_.max_regex_bytes;
      })) {
    LogDrop(++stats_.bad_queries, "a malformed or out-of-bounds query");
    return false;
  }
  return true;
}

void Queries::OnUserMessage(const std::string& payload) {
  ::peer::v1::Query q;
  if (!q.ParseFromString(payload)) {
    LogDrop(++stats_.bad_queries, "a malformed query");
    return;
  }
  if (!Valid(q)) return;
  if (IsAnnouncement(q)) {
    HandleAnnouncement(q);
  } else {
    Handle(q, /*own=*/false);
  }
}

void Queries::HandleAnnouncement(const ::peer::v1::Query& q) {
  if (node_ == nullptr) return;
  std::string key = SeenKey(q);
  if (seen_.contains(key) || announced_.contains(key)) {
    ++stats_.duplicate_queries;
    return;
  }
  if (announced_order_.size() >= options_.max_seen) {
    announced_.erase(announced_order_.front());
    announced_order_.pop_front();
  }
  announced_.insert(key);
  announced_order_.push_back(key);
  if (!clock_.Acceptable(q.ltime())) {
    LogDrop(++stats_.bad_queries, "a query whose Lamport time is refused");
    return;
  }
  // Spread it on, as Handle does a query that fits.
  broadcast_(q.SerializeAsString(), "");
  const membership::Member self = node_->LocalNode();
  if (!Matches(
          ParamsOf(q), self,
          tags_of_ ? tags_of_(self) : std::map<std::string, std::string>{})) {
    return;
  }
  if (q.origin() == self.name || fetches_.contains(key)) return;
  if (fetches_.size() >= kMaxQueryFetches) {
    LogDrop(++stats_.payload_fetches_refused,
            absl::StrCat("a query payload fetch (", kMaxQueryFetches,
                         " under way)"));
    return;
  }
  Fetch f;
  f.origin = q.origin();
  f.id = q.id();
  f.origin_generation = q.origin_generation();
  f.deadline = scheduler_->Now() + absl::Milliseconds(q.timeout_ms());
  fetches_.emplace(key, std::move(f));
  TryFetch(key);
}

void Queries::TryFetch(const std::string& key) {
  auto it = fetches_.find(key);
  if (it == fetches_.end()) return;
  Fetch& f = it->second;
  if (f.timer) scheduler_->Cancel(f.timer);
  f.timer = 0;
  const absl::Time now = scheduler_->Now();
  if (seen_.contains(key) || node_ == nullptr || now >= f.deadline ||
      f.attempts >= 4) {
    if (!seen_.contains(key)) {
      LogDrop(++stats_.payload_fetches_failed,
              absl::StrCat("a query payload not fetched from ",
                           absl::CHexEscape(f.origin), " after ", f.attempts,
                           " tries"));
    }
    fetches_.erase(it);
    return;
  }
  ++f.attempts;
  ++stats_.payload_fetches;
  ::peer::v1::QueryDirect direct;
  direct.mutable_fetch()->set_id(f.id);
  direct.mutable_fetch()->set_origin_generation(f.origin_generation);
  const std::string origin = f.origin;
  std::weak_ptr<bool> alive = alive_;
  // Again after a while when the query has not come (a lost answer, a
  // busy originator), within the query's time.
  const absl::Duration retry =
      std::max(absl::Milliseconds(200),
               std::min(absl::Seconds(2), (f.deadline - now) / 4));
  f.timer = scheduler_->After(retry, [this, alive, key] {
    if (auto a = alive.lock(); !a || !*a) return;
    auto it = fetches_.find(key);
    if (it == fetches_.end()) return;
    it->second.timer = 0;
    TryFetch(key);
  });
  node_->SendUserMessage(origin, membership::kQueryChannel,
                         direct.SerializeAsString(),
                         [this, alive](absl::Status s) {
                           if (auto a = alive.lock(); !a || !*a) return;
                           if (!s.ok()) ++stats_.replies_failed;
                         });
}

void Queries::Handle(const ::peer::v1::Query& q, bool own) {
  if (node_ == nullptr) return;
  std::string key = SeenKey(q);
  if (seen_.contains(key)) {
    ++stats_.duplicate_queries;
    return;
  }
  if (seen_order_.size() >= options_.max_seen) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  seen_.insert(key);
  if (auto f = fetches_.find(key); f != fetches_.end()) {
    if (f->second.timer) scheduler_->Cancel(f->second.timer);
    fetches_.erase(f);
  }
  const bool spread = announced_.contains(key);  // its announcement was
  seen_order_.push_back(std::move(key));
  if (clock_.Observe(q.ltime()) == LamportClock::Witness::kRefused) {
    LogDrop(++stats_.bad_queries, "a query whose Lamport time is refused");
    return;
  }
  ++stats_.queries_handled;
  // Pass it on, as Serf does: every member that hears it first spreads it.
  if (!own && !spread) broadcast_(GossipForm(q), "");
  const membership::Member self = node_->LocalNode();
  if (!Matches(
          ParamsOf(q), self,
          tags_of_ ? tags_of_(self) : std::map<std::string, std::string>{})) {
    return;
  }
  ++stats_.queries_matched;
  if (q.ack()) Reply(q, true, std::string());
  if (q.name() == kReachabilityQuery || responder_ == nullptr) return;
  QueryRequest request;
  request.name = q.name();
  request.payload = q.payload();
  request.from = q.origin();
  request.ltime = q.ltime();
  request.id = q.id();
  request.deadline = scheduler_->Now() + absl::Milliseconds(q.timeout_ms());
  auto query = std::make_shared<::peer::v1::Query>(q);
  query->clear_payload();  // not needed to answer
  auto once = std::make_shared<std::atomic<bool>>(false);
  std::weak_ptr<bool> alive = alive_;
  runtime::Scheduler* scheduler = scheduler_;
  const absl::Time deadline = request.deadline;
  responder_->OnQuery(request, [this, alive, scheduler, query, once,
                                deadline](std::string response) {
    if (once->exchange(true)) return;
    scheduler->Post([this, alive, query, deadline,
                     response = std::move(response)]() mutable {
      if (auto a = alive.lock(); !a || !*a) return;
      if (scheduler_->Now() > deadline) {
        LogDrop(++stats_.responses_refused,
                absl::StrCat("a response to query ", query->name(),
                             " after its deadline"));
        return;
      }
      Reply(*query, false, std::move(response));
    });
  });
}

void Queries::Reply(const ::peer::v1::Query& q, bool ack, std::string payload) {
  if (node_ == nullptr) return;
  if (!ack && payload.size() > options_.max_response_bytes) {
    LogDrop(
        ++stats_.responses_refused,
        absl::StrCat("a response of ", payload.size(), " bytes to query ",
                     q.name(), " (at most ", options_.max_response_bytes, ")"));
    return;
  }
  const std::string self = node_->config().name;
  ::peer::v1::QueryDirect direct;
  ::peer::v1::QueryReply* r = direct.mutable_reply();
  r->set_id(q.id());
  r->set_ltime(q.ltime());
  r->set_ack(ack);
  r->set_payload(std::move(payload));
  r->set_responder(self);
  ack ? ++stats_.acks_sent : ++stats_.responses_sent;
  std::weak_ptr<bool> alive = alive_;
  auto on_sent = [this, alive](absl::Status s) {
    if (auto a = alive.lock(); !a || !*a) return;
    if (!s.ok()) {
      LogDrop(++stats_.replies_failed,
              absl::StrCat("a query answer not delivered: ", s.message()));
    }
  };
  node_->SendUserMessage(q.origin(), membership::kQueryChannel,
                         direct.SerializeAsString(), on_sent);
  if (q.relay() == 0 || q.origin() == self) return;
  // Relayed copies: signed, so the originator knows the relay did not
  // make or change them.
  absl::StatusOr<std::string> signature =
      node_->node_key().Sign(ReplyClaim(q.origin(), *r));
  if (!signature.ok()) return;
  r->set_signature(*std::move(signature));
  std::vector<std::string> candidates;
  for (const membership::Member& m : node_->Members()) {
    if (m.name != self && m.name != q.origin() &&
        m.state == membership::MemberState::kAlive) {
      candidates.push_back(m.name);
    }
  }
  std::mt19937_64 rng(std::hash<std::string>()(self) ^ q.id() ^
                      (q.ltime() << 20) ^ (ack ? 1 : 0));
  std::shuffle(candidates.begin(), candidates.end(), rng);
  if (candidates.size() > q.relay()) candidates.resize(q.relay());
  ::peer::v1::QueryDirect relay;
  relay.mutable_relay()->set_to(q.origin());
  *relay.mutable_relay()->mutable_reply() = *r;
  const std::string bytes = relay.SerializeAsString();
  for (const std::string& via : candidates) {
    ++stats_.relays_sent;
    node_->SendUserMessage(via, membership::kQueryChannel, bytes, on_sent);
  }
}

absl::Status Queries::OnDirectMessage(
    const membership::DirectMessage& message) {
  ::peer::v1::QueryDirect direct;
  if (!direct.ParseFromString(message.payload)) {
    LogDrop(++stats_.bad_answers, "a malformed query answer");
    return absl::InvalidArgumentError("malformed query answer");
  }
  switch (direct.body_case()) {
    case ::peer::v1::QueryDirect::kReply:
      TakeAnswer(direct.reply(), message.from,
                 direct.reply().responder() != message.from);
      return absl::OkStatus();
    case ::peer::v1::QueryDirect::kRelay:
      Forward(direct.relay().to(), direct.relay().reply(), message.from);
      return absl::OkStatus();
    case ::peer::v1::QueryDirect::kQuery:
      // Only its originator sends a query directly.
      if (direct.query().origin() != message.from || !Valid(direct.query())) {
        LogDrop(++stats_.bad_queries, "a direct query not from its origin");
        return absl::InvalidArgumentError("a query comes from its origin");
      }
      Handle(direct.query(), /*own=*/false);
      return absl::OkStatus();
    case ::peer::v1::QueryDirect::kFetch: {
      // A member asks for the whole of one of our queries.
      auto it = pending_.find(direct.fetch().id());
      if (node_ == nullptr || it == pending_.end() ||
          direct.fetch().origin_generation() != node_->generation()) {
        return absl::NotFoundError("no such query under way");
      }
      std::weak_ptr<bool> alive = alive_;
      std::function<void(absl::Status)> done =
          serving_.Take([this, alive](absl::Status s) {
            if (auto a = alive.lock(); !a || !*a) return;
            if (!s.ok()) ++stats_.replies_failed;
          });
      if (done == nullptr) {
        LogDrop(++stats_.payload_serves_refused,
                absl::StrCat("a query payload fetch from ",
                             absl::CHexEscape(message.from.substr(0, 64)), " (",
                             kMaxQueriesServing, " whole queries in flight)"));
        return absl::ResourceExhaustedError(
            absl::StrCat(kMaxQueriesServing,
                         " whole queries in flight here: ask again later"));
      }
      ::peer::v1::QueryDirect whole;
      *whole.mutable_query() = it->second->query;
      ++stats_.payloads_served;
      node_->SendUserMessage(message.from, membership::kQueryChannel,
                             whole.SerializeAsString(), std::move(done));
      return absl::OkStatus();
    }
    default:
      LogDrop(++stats_.bad_answers, "a query message of an unknown kind");
      return absl::InvalidArgumentError("unknown query message");
  }
}

void Queries::Forward(const std::string& to,
                      const ::peer::v1::QueryReply& reply,
                      const std::string& sender) {
  if (node_ == nullptr) return;
  if (reply.responder() != sender) {
    // A relay forwards only what the responder itself handed it.
    LogDrop(++stats_.bad_answers, "a relay request not from its responder");
    return;
  }
  ::peer::v1::QueryDirect direct;
  *direct.mutable_reply() = reply;
  ++stats_.relays_forwarded;
  std::weak_ptr<bool> alive = alive_;
  node_->SendUserMessage(
      to, membership::kQueryChannel, direct.SerializeAsString(),
      [this, alive](absl::Status s) {
        if (auto a = alive.lock(); !a || !*a) return;
        if (!s.ok()) {
          LogDrop(++stats_.replies_failed,
                  absl::StrCat("a relayed query answer not delivered: ",
                               s.message()));
        }
      });
}

void Queries::TakeAnswer(const ::peer::v1::QueryReply& reply,
                         const std::string& sender, bool relayed) {
  auto it = pending_.find(reply.id());
  if (it == pending_.end() || it->second->ltime != reply.ltime()) {
    ++stats_.late_answers;
    return;
  }
  Pending& p = *it->second;
  const std::string& responder = reply.responder();
  if (responder.empty()) {
    LogDrop(++stats_.bad_answers, "a query answer naming no responder");
    return;
  }
  if (relayed) {
    std::optional<identity::PublicKey> key = node_->PinnedKeyOf(responder);
    if (!key || !identity::Verify(*key, ReplyClaim(node_->config().name, reply),
                                  reply.signature())
                     .ok()) {
      LogDrop(++stats_.bad_answers,
              absl::StrCat("a relayed query answer from ",
                           absl::CHexEscape(responder), " (via ", sender,
                           ") whose signature does not verify"));
      return;
    }
  }
  std::set<std::string>& set = reply.ack() ? p.result.acked : p.result.answered;
  if (set.contains(responder)) {
    ++stats_.duplicate_answers;
    ++p.result.duplicates;
    return;
  }
  if (p.result.acked.size() + p.result.answered.size() >=
          options_.max_answers ||
      p.bytes + reply.payload().size() > options_.max_answer_bytes) {
    ++p.result.dropped;
    LogDrop(++stats_.answers_dropped,
            absl::StrCat("query answers past the bounds of one query (",
                         options_.max_answers, " answers, ",
                         options_.max_answer_bytes, " bytes)"));
    return;
  }
  set.insert(responder);
  p.bytes += reply.payload().size();
  ++stats_.answers_received;
  if (p.on_answer) {
    QueryAnswer answer;
    answer.ack = reply.ack();
    answer.from = responder;
    answer.payload = reply.payload();
    answer.relayed = relayed;
    answer.after = scheduler_->Now() - p.start;
    p.on_answer(answer);
  }
  const bool all = std::all_of(
      p.matched.begin(), p.matched.end(), [&](const std::string& name) {
        return (!p.ack || p.result.acked.contains(name)) &&
               (!p.wait_responses || p.result.answered.contains(name));
      });
  if (all && !p.matched.empty()) {
    const uint64_t id = reply.id();
    std::weak_ptr<bool> alive = alive_;
    scheduler_->Post([this, alive, id] {
      if (auto a = alive.lock(); a && *a) Complete(id);
    });
  }
}

void Queries::LogDrop(uint64_t count, const std::string& what) {
  if (count % 1000 != 1) return;
  log_.Warn(node_ != nullptr ? node_->config().name : std::string("?"),
            ": dropped ", what, " (", count, " so far)");
}

}  // namespace peerlab::cluster
