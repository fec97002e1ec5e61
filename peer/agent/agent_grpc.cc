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

// A stream refused before it started: finishes at once.
template <typename Msg>
class RefusedWriter : public grpc::ServerWriteReactor<Msg> {
 public:
  explicit RefusedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

// One Stream or Query call: its thread (Run) drains the queue, does every
// StartWrite and the Finish, one write in flight at a time; gRPC's
// callbacks only record what happened and wake it. The thread deletes the
// reactor once gRPC is done with it.
template <typename Msg>
class QueueWriter : public grpc::ServerWriteReactor<Msg> {
 public:
  QueueWriter(grpc::CallbackServerContext* context,
              std::shared_ptr<AgentQueue<Msg>> queue,
              std::function<void()> on_end)
      : context_(context),
        queue_(std::move(queue)),
        on_end_(std::move(on_end)) {}

  static void Run(QueueWriter* self) {
    grpc::Status status = self->Drain();
    if (self->on_end_) self->on_end_();
    self->Finish(status);
    {
      std::unique_lock<std::mutex> lock(self->mu_);
      self->cv_.wait(lock, [self] { return self->done_; });
    }
    delete self;
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    write_ok_ = ok;
    cv_.notify_all();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void OnDone() override {
    // Notified under the lock: Run() deletes the reactor as soon as it can
    // take mu_.
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

 private:
  grpc::Status Drain() {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (cancelled_) return Cancelled();
      }
      typename AgentQueue<Msg>::Batch batch = queue_->Pop(kPoll);
      for (Msg& item : batch.items) {
        if (!Write(std::move(item))) return Cancelled();
      }
      if (batch.ended) return ToGrpcStatus(batch.status);
    }
  }

  static grpc::Status Cancelled() {
    return grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled");
  }

  // One write, waited for. Cut short (the call cancelled) a grace period
  // after the queue failed or the client cancelled.
  bool Write(Msg item) {
    current_ = std::move(item);
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = true;
    }
    this->StartWrite(&current_);
    std::unique_lock<std::mutex> lock(mu_);
    absl::Time give_up = absl::InfiniteFuture();
    bool cancel_sent = false;
    while (writing_) {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(kPoll));
      if (!writing_ || cancel_sent) continue;
      const bool ending = cancelled_ || queue_->failed();
      if (!ending) continue;
      const absl::Time now = absl::Now();
      if (give_up == absl::InfiniteFuture()) give_up = now + kEndGrace;
      if (now >= give_up) {
        cancel_sent = true;
        lock.unlock();
        context_->TryCancel();  // the write then fails
        lock.lock();
      }
    }
    return write_ok_;
  }

  grpc::CallbackServerContext* const context_;
  const std::shared_ptr<AgentQueue<Msg>> queue_;
  const std::function<void()> on_end_;
  Msg current_;  // the message in flight

  std::mutex mu_;
  std::condition_variable cv_;
  bool writing_ = false;    // guarded
  bool write_ok_ = true;    // guarded
  bool cancelled_ = false;  // guarded
  bool done_ = false;       // guarded
};

}  // namespace

AgentGrpcService::AgentGrpcService(AgentService* service, Options options)
    : service_(service), options_(std::move(options)) {}

AgentGrpcService::~AgentGrpcService() {
  Shutdown();
  std::vector<std::thread> finished;
  {
    std::unique_lock<std::mutex> lock(threads_mu_);
    threads_cv_.wait(lock, [this] { return threads_.empty(); });
    finished.swap(finished_);
  }
  for (std::thread& t : finished) t.join();
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

void AgentGrpcService::Spawn(std::function<void()> body) {
  std::vector<std::thread> finished;
  {
    std::lock_guard<std::mutex> lock(threads_mu_);
    finished.swap(finished_);
    const uint64_t id = next_thread_id_++;
    // The thread takes threads_mu_ only after this block has stored it.
    threads_.emplace(id, std::thread([this, id, body = std::move(body)] {
                       body();
                       std::lock_guard<std::mutex> lock(threads_mu_);
                       auto it = threads_.find(id);
                       finished_.push_back(std::move(it->second));
                       threads_.erase(it);
                       threads_cv_.notify_all();
                     }));
  }
  for (std::thread& t : finished) t.join();
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
  Spawn([this, reactor, request, response, method] {
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
    return new RefusedWriter<pb::AgentStreamResponse>(s);
  }
  auto queue = service_->Subscribe(*request);
  if (!queue.ok()) {
    return new RefusedWriter<pb::AgentStreamResponse>(
        ToGrpcStatus(queue.status()));
  }
  auto* reactor = new Writer(context, *queue, [service = service_, q = *queue] {
    service->Unsubscribe(q);
  });
  Spawn([reactor] { Writer::Run(reactor); });
  return reactor;
}

grpc::ServerWriteReactor<pb::AgentQueryResponse>* AgentGrpcService::Query(
    grpc::CallbackServerContext* context,
    const pb::AgentQueryRequest* request) {
  using Writer = QueueWriter<pb::AgentQueryResponse>;
  if (grpc::Status s = Admit(*context); !s.ok()) {
    return new RefusedWriter<pb::AgentQueryResponse>(s);
  }
  auto call = service_->Query(*request);
  if (!call.ok()) {
    return new RefusedWriter<pb::AgentQueryResponse>(
        ToGrpcStatus(call.status()));
  }
  // Whatever ends the call (the summary written, the client gone, the
  // peer's end) ends the query too.
  auto* reactor = new Writer(
      context, call->queue,
      [service = service_, id = call->id] { service->EndQuery(id); });
  Spawn([reactor] { Writer::Run(reactor); });
  return reactor;
}

}  // namespace peerlab::agent
