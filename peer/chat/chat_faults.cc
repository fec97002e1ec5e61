#include "peer/chat/chat_faults.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

namespace peerlab::chat {
namespace {

// The opener's callbacks, called at most once for on_closed, never after.
class Callbacks {
 public:
  explicit Callbacks(ChatStreamCallbacks callbacks)
      : callbacks_(std::move(callbacks)) {}

  void Envelope(::peer::v1::ChatEnvelope envelope) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && callbacks_.on_envelope) {
      callbacks_.on_envelope(std::move(envelope));
    }
  }
  void Closed(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (callbacks_.on_closed) callbacks_.on_closed(std::move(status));
  }
  bool closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  std::mutex mu_;  // held around the calls: one at a time, as promised
  bool closed_ = false;
  ChatStreamCallbacks callbacks_;
};

absl::Status Refused(const std::string& address, const runtime::CallFate& f) {
  return absl::UnavailableError(absl::StrCat(
      "chat stream to ", address,
      f.blocked ? " blocked by a fault rule" : " fails by a fault rule"));
}

class FaultyStream final : public ChatStream {
 public:
  FaultyStream(std::string address, std::shared_ptr<runtime::FaultPlan> plan,
               runtime::Scheduler* scheduler,
               std::shared_ptr<Callbacks> callbacks)
      : address_(std::move(address)),
        plan_(std::move(plan)),
        scheduler_(scheduler),
        callbacks_(std::move(callbacks)) {}

  // The real stream; null for one that failed or hangs from the start.
  void set_inner(std::unique_ptr<ChatStream> inner) {
    inner_ = std::shared_ptr<ChatStream>(std::move(inner));
  }

  ~FaultyStream() override { Close(); }

  void Send(::peer::v1::ChatEnvelope envelope) override {
    if (inner_ == nullptr || callbacks_->closed()) return;  // hangs or ended
    runtime::CallFate fate = plan_->DecideCall({address_});
    switch (fate.fault) {
      case runtime::CallFault::kFail:
        // The opener learns why; the inner stream's own end (Cancelled)
        // comes second and is not passed on.
        callbacks_->Closed(Refused(address_, fate));
        inner_->Close();
        return;
      case runtime::CallFault::kHang:
        return;  // swallowed: the opener's ack timeout sees a stall
      case runtime::CallFault::kNone:
        break;
    }
    const absl::Time now = scheduler_->Now();
    if (fate.delay <= absl::ZeroDuration() && last_due_ <= now) {
      inner_->Send(std::move(envelope));
      return;
    }
    // In the stream's order: never before an envelope held back earlier.
    last_due_ = std::max(last_due_, now + fate.delay);
    std::weak_ptr<ChatStream> inner = inner_;
    scheduler_->After(last_due_ - now,
                      [inner, e = std::move(envelope)]() mutable {
                        if (auto s = inner.lock()) s->Send(std::move(e));
                      });
  }

  void Close() override {
    if (inner_ != nullptr) {
      inner_->Close();
    } else {
      callbacks_->Closed(absl::CancelledError("chat stream closed"));
    }
  }

 private:
  const std::string address_;
  const std::shared_ptr<runtime::FaultPlan> plan_;
  runtime::Scheduler* const scheduler_;
  const std::shared_ptr<Callbacks> callbacks_;
  std::shared_ptr<ChatStream> inner_;
  absl::Time last_due_ = absl::InfinitePast();
};

}  // namespace

FaultyChatTransport::FaultyChatTransport(
    std::unique_ptr<ChatTransport> target,
    std::shared_ptr<runtime::FaultPlan> plan, runtime::Scheduler* scheduler)
    : target_(std::move(target)),
      plan_(std::move(plan)),
      scheduler_(scheduler) {}

FaultyChatTransport::~FaultyChatTransport() = default;

std::unique_ptr<ChatStream> FaultyChatTransport::Open(
    const std::string& address, ChatStreamCallbacks callbacks) {
  if (plan_ == nullptr) return target_->Open(address, std::move(callbacks));
  // Wrapped even while the plan is empty: a rule set later applies to the
  // streams already open.
  auto shared = std::make_shared<Callbacks>(std::move(callbacks));
  auto stream =
      std::make_unique<FaultyStream>(address, plan_, scheduler_, shared);
  runtime::CallFate fate = plan_->DecideCall({address});
  if (fate.fault == runtime::CallFault::kFail) {
    // As a refused connection: the opener learns it from on_closed, never
    // inside Open.
    scheduler_->Post(
        [shared, status = Refused(address, fate)] { shared->Closed(status); });
    return stream;
  }
  if (fate.fault == runtime::CallFault::kHang) return stream;
  ChatStreamCallbacks forward;
  forward.on_envelope = [shared](::peer::v1::ChatEnvelope e) {
    shared->Envelope(std::move(e));
  };
  forward.on_closed = [shared](absl::Status s) {
    shared->Closed(std::move(s));
  };
  stream->set_inner(target_->Open(address, std::move(forward)));
  return stream;
}

}  // namespace peerlab::chat
