#include "peer/membership/stats_snapshot.h"

#include <array>
#include <cstdint>
#include <utility>

#include "google/protobuf/descriptor.h"
#include "peer/membership/member.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {
namespace {

using Kind = MetricSample::Kind;
using Labels = std::vector<std::pair<std::string, std::string>>;

void Add(MetricSamples& out, std::string name, Kind kind, double value,
         std::string help, Labels labels = {}) {
  out.push_back(MetricSample{.name = std::move(name),
                             .kind = kind,
                             .labels = std::move(labels),
                             .value = value,
                             .help = std::move(help)});
}

std::string FieldName(const google::protobuf::Descriptor* d, int field) {
  const google::protobuf::FieldDescriptor* f =
      field > 0 ? d->FindFieldByNumber(field) : nullptr;
  return f != nullptr ? f->name() : "other";
}

// A counter without labels: its name, value and help.
struct Counter {
  const char* name;
  uint64_t value;
  const char* help;
};

// The traffic samples of one direction and path: messages and bytes per
// kind seen (kinds never seen are left out).
void AddTraffic(MetricSamples& out, const char* direction, const char* path,
                const std::array<Stats::Traffic, Stats::kMaxKinds>& traffic,
                std::string (*kind_name)(int)) {
  for (int k = 0; k < Stats::kMaxKinds; ++k) {
    if (traffic[k].messages == 0) continue;
    Labels labels = {{"kind", kind_name(k)}, {"path", path}};
    Add(out, absl::StrCat("memberlist.messages.", direction), Kind::kCounter,
        static_cast<double>(traffic[k].messages),
        absl::StrCat("messages ", direction,
                     " by kind (udp: each message of a datagram; tcp: each "
                     "reliable request)"),
        labels);
    Add(out, absl::StrCat("memberlist.message_bytes.", direction),
        Kind::kCounter, static_cast<double>(traffic[k].bytes),
        absl::StrCat("bytes of the messages ", direction, " by kind"),
        std::move(labels));
  }
}

}  // namespace

std::string MessageKindName(int field) {
  return FieldName(::peer::v1::Message::descriptor(), field);
}

std::string RequestKindName(int field) {
  return FieldName(::peer::v1::ReliableRequest::descriptor(), field);
}

