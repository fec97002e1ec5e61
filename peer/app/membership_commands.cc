#include "peer/app/membership_commands.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "peer/app/keys_commands.h"
#include "peer/app/member_meta.h"
#include "peer/runtime/completion.h"
#include "base/logging.h"

namespace peerlab::peer {
namespace {

using membership::Member;
using membership::MemberState;
using membership::StateName;

constexpr char kPrefix[] = "memberlist.";

// "BindPort" (the original's spelling) -> "bind_port".
std::string KeyName(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != '_') out += '_';
      out += absl::ascii_tolower(static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  if (out.rfind(kPrefix, 0) != 0) out = kPrefix + out;
  return out;
}

std::string FormatMember(const Member& m) {
  return absl::StrFormat("%-16s %-22s %-8s incarnation %d%s", m.name, m.addr,
                         StateName(m.state), m.incarnation,
                         m.meta.empty() ? "" : absl::StrCat("  meta ", m.meta));
}

}  // namespace

MembershipCommands::MembershipCommands(Env env)
    : env_(std::move(env)),
      loop_(std::make_unique<runtime::EventLoop>("membership")) {
  settings_ = membership::Config::Local();
  ApplyProfile("local").IgnoreError();
}

MembershipCommands::~MembershipCommands() {
  loop_->Call([this] {
    node_ = nullptr;
    kv_ = nullptr;
    transport_ = nullptr;
    parts_.reset();  // shuts the node down
  });
  loop_->Stop();
}

absl::Status MembershipCommands::ApplyProfile(const std::string& profile) {
  membership::Config c;
  if (auto s = membership::Config::FromProfile(profile, &c); !s.ok()) return s;
  settings_ = c;
  profile_ = profile;
  indirect_checks_ = c.indirect_checks;
  suspicion_mult_ = c.suspicion_mult;
  suspicion_max_timeout_mult_ = c.suspicion_max_timeout_mult;
  retransmit_mult_ = c.retransmit_mult;
  gossip_nodes_ = c.gossip_nodes;
  packet_size_ = c.packet_size;
  awareness_max_ = c.awareness_max_multiplier;
  max_members_ = c.max_members;
  return absl::OkStatus();
}

void MembershipCommands::AddListener(membership::EventListener* listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(listener);
}

bool MembershipCommands::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return node_exists_;
}

template <typename F>
auto MembershipCommands::WithNode(F f)
    -> decltype(f(std::declval<membership::Memberlist&>())) {
  using R = decltype(f(std::declval<membership::Memberlist&>()));
  return loop_->Call([&]() -> R {
    if (!node_) {
      return absl::FailedPreconditionError(
          "no membership node: run memberlistcreate first");
    }
    return f(*node_);
  });
}

absl::Status MembershipCommands::Create() {
  membership::Config config;
  bool grpc_only;
  int64_t bind_port;
  std::string keyfile;
  {
    auto lock = config_->Lock();
    config = settings_;
    config.indirect_checks = static_cast<int>(indirect_checks_);
    config.suspicion_mult = static_cast<int>(suspicion_mult_);
    config.suspicion_max_timeout_mult =
        static_cast<int>(suspicion_max_timeout_mult_);
    config.retransmit_mult = static_cast<int>(retransmit_mult_);
    config.gossip_nodes = static_cast<int>(gossip_nodes_);
    config.packet_size = static_cast<int>(packet_size_);
    config.awareness_max_multiplier = static_cast<int>(awareness_max_);
    config.max_members = static_cast<int>(max_members_);
    grpc_only = grpc_only_;
    bind_port = bind_port_;
    keyfile = keyfile_;
    config.label = label_;
  }
  config.name = env_.name;
  if (auto s = config.Validate(); !s.ok()) return s;
  auto key =
      membership::LoadGossipKey(keyfile, env_.insecure_gossip, env_.name);
  if (!key.ok()) return key.status();
  return loop_->Call([&]() -> absl::Status {
    if (parts_ && (parts_->node->left() || parts_->node->replaced())) {
      // A node that left (or lost its name to a newer process) can never
      // take part again: a new one replaces it.
      spdlog::info("membership node {} replaced by a new one (the old one {})",
                   env_.name,
                   parts_->node->left() ? "left the group" : "lost its name");
      DeleteNode();
    }
    if (parts_) {
      return absl::FailedPreconditionError(
          "the membership node exists already (memberlistdelete first)");
    }
    membership::NodePartsOptions options;
    options.config = config;
    options.state_dir = env_.state_dir;
    options.profile = profile_;
    options.events = this;
    options.key = *std::move(key);
    options.node_key = env_.node_key;
    membership::UdpGrpcTransport::Options& t = options.transport;
    t.mode = grpc_only ? membership::UdpGrpcTransport::Mode::kGrpcOnly
                       : membership::UdpGrpcTransport::Mode::kUdp;
    t.udp_bind_host = env_.bind;
    t.udp_port = static_cast<int>(bind_port);
    if (!grpc_only && bind_port == 0) t.udp_fd = env_.take_reserved_socket();
    t.grpc_address = env_.grpc_address();
    t.service = env_.service;
    t.credentials = env_.credentials;
    auto parts = membership::MakeNodeParts(loop_.get(), std::move(options));
    if (!parts.ok()) return parts.status();
    parts_ = *std::move(parts);
    node_ = parts_->node.get();
    kv_ = parts_->kv.get();
    transport_ = parts_->transport.get();
    std::lock_guard<std::mutex> lock(mu_);
    node_exists_ = true;
    node_created_ = true;
    node_label_ = config.label;
    return absl::OkStatus();
  });
}

