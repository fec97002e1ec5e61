#include "peer/app/membership_host.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "peer/app/member_meta.h"
#include "peer/membership/real/udp_grpc_transport.h"
#include "peer/runtime/completion.h"

namespace peerlab::peer {
namespace {

using membership::Member;
using membership::MemberState;

// The peer's fields and the tag fields, encoded.
std::string MetaWith(const MetaFields& fields, const cluster::Tags& tags) {
  MetaFields all = fields;
  for (auto& [k, v] : cluster::TagFields(tags)) all[k] = std::move(v);
  return EncodeMeta(all);
}

// What to do when the node can no longer take part (after a leave, or once
// a newer process took its name).
absl::Status NodeIsOver(const membership::Memberlist& node) {
  return absl::FailedPreconditionError(absl::StrCat(
      node.left() ? "this node left the group"
                  : "a newer process took this node's name",
      " and cannot take part again: memberlistcreate makes a new node, then "
      "memberliststart and memberlistjoin"));
}

}  // namespace

std::unique_ptr<ClusterParts> MakeClusterParts(
    runtime::Scheduler* scheduler, membership::DelegateMux& mux,
    std::function<int()> max_broadcast, const NodeSpec& spec,
    runtime::Logger* logger) {
  auto out = std::make_unique<ClusterParts>();
  cluster::UserEventsOptions o = spec.user_events;
  o.node = spec.config.name;
  out->events = std::make_unique<cluster::UserEvents>(
      o, scheduler, mux.SenderFor(membership::kUserEventChannel),
      [max_broadcast = std::move(max_broadcast)] {
        return max_broadcast() - membership::kMuxHeaderBytes;
      });
  out->events->set_log(runtime::ComponentLog(logger, "cluster", scheduler));
  if (spec.user_event_listener) {
    out->events->AddListener(spec.user_event_listener);
  }
  (void)mux.Register(membership::kUserEventChannel, out->events.get());
  out->queries = std::make_unique<cluster::Queries>(
      scheduler, mux.SenderFor(membership::kQueryChannel),
      [](const membership::Member& m) {
        const cluster::Tags tags = cluster::DecodeTags(m.meta);
        return std::map<std::string, std::string>(tags.begin(), tags.end());
      },
      spec.queries, runtime::ComponentLog(logger, "cluster", scheduler));
  (void)mux.Register(membership::kQueryChannel, out->queries.get());
  return out;
}

namespace {

// A node and its cluster layer: the node goes first (its mux points at
// the cluster's components).
struct OwnedNode {
  ~OwnedNode() { parts.reset(); }
  std::unique_ptr<ClusterParts> cluster;
  std::unique_ptr<membership::NodeParts> parts;
};

}  // namespace

NodeFactory RealNodeFactory(RealNodeEnv env) {
  return [env = std::move(env)](runtime::Scheduler* scheduler,
                                NodeSpec spec) -> absl::StatusOr<HostedNode> {
    runtime::Logger* const logger = spec.config.logger;
    const NodeSpec cluster_spec{.config = spec.config,
                                .user_events = spec.user_events,
                                .user_event_listener = spec.user_event_listener,
                                .queries = spec.queries};
    membership::NodePartsOptions options;
    options.config = std::move(spec.config);
    options.state_dir = env.state_dir;
    options.profile = spec.profile;
    options.events = spec.events;
    options.key = std::move(spec.key);
    options.node_key = env.node_key;
    membership::UdpGrpcTransport::Options& t = options.transport;
    t.mode = spec.grpc_only ? membership::UdpGrpcTransport::Mode::kGrpcOnly
                            : membership::UdpGrpcTransport::Mode::kUdp;
    t.udp_bind_host = env.bind;
    t.udp_port = spec.bind_port;
    if (!spec.grpc_only && spec.bind_port == 0) {
      t.udp_fd = env.take_reserved_socket();
    }
    t.grpc_address = env.grpc_address();
    t.service = env.service;
    t.credentials = env.credentials;
    t.faults = env.faults;
    auto parts = membership::MakeNodeParts(scheduler, std::move(options));
    if (!parts.ok()) return parts.status();
    auto owned = std::make_shared<OwnedNode>();
    owned->parts = *std::move(parts);
    membership::Memberlist* node = owned->parts->node.get();
    owned->cluster = MakeClusterParts(
        scheduler, *owned->parts->mux,
        [node] { return node->MaxBroadcastBytes(); }, cluster_spec, logger);
    HostedNode out;
    out.transport = owned->parts->transport.get();
    out.kv = owned->parts->kv.get();
    out.node = node;
    out.events = owned->cluster->events.get();
    out.queries = owned->cluster->queries.get();
    out.owner = std::move(owned);
    return out;
  };
}

MembershipHost::MembershipHost(Env env, std::unique_ptr<runtime::HostLoop> loop,
                               NodeFactory factory)
    : env_(std::move(env)),
      factory_(std::move(factory)),
      loop_(std::move(loop)) {}

MembershipHost::~MembershipHost() {
  loop_->Call([this] {
    node_ = HostedNode{};  // shuts the node down
  });
  loop_->Stop();
}

void MembershipHost::SetSettingsSource(
    std::function<MembershipSettings()> source) {
  settings_source_ = std::move(source);
}

MembershipSettings MembershipHost::Settings() const {
  if (settings_source_) return settings_source_();
  MembershipSettings s;
  s.config.label = env_.group_label;
  return s;
}

void MembershipHost::AddListener(membership::EventListener* listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(listener);
}

bool MembershipHost::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return node_exists_;
}

