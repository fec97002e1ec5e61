// AgentService: the operations of peer.v1.Agent (proto/peer/v1/agent.proto)
// as a plain class over an AgentBackend, the peer's features behind one
// interface (peer/app/peer_agent.h wires the real peer; tests give fakes).
// The gRPC adapter (agent_grpc.h) only converts; tests drive this class.
//
// What this class does itself: validates every request (InvalidArgument
// naming the field), filters members (status, tags and name by anchored
// RE2 expressions), and fans events out to Stream subscribers, each with
// its own bounded AgentQueue (a subscriber that falls behind is ended with
// ResourceExhausted; Publish never waits). Everything else is the
// backend's.
//
// Thread safety: every method may be called from any thread. Calls that
// reach the backend may block as long as the backend does (a key operation
// up to its timeout); the gRPC adapter runs them off gRPC's threads.
#ifndef PEERLAB_PEER_AGENT_AGENT_SERVICE_H_
#define PEERLAB_PEER_AGENT_AGENT_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/agent/agent_queue.h"
#include "proto/peer/v1/agent.pb.h"

namespace peerlab::agent {

namespace pb = ::peer::v1;

// The peer's side of the agent. Every method must be thread-safe and may
// block. The defaults answer Unimplemented, naming the feature, for what a
// peer does not offer.
class AgentBackend {
 public:
  virtual ~AgentBackend() = default;

  // Every member the node knows, this peer included, failed and left ones
  // too. FailedPrecondition without a running membership node.
  virtual absl::StatusOr<std::vector<pb::AgentMember>> Members() = 0;
  // This peer as a member.
  virtual absl::StatusOr<pb::AgentMember> Self() = 0;
  // Sets then deletes this peer's tags (already validated for their
  // form); returns the tags after. The backend checks its own limits
  // (the metadata's size: InvalidArgument naming it; NotFound for a tag
  // to remove that is not set). Tags are the user's key/value pairs only,
  // never the peer's own metadata fields.
  virtual absl::StatusOr<std::map<std::string, std::string>> UpdateTags(
      const std::map<std::string, std::string>& set,
      const std::vector<std::string>& remove) = 0;
  // Sends a user event; returns its Lamport time.
  virtual absl::StatusOr<uint64_t> SendEvent(const std::string& name,
                                             const std::string& payload,
                                             bool coalesce);
  // Starts a query (request validated) and returns at once with a handle
  // for CancelQuery. `on_item` gets each ack and reply as the peer gets it,
  // then exactly one summary, last; on any thread, and it must not block.
  // An error means the query did not start (the cluster layer's refusal:
  // InvalidArgument, FailedPrecondition, ResourceExhausted) and `on_item`
  // is never called. A query that ends without its summary (the node went
  // away) has `on_item` and its copies destroyed uncalled.
  virtual absl::StatusOr<uint64_t> StartQuery(
      const pb::AgentQueryRequest& request,
      std::function<void(pb::AgentQueryResponse)> on_item);
  // Ends the query of `handle` now (its caller went away, the peer shuts
  // down): the summary of what came so far follows, or nothing when the
  // query is over already. Thread-safe; must not block for long.
  virtual void CancelQuery(uint64_t handle);
  virtual absl::Status ForceLeave(const std::string& name, bool prune);
  // This peer's statistics (unsorted).
  virtual absl::StatusOr<std::vector<pb::AgentStat>> Stats() = 0;
  // Coordinates of `nodes` (validated: none, one or two names) and the
  // round trip the request asks for (agent.proto).
  virtual absl::StatusOr<pb::AgentCoordinateResponse> Coordinates(
      const std::vector<std::string>& nodes);
  // A cluster-wide key operation (key: base64, validated as present for
  // every op but LIST).
  virtual absl::StatusOr<pb::AgentKeysResponse> Keys(
      pb::AgentKeysRequest::Op op, const std::string& key,
      absl::Duration timeout) = 0;
};

// One Stream call's queue of events.
using StreamQueue = AgentQueue<pb::AgentStreamResponse>;
// One Query call's queue of acks, replies and the summary.
using QueryQueue = AgentQueue<pb::AgentQueryResponse>;

class AgentService {
 public:
  struct Options {
    // Stream calls open at once; more are ResourceExhausted.
    int max_streams = 32;
    // Events (and their bytes) one stream may have waiting to be sent.
    size_t stream_queue_items = 4096;
    size_t stream_queue_bytes = 8 << 20;
    // Query calls running at once; more are ResourceExhausted.
    int max_queries = 16;
    // Answers (and bytes) one query may have waiting to be sent.
    size_t query_queue_items = 16384;
    size_t query_queue_bytes = 32 << 20;
    // Longest query timeout a caller may ask for.
    absl::Duration max_query_timeout = absl::Minutes(10);
    // Longest key operation timeout a caller may ask for.
    absl::Duration max_keys_timeout = absl::Minutes(5);
  };

