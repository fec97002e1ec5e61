// The peer's Prometheus metrics (base/metrics.h), collected at each scrape
// of --metrics-listen from the hosts' own counters:
//   memberlist_*                         the node's protocol statistics
//                                        (membership/stats_snapshot.h:
//                                        memberlist's names, '.' as '_',
//                                        counters with _total)
//   peerlab_membership_node              1 while a node exists
//   peerlab_chat_<counter>_total         chat::ChatStats counters
//   peerlab_chat_senders                 (sender, session) pairs held
//   peerlab_handlers_<counter>_total     event handler runs: dispatched,
//                                        succeeded, failed, timed_out,
//                                        dropped, responses
// The chat's counters are its totals since start (ChatCore::TotalStats):
// `chatstats reset` starts a new view for the command only, so exported
// counters never go down.
#ifndef PEERLAB_PEER_APP_PEER_METRICS_H_
#define PEERLAB_PEER_APP_PEER_METRICS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "peer/chat/chat_core.h"
#include "peer/handlers/handler_runner.h"
#include "peer/membership/memberlist.h"

namespace peerlab::peer {

class PeerApp;

// The node's statistics as families (base/metrics.h FamiliesOf), after
// peerlab_membership_node; without samples (no node yet) only
// peerlab_membership_node 0. Pure.
std::vector<metrics::Family> MembershipFamilies(
    const std::optional<MetricSamples>& samples);
// The families of the chat's counters; without them (chat not running)
// none. Pure.
std::vector<metrics::Family> ChatFamilies(
    const std::optional<chat::ChatStats>& stats);

// The event handlers' counters. Pure.
std::vector<metrics::Family> HandlerFamilies(
    const handlers::HandlerRunner::Stats& stats);

// Adds collectors for `app`'s membership, chat and event handlers to
// `registry`. Each scrape asks the hosts' loops for a copy (EventLoop::Call
// from the scraping thread; the protocol thread only copies). `app` must
// outlive the scrapes (stop the metrics server first).
void AddPeerCollectors(metrics::Registry* registry, PeerApp* app);

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_PEER_METRICS_H_
