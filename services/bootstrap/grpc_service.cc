#include "services/bootstrap/grpc_service.h"

#include <deque>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/bootstrap/document.h"
#include "base/grpc_status.h"
#include "base/logging.h"

namespace peerlab::bootstrap {

using Document = pb::Document;

namespace {

std::string TokenOf(grpc::CallbackServerContext* context) {
  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return "";
  return BearerToken(std::string(it->second.data(), it->second.size()));
}

BootstrapService::Caller CallerOf(grpc::CallbackServerContext* context) {
  return {.token = TokenOf(context), .client = ClientAddress(context->peer())};
}

// Answers a unary call from a BootstrapService callback.
template <typename Response>
BootstrapService::Done<Response> Answer(grpc::ServerUnaryReactor* reactor,
                                        Response* response) {
  return [reactor, response](absl::StatusOr<Response> result) {
    if (result.ok()) {
      *response = *std::move(result);
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(ToGrpcStatus(result.status()));
    }
  };
}

}  // namespace

// One Watch stream: the current document, then each change. One write is in
// flight at a time; documents that arrive meanwhile queue, up to
// max_queued_bytes. A reader that falls further behind is dropped: the queue
// is freed at once and the stream ends with ABORTED (sent after what is in
// flight), telling the client to Watch again.
//
// Decisions are taken under mu_, but StartWrite and Finish are called without
// it: gRPC may run OnWriteDone/OnDone on the calling thread.
class WatchReactor : public grpc::ServerWriteReactor<pb::WatchResponse> {
 public:
  WatchReactor(BootstrapGrpcService* owner, Store* store,
               grpc::CallbackServerContext* context, size_t max_queued_bytes)
      : owner_(owner),
        store_(store),
        context_(context),
        max_queued_bytes_(max_queued_bytes) {}

  // True when the write in flight started before `since` and has not
  // completed: the reader takes nothing.
  // True once for a stream whose write has been in flight since before
  // `since`: a cancelled stream that gRPC has not ended yet (its reader
  // still holds the connection) is not reported again.
  bool StalledSince(absl::Time since) {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancel_sent_ || !writing_ || write_started_ >= since) return false;
    cancel_sent_ = true;
    return true;
  }
  // Cancels the call (gRPC then calls OnCancel and OnDone). REQUIRES: the
  // owner's mu_ is held, which keeps this reactor and its context alive.
  void Cancel() { context_->TryCancel(); }

  void Start() {
    handle_ = store_->Subscribe([this](const Document& doc) { Push(doc); });
    auto doc = store_->Read();
    if (!doc.ok()) {
      End(ToGrpcStatus(doc.status()));
      return;
    }
    Push(*doc);
  }

  // Asks the stream to end with `status` once the write in flight is done.
  void End(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (end_requested_) return;
      end_requested_ = true;
      end_status_ = status;
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (ok) last_written_ = current_.document().revision();
      if (!ok && !end_requested_) {
        end_requested_ = true;
        end_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
      }
    }
    Pump();
  }

  void OnCancel() override { End(grpc::Status::CANCELLED); }

  void OnDone() override {
    store_->Unsubscribe(handle_);
    owner_->Forget(this);
    delete this;
  }

 private:
  // Called by the store's listener: queue only, never finish from here.
  void Push(const Document& doc) {
    bool dropped = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (end_requested_) return;
      // Subscribe-then-Read can offer a revision twice; keep order strict.
      if (queued_any_ && doc.revision() <= last_queued_) return;
      queued_any_ = true;
      last_queued_ = doc.revision();
      const size_t size = doc.ByteSizeLong();
      if (queued_bytes_ + size > max_queued_bytes_ && !queue_.empty()) {
        // Fell behind: drop it rather than hold ever more documents. The
        // stream still carries the document being written, then the status.
        const uint64_t last_sent =
            writing_ ? current_.document().revision() : last_written_;
        spdlog::warn(
            "Watch stream dropped: its reader fell behind ({} bytes of "
            "documents queued, limit {}; last revision sent {})",
            queued_bytes_ + size, max_queued_bytes_, last_sent);
        end_requested_ = true;
        end_status_ = grpc::Status(
            grpc::StatusCode::ABORTED,
            absl::StrCat("watch fell behind: more than ", max_queued_bytes_,
                         " bytes of documents queued for this stream; the "
                         "last document sent is revision ",
                         last_sent,
                         ". re-Watch: the first message is the current "
                         "document"));
        queue_.clear();
        queued_bytes_ = 0;
        dropped = true;
      } else {
        queue_.push_back(doc);
        StripSecrets(queue_.back());
        queued_bytes_ += size;
      }
    }
    if (dropped) owner_->dropped_.fetch_add(1);
    Pump();
  }

  void Pump() {
    bool finish = false;
    bool write = false;
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      // A dropped stream finishes at once, even with a write in flight (a
      // reader that never reads would never complete it); gRPC sends the
      // status after that message.
      const bool aborting =
          end_requested_ && end_status_.error_code() == grpc::ABORTED;
      if (writing_ && !aborting) return;
      if (end_requested_) {
        finished_ = finish = true;
        status = end_status_;
      } else if (!queue_.empty()) {
        queued_bytes_ -= queue_.front().ByteSizeLong();
        *current_.mutable_document() = std::move(queue_.front());
        queue_.pop_front();
        writing_ = write = true;
        write_started_ = absl::Now();
      }
    }
    if (finish) {
      Finish(status);  // `this` may be gone after this call
    } else if (write) {
      StartWrite(&current_);
    }
  }

  BootstrapGrpcService* const owner_;
  Store* const store_;
  grpc::CallbackServerContext* const context_;
  const size_t max_queued_bytes_;
  int handle_ = 0;

  std::mutex mu_;
  std::deque<Document> queue_;
  size_t queued_bytes_ = 0;  // protobuf sizes of queue_
  uint64_t last_written_ = 0;
  absl::Time write_started_;
  pb::WatchResponse current_;
  bool writing_ = false;
  bool end_requested_ = false;
  bool cancel_sent_ = false;  // StalledSince said yes once
  bool finished_ = false;
  grpc::Status end_status_;
  bool queued_any_ = false;
  uint64_t last_queued_ = 0;
};

