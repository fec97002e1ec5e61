#include "peer/app/peer_metrics.h"

#include "peer/app/handler_host.h"
#include "peer/app/membership_host.h"
#include "peer/app/peer_app.h"
#include "peer/chat/chat_host.h"

namespace peerlab::peer {
namespace {

struct StatsField {
  const char* name;
  uint64_t membership::Stats::*field;
};

const std::vector<StatsField>& MembershipFields() {
  static const auto* fields = new std::vector<StatsField>{
      {"packets_received", &membership::Stats::packets_received},
      {"packets_sent", &membership::Stats::packets_sent},
      {"bad_packets", &membership::Stats::bad_packets},
      {"probes", &membership::Stats::probes},
      {"indirect_probes", &membership::Stats::indirect_probes},
      {"fallback_probes", &membership::Stats::fallback_probes},
      {"suspicions_raised", &membership::Stats::suspicions_raised},
      {"refutations", &membership::Stats::refutations},
      {"push_pulls", &membership::Stats::push_pulls},
      {"nacks_received", &membership::Stats::nacks_received},
      {"unknown_sender_syncs", &membership::Stats::unknown_sender_syncs},
      {"decrypt_failures", &membership::Stats::decrypt_failures},
      {"members_refused", &membership::Stats::members_refused},
      {"push_pulls_refused", &membership::Stats::push_pulls_refused},
      {"unknown_senders_refused", &membership::Stats::unknown_senders_refused},
      {"bad_messages", &membership::Stats::bad_messages},
      {"incarnation_jumps_ignored",
       &membership::Stats::incarnation_jumps_ignored},
      {"probe_requests_refused", &membership::Stats::probe_requests_refused},
      {"joins_refused", &membership::Stats::joins_refused},
      {"name_conflicts", &membership::Stats::name_conflicts},
      {"signature_failures", &membership::Stats::signature_failures},
      {"key_conflicts", &membership::Stats::key_conflicts},
      {"signatures_verified", &membership::Stats::signatures_verified},
      {"verifications_refused", &membership::Stats::verifications_refused},
      {"label_mismatches", &membership::Stats::label_mismatches},
      {"versions_refused", &membership::Stats::versions_refused},
      {"replays_refused", &membership::Stats::replays_refused},
      {"replay_senders_evicted", &membership::Stats::replay_senders_evicted},
      {"catch_ups_answered", &membership::Stats::catch_ups_answered},
      {"catch_ups_refused", &membership::Stats::catch_ups_refused},
      {"catch_ups_limited", &membership::Stats::catch_ups_limited},
      {"keyring_catch_ups", &membership::Stats::keyring_catch_ups},
      {"retired_keys_evicted", &membership::Stats::retired_keys_evicted},
      {"departed_evicted", &membership::Stats::departed_evicted},
      {"claim_fetches", &membership::Stats::claim_fetches},
      {"unproven_senders", &membership::Stats::unproven_senders},
      {"sender_tag_failures", &membership::Stats::sender_tag_failures},
      {"pair_keys_derived", &membership::Stats::pair_keys_derived},
      {"claims_wanted", &membership::Stats::claims_wanted},
      {"wants_refused", &membership::Stats::wants_refused},
  };
  return *fields;
}

}  // namespace

std::vector<metrics::Family> MembershipFamilies(
    const std::optional<MembershipSnapshot>& snapshot) {
  std::vector<metrics::Family> out;
  out.push_back(metrics::GaugeOf("peerlab_membership_node",
                                 "1 while this peer has a membership node",
                                 snapshot.has_value() ? 1 : 0));
  if (!snapshot) return out;
  for (const StatsField& f : MembershipFields()) {
    out.push_back(metrics::CounterOf(
        std::string("peerlab_membership_") + f.name + "_total",
        std::string("membership::Stats::") + f.name + " (memberlist.h)",
        static_cast<double>(snapshot->stats.*(f.field))));
  }
  metrics::Family members{"peerlab_membership_members",
                          "members this node knows, by state",
                          metrics::Type::kGauge,
                          {},
                          {}};
  for (const char* state : {"alive", "suspect", "dead", "left"}) {
    auto it = snapshot->members_by_state.find(state);
    members.samples.push_back(
        {{{"state", state}},
         it == snapshot->members_by_state.end() ? 0.0 : it->second});
  }
  out.push_back(std::move(members));
  out.push_back(metrics::GaugeOf(
      "peerlab_membership_health_score",
      "Lifeguard awareness score (0: healthy; higher: slower probes)",
      snapshot->health_score));
  out.push_back(metrics::GaugeOf("peerlab_membership_incarnation",
                                 "this node's incarnation number",
                                 static_cast<double>(snapshot->incarnation)));
  return out;
}

std::vector<metrics::Family> ChatFamilies(
    const std::optional<chat::ChatStats>& stats) {
  std::vector<metrics::Family> out;
  if (!stats) return out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out.push_back(
        metrics::CounterOf(std::string("peerlab_chat_") + name + "_total", help,
                           static_cast<double>(v)));
  };
  counter("sent", "messages this peer sent", stats->sent);
  counter("acked", "(message, member) pairs acked", stats->acked);
  counter("undelivered", "(message, member) pairs given up on",
          stats->undelivered);
  counter("received", "messages from others shown", stats->received);
  counter("duplicates", "messages from others dropped as seen",
          stats->duplicates);
  counter("reconnects", "outgoing streams reopened after a break",
          stats->reconnects);
  counter("senders_evicted", "(sender, session) pairs forgotten for the bound",
          stats->senders_evicted);
  counter("streams_authenticated", "incoming streams whose hello checked out",
          stats->streams_authenticated);
  counter("hello_nonces_evicted", "hello nonces forgotten for the bound",
          stats->hello_nonces_evicted);
  out.push_back(metrics::GaugeOf("peerlab_chat_senders",
                                 "(sender, session) pairs remembered for dedup",
                                 static_cast<double>(stats->senders)));
  return out;
}

