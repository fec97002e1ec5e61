#include "peer/app/peer_agent.h"

#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/metric_sample.h"
#include "peer/app/cluster_commands.h"
#include "peer/cluster/tags.h"
#include "peer/membership/keyring.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/stats_snapshot.h"

namespace peerlab::peer {

namespace pb = ::peer::v1;

namespace {

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  if (t == absl::InfinitePast() || t == absl::UnixEpoch()) return;
  const timespec ts = absl::ToTimespec(t);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

pb::AgentMember::Status StatusOf(membership::MemberState state) {
  switch (state) {
    case membership::MemberState::kAlive:
      return pb::AgentMember::ALIVE;
    case membership::MemberState::kSuspect:
      return pb::AgentMember::SUSPECT;
    case membership::MemberState::kDead:
      return pb::AgentMember::FAILED;
    case membership::MemberState::kLeft:
      return pb::AgentMember::LEFT;
  }
  return pb::AgentMember::STATUS_UNSPECIFIED;
}

pb::AgentStat Stat(std::string name, double value, pb::AgentStat::Kind kind) {
  pb::AgentStat s;
  s.set_name(std::move(name));
  s.set_value(value);
  s.set_kind(kind);
  return s;
}

absl::Status Closed() {
  return absl::UnavailableError("the peer is shutting down");
}

}  // namespace

pb::AgentMember ToAgentMember(const membership::Member& m) {
  pb::AgentMember out;
  out.set_name(m.name);
  out.set_address(m.addr);
  out.set_status(StatusOf(m.state));
  for (auto& [key, value] : cluster::DecodeTags(m.meta)) {
    (*out.mutable_tags())[key] = value;
  }
  out.set_incarnation(m.incarnation);
  out.set_generation(m.generation);
  SetTime(m.state_change, out.mutable_status_since());
  return out;
}

std::optional<pb::AgentLogRecord> ParseLogLine(absl::string_view line) {
  const size_t space = line.find(' ');
  if (space == absl::string_view::npos || space == 0) return std::nullopt;
  std::string level(line.substr(0, space));
  if (level == "warning") level = "warn";
  if (agent::LogLevelIndex(level) < 0) return std::nullopt;
  absl::string_view rest =
      absl::StripLeadingAsciiWhitespace(line.substr(space));
  pb::AgentLogRecord record;
  record.set_level(level);
  if (absl::ConsumePrefix(&rest, "[")) {
    const size_t end = rest.find("] ");
    if (end == absl::string_view::npos) return std::nullopt;
    record.set_component(std::string(rest.substr(0, end)));
    rest.remove_prefix(end + 2);
  }
  record.set_text(std::string(rest));
  return record;
}

MembershipHost* PeerAgentBackend::Host() { return membership_; }

void PeerAgentBackend::Close() {
  std::unique_lock<std::shared_mutex> lock(mu_);
  membership_ = nullptr;
}

absl::StatusOr<std::vector<pb::AgentMember>> PeerAgentBackend::Members() {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  auto members =
      Host()->WithNode([](membership::Memberlist& node)
                           -> absl::StatusOr<std::vector<membership::Member>> {
        if (!node.started()) {
          return absl::FailedPreconditionError(
              "the membership node is not started (memberliststart, or "
              "init)");
        }
        return node.AllMembers();
      });
  if (!members.ok()) return members.status();
  std::vector<pb::AgentMember> out;
  for (const membership::Member& m : *members) out.push_back(ToAgentMember(m));
  return out;
}

absl::StatusOr<pb::AgentMember> PeerAgentBackend::Self() {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  auto self = Host()->WithNode(
      [](membership::Memberlist& node) -> absl::StatusOr<membership::Member> {
        return node.LocalNode();
      });
  if (!self.ok()) return self.status();
  pb::AgentMember out = ToAgentMember(*self);
  // The host's tags: those the node announces, and before the node starts
  // (or between delete and create) those it will announce.
  out.mutable_tags()->clear();
  for (auto& [key, value] : Host()->LocalTags()) {
    (*out.mutable_tags())[key] = value;
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> PeerAgentBackend::UpdateTags(
    const std::map<std::string, std::string>& set,
    const std::vector<std::string>& remove) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  // The peer's `tags set` path: its checks, its size limit
  // (memberlist.max_meta_bytes) and message, an update event everywhere.
  // Removing a tag that is not set is no error (agent.proto), also when
  // another call removes it between the look below and the update
  // (kIgnore): before, that one got NotFound.
  const cluster::Tags now = Host()->LocalTags();
  std::vector<std::string> del;
  for (const std::string& key : remove) {
    if (now.contains(key)) del.push_back(key);
  }
  if (set.empty() && del.empty()) return now;
  if (absl::Status s = Host()->UpdateTags(set, del, kTagsTimeout,
                                          MembershipHost::MissingTags::kIgnore);
      !s.ok()) {
    return s;
  }
  return Host()->LocalTags();
}

absl::StatusOr<std::vector<pb::AgentStat>> PeerAgentBackend::Stats() {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  return Host()->WithNode([](membership::Memberlist& node)
                              -> absl::StatusOr<std::vector<pb::AgentStat>> {
    constexpr auto kCounter = pb::AgentStat::COUNTER;
    constexpr auto kGauge = pb::AgentStat::GAUGE;
    std::vector<pb::AgentStat> out;
    std::map<membership::MemberState, int> by_state;
    for (const membership::Member& m : node.AllMembers()) {
      ++by_state[m.state];
    }
    out.push_back(Stat("peerlab.members.alive",
                       by_state[membership::MemberState::kAlive], kGauge));
    out.push_back(Stat("peerlab.members.suspect",
                       by_state[membership::MemberState::kSuspect], kGauge));
    out.push_back(Stat("peerlab.members.failed",
                       by_state[membership::MemberState::kDead], kGauge));
    out.push_back(Stat("peerlab.members.left",
                       by_state[membership::MemberState::kLeft], kGauge));
    out.push_back(Stat("memberlist.health.score", node.HealthScore(), kGauge));
    out.push_back(Stat("peerlab.incarnation",
                       static_cast<double>(node.LocalNode().incarnation),
                       kGauge));
    out.push_back(
        Stat("peerlab.encrypted", node.keyring() != nullptr ? 1 : 0, kGauge));
    const membership::Stats& s = node.stats();
    const std::pair<const char*, uint64_t> counters[] = {
        {"peerlab.packets.received", s.packets_received},
        {"peerlab.packets.sent", s.packets_sent},
        {"peerlab.packets.bad", s.bad_packets},
        {"peerlab.probes", s.probes},
        {"peerlab.probes.indirect", s.indirect_probes},
        {"peerlab.probes.fallback", s.fallback_probes},
        {"peerlab.nacks.received", s.nacks_received},
        {"peerlab.suspicions.raised", s.suspicions_raised},
        {"peerlab.suspicions.refuted", s.refutations},
        {"peerlab.push_pulls", s.push_pulls},
        {"peerlab.decrypt_failures", s.decrypt_failures},
        {"peerlab.members_refused", s.members_refused},
        {"peerlab.replays_refused", s.replays_refused},
        {"peerlab.signature_failures", s.signature_failures},
    };
    for (const auto& [name, value] : counters) {
      out.push_back(Stat(name, static_cast<double>(value), kCounter));
    }
    // The protocol's own samples (stats_snapshot.h: memberlist's names,
    // traffic by kind, probes by outcome, coordinates), with their labels
    // and help; the health score is above already.
    for (const MetricSample& m : membership::StatsSnapshot(node)) {
      if (m.name == "memberlist.health.score") continue;
      pb::AgentStat s =
          Stat(m.name, m.value,
               m.kind == MetricSample::Kind::kCounter ? kCounter : kGauge);
      for (const auto& [key, value] : m.labels) {
        (*s.mutable_labels())[key] = value;
      }
      s.set_help(m.help);
      out.push_back(std::move(s));
    }
    return out;
  });
}

absl::StatusOr<pb::AgentCoordinateResponse> PeerAgentBackend::Coordinates(
    const std::vector<std::string>& nodes) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  return Host()->WithNode([&](membership::Memberlist& node)
                              -> absl::StatusOr<pb::AgentCoordinateResponse> {
    const membership::CoordinateClient* coords = node.coordinates();
    if (coords == nullptr) {
      return absl::FailedPreconditionError(
          "network coordinates are off on this peer");
    }
    const std::string& self = node.config().name;
    std::vector<std::string> names = nodes;
    if (names.empty()) names.push_back(self);
    pb::AgentCoordinateResponse out;
    for (const std::string& name : names) {
      const membership::Coordinate* c =
          name == self ? &coords->coordinate() : coords->CoordinateOf(name);
      if (c == nullptr) {
        return absl::NotFoundError(absl::StrCat(
            "no coordinate for ", name, " (not a member, or not probed yet)"));
      }
      pb::AgentCoordinate* ac = out.add_coordinates();
      ac->set_node(name);
      ac->mutable_vec()->Assign(c->vec.begin(), c->vec.end());
      ac->set_error(c->error);
      ac->set_adjustment(c->adjustment);
      ac->set_height(c->height);
    }
    if (!nodes.empty()) {
      auto rtt = node.EstimateRtt(nodes[0], nodes.size() > 1 ? nodes[1] : self);
      if (!rtt.ok()) return rtt.status();
      const int64_t ns = absl::ToInt64Nanoseconds(*rtt);
      out.mutable_rtt()->set_seconds(ns / 1'000'000'000);
      out.mutable_rtt()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
    }
    return out;
  });
}

absl::StatusOr<pb::AgentKeysResponse> PeerAgentBackend::Keys(
    pb::AgentKeysRequest::Op op, const std::string& key,
    absl::Duration timeout) {
  membership::KeyOp kop;
  switch (op) {
    case pb::AgentKeysRequest::LIST:
      kop = membership::KeyOp::kList;
      break;
    case pb::AgentKeysRequest::INSTALL:
      kop = membership::KeyOp::kInstall;
      break;
    case pb::AgentKeysRequest::USE:
      kop = membership::KeyOp::kUse;
      break;
    case pb::AgentKeysRequest::REMOVE:
      kop = membership::KeyOp::kRemove;
      break;
    default:
      return absl::InvalidArgumentError("op: unknown operation");
  }
  std::string raw;
  if (kop != membership::KeyOp::kList) {
    auto parsed = membership::ParseKey(key);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("key: ", parsed.status().message()));
    }
    raw = *std::move(parsed);
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  auto result = Host()->KeyOperation(kop, std::move(raw), timeout);
  if (!result.ok()) return result.status();
  pb::AgentKeysResponse out;
  out.set_members(static_cast<uint32_t>(result->members));
  out.set_acks(static_cast<uint32_t>(result->acks));
  for (const auto& [node, error] : result->errors) {
    (*out.mutable_errors())[node] = error;
  }
  for (const auto& [k, n] : result->keys) {
    (*out.mutable_keys())[membership::FormatKey(k)] = static_cast<uint32_t>(n);
  }
  for (const auto& [k, n] : result->primary_keys) {
    (*out.mutable_primary_keys())[membership::FormatKey(k)] =
        static_cast<uint32_t>(n);
  }
  return out;
}

// Publishes every membership event of the host.
class PeerAgent::MemberFeed : public membership::EventListener {
 public:
  explicit MemberFeed(agent::AgentService* service) : service_(service) {}

