#include "peer/app/membership_commands.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "peer/app/digest_command.h"
#include "peer/app/keys_commands.h"
#include "peer/app/member_meta.h"
#include "peer/membership/stats_snapshot.h"

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

// "estimated rtt A <-> B: 1.234 ms", and when one of them is this node and
// its probes measured the other, " (probes measured 1.200 ms)".
std::string RttLine(const membership::Memberlist& n, const std::string& a,
                    const std::string& b, absl::Duration estimate) {
  std::string line = absl::StrFormat("estimated rtt %s <-> %s: %.3f ms", a, b,
                                     absl::ToDoubleMilliseconds(estimate));
  const std::string& self = n.config().name;
  const std::string& other = a == self ? b : a;
  if ((a == self) != (b == self) && n.coordinates() != nullptr) {
    if (auto m = n.coordinates()->MeasuredRtt(other)) {
      absl::StrAppend(&line, absl::StrFormat(" (probes measured %.3f ms)",
                                             absl::ToDoubleMilliseconds(*m)));
    }
  }
  return line;
}

}  // namespace

MembershipCommands::MembershipCommands(MembershipHost* host, Env env)
    : host_(host), env_(std::move(env)) {
  ApplyProfile("local").IgnoreError();
}

MembershipCommands::~MembershipCommands() = default;

absl::Status MembershipCommands::ApplyProfile(const std::string& profile) {
  membership::Config c;
  if (auto s = membership::Config::FromProfile(profile, &c); !s.ok()) return s;
  settings_ = c;
  profile_ = profile;
  indirect_checks_ = c.indirect_checks;
  suspicion_mult_ = c.suspicion_mult;
  suspicion_max_timeout_mult_ = c.suspicion_max_timeout_mult;
  suspicion_confirmations_ = c.suspicion_confirmations;
  retransmit_mult_ = c.retransmit_mult;
  gossip_nodes_ = c.gossip_nodes;
  packet_size_ = c.packet_size;
  awareness_max_ = c.awareness_max_multiplier;
  max_members_ = c.max_members;
  max_queued_alives_ = c.max_queued_alives;
  max_meta_bytes_ = c.max_meta_bytes;
  vivaldi_dimensionality_ = c.coordinate.dimensionality;
  vivaldi_adjustment_window_ = c.coordinate.adjustment_window_size;
  vivaldi_latency_filter_ = c.coordinate.latency_filter_size;
  return absl::OkStatus();
}

MembershipSettings MembershipCommands::Settings() const {
  MembershipSettings out;
  auto lock = config_->Lock();
  membership::Config& config = out.config;
  config = settings_;
  config.indirect_checks = static_cast<int>(indirect_checks_);
  config.suspicion_mult = static_cast<int>(suspicion_mult_);
  config.suspicion_max_timeout_mult =
      static_cast<int>(suspicion_max_timeout_mult_);
  config.suspicion_confirmations = static_cast<int>(suspicion_confirmations_);
  config.retransmit_mult = static_cast<int>(retransmit_mult_);
  config.gossip_nodes = static_cast<int>(gossip_nodes_);
  config.packet_size = static_cast<int>(packet_size_);
  config.awareness_max_multiplier = static_cast<int>(awareness_max_);
  config.max_members = static_cast<int>(max_members_);
  config.max_queued_alives = static_cast<int>(max_queued_alives_);
  config.max_meta_bytes = static_cast<int>(max_meta_bytes_);
  config.coordinate.dimensionality = static_cast<int>(vivaldi_dimensionality_);
  config.coordinate.adjustment_window_size =
      static_cast<int>(vivaldi_adjustment_window_);
  config.coordinate.latency_filter_size =
      static_cast<int>(vivaldi_latency_filter_);
  cluster::UserEventsOptions& ev = out.user_events;
  ev.max_event_bytes = static_cast<size_t>(event_max_bytes_);
  ev.buffer = static_cast<int>(event_buffer_);
  out.queries.max_payload_bytes = static_cast<size_t>(query_max_payload_bytes_);
  out.queries.max_response_bytes =
      static_cast<size_t>(query_max_response_bytes_);
  ev.order_delay = event_order_delay_;
  ev.coalesce_period = event_coalesce_period_;
  ev.quiescent_period = event_quiescent_period_;
  config.label = label_;
  out.profile = profile_;
  out.bind_port = static_cast<int>(bind_port_);
  out.grpc_only = grpc_only_;
  out.keyfile = keyfile_;
  return out;
}

