#include "peer/chat/grpc_chat.h"

#include <chrono>
#include <deque>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "base/grpc_status.h"
#include "base/logging.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;

// A write queue: envelopes merged while they stay small. Counts the bytes
// it holds, so that a stream whose other end does not read can be ended
// instead of growing without bound.
class WriteQueue {
 public:
  void Push(pb::ChatEnvelope e) {
    size_t size = e.ByteSizeLong();
    bytes_ += size;
    if (!queue_.empty() && back_bytes_ + size <= kMaxWriteBytes) {
      MergeEnvelope(std::move(e), &queue_.back().envelope);
      back_bytes_ += size;
      queue_.back().bytes += size;
      return;
    }
    queue_.push_back({std::move(e), size});
    back_bytes_ = size;
  }
  bool empty() const { return queue_.empty(); }
  size_t bytes() const { return bytes_; }
  pb::ChatEnvelope Pop() {
    pb::ChatEnvelope e = std::move(queue_.front().envelope);
    bytes_ -= queue_.front().bytes;
    queue_.pop_front();
    if (queue_.empty()) back_bytes_ = 0;
    return e;
  }

 private:
  struct Entry {
    pb::ChatEnvelope envelope;
    size_t bytes;
  };
  std::deque<Entry> queue_;
  size_t back_bytes_ = 0;
  size_t bytes_ = 0;
};

}  // namespace

// ---------------------------------------------------------------- client

struct GrpcChatTransport::Tracker {
  std::mutex mu;
  std::condition_variable cv;
  int live = 0;
};

namespace {

class ClientReactor;

// State shared by the core's handle and the reactor. The reactor holds a
// gRPC "hold" until the stream is over for us (ended or closed) and no
// write is in flight, so it cannot be destroyed while the handle may still
// call it.
struct ClientState {
  size_t max_queued_bytes = kMaxClientQueuedBytes;
  std::mutex mu;
  ClientReactor* reactor = nullptr;
  bool writing = false;
  bool ended = false;   // reads ended or a write failed
  bool closed = false;  // the handle closed it
  bool hold_released = false;
  int pins = 0;  // threads using `reactor` outside the lock
  pb::ChatEnvelope current;
  WriteQueue queue;

  // REQUIRES mu. True when the hold may go now (and marks it gone).
  bool TakeRelease() {
    if (hold_released || writing || pins > 0 || !(ended || closed)) {
      return false;
    }
    hold_released = true;
    return true;
  }
};

class ClientReactor final
    : public grpc::ClientBidiReactor<pb::ChatEnvelope, pb::ChatEnvelope> {
 public:
  ClientReactor(std::shared_ptr<ClientState> state,
                ChatStreamCallbacks callbacks,
                std::shared_ptr<GrpcChatTransport::Tracker> tracker)
      : state_(std::move(state)),
        callbacks_(std::move(callbacks)),
        tracker_(std::move(tracker)) {
    state_->reactor = this;
  }

  void Start(pb::Chat::Stub* stub) {
    stub->async()->Connect(&context_, this);
    AddHold();
    StartRead(&in_);
    StartCall();
  }

  grpc::ClientContext& context() { return context_; }
  void Write(const pb::ChatEnvelope* e) { StartWrite(e); }
  void Release() { RemoveHold(); }

  void OnReadDone(bool ok) override {
    if (ok) {
      callbacks_.on_envelope(std::move(in_));
      in_.Clear();
      StartRead(&in_);
      return;
    }
    bool release;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->ended = true;
      release = state_->TakeRelease();
    }
    if (release) RemoveHold();
  }

  void OnWriteDone(bool ok) override {
    bool more = false;
    bool release = false;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (!ok) state_->ended = true;
      if (!state_->ended && !state_->closed && !state_->queue.empty()) {
        state_->current = state_->queue.Pop();
        more = true;  // still writing: the hold stays
      } else {
        state_->writing = false;
        release = state_->TakeRelease();
      }
    }
    if (more) {
      StartWrite(&state_->current);
    } else if (release) {
      RemoveHold();
    }
  }

  void OnDone(const grpc::Status& status) override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->reactor = nullptr;
    }
    callbacks_.on_closed(FromGrpcStatus(status));
    auto tracker = tracker_;
    delete this;
    std::lock_guard<std::mutex> lock(tracker->mu);
    --tracker->live;
    tracker->cv.notify_all();
  }

 private:
  grpc::ClientContext context_;
  pb::ChatEnvelope in_;
  std::shared_ptr<ClientState> state_;
  ChatStreamCallbacks callbacks_;
  std::shared_ptr<GrpcChatTransport::Tracker> tracker_;
};

// The handle ChatCore owns.
class ClientHandle final : public ChatStream {
 public:
  explicit ClientHandle(std::shared_ptr<ClientState> state)
      : state_(std::move(state)) {}
  ~ClientHandle() override { Close(); }

