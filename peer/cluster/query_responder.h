// QueryResponder: how a member answers the queries it matches (Serf's
// query events). The cluster layer's Queries (queries.h) calls it; the
// agent layer hooks handler programs to it (`query:NAME` handlers whose
// standard output is the response), and tests answer in-process.
#ifndef PEERLAB_PEER_CLUSTER_QUERY_RESPONDER_H_
#define PEERLAB_PEER_CLUSTER_QUERY_RESPONDER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/time/time.h"

namespace peerlab::cluster {

// A query this member matched (its --node and --tag filters).
struct QueryRequest {
  std::string name;     // the query's name (1..kMaxQueryNameBytes bytes)
  std::string payload;  // opaque; may be empty
  // The member that asked (where the response goes), as its gossiped query
  // says; the response itself reaches only that member.
  std::string from;
  uint64_t ltime = 0;  // the query's Lamport time
  uint64_t id = 0;
  // On the node's clock (its Scheduler): a response after it is dropped.
  absl::Time deadline;
};

// Sends the response to the query's originator. Thread-safe: may be
// called from any thread, now or later (before the deadline), at most
// once (later calls do nothing). A response larger than
// Queries::Options::max_response_bytes is dropped and logged. REQUIRES:
// called while the node's Scheduler runs (a handler thread is joined
// before the node is destroyed).
using QueryRespond = std::function<void(std::string response)>;

class QueryResponder {
 public:
  virtual ~QueryResponder() = default;
  // Called on the node's scheduler (the membership loop in the peer): it
  // must not block. Call `respond` to answer; never calling it sends no
  // response (the ack, when the query asked for one, has gone already).
  virtual void OnQuery(const QueryRequest& query, QueryRespond respond) = 0;
};

}  // namespace peerlab::cluster

#endif  // PEERLAB_PEER_CLUSTER_QUERY_RESPONDER_H_