  void OnJoin(const membership::Member& m) override {
    Publish(pb::MemberEvent::JOINED, m);
  }
  void OnLeave(const membership::Member& m) override {
    Publish(m.state == membership::MemberState::kLeft ? pb::MemberEvent::LEFT
                                                      : pb::MemberEvent::FAILED,
            m);
  }
  void OnUpdate(const membership::Member& m) override {
    Publish(pb::MemberEvent::UPDATED, m);
  }
  void OnSuspect(const membership::Member& m) override {
    Publish(pb::MemberEvent::SUSPECT, m);
  }
  void OnAlive(const membership::Member& m) override {
    Publish(pb::MemberEvent::ALIVE, m);
  }

 private:
  void Publish(pb::MemberEvent::Kind kind, const membership::Member& m) {
    pb::AgentStreamResponse event;
    SetTime(absl::Now(), event.mutable_time());
    event.mutable_member()->set_kind(kind);
    *event.mutable_member()->mutable_member() = ToAgentMember(m);
    service_->Publish(event);
  }

  agent::AgentService* const service_;
};

// Publishes every user event the host delivers.
class PeerAgent::UserEventFeed : public cluster::UserEventListener {
 public:
  explicit UserEventFeed(agent::AgentService* service) : service_(service) {}

  void OnUserEvent(const cluster::UserEvent& e) override {
    pb::AgentStreamResponse event;
    SetTime(absl::Now(), event.mutable_time());
    pb::AgentUserEvent* u = event.mutable_user();
    u->set_name(e.name);
    u->set_payload(e.payload);
    u->set_ltime(e.ltime);
    u->set_from(e.from);
    u->set_coalesce(e.coalesce);
    service_->Publish(event);
  }

