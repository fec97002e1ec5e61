// Queries: Serf's queries on the membership library. A query is gossiped
// to every member (a user broadcast on kQueryChannel, delegate_mux.h);
// members that match its filters (--node names, --tag KEY=REGEX) ack it
// when asked and answer through their QueryResponder
// (query_responder.h); acks and responses go to the originator as direct
// messages on the reliable path (Memberlist::SendUserMessage), so a
// response may be far larger than a datagram (Serf's must fit one:
// serf#407), and with `relay` N each answer also goes through N random
// members, which forward it. The originator collects them until the
// timeout (default DefaultQueryTimeout, as Serf's), or until every
// matched member answered, and reports each as it comes, then a summary.
// A query whose payload does not fit a datagram (up to
// Options::max_payload_bytes, 64 KiB by default; Serf's about 1 KiB) is
// gossiped without it, with its size and SHA-256; matching members fetch
// it from the originator on the reliable path (QueryDirect.fetch), which
// sends them the whole query directly (QueryDirect.query, accepted only
// from its origin).
//
// Trust: a direct answer's sender is proven by the reliable path (its
// sender tag); a relayed one carries the responder's Ed25519 signature,
// checked against the key pinned to its name, so relays cannot forge or
// alter answers. Duplicates (relayed copies, repeats) are dropped.
//
// Bounds (Options): queries waiting here, answers kept per query and
// their bytes, queries remembered for duplicates, relays, filters and
// regular expressions (RE2: linear time, whatever a remote party sends);
// each refusal or drop is counted (stats()) and logged at most once per
// 1000.
//
// Not thread-safe: every method runs on the node's scheduler, except the
// QueryRespond functions handed to the responder (any thread).
#ifndef PEERLAB_PEER_CLUSTER_QUERIES_H_
#define PEERLAB_PEER_CLUSTER_QUERIES_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/cluster/in_flight.h"
#include "peer/cluster/lamport_clock.h"
#include "peer/cluster/query_responder.h"
#include "peer/membership/delegate_mux.h"
#include "peer/membership/member.h"
#include "peer/runtime/logger.h"
#include "peer/runtime/scheduler.h"

namespace peer::v1 {
class Query;
class QueryReply;
}  // namespace peer::v1

namespace peerlab::membership {
class Memberlist;
}

namespace peerlab::cluster {

inline constexpr size_t kMaxQueryNameBytes = 128;
// The largest max_payload_bytes and max_response_bytes one can set (a
// query or an answer travels as one direct message:
// Config::max_user_message_bytes, 1 MiB, must hold it).
inline constexpr size_t kMaxQueryPayloadLimit = 512 << 10;
inline constexpr size_t kMaxQueryResponseLimit = 512 << 10;
// Payload fetches of announced queries under way at once (more: the
// member answers only if the originator sends it the query directly, a
// quarter of the timeout in).
inline constexpr size_t kMaxQueryFetches = 64;
// Whole queries this member (their originator) sends to members that
// fetch a payload at once (each up to max_payload_bytes, held until
// delivered); a fetch past it is refused (ResourceExhausted,
// Stats::payload_serves_refused) and the member asks again later.
inline constexpr size_t kMaxQueriesServing = 16;
// The reachability query (Serf's "_serf_ping"): every member acks it, no
// member's responder sees it.
inline constexpr char kReachabilityQuery[] = "_peerlab_ping";

// Serf's default query timeout: gossip_interval * mult *
// ceil(log10(members + 1)), at least one gossip interval * mult.
absl::Duration DefaultQueryTimeout(absl::Duration gossip_interval, int members,
                                   int mult = 16);

struct TagFilter {
  std::string key;
  std::string regex;  // RE2, unanchored
};

// What `query` asks.
struct QueryParams {
  std::string name;
  std::string payload;
  std::vector<std::string> nodes;  // only these members (empty: all)
  std::vector<TagFilter> tags;     // every filter must match
  absl::Duration timeout = absl::ZeroDuration();  // zero: the default
  bool ack = false;
  int relay = 0;
};

// One ack or response as it arrives at the originator.
struct QueryAnswer {
  bool ack = false;
  std::string from;
  std::string payload;   // a response's
  bool relayed = false;  // came through a relay (first copy to arrive)
  absl::Duration after;  // since the query started
};

// The end of a query.
struct QueryResult {
  uint64_t id = 0;
  absl::Duration timeout;  // what it waited at most
  absl::Duration elapsed;
  // Members that the filters select (this node included when it matches)
  // and that may answer: alive or suspect at the start, or declared dead
  // here within Config::gossip_to_the_dead_time or Config::hold_down,
  // whichever is longer (a death under loss or
  // load may be false: such a member still hears the query and answers,
  // and the query waits for it, to the timeout at most).
  std::vector<std::string> matched;
  std::set<std::string> acked;
  std::set<std::string> answered;  // responded
  // Matched members that neither acked nor responded.
  std::vector<std::string> missing;
  uint64_t duplicates = 0;  // copies dropped (relays, repeats)
  uint64_t dropped = 0;     // past the bounds of one query
};

class Queries : public membership::Delegate {
 public:
  struct Options {
    size_t max_pending = 64;             // queries this node waits on at once
    size_t max_answers = 8192;           // acks + responses kept per query
    size_t max_answer_bytes = 64 << 20;  // response bytes kept per query
    size_t max_response_bytes = 512 << 10;  // one response (as responder)
    // A query's payload, as originator (refused past it, naming both) and
    // as member (an announced query past it is not fetched).
    size_t max_payload_bytes = 64 << 10;
    size_t max_seen = 4096;  // queries remembered against duplicates
    int max_relay = 5;       // as Serf's relay factor bound
    size_t max_nodes = 256;  // --node filters
    size_t max_tags = 16;    // --tag filters
    size_t max_regex_bytes = 256;
    int timeout_mult = 16;  // Serf's QueryTimeoutMult
    // A quarter of the timeout in, the query goes straight (reliable
    // path) to at most this many matched members not heard from yet.
    size_t max_direct = 128;
    absl::Duration max_timeout = absl::Hours(1);
  };