  // `backend` must outlive the service.
  AgentService(AgentBackend* backend, Options options);
  explicit AgentService(AgentBackend* backend)
      : AgentService(backend, Options{}) {}
  // Ends every stream (Shutdown).
  ~AgentService();

  absl::StatusOr<pb::AgentMembersResponse> Members(
      const pb::AgentMembersRequest& request);

  // A new subscriber: its queue gets every later Publish that its filters
  // take, until Unsubscribe, Shutdown, or it falls behind (then the queue
  // ends with ResourceExhausted).
  absl::StatusOr<std::shared_ptr<StreamQueue>> Subscribe(
      const pb::AgentStreamRequest& request);
  // Forgets a subscriber (its call ended). Idempotent.
  void Unsubscribe(const std::shared_ptr<StreamQueue>& queue);
  // Hands `event` to every subscriber whose filters take it. Never blocks
  // beyond a mutex; safe from the membership loop and log sinks.
  void Publish(const pb::AgentStreamResponse& event);
  // Subscribers now (for tests and stats).
  size_t subscribers() const;

  absl::StatusOr<pb::AgentEventResponse> Event(
      const pb::AgentEventRequest& request);

  // A running Query call: its queue and the id EndQuery takes.
  struct QueryCall {
    std::shared_ptr<QueryQueue> queue;
    uint64_t id = 0;
  };
  // Starts a query; its queue gets each ack and reply as it arrives, then
  // the summary, and then ends (OK). The backend's refusal is returned
  // (nothing started). A query whose node goes away ends its queue with
  // Unavailable. The query holds one of Options::max_queries places until
  // its summary or EndQuery.
  absl::StatusOr<QueryCall> Query(const pb::AgentQueryRequest& request);
  // The call of query `id` is over (its writer finished: summary sent,
  // client gone, call cancelled): a query still running is ended now
  // (AgentBackend::CancelQuery). Idempotent.
  void EndQuery(uint64_t id);

  absl::StatusOr<pb::AgentTagsResponse> Tags(
      const pb::AgentTagsRequest& request);
  absl::StatusOr<pb::AgentForceLeaveResponse> ForceLeave(
      const pb::AgentForceLeaveRequest& request);
  absl::StatusOr<pb::AgentStatsResponse> Stats(
      const pb::AgentStatsRequest& request);
  absl::StatusOr<pb::AgentCoordinateResponse> Coordinate(
      const pb::AgentCoordinateRequest& request);
  absl::StatusOr<pb::AgentKeysResponse> Keys(
      const pb::AgentKeysRequest& request);

  // Ends every stream and running query with Unavailable ("the peer is
  // shutting down"; the queries are cancelled at the backend) and refuses
  // later Subscribe and Query calls. Idempotent.
  void Shutdown();

 private:
  // What a subscriber takes (parsed AgentStreamRequest).
  struct Filter {
    std::set<int> member_kinds;  // MemberEvent::Kind values
    bool all_user = false;
    std::set<std::string> user_names;
    bool all_queries = false;
    std::set<std::string> query_names;
    bool logs = false;
    int log_level = 2;  // index in kLogLevels
    bool Takes(const pb::AgentStreamResponse& event) const;
  };
  static absl::StatusOr<Filter> ParseFilter(
      const pb::AgentStreamRequest& request);

  AgentBackend* const backend_;
  const Options options_;

  mutable std::mutex mu_;
  bool shut_down_ = false;                                      // guarded
  std::map<std::shared_ptr<StreamQueue>, Filter> subscribers_;  // guarded
  // Queries running; shared with their callbacks, which may outlive this.
  struct Running {
    struct Query {
      uint64_t handle = 0;  // the backend's; 0 until StartQuery returned
      std::weak_ptr<QueryQueue> queue;
    };
    std::mutex mu;
    int queries = 0;                 // guarded by mu
    uint64_t next_id = 0;            // guarded by mu
    std::map<uint64_t, Query> byid;  // guarded by mu
  };
  class QueryFeed;
  const std::shared_ptr<Running> running_ = std::make_shared<Running>();
};

// Log levels as the agent names them, lowest first: trace, debug, info,
// warn, error, critical. The index of `name` ("warning" is "warn"), or -1.
int LogLevelIndex(const std::string& name);
const std::vector<std::string>& LogLevelNames();

// The members of `members` that pass the filters of `request` (statuses,
// tags and name by anchored RE2), sorted by name. InvalidArgument for a bad
// expression, naming the field.
absl::StatusOr<std::vector<pb::AgentMember>> FilterMembers(
    const pb::AgentMembersRequest& request,
    std::vector<pb::AgentMember> members);

}  // namespace peerlab::agent

#endif  // PEERLAB_PEER_AGENT_AGENT_SERVICE_H_
