#include "peer/agent/agent_grpc.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/grpc_status.h"

namespace peerlab::agent {

namespace {

// How long a call whose queue failed (or that was cancelled) waits for its
// write in flight before cancelling the call.
constexpr absl::Duration kEndGrace = absl::Seconds(1);
// How often a stream's thread looks at its queue and its call.
constexpr absl::Duration kPoll = absl::Milliseconds(100);

// One Stream or Query call, on the shared stream writer
// (base/grpc_stream_writer.h): its thread drains the queue and writes one
// message at a time; `on_end` runs once the queue is drained or the
// client went away, before the call finishes.
template <typename Msg>
class QueueWriter : public StreamWriter<Msg> {
 public:
  QueueWriter(grpc::CallbackServerContext* context,
              std::shared_ptr<AgentQueue<Msg>> queue,
              std::function<void()> on_end)
      : StreamWriter<Msg>(context, kEndGrace),
        queue_(std::move(queue)),
        on_end_(std::move(on_end)) {}

 private:
  grpc::Status Produce() override {
    grpc::Status status = Drain();
    if (on_end_) on_end_();
    return status;
  }
  // The queue's end is a reason to cut a pending write short.
  bool Ending() override { return queue_->failed(); }

  grpc::Status Drain() {
    while (true) {
      if (this->end_requested()) return Cancelled();
      typename AgentQueue<Msg>::Batch batch = queue_->Pop(kPoll);
      for (Msg& item : batch.items) {
        if (!this->Write(std::move(item))) return Cancelled();
      }
      if (batch.ended) return ToGrpcStatus(batch.status);
    }
  }

  static grpc::Status Cancelled() {
    return grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled");
  }

  const std::shared_ptr<AgentQueue<Msg>> queue_;
  const std::function<void()> on_end_;
};

}  // namespace

AgentGrpcService::AgentGrpcService(AgentService* service, Options options)
    : service_(service), options_(std::move(options)) {}

AgentGrpcService::~AgentGrpcService() {
  Shutdown();
  threads_.Join();
}

void AgentGrpcService::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ending_ = true;
  }
  service_->Shutdown();
}

grpc::Status AgentGrpcService::Admit(
    const grpc::CallbackServerContext& context) {
  if (options_.authorize) {
    if (grpc::Status s = options_.authorize(context); !s.ok()) return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (ending_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the peer is shutting down");
  }
  return grpc::Status::OK;
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* AgentGrpcService::Unary(
    grpc::CallbackServerContext* context, const Request* request,
    Response* response,
    absl::StatusOr<Response> (AgentService::*method)(const Request&)) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status s = Admit(*context); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_calls_ >= options_.max_running_calls) {
      reactor->Finish(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("already ", running_calls_,
                       " agent calls running (the limit); try again later")));
      return reactor;
    }
    ++running_calls_;
  }
  threads_.Spawn([this, reactor, request, response, method] {
    absl::StatusOr<Response> result = (service_->*method)(*request);
    if (result.ok()) *response = *std::move(result);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_calls_;
    }
    reactor->Finish(result.ok() ? grpc::Status::OK
                                : ToGrpcStatus(result.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentGrpcService::Members(
    grpc::CallbackServerContext* context,
    const pb::AgentMembersRequest* request,
    pb::AgentMembersResponse* response) {
  return Unary(context, request, response, &AgentService::Members);
}

grpc::ServerUnaryReactor* AgentGrpcService::Event(
    grpc::CallbackServerContext* context, const pb::AgentEventRequest* request,
    pb::AgentEventResponse* response) {
  return Unary(context, request, response, &AgentService::Event);
}

grpc::ServerUnaryReactor* AgentGrpcService::Tags(
    grpc::CallbackServerContext* context, const pb::AgentTagsRequest* request,
    pb::AgentTagsResponse* response) {
  return Unary(context, request, response, &AgentService::Tags);
}

grpc::ServerUnaryReactor* AgentGrpcService::ForceLeave(
    grpc::CallbackServerContext* context,
    const pb::AgentForceLeaveRequest* request,
    pb::AgentForceLeaveResponse* response) {
  return Unary(context, request, response, &AgentService::ForceLeave);
}

grpc::ServerUnaryReactor* AgentGrpcService::Stats(
    grpc::CallbackServerContext* context, const pb::AgentStatsRequest* request,
    pb::AgentStatsResponse* response) {
  return Unary(context, request, response, &AgentService::Stats);
}

grpc::ServerUnaryReactor* AgentGrpcService::Coordinate(
    grpc::CallbackServerContext* context,
    const pb::AgentCoordinateRequest* request,
    pb::AgentCoordinateResponse* response) {
  return Unary(context, request, response, &AgentService::Coordinate);
}

grpc::ServerUnaryReactor* AgentGrpcService::Keys(
    grpc::CallbackServerContext* context, const pb::AgentKeysRequest* request,
    pb::AgentKeysResponse* response) {
  return Unary(context, request, response, &AgentService::Keys);
}

grpc::ServerWriteReactor<pb::AgentStreamResponse>* AgentGrpcService::Stream(
    grpc::CallbackServerContext* context,
    const pb::AgentStreamRequest* request) {
  using Writer = QueueWriter<pb::AgentStreamResponse>;
  if (grpc::Status s = Admit(*context); !s.ok()) {
    return new peerlab::RefusedWriter<pb::AgentStreamResponse>(s);
  }
  auto queue = service_->Subscribe(*request);
  if (!queue.ok()) {
    return new peerlab::RefusedWriter<pb::AgentStreamResponse>(
        ToGrpcStatus(queue.status()));
  }
  auto* reactor = new Writer(context, *queue, [service = service_, q = *queue] {
    service->Unsubscribe(q);
  });
  threads_.Spawn([reactor] { Writer::Run(reactor); });
  return reactor;
}

grpc::ServerWriteReactor<pb::AgentQueryResponse>* AgentGrpcService::Query(
    grpc::CallbackServerContext* context,
    const pb::AgentQueryRequest* request) {
  using Writer = QueueWriter<pb::AgentQueryResponse>;
  if (grpc::Status s = Admit(*context); !s.ok()) {
    return new peerlab::RefusedWriter<pb::AgentQueryResponse>(s);
  }
  auto call = service_->Query(*request);
  if (!call.ok()) {
    return new peerlab::RefusedWriter<pb::AgentQueryResponse>(
        ToGrpcStatus(call.status()));
  }
  // Whatever ends the call (the summary written, the client gone, the
  // peer's end) ends the query too.
  auto* reactor = new Writer(
      context, call->queue,
      [service = service_, id = call->id] { service->EndQuery(id); });
  threads_.Spawn([reactor] { Writer::Run(reactor); });
  return reactor;
}

}  // namespace peerlab::agent