absl::Status MembershipHost::Create() {
  MembershipSettings settings = Settings();
  membership::Config config = settings.config;
  config.name = env_.name;
  config.logger = env_.logger;
  if (auto s = config.Validate(); !s.ok()) return s;
  auto key = membership::LoadGossipKey(settings.keyfile, env_.insecure_gossip,
                                       env_.name, {}, env_.logger);
  if (!key.ok()) return key.status();
  return loop_->Call([&]() -> absl::Status {
    if (node_.node && (node_.node->left() || node_.node->replaced())) {
      // A node that left (or lost its name to a newer process) can never
      // take part again: a new one replaces it.
      spdlog::info("membership node {} replaced by a new one (the old one {})",
                   env_.name,
                   node_.node->left() ? "left the group" : "lost its name");
      DeleteNode();
    }
    if (node_.node) {
      return absl::FailedPreconditionError(
          "the membership node exists already (memberlistdelete first)");
    }
    NodeSpec spec;
    spec.config = config;
    spec.profile = settings.profile;
    spec.bind_port = settings.bind_port;
    spec.grpc_only = settings.grpc_only;
    spec.key = *std::move(key);
    spec.events = this;
    spec.user_events = settings.user_events;
    spec.user_event_listener = this;
    spec.queries = settings.queries;
    auto made = factory_(&loop_->scheduler(), std::move(spec));
    if (!made.ok()) return made.status();
    node_ = *std::move(made);
    if (node_.events) node_.events->Attach(node_.node);
    if (node_.queries) {
      node_.queries->Attach(node_.node);
      node_.queries->SetResponder(query_responder_);
    }
    std::lock_guard<std::mutex> lock(mu_);
    node_exists_ = true;
    node_created_ = true;
    node_label_ = config.label;
    return absl::OkStatus();
  });
}

std::string MembershipHost::GroupLabel() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (node_created_) return node_label_;
  }
  return Settings().config.label;
}

absl::Status MembershipHost::Start() {
  return WithNode([&](membership::Memberlist& node) -> absl::Status {
    if (node.left() || node.replaced()) return NodeIsOver(node);
    if (node.started()) return absl::OkStatus();
    return node.Start(LocalMeta());
  });
}

std::string MembershipHost::LocalMeta() const {
  std::lock_guard<std::mutex> lock(mu_);
  return MetaWith(meta_fields_, tags_);
}

cluster::Tags MembershipHost::LocalTags() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tags_;
}

absl::Status MembershipHost::UpdateTags(const cluster::Tags& set,
                                        const std::vector<std::string>& del,
                                        absl::Duration timeout,
                                        MissingTags missing_tags) {
  if (auto s = cluster::ValidateTags(set); !s.ok()) return s;
  // The running node's limit, else the one the next node gets.
  int limit = Settings().config.max_meta_bytes;
  loop_->Call([&] {
    if (node_.node) limit = node_.node->config().max_meta_bytes;
  });
  std::string meta;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cluster::Tags tags = tags_;
    std::vector<std::string> missing;
    for (const auto& key : del) {
      if (tags.erase(key) == 0) missing.push_back(key);
    }
    if (!missing.empty() && missing_tags == MissingTags::kRefuse) {
      return absl::NotFoundError(
          absl::StrCat("no such tag: ", absl::StrJoin(missing, ", ")));
    }
    for (const auto& [k, v] : set) tags[k] = v;
    if (auto s = cluster::ValidateTags(tags); !s.ok()) return s;
    meta = MetaWith(meta_fields_, tags);
    if (static_cast<int>(meta.size()) > limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tags refused: the metadata would be ", meta.size(),
          " bytes, at most ", limit, " (memberlist.max_meta_bytes)"));
    }
    tags_ = std::move(tags);
  }
  // Spread now, when a node runs (else announced at Start).
  runtime::Completion<absl::Status> done("tags");
  const absl::Status posted = loop_->Call([&]() -> absl::Status {
    membership::Memberlist* node = node_.node;
    if (!node || !node->started() || node->left()) {
      return absl::NotFoundError("no running node");
    }
    node->UpdateMeta(LocalMeta(), timeout, done.Callback());
    return absl::OkStatus();
  });
  if (absl::IsNotFound(posted)) return absl::OkStatus();
  if (!posted.ok()) return posted;
  return loop_->Await(done);
}

