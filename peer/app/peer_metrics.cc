#include "peer/app/peer_metrics.h"

#include "peer/app/handler_host.h"
#include "peer/app/membership_host.h"
#include "peer/app/peer_app.h"
#include "peer/chat/chat_host.h"
#include "peer/membership/stats_snapshot.h"

namespace peerlab::peer {
namespace {}  // namespace

std::vector<metrics::Family> MembershipFamilies(
    const std::optional<MetricSamples>& samples) {
  std::vector<metrics::Family> out;
  out.push_back(metrics::GaugeOf("peerlab_membership_node",
                                 "1 while this peer has a membership node",
                                 samples.has_value() ? 1 : 0));
  if (!samples) return out;
  for (metrics::Family& f : metrics::FamiliesOf(*samples)) {
    out.push_back(std::move(f));
  }
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
    auto samples = app->membership().WithNode(
        [](membership::Memberlist& node) -> absl::StatusOr<MetricSamples> {
          return membership::StatsSnapshot(node);
        });
    return MembershipFamilies(
        samples.ok() ? std::optional<MetricSamples>(*samples) : std::nullopt);
  });
  registry->AddCollector([app] {
    auto [running, members] = app->chat().Members();
    (void)members;
    return ChatFamilies(
        running ? std::optional<chat::ChatStats>(app->chat().TotalStats())
                : std::nullopt);
  });
}

}  // namespace peerlab::peer