 private:
  agent::AgentService* const service_;
};

absl::StatusOr<uint64_t> PeerAgentBackend::SendEvent(const std::string& name,
                                                     const std::string& payload,
                                                     bool coalesce) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  return Host()->SendUserEvent(name, payload, coalesce);
}

absl::StatusOr<uint64_t> PeerAgentBackend::StartQuery(
    const pb::AgentQueryRequest& request,
    std::function<void(pb::AgentQueryResponse)> on_item) {
  cluster::QueryParams params;
  params.name = request.name();
  params.payload = request.payload();
  params.nodes.assign(request.nodes().begin(), request.nodes().end());
  for (const auto& [key, regex] : request.tags()) {
    params.tags.push_back(cluster::TagFilter{key, regex});
  }
  if (request.has_timeout()) {
    params.timeout = absl::Seconds(request.timeout().seconds()) +
                     absl::Nanoseconds(request.timeout().nanos());
  }
  params.ack = request.request_ack();
  params.relay = static_cast<int>(request.relay_factor());
  // Both callbacks run on the membership loop as the cluster layer gets
  // each answer, and hold only `on_item` (the call's queue), never this
  // backend: the host may drop them uncalled when its node goes.
  auto sink = std::make_shared<std::function<void(pb::AgentQueryResponse)>>(
      std::move(on_item));
  auto on_answer = [sink](const cluster::QueryAnswer& a) {
    pb::AgentQueryResponse item;
    if (a.ack) {
      item.mutable_ack()->set_from(a.from);
    } else {
      item.mutable_reply()->set_from(a.from);
      item.mutable_reply()->set_payload(a.payload);
    }
    (*sink)(std::move(item));
  };
  auto done = [sink](cluster::QueryResult result) {
    pb::AgentQueryResponse item;
    pb::AgentQuerySummary* summary = item.mutable_summary();
    summary->set_matched(static_cast<uint32_t>(result.matched.size()));
    summary->set_acked(static_cast<uint32_t>(result.acked.size()));
    summary->set_answered(static_cast<uint32_t>(result.answered.size()));
    for (const std::string& m : result.missing) summary->add_missing(m);
    (*sink)(std::move(item));
  };
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  return Host()->StartQuery(std::move(params), std::move(on_answer),
                            std::move(done));
}