  void Send(pb::ChatEnvelope envelope) override {
    ClientReactor* reactor = nullptr;
    size_t overflow = 0;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->closed || state_->ended || state_->hold_released) return;
      if (state_->writing) {
        state_->queue.Push(std::move(envelope));
        if (state_->queue.bytes() <= state_->max_queued_bytes) return;
        overflow = state_->queue.bytes();
        state_->queue = WriteQueue();
      } else {
        state_->writing = true;
        state_->current = std::move(envelope);
        reactor = state_->reactor;
      }
    }
    if (overflow > 0) {
      // The other end does not read (or reads that slowly): end the stream;
      // the core reopens it after a backoff and resends what is unacked.
      spdlog::warn(
          "chat: {} bytes queued on a stream whose other end does not read "
          "(limit {}); closing it",
          overflow, state_->max_queued_bytes);
      Close();
      return;
    }
    // Safe: the hold stays while `writing`.
    reactor->Write(&state_->current);
  }

  void Close() override {
    ClientReactor* reactor;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->closed) return;
      state_->closed = true;
      if (state_->hold_released) return;
      ++state_->pins;
      reactor = state_->reactor;
    }
    reactor->context().TryCancel();
    bool release;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      --state_->pins;
      release = state_->TakeRelease();
    }
    if (release) reactor->Release();
  }

 private:
  std::shared_ptr<ClientState> state_;
};

}  // namespace

GrpcChatTransport::GrpcChatTransport(
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    size_t max_queued_bytes)
    : credentials_(credentials ? std::move(credentials)
                               : grpc::InsecureChannelCredentials()),
      max_queued_bytes_(max_queued_bytes),
      tracker_(std::make_shared<Tracker>()) {}

GrpcChatTransport::~GrpcChatTransport() {
  std::unique_lock<std::mutex> lock(tracker_->mu);
  while (!tracker_->cv.wait_for(lock, std::chrono::seconds(5),
                                [&] { return tracker_->live == 0; })) {
    spdlog::warn("chat: waiting for {} stream(s) to end", tracker_->live);
  }
}

std::shared_ptr<pb::Chat::Stub> GrpcChatTransport::StubFor(
    const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) {
    grpc::ChannelArguments args;
    // Reconnect quickly after a peer restarts (defaults go up to 120 s).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    stub = pb::Chat::NewStub(
        grpc::CreateCustomChannel(address, credentials_, args));
  }
  return stub;
}

std::unique_ptr<ChatStream> GrpcChatTransport::Open(
    const std::string& address, ChatStreamCallbacks callbacks) {
  auto stub = StubFor(address);
  auto state = std::make_shared<ClientState>();
  state->max_queued_bytes = max_queued_bytes_;
  {
    std::lock_guard<std::mutex> lock(tracker_->mu);
    ++tracker_->live;
  }
  auto* reactor = new ClientReactor(state, std::move(callbacks), tracker_);
  auto handle = std::make_unique<ClientHandle>(state);
  reactor->Start(stub.get());
  return handle;
}

// ---------------------------------------------------------------- server

namespace {
// The common name of the client certificate the caller presented and the
// server verified (mutual TLS); "" without one.
std::string ClientCertificateName(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return "";
  for (const auto& v : auth->FindPropertyValues("x509_common_name")) {
    return std::string(v.data(), v.size());
  }
  return "";
}
}  // namespace

class ChatGrpcService::Connection final : public ChatReply {
 public:
  Connection(Reactor* reactor, ChatGrpcService* service,
             std::string certificate_name)
      : reactor_(reactor),
        service_(service),
        certificate_name_(std::move(certificate_name)) {}

  void Send(pb::ChatEnvelope envelope) override;
  void Close(absl::Status status) override;
  std::string CertificateName() const override { return certificate_name_; }
  // The reactor's reactions.
  void WriteDone(bool ok);
  void Done();

 private:
  std::mutex mu_;
  Reactor* reactor_;  // valid until Finish has been called
  ChatGrpcService* const service_;
  const std::string certificate_name_;
  bool writing_ = false;
  bool finishing_ = false;  // no more writes
  bool finish_called_ = false;
  int pins_ = 0;  // threads using `reactor_` outside the lock (no Finish)
  grpc::Status final_;
  pb::ChatEnvelope current_;
  WriteQueue queue_;
};

class ChatGrpcService::Reactor final
    : public grpc::ServerBidiReactor<pb::ChatEnvelope, pb::ChatEnvelope> {
 public:
  Reactor(ChatGrpcService* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context) {
    connection_ = std::make_shared<Connection>(this, service,
                                               ClientCertificateName(*context));
  }
  // Ends the call at once (a write in flight completes, failed).
  void Cancel() { context_->TryCancel(); }
  const std::shared_ptr<Connection>& connection() const { return connection_; }
  void Begin() { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the sender half-closed or went away
      connection_->Close(absl::OkStatus());
      return;
    }
    service_->Dispatch(connection_, std::move(in_));
    in_.Clear();
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override { connection_->WriteDone(ok); }
  void OnCancel() override {
    connection_->Close(absl::CancelledError("cancelled"));
  }
  void OnDone() override {
    connection_->Done();
    service_->Forget(connection_.get());
    delete this;
  }

 private:
  ChatGrpcService* const service_;
  grpc::CallbackServerContext* const context_;
  pb::ChatEnvelope in_;
  std::shared_ptr<Connection> connection_;
};