MetricSamples StatsSnapshot(const Memberlist& node) {
  MetricSamples out;
  const Stats& s = node.stats();
  const auto c = [&](std::string name, uint64_t value, std::string help,
                     Labels labels = {}) {
    Add(out, std::move(name), Kind::kCounter, static_cast<double>(value),
        std::move(help), std::move(labels));
  };
  const auto g = [&](std::string name, double value, std::string help) {
    Add(out, std::move(name), Kind::kGauge, value, std::move(help));
  };

  // Gauges.
  const std::array<int, 4> by_state = node.CountByState();
  for (MemberState st : {MemberState::kAlive, MemberState::kSuspect,
                         MemberState::kDead, MemberState::kLeft}) {
    Add(out, "memberlist.node.instances", Kind::kGauge,
        by_state[static_cast<int>(st)],
        "members known by state, this node included",
        {{"node_state", StateName(st)}});
  }
  g("memberlist.health.score", node.HealthScore(),
    "Lifeguard health score (0 is best)");
  g("memberlist.queue.broadcasts",
    static_cast<double>(node.NumQueuedBroadcasts()),
    "updates queued for gossip");
  g("memberlist.incarnation",
    static_cast<double>(node.started() ? node.LocalNode().incarnation : 0),
    "this node's incarnation");
  g("memberlist.generation", static_cast<double>(node.generation()),
    "this node's restart generation");
  if (const CoordinateClient* coords = node.coordinates()) {
    g("memberlist.coordinate.error", coords->coordinate().error,
      "this node's Vivaldi error estimate (1.5 knows nothing)");
    g("memberlist.coordinate.cached", static_cast<double>(coords->size()),
      "coordinates of other members held");
    c("memberlist.coordinate.updates", coords->updates(),
      "probe round trips that moved this node's coordinate");
    c("memberlist.coordinate.refused", s.coordinates_refused,
      "coordinates on acks refused (dimension, not finite, out of bounds)");
    c("memberlist.coordinate.resets", coords->resets(),
      "times this node's coordinate went back to the origin");
  }

  // Membership changes, as memberlist counts them, and traffic.
  uint64_t tcp_sent = 0, tcp_sent_bytes = 0, tcp_received_bytes = 0;
  for (const Stats::Traffic& t : s.reliable_sent_by_kind) {
    tcp_sent += t.messages;
    tcp_sent_bytes += t.bytes;
  }
  for (const Stats::Traffic& t : s.reliable_received_by_kind) {
    tcp_received_bytes += t.bytes;
  }
  const Counter changes_and_traffic[] = {
      {"memberlist.msg.alive", s.alives_applied,
       "alive messages that changed a member (joined, came back, new "
       "incarnation)"},
      {"memberlist.msg.suspect", s.suspects_applied, "suspicions started"},
      {"memberlist.msg.dead", s.deads_applied, "members declared dead or left"},
      {"memberlist.udp.sent", s.bytes_sent, "datagram bytes sent (sealed)"},
      {"memberlist.udp.received", s.bytes_received,
       "datagram bytes received (sealed)"},
      {"memberlist.udp.packets.sent", s.packets_sent, "datagrams sent"},
      {"memberlist.udp.packets.received", s.packets_received,
       "datagrams received"},
      {"memberlist.tcp.connect", tcp_sent, "reliable-path requests sent"},
      {"memberlist.tcp.accept", s.reliable_received,
       "reliable-path requests received"},
      {"memberlist.tcp.sent", tcp_sent_bytes,
       "bytes of the reliable-path requests sent"},
      {"memberlist.tcp.received", tcp_received_bytes,
       "bytes of the reliable-path requests received"},
  };
  for (const Counter& k : changes_and_traffic) c(k.name, k.value, k.help);
  AddTraffic(out, "sent", "udp", s.sent_by_kind, &MessageKindName);
  AddTraffic(out, "received", "udp", s.received_by_kind, &MessageKindName);
  AddTraffic(out, "sent", "tcp", s.reliable_sent_by_kind, &RequestKindName);
  AddTraffic(out, "received", "tcp", s.reliable_received_by_kind,
             &RequestKindName);

  // Probes.
  const uint64_t settled = s.probe_acks + s.probe_late_acks +
                           s.probe_fallback_acks + s.probe_failures;
  const std::pair<const char*, uint64_t> outcomes[] = {
      {"ack", s.probe_acks},
      {"late_ack", s.probe_late_acks},
      {"fallback_ack", s.probe_fallback_acks},
      {"failed", s.probe_failures},
      {"running", s.probes > settled ? s.probes - settled : 0},
  };
  for (const auto& [outcome, value] : outcomes) {
    c("memberlist.probeNode", value, "probes run, by outcome",
      {{"outcome", outcome}});
  }
  const Counter counters[] = {
      {"memberlist.probe.indirect", s.indirect_probes, "ping-reqs sent"},
      {"memberlist.probe.fallback", s.fallback_probes,
       "reliable fallback pings sent"},
      {"memberlist.probe.nacks", s.nacks_received,
       "nacks received (Lifeguard)"},
      {"memberlist.degraded.probe", s.degraded_probes,
       "probes run at a slowed (Lifeguard) interval"},
      {"memberlist.degraded.timeout", s.degraded_timeouts,
       "suspicions out of time with fewer confirmations than expected"},
      {"memberlist.gossip", s.gossip_rounds,
       "gossip rounds that sent something"},
      {"memberlist.pushPullNode", s.push_pulls,
       "push/pull state exchanges (either side)"},
      // Suspicions.
      {"memberlist.suspicion.raised", s.suspicions_raised,
       "this node suspected a member"},
      {"memberlist.suspicion.refuted", s.suspicions_refuted,
       "suspicions held here that the member's alive ended"},
      {"memberlist.refute", s.refutations,
       "this node refuted a suspicion of itself"},
      // Direct user messages and force-leave (direct.cc).
      {"memberlist.user_message.sent", s.user_messages_sent,
       "direct user messages sent (SendUserMessage)"},
      {"memberlist.user_message.received", s.user_messages_received,
       "direct user messages delivered here"},
      {"memberlist.user_message.refused", s.user_messages_refused,
       "direct user messages refused (as sender or receiver)"},
      {"memberlist.force_leave.applied", s.forced_leaves,
       "members marked left because another member forced their leave"},
      {"memberlist.force_leave.ignored", s.force_leaves_ignored,
       "force-leaves ignored (the member is live here)"},
  };
  for (const Counter& k : counters) c(k.name, k.value, k.help);

  // Drops and refusals (docs/security.md, docs/library.md).
  const char* kRefusedHelp =
      "messages, requests or members dropped or refused, by reason";
  const std::pair<const char*, uint64_t> refused[] = {
      {"bad_packets", s.bad_packets},
      {"bad_messages", s.bad_messages},
      {"decrypt_failures", s.decrypt_failures},
      {"members_refused", s.members_refused},
      {"push_pulls_refused", s.push_pulls_refused},
      {"unknown_senders_refused", s.unknown_senders_refused},
      {"incarnation_jumps_ignored", s.incarnation_jumps_ignored},
      {"probe_requests_refused", s.probe_requests_refused},
      {"joins_refused", s.joins_refused},
      {"name_conflicts", s.name_conflicts},
      {"signature_failures", s.signature_failures},
      {"key_conflicts", s.key_conflicts},
      {"verifications_refused", s.verifications_refused},
      {"label_mismatches", s.label_mismatches},
      {"versions_refused", s.versions_refused},
      {"replays_refused", s.replays_refused},
      {"catch_ups_refused", s.catch_ups_refused},
      {"catch_ups_limited", s.catch_ups_limited},
      {"alive_notices_dropped", s.alive_notices_dropped},
      {"sender_tag_failures", s.sender_tag_failures},
      {"wants_refused", s.wants_refused},
  };
  for (const auto& [what, value] : refused) {
    c("memberlist.refused", value, kRefusedHelp, {{"what", what}});
  }
  return out;
}

}  // namespace peerlab::membership