absl::StatusOr<uint64_t> MembershipHost::SendUserEvent(
    const std::string& name, const std::string& payload, bool coalesce) {
  return WithUserEvents(
      [&](cluster::UserEvents& events) -> absl::StatusOr<uint64_t> {
        return events.Send(name, payload, coalesce);
      });
}

absl::StatusOr<uint64_t> MembershipHost::StartQuery(
    cluster::QueryParams params, cluster::Queries::OnAnswer on_answer,
    std::function<void(cluster::QueryResult)> done) {
  return loop_->Call([&]() -> absl::StatusOr<uint64_t> {
    if (!node_.node || !node_.node->started()) {
      return absl::FailedPreconditionError(
          "membership is not running (memberlistcreate, memberliststart)");
    }
    if (!node_.queries) {
      return absl::FailedPreconditionError("this node has no queries");
    }
    const uint64_t handle = ++next_query_handle_;
    // Runs on the loop; the host outlives its node, whose Queries holds
    // this function.
    auto finished = [this, handle,
                     done = std::move(done)](cluster::QueryResult result) {
      queries_.erase(handle);
      if (done) done(std::move(result));
    };
    const bool reachability = params.name == cluster::kReachabilityQuery;
    absl::StatusOr<uint64_t> id =
        reachability
            ? node_.queries->Reachability(params.timeout, std::move(on_answer),
                                          std::move(finished))
            : node_.queries->Query(std::move(params), std::move(on_answer),
                                   std::move(finished));
    if (!id.ok()) return id.status();
    queries_[handle] = *id;
    return handle;
  });
}

void MembershipHost::FinishQuery(uint64_t handle) {
  loop_->Call([&] {
    auto it = queries_.find(handle);
    if (it == queries_.end() || !node_.queries) return;
    node_.queries->Finish(it->second);  // runs `finished`, which erases it
  });
}

absl::StatusOr<cluster::QueryResult> MembershipHost::RunQuery(
    cluster::QueryParams params, std::vector<cluster::QueryAnswer>* answers) {
  runtime::Completion<cluster::QueryResult> done("query");
  auto collected = std::make_shared<std::vector<cluster::QueryAnswer>>();
  auto started = StartQuery(
      std::move(params),
      [collected](const cluster::QueryAnswer& a) { collected->push_back(a); },
      done.Callback());
  if (!started.ok()) return started.status();
  absl::StatusOr<cluster::QueryResult> result = loop_->Await(done);
  // The answers were written on the loop before `done` completed.
  if (result.ok() && answers != nullptr) *answers = std::move(*collected);
  return result;
}

absl::StatusOr<cluster::QueryResult> MembershipHost::Reachability(
    absl::Duration timeout) {
  cluster::QueryParams params;
  params.name = cluster::kReachabilityQuery;
  params.timeout = timeout;
  return RunQuery(std::move(params), nullptr);
}

absl::Status MembershipHost::ForceLeave(const std::string& name, bool prune) {
  return WithNode([&](membership::Memberlist& node) {
    return node.ForceLeave(name, prune);
  });
}

void MembershipHost::SetQueryResponder(cluster::QueryResponder* responder) {
  loop_->Call([&] {
    query_responder_ = responder;
    if (node_.queries) node_.queries->SetResponder(responder);
  });
}

void MembershipHost::AddUserEventListener(
    cluster::UserEventListener* listener) {
  std::lock_guard<std::mutex> lock(mu_);
  user_event_listeners_.push_back(listener);
}

void MembershipHost::OnUserEvent(const cluster::UserEvent& e) {
  spdlog::info("user event {} from {} (ltime {})", e.name, e.from, e.ltime);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* l : user_event_listeners_) l->OnUserEvent(e);
}

void MembershipHost::SetLocalMetaField(const std::string& key,
                                       const std::string& value) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (value.empty()) {
      meta_fields_.erase(key);
    } else {
      meta_fields_[key] = value;
    }
  }
  // Spreads the current fields (a later call's post carries later fields:
  // the last one to run wins, and it reads the newest).
  loop_->scheduler().Post([this] {
    membership::Memberlist* node = node_.node;
    if (!node || !node->started() || node->left()) return;
    const std::string meta = LocalMeta();
    if (node->LocalNode().meta == meta) return;
    if (auto s = node->UpdateMeta(meta); !s.ok()) {
      spdlog::warn("membership metadata not updated: {}", s.message());
    }
  });
}