void ChatGrpcService::Connection::Send(pb::ChatEnvelope envelope) {
  Reactor* reactor;
  size_t overflow = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) return;
    if (writing_) {
      queue_.Push(std::move(envelope));
      if (queue_.bytes() <= service_->max_queued_bytes_) return;
      overflow = queue_.bytes();
      queue_ = WriteQueue();
    } else {
      writing_ = true;
      current_ = std::move(envelope);
      reactor = reactor_;
    }
  }
  if (overflow > 0) {
    const uint64_t n = ++service_->closed_unread_;
    spdlog::warn(
        "chat: {} bytes of answers queued for a stream that does not read "
        "(limit {}); ending it ({} so far)",
        overflow, service_->max_queued_bytes_, n);
    // The write in flight may never complete (nobody reads): cancel the
    // call, so that it fails and the stream finishes.
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!finishing_) {
        finishing_ = true;
        final_ = grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            absl::StrCat("more than ", service_->max_queued_bytes_,
                         " bytes of answers queued: the stream does not "
                         "read"));
      }
      if (finish_called_ || reactor_ == nullptr) return;
      ++pins_;
      reactor = reactor_;
    }
    reactor->Cancel();
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      --pins_;
      if (!writing_ && pins_ == 0 && !finish_called_) {
        finish_called_ = true;
        finish = true;
      }
    }
    if (finish) reactor->Finish(final_);
    return;
  }
  reactor->StartWrite(&current_);  // Finish waits for `writing_`
}

void ChatGrpcService::Connection::Close(absl::Status status) {
  Reactor* reactor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) return;
    finishing_ = true;
    final_ = ToGrpcStatus(status);
    // WriteDone (or the pinning thread) finishes.
    if (writing_ || finish_called_ || pins_ > 0) return;
    finish_called_ = true;
    reactor = reactor_;
  }
  reactor->Finish(final_);
}

void ChatGrpcService::Connection::WriteDone(bool ok) {
  Reactor* reactor;
  bool more = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reactor = reactor_;
    if (!ok && !finishing_) {
      finishing_ = true;
      final_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
    }
    if (!finishing_ && !queue_.empty()) {
      current_ = queue_.Pop();
      more = true;
    } else {
      writing_ = false;
      if (!finishing_ || finish_called_ || pins_ > 0) return;
      finish_called_ = true;
    }
  }
  if (more) {
    reactor->StartWrite(&current_);
  } else {
    reactor->Finish(final_);
  }
}

void ChatGrpcService::Connection::Done() {
  std::lock_guard<std::mutex> lock(mu_);
  finishing_ = true;
  finish_called_ = true;
  reactor_ = nullptr;
}

ChatGrpcService::ChatGrpcService(Handler* handler, size_t max_queued_bytes)
    : handler_(handler), max_queued_bytes_(max_queued_bytes) {}

ChatGrpcService::~ChatGrpcService() { Shutdown(); }

void ChatGrpcService::SetHandler(Handler* handler) {
  std::lock_guard<std::mutex> lock(handler_mu_);
  handler_ = handler;
}

void ChatGrpcService::Shutdown() {
  std::set<std::shared_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    connections = connections_;
  }
  for (const auto& c : connections) {
    c->Close(absl::UnavailableError("the peer is shutting down"));
  }
}

grpc::ServerBidiReactor<pb::ChatEnvelope, pb::ChatEnvelope>*
ChatGrpcService::Connect(grpc::CallbackServerContext* context) {
  auto* reactor = new Reactor(this, context);
  bool refuse;
  {
    std::lock_guard<std::mutex> lock(mu_);
    refuse = shut_down_;
    if (!refuse) connections_.insert(reactor->connection());
  }
  if (refuse) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "the peer is shutting down"));
    return reactor;
  }
  reactor->Begin();
  return reactor;
}

void ChatGrpcService::Dispatch(const std::shared_ptr<Connection>& connection,
                               pb::ChatEnvelope envelope) {
  std::lock_guard<std::mutex> lock(handler_mu_);
  if (handler_ == nullptr) {
    connection->Close(absl::UnavailableError("the chat is not running"));
    return;
  }
  handler_->OnIncoming(connection, std::move(envelope));
}

void ChatGrpcService::Forget(Connection* connection) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() == connection) {
      connections_.erase(it);
      return;
    }
  }
}

}  // namespace peerlab::chat