absl::Status MembershipCommands::Register(cli::Registry& registry,
                                          cli::ConfigRegistry& config) {
  config_ = &config;
  MembershipHost* host = host_;
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
  // The plain settings, one row each (`show config` sorts them by name).
  struct IntRow {
    const char* key;
    const char* help;
    int64_t* value;
    int64_t min, max;
  };
  struct DoubleRow {
    const char* key;
    const char* help;
    double* value;
    double min, max;
  };
  struct DurationRow {
    const char* key;
    const char* help;
    absl::Duration* value;
    absl::Duration min;
  };
  struct BoolRow {
    const char* key;
    const char* help;
    bool* value;
  };
  // Vivaldi (Config::coordinate): Serf's coordinate.DefaultConfig().
  membership::CoordinateConfig& v = c.coordinate;
  const IntRow ints[] = {
      {"memberlist.bind_port", "UDP gossip port (0: the one reserved at start)",
       &bind_port_, 0, 65535},
      {"memberlist.indirect_checks", "members asked to probe for us",
       &indirect_checks_, 0, 16},
      {"memberlist.suspicion_mult", "suspicion timeout factor",
       &suspicion_mult_, 1, 100},
      {"memberlist.suspicion_max_timeout_mult", "max suspicion timeout / min",
       &suspicion_max_timeout_mult_, 1, 100},
      {"memberlist.suspicion_confirmations",
       "confirmations that bring a suspicion to its minimum "
       "(Lifeguard's K; -1: suspicion_mult - 2)",
       &suspicion_confirmations_, -1, 100},
      {"memberlist.retransmit_mult", "retransmissions factor per update",
       &retransmit_mult_, 1, 100},
      {"memberlist.gossip_nodes", "members per gossip round", &gossip_nodes_, 1,
       100},
      {"memberlist.packet_size", "largest datagram", &packet_size_, 512, 65507},
      {"memberlist.awareness_max_multiplier", "Lifeguard health score limit",
       &awareness_max_, 1, 100},
      {"memberlist.max_members",
       "members held at most (new ones past it are refused)", &max_members_, 2,
       10'000'000},
      {"memberlist.max_queued_alives",
       "alive notices about other members queued for gossip at most; past "
       "it the one sent most is dropped and this node catches up with "
       "push/pulls (0: no bound)",
       &max_queued_alives_, 0, 10'000'000},
      {"memberlist.max_meta_bytes",
       "largest metadata (tags included) this node sends or "
       "accepts; what does not fit a datagram spreads on the "
       "reliable path (give every member the same)",
       &max_meta_bytes_, 0, membership::kMaxMetaBytesLimit},
      {"memberlist.vivaldi_dimensionality",
       "Vivaldi coordinate dimensions (Serf: 8)", &vivaldi_dimensionality_, 1,
       16},
      {"memberlist.vivaldi_adjustment_window",
       "Vivaldi samples averaged into the adjustment (Serf: 20)",
       &vivaldi_adjustment_window_, 1, 256},
      {"memberlist.vivaldi_latency_filter",
       "Vivaldi RTTs kept per member, median taken (Serf: 3)",
       &vivaldi_latency_filter_, 1, 256},
      {"event.max_bytes",
       "largest user event (name and payload); one larger than "
       "a datagram is announced and its body fetched on the "
       "reliable path (give every member the same)",
       &event_max_bytes_, 1, cluster::kMaxEventBytesLimit},
      {"query.max_payload_bytes",
       "largest query payload sent or fetched; one larger than "
       "a datagram is fetched from the asker on the reliable "
       "path",
       &query_max_payload_bytes_, 1, cluster::kMaxQueryPayloadLimit},
      {"query.max_response_bytes",
       "largest query response this member sends (reliable "
       "path; larger ones are dropped and logged)",
       &query_max_response_bytes_, 1, cluster::kMaxQueryResponseLimit},
      {"event.buffer",
       "Lamport times of user events remembered (repeats "
       "dropped, replayed to late joiners)",
       &event_buffer_, 1, cluster::kMaxEventBuffer},
  };
  const DoubleRow doubles[] = {
      {"memberlist.vivaldi_error_max",
       "Vivaldi error estimate cap and start (Serf: 1.5)", &v.vivaldi_error_max,
       1e-6, 1e6},
      {"memberlist.vivaldi_ce", "Vivaldi error estimate gain (Serf: 0.25)",
       &v.vivaldi_ce, 1e-6, 1.0},
      {"memberlist.vivaldi_cc", "Vivaldi coordinate gain (Serf: 0.25)",
       &v.vivaldi_cc, 1e-6, 1.0},
      {"memberlist.vivaldi_height_min",
       "Vivaldi smallest height, seconds (Serf: 10e-6)", &v.height_min, 1e-9,
       10.0},
      {"memberlist.vivaldi_gravity_rho",
       "Vivaldi pull towards the origin (Serf: 150)", &v.gravity_rho, 1e-6,
       1e9},
  };
  const DurationRow durations[] = {
      {"memberlist.probe_interval", "time between probes", &c.probe_interval,
       absl::Milliseconds(1)},
      {"memberlist.probe_timeout",
       "wait for a direct ack before indirect probes", &c.probe_timeout,
       absl::Milliseconds(1)},
      {"memberlist.reliable_timeout", "timeout of push/pull and fallback calls",
       &c.reliable_timeout, absl::Milliseconds(1)},
      {"memberlist.gossip_interval", "time between gossip rounds",
       &c.gossip_interval, absl::Milliseconds(1)},
      {"memberlist.gossip_to_the_dead_time",
       "how long the dead still get gossip", &c.gossip_to_the_dead_time,
       absl::ZeroDuration()},
      {"memberlist.push_pull_interval", "full state exchange period (0: off)",
       &c.push_pull_interval, absl::ZeroDuration()},
      {"event.order_delay",
       "wait before a user event is delivered, so events "
       "arrive in Lamport order",
       &event_order_delay_, absl::ZeroDuration()},
      {"event.coalesce_period",
       "--coalesce: only the newest event of a name "
       "within this period is delivered",
       &event_coalesce_period_, absl::Milliseconds(1)},
      {"event.quiescent_period",
       "--coalesce: deliver early after this long without "
       "an event",
       &event_quiescent_period_, absl::Milliseconds(1)},
      {"memberlist.reconnect_timeout", "how long failed members are retried",
       &c.reconnect_timeout, absl::ZeroDuration()},
      {"memberlist.retired_key_time",
       "how long removed gossip keys still open a key "
       "catch-up request of a member that was away (0: "
       "none)",
       &c.retired_key_time, absl::ZeroDuration()},
  };
  const BoolRow bools[] = {
      {"memberlist.grpc_only",
       "carry datagrams over gRPC too (networks that block UDP)", &grpc_only_},
      {"memberlist.reliable_fallback_probe",
       "also probe over gRPC when UDP fails", &c.reliable_fallback_probe},
      {"memberlist.lifeguard", "Lifeguard refinements on (experiments)",
       &c.lifeguard},
  };
  for (const IntRow& r : ints) {
    add(config.AddInt(r.key, r.help, r.value, r.min, r.max), st);
  }
  for (const DoubleRow& r : doubles) {
    add(config.AddDouble(r.key, r.help, r.value, r.min, r.max), st);
  }
  for (const DurationRow& r : durations) {
    add(config.AddDuration(r.key, r.help, r.value, r.min), st);
  }
  for (const BoolRow& r : bools)
    add(config.AddBool(r.key, r.help, r.value), st);
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
  if (!st.ok()) return st;
  // The host reads them at each create.
  host_->SetSettingsSource([this] { return Settings(); });
  // Settings are read at memberlistcreate: say so when a node runs.
  config.AddNotice(kPrefix, [host]() -> std::string {
    if (!host->running()) return "";
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
         if (auto s = host_->Create(); !s.ok()) return s;
         out.Print(absl::StrCat("membership node created on ",
                                host_->LocalAddress()));
         return absl::OkStatus();
       }},
      {.name = "memberliststart",
       .group = "membership",
       .summary = "starts probing and gossip",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         const bool was_started =
             host_
                 ->WithNode([](membership::Memberlist& n) {
                   return absl::StatusOr<bool>(n.started());
                 })
                 .value_or(false);
         if (auto s = host_->Start(); !s.ok()) return s;
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
         auto joined = host_->JoinWithReport(addrs);
         if (!joined.ok()) return joined.status();
         // Reported once the node is a member: what it reached, and which
         // addresses it did not.
         const int members = host_
                                 ->WithNode([](membership::Memberlist& n) {
                                   return absl::StatusOr<int>(n.NumAlive());
                                 })
                                 .value_or(0);
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
         const bool had_left = host_
                                   ->WithNode([](membership::Memberlist& n) {
                                     return absl::StatusOr<bool>(n.left());
                                   })
                                   .value_or(false);
         if (auto s = host_->Leave(*t); !s.ok()) return s;
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
             host_
                 ->WithNode([](membership::Memberlist& n) {
                   return absl::StatusOr<std::string>(n.LocalNode().meta);
                 })
                 .value_or("");
         if (auto s = host_->SetMeta(meta, *t); !s.ok()) return s;
         out.Print("update spread");
         return absl::OkStatus();
       }},
      {.name = "memberlistshutdown",
       .group = "membership",
       .summary = "stops the node without leaving (others will see it fail)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = host_->Shutdown(); !s.ok()) return s;
         out.Print("membership node shut down");
         return absl::OkStatus();
       }},
      {.name = "memberlistshutdowntransport",
       .group = "membership",
       .summary = "stops the node's network only (it goes deaf and mute)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = host_->ShutdownTransport(); !s.ok()) return s;
         out.Print("membership transport shut down");
         return absl::OkStatus();
       }},
      {.name = "memberlistdelete",
       .group = "membership",
       .summary = "forgets the membership node (shuts it down first)",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = host_->Delete(); !s.ok()) return s;
         out.Print("membership node deleted");
         return absl::OkStatus();
       }},
      {.name = "memberlist",
       .group = "membership",
       .summary = "lists the members alive or suspect",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto members = host_->WithNode([](membership::Memberlist& n) {
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
         auto members = host_->WithNode([](membership::Memberlist& n) {
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
         auto local = host_->WithNode([](membership::Memberlist& n) {
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
         auto score = host_->WithNode([](membership::Memberlist& n) {
           return absl::StatusOr<int>(n.HealthScore());
         });
         if (!score.ok()) return score.status();
         out.Print(absl::StrCat("health score ", *score));
         return absl::OkStatus();
       }},
      {.name = "stats",
       .group = "membership",
       .usage = "stats [PREFIX]",
       .summary = "protocol statistics, one sample a line (memberlist's "
                  "metric names; PREFIX keeps those starting with it)",
       .help = "Members by state, health score, incarnation, broadcast "
               "queue, messages and bytes by kind and path, probes by "
               "outcome, suspicions, refusals: docs/library.md lists them.",
       .max_args = 1,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         auto samples = host_->WithNode([](membership::Memberlist& n) {
           return absl::StatusOr<MetricSamples>(membership::StatsSnapshot(n));
         });
         if (!samples.ok()) return samples.status();
         const std::string prefix = call.args.empty() ? "" : call.args[0];
         for (const MetricSample& s : *samples) {
           if (s.name.rfind(prefix, 0) == 0) out.Print(FormatMetricSample(s));
         }
         return absl::OkStatus();
       }},
      {.name = "rtt",
       .group = "membership",
       .usage = "rtt A [B]",
       .summary = "estimated round trip between members A and B (B: this "
                  "node) from network coordinates, as serf rtt",
       .help = "Vivaldi coordinates ride on probe acks (docs/library.md). "
               "When one side is this node, the round trip its probes "
               "measured (median of the last 3) follows the estimate.",
       .min_args = 1,
       .max_args = 2,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         auto line = host_->WithNode(
             [&](membership::Memberlist& n) -> absl::StatusOr<std::string> {
               const std::string a = call.args[0];
               const std::string b =
                   call.args.size() > 1 ? call.args[1] : n.config().name;
               absl::StatusOr<absl::Duration> est = n.EstimateRtt(a, b);
               if (!est.ok()) return est.status();
               return RttLine(n, a, b, *est);
             });
         if (!line.ok()) return line.status();
         out.Print(*line);
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
         uint64_t lamport = 0;
         absl::Status s = host_->WithKv(
             [&](membership::KvStore& kv) -> absl::Status {
               absl::Status set = kv.Set(call.args[0], value);
               if (set.ok()) lamport = kv.lamport();
               return set;
             },
             /*started=*/true,
             "membership is not running (memberlistcreate, "
             "memberliststart)");
         if (!s.ok()) return s;
         // The write's stamp is (lamport, this node): `check kv` reads it.
         out.Print(absl::StrCat(call.args[0], " = ", value, " (lamport ",
                                lamport, ")"));
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
         std::vector<std::string> deleted;  // "KEY (lamport N)"
         absl::Status s = host_->WithKv(
             [&](membership::KvStore& kv) -> absl::Status {
               for (const auto& key : call.args) {
                 absl::Status d = kv.Delete(key);
                 if (absl::IsNotFound(d)) {
                   missing.push_back(key);
                 } else if (!d.ok()) {
                   return d;
                 } else {
                   deleted.push_back(
                       absl::StrCat(key, " (lamport ", kv.lamport(), ")"));
                 }
               }
               return absl::OkStatus();
             },
             /*started=*/true, "membership is not running");
         if (!s.ok()) return s;
         if (!missing.empty()) {
           return absl::NotFoundError(
               absl::StrCat("no such key: ", absl::StrJoin(missing, ", ")));
         }
         out.Print(absl::StrCat("deleted ", absl::StrJoin(deleted, ", ")));
         return absl::OkStatus();
       }},
      {.name = "broadcastlist",
       .group = "broadcast",
       .usage = "broadcastlist [stamps]",
       .summary = "lists the replicated key/value map (stamps: every entry "
                  "as KEY @LAMPORT NODE = VALUE, deletes as KEY @LAMPORT "
                  "NODE deleted)",
       .max_args = 1,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         if (!call.args.empty() && call.args[0] != "stamps") {
           return absl::InvalidArgumentError(
               absl::StrCat("broadcastlist: unknown argument \"", call.args[0],
                            "\" (broadcastlist [stamps])"));
         }
         if (!call.args.empty()) {
           auto lines = host_->WithKv(
               [&](membership::KvStore& kv)
                   -> absl::StatusOr<std::vector<std::string>> {
                 std::vector<std::string> lines;
                 for (const auto& [k, e] : kv.entries()) {
                   lines.push_back(absl::StrCat(
                       k, " @", e.lamport(), " ", e.node(),
                       e.deleted() ? " deleted"
                                   : absl::StrCat(" = ", e.value())));
                 }
                 return lines;
               },
               /*started=*/false, "no membership node");
           if (!lines.ok()) return lines.status();
           for (const auto& line : *lines) out.Print(line);
           out.Print(absl::StrCat(lines->size(), " key(s)"));
           return absl::OkStatus();
         }
         auto items = host_->WithKv(
             [&](membership::KvStore& kv)
                 -> absl::StatusOr<std::map<std::string, std::string>> {
               return kv.Items();
             },
             /*started=*/false, "no membership node");
         if (!items.ok()) return items.status();
         for (const auto& [k, v] : *items) out.Print(absl::StrCat(k, " = ", v));
         out.Print(absl::StrCat(items->size(), " key(s)"));
         return absl::OkStatus();
       }},
  };
  commands.push_back(KeysCommand(
      [this](membership::KeyOp op, std::string key, absl::Duration timeout) {
        return host_->KeyOperation(op, std::move(key), timeout);
      }));
  commands.push_back(MemberlistDigestCommand([this] {
    return host_->WithNode([](membership::Memberlist& n) {
      std::vector<MemberRow> rows;
      for (const Member& m : n.AllMembers()) {
        rows.push_back({.name = m.name,
                        .state = StateName(m.state),
                        .incarnation = m.incarnation});
      }
      return absl::StatusOr<std::vector<MemberRow>>(std::move(rows));
    });
  }));
  for (auto& command : commands) {
    if (auto s = registry.Register(std::move(command)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace peerlab::peer