  // InvalidArgument naming the option: max_payload_bytes in
  // 1..kMaxQueryPayloadLimit, max_response_bytes in
  // 1..kMaxQueryResponseLimit.
  static absl::Status ValidateOptions(const Options& options);

  // `scheduler`: the node's (nullptr: given to Attach).
  // `broadcast`: sends a query payload on kQueryChannel (the mux's
  // SenderFor). `tags_of`: a member's tags from its metadata (the cluster
  // tag codec). `log`: where drops and refusals go. Attach() the node
  // before use.
  using TagsOf = std::function<std::map<std::string, std::string>(
      const membership::Member&)>;
  Queries(runtime::Scheduler* scheduler, membership::BroadcastFn broadcast,
          TagsOf tags_of, Options options, runtime::ComponentLog log);
  Queries(runtime::Scheduler* scheduler, membership::BroadcastFn broadcast,
          TagsOf tags_of)
      : Queries(scheduler, std::move(broadcast), std::move(tags_of), Options{},
                runtime::ComponentLog(nullptr, "cluster", scheduler)) {}
  ~Queries() override;
  Queries(const Queries&) = delete;
  Queries& operator=(const Queries&) = delete;

  // The node (not owned; it must outlive this or be detached with
  // nullptr) and, when not given at construction (the node did not exist
  // yet), its scheduler, which then also dates the log. REQUIRES: before
  // the node starts.
  void Attach(membership::Memberlist* node,
              runtime::Scheduler* scheduler = nullptr) {
    node_ = node;
    if (scheduler != nullptr) {
      scheduler_ = scheduler;
      log_ = runtime::ComponentLog(log_.logger(), "cluster", scheduler);
    }
  }
  // Who answers queries here (not owned; nullptr: none, only acks).
  void SetResponder(QueryResponder* responder) { responder_ = responder; }

  // Checks `params` (InvalidArgument naming what is wrong: the name, a
  // --tag filter's regular expression, sizes, relay, timeout) and starts
  // the query; ResourceExhausted past max_pending; FailedPrecondition
  // when the node is not running. `on_answer` sees each new ack and
  // response as it comes; `done` the summary at the timeout, or as soon as
  // every matched member acked (when asked) and responded. Both run as
  // tasks of the scheduler. Returns the query's id.
  using OnAnswer = std::function<void(const QueryAnswer&)>;
  absl::StatusOr<uint64_t> Query(QueryParams params, OnAnswer on_answer,
                                 std::function<void(QueryResult)> done);
  // Reachability (Serf's reachability): a query every member acks, no
  // responder involved; `done` lists who did not ack in time.
  absl::StatusOr<uint64_t> Reachability(absl::Duration timeout,
                                        OnAnswer on_answer,
                                        std::function<void(QueryResult)> done);
  // The refusals of `params`' form that Query gives before starting
  // anything (InvalidArgument naming the name, a filter, its regular
  // expression, the relay or the timeout), for callers that check a query
  // before they ask for it. Query also refuses one that does not fit a
  // gossip datagram, and ResourceExhausted/FailedPrecondition by state.
  absl::Status Check(const QueryParams& params) const;
  // The timeout a query without one gets now.
  absl::Duration DefaultTimeout() const;

  // Ends query `id` now (as its timeout would).
  void Finish(uint64_t id);

  // Whether `params`' filters select `member` with `tags`.
  static bool Matches(const QueryParams& params,
                      const membership::Member& member,
                      const std::map<std::string, std::string>& tags);