namespace {

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

std::string MembershipCommands::GroupLabel() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (node_created_) return node_label_;
  }
  if (config_ == nullptr) return env_.group_label;
  auto lock = config_->Lock();
  return label_;
}

absl::Status MembershipCommands::Start() {
  return WithNode([&](membership::Memberlist& node) -> absl::Status {
    if (node.left() || node.replaced()) return NodeIsOver(node);
    if (node.started()) return absl::OkStatus();
    return node.Start(LocalMeta());
  });
}

std::string MembershipCommands::LocalMeta() const {
  std::lock_guard<std::mutex> lock(mu_);
  return EncodeMeta(meta_fields_);
}

void MembershipCommands::SetLocalMetaField(const std::string& key,
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
  loop_->Post([this] {
    if (!node_ || !node_->started() || node_->left()) return;
    const std::string meta = LocalMeta();
    if (node_->LocalNode().meta == meta) return;
    if (auto s = node_->UpdateMeta(meta); !s.ok()) {
      spdlog::warn("membership metadata not updated: {}", s.message());
    }
  });
}

absl::StatusOr<int> MembershipCommands::Join(std::vector<std::string> addrs) {
  auto report = JoinWithReport(std::move(addrs));
  if (!report.ok()) return report.status();
  return report->answered;
}

absl::StatusOr<membership::Memberlist::JoinReport>
MembershipCommands::JoinWithReport(std::vector<std::string> addrs) {
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
  return done.Wait();
}