std::vector<metrics::Family> HandlerFamilies(
    const handlers::HandlerRunner::Stats& stats) {
  std::vector<metrics::Family> out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out.push_back(
        metrics::CounterOf(std::string("peerlab_handlers_") + name + "_total",
                           help, static_cast<double>(v)));
  };
  counter("dispatched", "event handler runs queued", stats.dispatched);
  counter("succeeded", "event handler runs that exited 0", stats.succeeded);
  counter("failed",
          "event handler runs that could not start, exited non-zero or were "
          "killed by a signal",
          stats.failed);
  counter("timed_out", "event handler runs killed at the time limit",
          stats.timed_out);
  counter("dropped", "event handler runs dropped: the queue was full",
          stats.dropped);
  counter("responses", "query responses from handlers", stats.responses);
  return out;
}

void AddPeerCollectors(metrics::Registry* registry, PeerApp* app) {
  registry->AddCollector(
      [app] { return HandlerFamilies(app->handlers().runner().stats()); });
  registry->AddCollector([app] {
    auto snapshot = app->membership().WithNode(
        [](membership::Memberlist& node) -> absl::StatusOr<MembershipSnapshot> {
          MembershipSnapshot s;
          s.stats = node.stats();
          for (const membership::Member& m : node.AllMembers()) {
            ++s.members_by_state[membership::StateName(m.state)];
          }
          s.health_score = node.HealthScore();
          s.incarnation = node.LocalNode().incarnation;
          return s;
        });
    return MembershipFamilies(snapshot.ok()
                                  ? std::optional<MembershipSnapshot>(*snapshot)
                                  : std::nullopt);
  });
  registry->AddCollector([app] {
    auto [running, members] = app->chat().Members();
    (void)members;
    return ChatFamilies(running ? std::optional<chat::ChatStats>(
                                      app->chat().Stats(/*reset=*/false))
                                : std::nullopt);
  });
}

}  // namespace peerlab::peer