void PeerAgentBackend::CancelQuery(uint64_t handle) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return;
  Host()->FinishQuery(handle);
}

absl::Status PeerAgentBackend::ForceLeave(const std::string& name, bool prune) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (Host() == nullptr) return Closed();
  return Host()->ForceLeave(name, prune);
}

PeerAgent::PeerAgent(MembershipHost* membership, cli::ViewHub* views)
    : views_(views),
      backend_(membership),
      service_(&backend_),
      member_feed_(std::make_unique<MemberFeed>(&service_)),
      user_event_feed_(std::make_unique<UserEventFeed>(&service_)) {
  // The listener is never removed: it lives as long as this object, which
  // PeerApp keeps until the host is gone; after Close it publishes to
  // nobody.
  membership->AddListener(member_feed_.get());
  membership->AddUserEventListener(user_event_feed_.get());
  log_watch_ =
      views_->Watch({cli::kLogView}, [this](const cli::ViewLine& line) {
        std::optional<pb::AgentLogRecord> record = ParseLogLine(line.text);
        if (!record) return;
        pb::AgentStreamResponse event;
        SetTime(line.time, event.mutable_time());
        *event.mutable_log() = *std::move(record);
        service_.Publish(event);
      });
}

PeerAgent::~PeerAgent() { Close(); }

void PeerAgent::Close() {
  if (log_watch_ != 0) {
    views_->Unwatch(log_watch_);
    log_watch_ = 0;
  }
  service_.Shutdown();
  backend_.Close();
}

}  // namespace peerlab::peer