  struct Stats {
    uint64_t queries_started = 0;
    uint64_t queries_handled = 0;    // gossiped queries handled here
    uint64_t queries_matched = 0;    // of those, matched here
    uint64_t duplicate_queries = 0;  // seen already
    uint64_t bad_queries = 0;        // malformed, out of bounds
    uint64_t pending_refused = 0;    // Query() past max_pending
    uint64_t acks_sent = 0;
    uint64_t responses_sent = 0;
    uint64_t responses_refused = 0;  // larger than max_response_bytes
    uint64_t replies_failed = 0;     // direct sends that failed
    uint64_t relays_sent = 0;        // relayed copies asked of others
    uint64_t relays_forwarded = 0;   // copies forwarded for others
    uint64_t direct_queries = 0;     // sent straight to silent members
    uint64_t answers_received = 0;   // new acks and responses kept
    uint64_t duplicate_answers = 0;
    uint64_t late_answers = 0;     // for no pending query (done, unknown)
    uint64_t bad_answers = 0;      // bad signature, malformed
    uint64_t answers_dropped = 0;  // past max_answers/max_answer_bytes
    // Queries larger than a datagram: payload fetches asked of the
    // originator, fetches given up (no answer in time), announcements not
    // fetched (kMaxQueryFetches under way), fetches served (as originator)
    // and refused (kMaxQueriesServing whole queries in flight).
    uint64_t payload_fetches = 0;
    uint64_t payload_fetches_failed = 0;
    uint64_t payload_fetches_refused = 0;
    uint64_t payloads_served = 0;
    uint64_t payload_serves_refused = 0;
  };
  const Stats& stats() const { return stats_; }
  size_t pending() const { return pending_.size(); }

  // Delegate (through the mux, kQueryChannel).
  void OnUserMessage(const std::string& payload) override;
  std::string LocalState(bool) override { return std::string(); }
  void MergeRemoteState(const std::string&, bool) override {}
  absl::Status OnDirectMessage(
      const membership::DirectMessage& message) override;

 private:
  struct Pending;
  absl::StatusOr<uint64_t> Start(QueryParams params, bool internal,
                                 OnAnswer on_answer,
                                 std::function<void(QueryResult)> done);
  // Handles a query (gossiped, or this node's own): once per name.
  void Handle(const ::peer::v1::Query& query, bool own);
  // A gossiped query without its payload: spread on, and fetched from
  // the originator when it matches here.
  void HandleAnnouncement(const ::peer::v1::Query& query);
  // Asks the originator for the whole query of fetch `key` (again).
  void TryFetch(const std::string& key);
  // What to gossip of `query`: itself, or, when it does not fit one
  // datagram, its announcement (no payload; its size and SHA-256).
  std::string GossipForm(const ::peer::v1::Query& query) const;
  // Sends an ack or response for `query` to its origin (and relays).
  void Reply(const ::peer::v1::Query& query, bool ack, std::string payload);
  void TakeAnswer(const ::peer::v1::QueryReply& reply,
                  const std::string& sender, bool relayed);
  void Forward(const std::string& to, const ::peer::v1::QueryReply& reply,
               const std::string& sender);
  void Complete(uint64_t id);
  // Sends query `id` directly to matched members not heard from.
  void SendDirect(uint64_t id);
  // Whether a query from the network is within the bounds; counts it.
  bool Valid(const ::peer::v1::Query& q);
  // Logs `what` at the 1st, 1001st, ... `count`.
  void LogDrop(uint64_t count, const std::string& what);

  runtime::Scheduler* scheduler_;
  membership::BroadcastFn broadcast_;
  TagsOf tags_of_;
  const Options options_;
  runtime::ComponentLog log_;
  membership::Memberlist* node_ = nullptr;
  QueryResponder* responder_ = nullptr;
  LamportClock clock_;
  uint64_t next_id_ = 0;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;
  // Queries handled, by "origin/generation/id", oldest first.
  absl::flat_hash_set<std::string> seen_;
  std::deque<std::string> seen_order_;
  // Announcements already spread, same key and bound as seen_.
  absl::flat_hash_set<std::string> announced_;
  std::deque<std::string> announced_order_;
  struct Fetch {
    std::string origin;
    uint64_t id = 0;
    uint64_t origin_generation = 0;
    absl::Time deadline;  // the query's end: no fetch after it
    int attempts = 0;
    runtime::Scheduler::TimerId timer = 0;
  };
  // Payload fetches under way, by SeenKey (at most kMaxQueryFetches).
  std::map<std::string, Fetch> fetches_;
  // Whole queries sent to members that fetched a payload, not yet done.
  InFlightLimit serving_{kMaxQueriesServing};
  Stats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerlab::cluster

#endif  // PEERLAB_PEER_CLUSTER_QUERIES_H_