absl::StatusOr<int> MembershipHost::Join(std::vector<std::string> addrs) {
  auto report = JoinWithReport(std::move(addrs));
  if (!report.ok()) return report.status();
  return report->answered;
}

absl::StatusOr<membership::Memberlist::JoinReport>
MembershipHost::JoinWithReport(std::vector<std::string> addrs) {
  using Report = membership::Memberlist::JoinReport;
  // Cancelled if the loop drops the join (the node deleted meanwhile).
  runtime::Completion<absl::StatusOr<Report>> done("memberlistjoin");
  absl::Status posted = WithNode([&](membership::Memberlist& node) {
    if (node.left() || node.replaced()) return NodeIsOver(node);
    if (!node.started()) {
      return absl::FailedPreconditionError(
          "the membership node is not started (memberliststart)");
    }
    node.JoinWithReport(addrs, done.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return loop_->Await(done);
}

absl::Status MembershipHost::Leave(absl::Duration timeout) {
  runtime::Completion<absl::Status> done("memberlistleave");
  absl::Status posted = WithNode([&](membership::Memberlist& node) {
    node.Leave(timeout, done.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return loop_->Await(done);
}

absl::Status MembershipHost::SetMeta(const std::string& meta,
                                     absl::Duration timeout) {
  runtime::Completion<absl::Status> done("memberlistupdate");
  absl::Status posted = WithNode([&](membership::Memberlist& node) {
    node.UpdateMeta(meta, timeout, done.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return loop_->Await(done);
}

void MembershipHost::DeleteNode() {
  queries_.clear();
  node_ = HostedNode{};  // shuts the node down
  std::lock_guard<std::mutex> lock(mu_);
  node_exists_ = false;
}

absl::Status MembershipHost::Shutdown() {
  return WithNode([&](membership::Memberlist& node) {
    node.Shutdown();
    return absl::OkStatus();
  });
}

absl::Status MembershipHost::ShutdownTransport() {
  return loop_->Call([&]() -> absl::Status {
    if (!node_.transport) {
      return absl::FailedPreconditionError("no membership node");
    }
    node_.transport->Shutdown();
    return absl::OkStatus();
  });
}

absl::Status MembershipHost::Delete() {
  return loop_->Call([&]() -> absl::Status {
    if (!node_.node) return absl::FailedPreconditionError("no membership node");
    DeleteNode();
    return absl::OkStatus();
  });
}

std::vector<Member> MembershipHost::Members() {
  return loop_->Call([&] {
    return node_.node && node_.node->started() ? node_.node->Members()
                                               : std::vector<Member>{};
  });
}

std::optional<identity::PublicKey> MembershipHost::PinnedKeyOf(
    const std::string& name) {
  return loop_->Call([&]() -> std::optional<identity::PublicKey> {
    if (!node_.node || !node_.node->started()) return std::nullopt;
    return node_.node->PinnedKeyOf(name);
  });
}

absl::StatusOr<membership::KeyOpResult> MembershipHost::KeyOperation(
    membership::KeyOp op, std::string key, absl::Duration timeout) {
  runtime::Completion<absl::StatusOr<membership::KeyOpResult>> done("keys");
  absl::Status posted = WithNode([&](membership::Memberlist& node) {
    node.KeyOperation(op, std::move(key), timeout, done.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return loop_->Await(done);
}

std::string MembershipHost::LocalAddress() {
  return loop_->Call([&] {
    return node_.transport ? node_.transport->LocalAddress() : std::string();
  });
}

// Each event reaches the listeners (the chat, the lifecycle) before its log
// line is written: whoever waits for the line (the harness's `wait ...
// logView`, a user) then finds the chat already knowing the member. Before,
// a message sent right after "member e joined" could miss e.
void MembershipHost::Notify(
    void (membership::EventListener::*event)(const Member&), const Member& m) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* l : listeners_) (l->*event)(m);
}

void MembershipHost::OnJoin(const Member& m) {
  Notify(&membership::EventListener::OnJoin, m);
  spdlog::info("member {} joined ({})", m.name, m.addr);
}
void MembershipHost::OnLeave(const Member& m) {
  Notify(&membership::EventListener::OnLeave, m);
  if (m.state == MemberState::kLeft) {
    spdlog::info("member {} left", m.name);
  } else {
    spdlog::warn("member {} failed (declared dead)", m.name);
  }
}
void MembershipHost::OnUpdate(const Member& m) {
  Notify(&membership::EventListener::OnUpdate, m);
  spdlog::info("member {} updated", m.name);
}
void MembershipHost::OnSuspect(const Member& m) {
  Notify(&membership::EventListener::OnSuspect, m);
  spdlog::info("member {} is suspect", m.name);
}
void MembershipHost::OnAlive(const Member& m) {
  Notify(&membership::EventListener::OnAlive, m);
  spdlog::info("member {} is alive again", m.name);
}

}  // namespace peerlab::peer