BootstrapGrpcService::BootstrapGrpcService(BootstrapService* service,
                                           Options options)
    : service_(service), options_(options) {
  stall_thread_ = std::thread([this] { StallLoop(); });
}

void BootstrapGrpcService::StallLoop() {
  std::unique_lock<std::mutex> lock(stall_mu_);
  while (!stall_wake_.wait_for(lock,
                               absl::ToChronoNanoseconds(options_.stall_check),
                               [this] { return stall_stop_; })) {
    lock.unlock();
    {
      const absl::Time since = absl::Now() - options_.max_write_stall;
      std::lock_guard<std::recursive_mutex> watches_lock(mu_);
      std::vector<WatchReactor*> watches(watches_.begin(), watches_.end());
      for (WatchReactor* w : watches) {
        if (!w->StalledSince(since)) continue;
        cancelled_.fetch_add(1);
        spdlog::warn(
            "Watch stream cancelled: its reader took nothing for {} (one "
            "document in flight)",
            absl::FormatDuration(options_.max_write_stall));
        w->Cancel();  // may end it inline: mu_ is recursive
      }
    }
    lock.lock();
  }
}

size_t BootstrapGrpcService::watchers() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return watches_.size();
}

BootstrapGrpcService::~BootstrapGrpcService() {
  {
    std::lock_guard<std::mutex> lock(stall_mu_);
    stall_stop_ = true;
  }
  stall_wake_.notify_all();
  stall_thread_.join();
}

void BootstrapGrpcService::EndWatches() {
  // Holding mu_ keeps every listed reactor alive: OnDone must Forget() it
  // first. mu_ is recursive because OnDone may run inline, on this thread.
  std::lock_guard<std::recursive_mutex> lock(mu_);
  ending_ = true;
  std::vector<WatchReactor*> watches(watches_.begin(), watches_.end());
  for (WatchReactor* w : watches) w->End(grpc::Status::OK);
}

void BootstrapGrpcService::Forget(WatchReactor* reactor) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  watches_.erase(reactor);
}

grpc::ServerUnaryReactor* BootstrapGrpcService::Ping(
    grpc::CallbackServerContext* context, const pb::PingRequest*,
    pb::PingResponse* response) {
  auto* reactor = context->DefaultReactor();
  *response = service_->Ping();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* BootstrapGrpcService::Join(
    grpc::CallbackServerContext* context, const pb::JoinRequest* request,
    pb::JoinResponse* response) {
  auto* reactor = context->DefaultReactor();
  service_->Join(*request, CallerOf(context), Answer(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* BootstrapGrpcService::Leave(
    grpc::CallbackServerContext* context, const pb::LeaveRequest* request,
    pb::LeaveResponse* response) {
  auto* reactor = context->DefaultReactor();
  service_->Leave(*request, CallerOf(context), Answer(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* BootstrapGrpcService::Refill(
    grpc::CallbackServerContext* context, const pb::RefillRequest* request,
    pb::RefillResponse* response) {
  auto* reactor = context->DefaultReactor();
  service_->Refill(*request, CallerOf(context), Answer(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* BootstrapGrpcService::List(
    grpc::CallbackServerContext* context, const pb::ListRequest*,
    pb::ListResponse* response) {
  auto* reactor = context->DefaultReactor();
  Answer(reactor, response)(service_->List());
  return reactor;
}

grpc::ServerUnaryReactor* BootstrapGrpcService::Reset(
    grpc::CallbackServerContext* context, const pb::ResetRequest* request,
    pb::ResetResponse* response) {
  auto* reactor = context->DefaultReactor();
  service_->Reset(*request, TokenOf(context), Answer(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* BootstrapGrpcService::UpdateConfig(
    grpc::CallbackServerContext* context,
    const pb::UpdateConfigRequest* request,
    pb::UpdateConfigResponse* response) {
  auto* reactor = context->DefaultReactor();
  service_->UpdateConfig(*request, TokenOf(context), Answer(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* BootstrapGrpcService::Renew(
    grpc::CallbackServerContext* context, const pb::RenewRequest* request,
    pb::RenewResponse* response) {
  auto* reactor = context->DefaultReactor();
  service_->Renew(*request, CallerOf(context), Answer(reactor, response));
  return reactor;
}

grpc::ServerWriteReactor<pb::WatchResponse>* BootstrapGrpcService::Watch(
    grpc::CallbackServerContext* context, const pb::WatchRequest*) {
  auto* reactor = new WatchReactor(this, service_->store(), context,
                                   options_.max_queued_bytes);
  bool ending;
  bool full = false;
  size_t open = 0;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    ending = ending_;
    open = watches_.size();
    full = !ending && open >= options_.max_watchers;
    if (!ending && !full) watches_.insert(reactor);
  }
  if (ending) {
    reactor->End(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
  } else if (full) {
    refused_.fetch_add(1);
    spdlog::warn("Watch refused: {} streams open, the limit", open);
    reactor->End(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("too many Watch streams open on this server (limit ",
                     options_.max_watchers,
                     "); retry later with backoff, or poll List")));
  } else {
    reactor->Start();
  }
  return reactor;
}

}  // namespace peerlab::bootstrap