absl::Status MembershipCommands::Leave(absl::Duration timeout) {
  runtime::Completion<absl::Status> done("memberlistleave");
  absl::Status posted = WithNode([&](membership::Memberlist& node) {
    node.Leave(timeout, done.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return done.Wait();
}

absl::Status MembershipCommands::SetMeta(const std::string& meta,
                                         absl::Duration timeout) {
  runtime::Completion<absl::Status> done("memberlistupdate");
  absl::Status posted = WithNode([&](membership::Memberlist& node) {
    node.UpdateMeta(meta, timeout, done.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return done.Wait();
}

void MembershipCommands::DeleteNode() {
  node_ = nullptr;
  kv_ = nullptr;
  transport_ = nullptr;
  parts_.reset();  // shuts the node down
  std::lock_guard<std::mutex> lock(mu_);
  node_exists_ = false;
}

absl::Status MembershipCommands::Shutdown() {
  return WithNode([&](membership::Memberlist& node) {
    node.Shutdown();
    return absl::OkStatus();
  });
}

std::vector<Member> MembershipCommands::Members() {
  return loop_->Call([&] {
    return node_ && node_->started() ? node_->Members() : std::vector<Member>{};
  });
}

std::optional<identity::PublicKey> MembershipCommands::PinnedKeyOf(
    const std::string& name) {
  return loop_->Call([&]() -> std::optional<identity::PublicKey> {
    if (!node_ || !node_->started()) return std::nullopt;
    return node_->PinnedKeyOf(name);
  });
}

absl::StatusOr<membership::KeyOpResult> MembershipCommands::KeyOperation(
    membership::KeyOp op, std::string key, absl::Duration timeout) {
  runtime::Completion<absl::StatusOr<membership::KeyOpResult>> done("keys");
  absl::Status posted = WithNode([&](membership::Memberlist& node) {
    node.KeyOperation(op, std::move(key), timeout, done.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return done.Wait();
}

std::string MembershipCommands::LocalAddress() {
  return loop_->Call(
      [&] { return transport_ ? transport_->LocalAddress() : std::string(); });
}

void MembershipCommands::OnJoin(const Member& m) {
  spdlog::info("member {} joined ({})", m.name, m.addr);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* l : listeners_) l->OnJoin(m);
}
void MembershipCommands::OnLeave(const Member& m) {
  if (m.state == MemberState::kLeft) {
    spdlog::info("member {} left", m.name);
  } else {
    spdlog::warn("member {} failed (declared dead)", m.name);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* l : listeners_) l->OnLeave(m);
}
void MembershipCommands::OnUpdate(const Member& m) {
  spdlog::info("member {} updated", m.name);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* l : listeners_) l->OnUpdate(m);
}
void MembershipCommands::OnSuspect(const Member& m) {
  spdlog::info("member {} is suspect", m.name);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* l : listeners_) l->OnSuspect(m);
}
void MembershipCommands::OnAlive(const Member& m) {
  spdlog::info("member {} is alive again", m.name);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* l : listeners_) l->OnAlive(m);
}

absl::Status MembershipCommands::Register(cli::Registry& registry,
                                          cli::ConfigRegistry& config) {
  config_ = &config;
  auto add = [](absl::Status s, absl::Status& first) {
    if (first.ok() && !s.ok()) first = s;
  };
  absl::Status st;
  membership::Config& c = settings_;
  add(config.Add(
          {"memberlist.profile",
           "lan, wan or local: sets every value below to "
           "memberlist's DefaultLANConfig, DefaultWANConfig or "
           "DefaultLocalConfig",
           cli::ConfigRegistry::Type::kString,
           [](const std::string& v) -> absl::StatusOr<std::string> {
             membership::Config probe;
             if (auto s = membership::Config::FromProfile(v, &probe); !s.ok()) {
               return absl::InvalidArgumentError(
                   absl::StrCat("memberlist.", s.message()));
             }
             return v;
           },
           [this](const std::string& v) { ApplyProfile(v).IgnoreError(); },
           [this] { return profile_; },
           /*apply_first=*/true}),
      st);
  add(config.AddInt("memberlist.bind_port",
                    "UDP gossip port (0: the one reserved at start)",
                    &bind_port_, 0, 65535),
      st);
  add(config.AddBool("memberlist.grpc_only",
                     "carry datagrams over gRPC too (networks that block UDP)",
                     &grpc_only_),
      st);
  add(config.AddDuration("memberlist.probe_interval", "time between probes",
                         &c.probe_interval, absl::Milliseconds(1)),
      st);
  add(config.AddDuration("memberlist.probe_timeout",
                         "wait for a direct ack before indirect probes",
                         &c.probe_timeout, absl::Milliseconds(1)),
      st);
  add(config.AddInt("memberlist.indirect_checks",
                    "members asked to probe for us", &indirect_checks_, 0, 16),
      st);
  add(config.AddBool("memberlist.reliable_fallback_probe",
                     "also probe over gRPC when UDP fails",
                     &c.reliable_fallback_probe),
      st);
  add(config.AddDuration("memberlist.reliable_timeout",
                         "timeout of push/pull and fallback calls",
                         &c.reliable_timeout, absl::Milliseconds(1)),
      st);
  add(config.AddInt("memberlist.suspicion_mult", "suspicion timeout factor",
                    &suspicion_mult_, 1, 100),
      st);
  add(config.AddInt("memberlist.suspicion_max_timeout_mult",
                    "max suspicion timeout / min", &suspicion_max_timeout_mult_,
                    1, 100),
      st);
  add(config.AddInt("memberlist.retransmit_mult",
                    "retransmissions factor per update", &retransmit_mult_, 1,
                    100),
      st);
  add(config.AddInt("memberlist.gossip_nodes", "members per gossip round",
                    &gossip_nodes_, 1, 100),
      st);
  add(config.AddDuration("memberlist.gossip_interval",
                         "time between gossip rounds", &c.gossip_interval,
                         absl::Milliseconds(1)),
      st);
  add(config.AddDuration("memberlist.gossip_to_the_dead_time",
                         "how long the dead still get gossip",
                         &c.gossip_to_the_dead_time, absl::ZeroDuration()),
      st);
  add(config.AddDuration("memberlist.push_pull_interval",
                         "full state exchange period (0: off)",
                         &c.push_pull_interval, absl::ZeroDuration()),
      st);
  add(config.AddInt("memberlist.packet_size", "largest datagram", &packet_size_,
                    512, 65507),
      st);
  add(config.AddInt("memberlist.awareness_max_multiplier",
                    "Lifeguard health score limit", &awareness_max_, 1, 100),
      st);
  add(config.AddInt("memberlist.max_members",
                    "members held at most (new ones past it are refused)",
                    &max_members_, 2, 10'000'000),
      st);
  add(config.AddBool("memberlist.lifeguard",
                     "Lifeguard refinements on (experiments)", &c.lifeguard),
      st);
  add(config.AddString("memberlist.keyfile",
                       "gossip encryption key file: base64 keys, one a line, "
                       "the first primary (empty: the per-user group key "
                       "<state dir>/gossip.keys, or none with "
                       "--insecure-gossip)",
                       &keyfile_),
      st);
  label_ = env_.group_label;
  add(config.Add(
          {"memberlist.label",
           "group label: every datagram and call carries it and only the "
           "same label is accepted, so two groups never merge (at most 255 "
           "bytes, no control characters; empty: none; default "
           "--group-label)",
           cli::ConfigRegistry::Type::kString,
           [](const std::string& v) -> absl::StatusOr<std::string> {
             membership::Config probe = membership::Config::Local();
             probe.name = "x";
             probe.label = v;
             if (auto s = probe.Validate(); !s.ok()) {
               return absl::InvalidArgumentError(
                   absl::StrCat("memberlist.", s.message()));
             }
             return v;
           },
           [this](const std::string& v) { label_ = v; },
           [this] { return label_; }}),
      st);
  add(config.AddDuration("memberlist.reconnect_timeout",
                         "how long failed members are retried",
                         &c.reconnect_timeout, absl::ZeroDuration()),
      st);
  add(config.AddDuration("memberlist.retired_key_time",
                         "how long removed gossip keys still open a key "
                         "catch-up request of a member that was away (0: "
                         "none)",
                         &c.retired_key_time, absl::ZeroDuration()),
      st);
  if (!st.ok()) return st;
  // Settings are read at memberlistcreate: say so when a node runs.
  config.AddNotice(kPrefix, [this]() -> std::string {
    if (!running()) return "";
    return "takes effect at the next memberlistcreate (the node running now "
           "keeps its settings)";
  });

  auto wait_arg =
      [](const cli::Call& call,
         absl::Duration fallback) -> absl::StatusOr<absl::Duration> {
    if (call.args.empty()) return fallback;
    return call.Seconds(0, "SECONDS");
  };

  std::vector<cli::Command> commands = {
      {.name = "memberlistconfigure",
       .group = "membership",
       .usage = "memberlistconfigure [KEY VALUE]...",
       .summary = "shows or changes membership settings (before "
                  "memberlistcreate)",
       .help = "Keys as in show config without the memberlist. prefix; the "
               "original's CamelCase works too (BindPort 7946). "
               "memberlistconfigure profile lan|wan|local resets every value "
               "to that memberlist profile.",
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         if (call.args.size() % 2 != 0) {
           return absl::InvalidArgumentError(
               "usage: memberlistconfigure [KEY VALUE]...");
         }
         for (size_t i = 0; i < call.args.size(); i += 2) {
           if (auto s = config_->Set(KeyName(call.args[i]), call.args[i + 1],
                                     call.remote);
               !s.ok()) {
             return s;
           }
         }
         if (!call.args.empty()) {
           if (std::string note = config_->Notice(kPrefix); !note.empty()) {
             out.Print(absl::StrCat("note: ", note));
           }
         }
         for (const auto& row : config_->Rows()) {
           if (row.name.rfind(kPrefix, 0) == 0) {
             out.Print(absl::StrFormat("%-40s %s", row.name, row.value));
           }
         }
         return absl::OkStatus();
       }},
      {.name = "memberlistcreate",
       .group = "membership",
       .summary = "creates the membership node (its socket and transport)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = Create(); !s.ok()) return s;
         out.Print(absl::StrCat("membership node created on ", LocalAddress()));
         return absl::OkStatus();
       }},
      {.name = "memberliststart",
       .group = "membership",
       .summary = "starts probing and gossip",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         const bool was_started = WithNode([](membership::Memberlist& n) {
                                    return absl::StatusOr<bool>(n.started());
                                  }).value_or(false);
         if (auto s = Start(); !s.ok()) return s;
         out.Print(was_started ? "membership already started"
                               : "membership started");
         return absl::OkStatus();
       }},
      {.name = "memberlistjoin",
       .group = "membership",
       .usage = "memberlistjoin [ADDR...]",
       .summary = "joins members (default: the bootstrap peers)",
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         std::vector<std::string> addrs = call.args;
         if (addrs.empty()) {
           auto from_bootstrap = env_.bootstrap_addrs();
           if (!from_bootstrap.ok()) return from_bootstrap.status();
           addrs = *from_bootstrap;
           if (addrs.empty()) {
             out.Print("no other bootstrap peers: this node starts the group");
             return absl::OkStatus();
           }
         }
         auto joined = JoinWithReport(addrs);
         if (!joined.ok()) return joined.status();
         // Reported once the node is a member: what it reached, and which
         // addresses it did not.
         const int members = WithNode([](membership::Memberlist& n) {
                               return absl::StatusOr<int>(n.NumAlive());
                             }).value_or(0);
         out.Print(absl::StrCat(
             "joined via ", joined->answered, " of ", addrs.size(),
             " address(es), ", members, " member(s) now",
             joined->failures.empty()
                 ? ""
                 : absl::StrCat("; not reached: ",
                                absl::StrJoin(joined->failures, "; "))));
         return absl::OkStatus();
       }},
      {.name = "memberlistleave",
       .group = "membership",
       .usage = "memberlistleave [SECONDS]",
       .summary = "leaves the group, waiting up to SECONDS for the news to "
                  "spread",
       .max_args = 1,
       .handler = [this, wait_arg](const cli::Call& call,
                                   cli::Output& out) -> absl::Status {
         absl::Duration timeout;
         {
           auto lock = config_->Lock();
           timeout = settings_.leave_timeout;
         }
         auto t = wait_arg(call, timeout);
         if (!t.ok()) return t.status();
         const bool had_left = WithNode([](membership::Memberlist& n) {
                                 return absl::StatusOr<bool>(n.left());
                               }).value_or(false);
         if (auto s = Leave(*t); !s.ok()) return s;
         out.Print(had_left ? "this node had already left the group"
                            : "left the group");
         return absl::OkStatus();
       }},
      {.name = "memberlistupdate",
       .group = "membership",
       .usage = "memberlistupdate [SECONDS]",
       .summary = "re-announces this node (new incarnation), waiting up to "
                  "SECONDS for it to spread",
       .max_args = 1,
       .handler = [this, wait_arg](const cli::Call& call,
                                   cli::Output& out) -> absl::Status {
         auto t = wait_arg(call, absl::Seconds(5));
         if (!t.ok()) return t.status();
         std::string meta =
             WithNode([](membership::Memberlist& n) {
               return absl::StatusOr<std::string>(n.LocalNode().meta);
             }).value_or("");
         if (auto s = SetMeta(meta, *t); !s.ok()) return s;
         out.Print("update spread");
         return absl::OkStatus();
       }},
      {.name = "memberlistshutdown",
       .group = "membership",
       .summary = "stops the node without leaving (others will see it fail)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = Shutdown(); !s.ok()) return s;
         out.Print("membership node shut down");
         return absl::OkStatus();
       }},
      {.name = "memberlistshutdowntransport",
       .group = "membership",
       .summary = "stops the node's network only (it goes deaf and mute)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         absl::Status s = loop_->Call([&]() -> absl::Status {
           if (!transport_) {
             return absl::FailedPreconditionError("no membership node");
           }
           transport_->Shutdown();
           return absl::OkStatus();
         });
         if (!s.ok()) return s;
         out.Print("membership transport shut down");
         return absl::OkStatus();
       }},
      {.name = "memberlistdelete",
       .group = "membership",
       .summary = "forgets the membership node (shuts it down first)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         absl::Status s = loop_->Call([&]() -> absl::Status {
           if (!node_)
             return absl::FailedPreconditionError("no membership node");
           DeleteNode();
           return absl::OkStatus();
         });
         if (!s.ok()) return s;
         out.Print("membership node deleted");
         return absl::OkStatus();
       }},
      {.name = "memberlist",
       .group = "membership",
       .summary = "lists the members alive or suspect",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto members = WithNode([](membership::Memberlist& n) {
           return absl::StatusOr<std::vector<Member>>(n.Members());
         });
         if (!members.ok()) return members.status();
         for (const Member& m : *members) out.Print(FormatMember(m));
         out.Print(absl::StrCat(members->size(), " member(s)"));
         return absl::OkStatus();
       }},
      {.name = "showmemberlist",
       .group = "membership",
       .summary = "lists every member known, the dead and left ones too",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto members = WithNode([](membership::Memberlist& n) {
           return absl::StatusOr<std::vector<Member>>(n.AllMembers());
         });
         if (!members.ok()) return members.status();
         for (const Member& m : *members) out.Print(FormatMember(m));
         return absl::OkStatus();
       }},
      {.name = "localnode",
       .group = "membership",
       .summary = "shows this node as the others see it",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto local = WithNode([](membership::Memberlist& n) {
           return absl::StatusOr<Member>(n.LocalNode());
         });
         if (!local.ok()) return local.status();
         out.Print(FormatMember(*local));
         return absl::OkStatus();
       }},
      {.name = "memberlisthealthscore",
       .group = "membership",
       .summary = "Lifeguard health score (0 is best)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto score = WithNode([](membership::Memberlist& n) {
           return absl::StatusOr<int>(n.HealthScore());
         });
         if (!score.ok()) return score.status();
         out.Print(absl::StrCat("health score ", *score));
         return absl::OkStatus();
       }},
      {.name = "showconfig",
       .group = "membership",
       .summary = "membership settings (show config lists every setting)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         for (const auto& row : config_->Rows()) {
           if (row.name.rfind(kPrefix, 0) == 0) {
             out.Print(absl::StrFormat("%-40s %-10s %s", row.name, row.value,
                                       row.help));
           }
         }
         return absl::OkStatus();
       }},
      {.name = "broadcastadd",
       .group = "broadcast",
       .usage = "broadcastadd KEY VALUE",
       .summary = "sets KEY in the replicated key/value map",
       .min_args = 2,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         std::vector<std::string> words(call.args.begin() + 1, call.args.end());
         const std::string value = absl::StrJoin(words, " ");
         absl::Status s = loop_->Call([&]() -> absl::Status {
           if (!kv_ || !node_ || !node_->started()) {
             return absl::FailedPreconditionError(
                 "membership is not running (memberlistcreate, "
                 "memberliststart)");
           }
           return kv_->Set(call.args[0], value);
         });
         if (!s.ok()) return s;
         out.Print(absl::StrCat(call.args[0], " = ", value));
         return absl::OkStatus();
       }},
      {.name = "broadcastdel",
       .group = "broadcast",
       .usage = "broadcastdel KEY...",
       .summary = "removes keys from the replicated key/value map",
       .min_args = 1,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         std::vector<std::string> missing;
         absl::Status s = loop_->Call([&]() -> absl::Status {
           if (!kv_ || !node_ || !node_->started()) {
             return absl::FailedPreconditionError("membership is not running");
           }
           for (const auto& key : call.args) {
             absl::Status d = kv_->Delete(key);
             if (absl::IsNotFound(d)) {
               missing.push_back(key);
             } else if (!d.ok()) {
               return d;
             }
           }
           return absl::OkStatus();
         });
         if (!s.ok()) return s;
         if (!missing.empty()) {
           return absl::NotFoundError(
               absl::StrCat("no such key: ", absl::StrJoin(missing, ", ")));
         }
         out.Print(absl::StrCat("deleted ", absl::StrJoin(call.args, ", ")));
         return absl::OkStatus();
       }},
      {.name = "broadcastlist",
       .group = "broadcast",
       .summary = "lists the replicated key/value map",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto items = loop_->Call(
             [&]() -> absl::StatusOr<std::map<std::string, std::string>> {
               if (!kv_)
                 return absl::FailedPreconditionError("no membership node");
               return kv_->Items();
             });
         if (!items.ok()) return items.status();
         for (const auto& [k, v] : *items) out.Print(absl::StrCat(k, " = ", v));
         out.Print(absl::StrCat(items->size(), " key(s)"));
         return absl::OkStatus();
       }},
  };
  commands.push_back(KeysCommand(
      [this](membership::KeyOp op, std::string key, absl::Duration timeout) {
        return KeyOperation(op, std::move(key), timeout);
      }));
  for (auto& command : commands) {
    if (auto s = registry.Register(std::move(command)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace peerlab::peer
