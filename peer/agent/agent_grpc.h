// AgentGrpcService: peer.v1.Agent on the gRPC callback API, a thin adapter
// over AgentService (agent_service.h): it checks authorization (the same
// check as PeerControl's, handed in), converts statuses (base/grpc_status.h)
// and moves work off gRPC's threads.
//
// Unary calls may block (a key operation waits for the members), so each
// runs on a thread of its own, at most Options::max_running_calls at once
// (more are RESOURCE_EXHAUSTED). Each Stream and Query call has a thread
// that drains its AgentQueue and writes one message at a time; when the
// queue ends (the query is over, the reader fell behind, the peer shuts
// down) the call finishes with the queue's status. A write still pending
// a second after the end is cut short by cancelling the call.
//
// Thread safety: gRPC calls the overrides on its threads; Shutdown is
// thread-safe.
#ifndef PEERLAB_PEER_AGENT_AGENT_GRPC_H_
#define PEERLAB_PEER_AGENT_AGENT_GRPC_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/grpc_stream_writer.h"
#include "peer/agent/agent_service.h"
#include "proto/peer/v1/agent.grpc.pb.h"

namespace peerlab::agent {

class AgentGrpcService final : public pb::Agent::CallbackService {
 public:
  struct Options {
    // OK when the call may go on; otherwise the status it is answered
    // with (the peer passes PeerControl's token check,
    // peer::ControlService::CheckToken). Runs on gRPC threads: must be
    // thread-safe. Empty: every call may.
    std::function<grpc::Status(const grpc::CallbackServerContext&)> authorize;
    // Unary calls running at once.
    int max_running_calls = 32;
  };

  // `service` must outlive this object.
  AgentGrpcService(AgentService* service, Options options);
  // Shutdown(), then joins every thread (waits for the calls running).
  // REQUIRES: the grpc::Server serving this has shut down.
  ~AgentGrpcService() override;

  // Ends every Stream (AgentService::Shutdown: UNAVAILABLE) and answers
  // later calls UNAVAILABLE. Call before grpc::Server::Shutdown. Idempotent.
  void Shutdown();

  grpc::ServerUnaryReactor* Members(
      grpc::CallbackServerContext* context,
      const pb::AgentMembersRequest* request,
      pb::AgentMembersResponse* response) override;
  grpc::ServerWriteReactor<pb::AgentStreamResponse>* Stream(
      grpc::CallbackServerContext* context,
      const pb::AgentStreamRequest* request) override;
  grpc::ServerUnaryReactor* Event(grpc::CallbackServerContext* context,
                                  const pb::AgentEventRequest* request,
                                  pb::AgentEventResponse* response) override;
  grpc::ServerWriteReactor<pb::AgentQueryResponse>* Query(
      grpc::CallbackServerContext* context,
      const pb::AgentQueryRequest* request) override;
  grpc::ServerUnaryReactor* Tags(grpc::CallbackServerContext* context,
                                 const pb::AgentTagsRequest* request,
                                 pb::AgentTagsResponse* response) override;
  grpc::ServerUnaryReactor* ForceLeave(
      grpc::CallbackServerContext* context,
      const pb::AgentForceLeaveRequest* request,
      pb::AgentForceLeaveResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const pb::AgentStatsRequest* request,
                                  pb::AgentStatsResponse* response) override;
  grpc::ServerUnaryReactor* Coordinate(
      grpc::CallbackServerContext* context,
      const pb::AgentCoordinateRequest* request,
      pb::AgentCoordinateResponse* response) override;
  grpc::ServerUnaryReactor* Keys(grpc::CallbackServerContext* context,
                                 const pb::AgentKeysRequest* request,
                                 pb::AgentKeysResponse* response) override;

 private:
  // Runs `body` for a unary call on a thread of its own and finishes the
  // call with its status (its value into `response`).
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Unary(
      grpc::CallbackServerContext* context, const Request* request,
      Response* response,
      absl::StatusOr<Response> (AgentService::*method)(const Request&));
  // The refusal of a new call (authorization, shut down), or OK.
  grpc::Status Admit(const grpc::CallbackServerContext& context);

  AgentService* const service_;
  const Options options_;

  std::mutex mu_;
  bool ending_ = false;    // guarded
  int running_calls_ = 0;  // guarded

  // The threads of unary calls and streams; the destructor joins them.
  ServiceThreads threads_;
};

}  // namespace peerlab::agent

#endif  // PEERLAB_PEER_AGENT_AGENT_GRPC_H_
