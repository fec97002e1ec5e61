#include "peer/chat/sim_chat_network.h"

#include <algorithm>
#include <utility>

namespace peerlab::chat {

namespace pb = ::peer::v1;

// One stream: opened by a transport (callbacks on `opener`) to `to`.
struct SimChatNetwork::Link {
  runtime::Scheduler* opener;
  std::string to;
  ChatStreamCallbacks callbacks;
  bool closed = false;
  std::shared_ptr<Reply> reply;
};

class SimChatNetwork::Reply final : public ChatReply {
 public:
  Reply(SimChatNetwork* net, std::weak_ptr<Link> link)
      : net_(net), link_(std::move(link)) {}
  void Send(pb::ChatEnvelope e) override {
    if (auto l = link_.lock()) net_->ToOpener(l, std::move(e));
  }
  void Close(absl::Status status) override {
    if (auto l = link_.lock()) net_->Break(l, std::move(status));
  }

 private:
  SimChatNetwork* const net_;
  std::weak_ptr<Link> link_;  // the link owns this reply
};

class SimChatNetwork::Stream final : public ChatStream {
 public:
  Stream(SimChatNetwork* net, std::shared_ptr<Link> link)
      : net_(net), link_(std::move(link)) {}
  ~Stream() override { Close(); }
  void Send(pb::ChatEnvelope e) override {
    net_->ToReceiver(link_, std::move(e));
  }
  void Close() override { net_->Break(link_, absl::CancelledError("closed")); }

 private:
  SimChatNetwork* const net_;
  const std::shared_ptr<Link> link_;
};

class SimChatNetwork::Transport final : public ChatTransport {
 public:
  Transport(SimChatNetwork* net, runtime::Scheduler* opener)
      : net_(net), opener_(opener) {}
  std::unique_ptr<ChatStream> Open(const std::string& address,
                                   ChatStreamCallbacks callbacks) override {
    auto link = std::make_shared<Link>();
    link->opener = opener_;
    link->to = address;
    link->callbacks = std::move(callbacks);
    link->reply = std::make_shared<Reply>(net_, link);
    ++net_->opens_[address];
    net_->links_.push_back(link);
    if (net_->down_.count(address) || !net_->endpoints_.count(address)) {
      net_->Break(link, absl::UnavailableError("connection refused"));
    }
    return std::make_unique<Stream>(net_, std::move(link));
  }

 private:
  SimChatNetwork* const net_;
  runtime::Scheduler* const opener_;
};

SimChatNetwork::SimChatNetwork() = default;
SimChatNetwork::~SimChatNetwork() { *alive_ = false; }

void SimChatNetwork::Attach(const std::string& address,
                            runtime::Scheduler* scheduler, Receiver receiver) {
  endpoints_[address] = Endpoint{scheduler, std::move(receiver)};
}

std::unique_ptr<ChatTransport> SimChatNetwork::TransportFor(
    runtime::Scheduler* scheduler) {
  return std::make_unique<Transport>(this, scheduler);
}

void SimChatNetwork::SetDown(const std::string& address, bool down) {
  if (down) {
    down_.insert(address);
  } else {
    down_.erase(address);
  }
}

void SimChatNetwork::SetMuted(const std::string& address, bool muted) {
  if (muted) {
    muted_.insert(address);
  } else {
    muted_.erase(address);
  }
}

void SimChatNetwork::DropNextSends(const std::string& address, int count) {
  drop_next_[address] = std::max(0, count);
}

void SimChatNetwork::BreakStreamsTo(const std::string& address) {
  // Prunes the streams that are gone on the way.
  std::vector<std::shared_ptr<Link>> to_break;
  std::vector<std::weak_ptr<Link>> kept;
  for (auto& weak : links_) {
    auto l = weak.lock();
    if (!l || l->closed) continue;
    kept.push_back(weak);
    if (l->to == address) to_break.push_back(std::move(l));
  }
  links_ = std::move(kept);
  for (auto& l : to_break) {
    Break(l, absl::UnavailableError("connection reset"));
  }
}

int SimChatNetwork::opens(const std::string& address) const {
  auto it = opens_.find(address);
  return it == opens_.end() ? 0 : it->second;
}

void SimChatNetwork::Break(const std::shared_ptr<Link>& link,
                           absl::Status status) {
  if (link->closed) return;
  link->closed = true;
  link->opener->Post([alive = alive_, cb = link->callbacks.on_closed,
                      status = std::move(status)] {
    if (*alive && cb) cb(status);
  });
}

void SimChatNetwork::ToReceiver(const std::shared_ptr<Link>& link,
                                pb::ChatEnvelope envelope) {
  if (link->closed) return;
  largest_envelope_ = std::max(largest_envelope_, envelope.ByteSizeLong());
  if (down_.count(link->to)) {
    ++lost_;
    return;
  }
  if (auto it = drop_next_.find(link->to);
      it != drop_next_.end() && it->second > 0) {
    --it->second;
    ++lost_;
    return;
  }
  auto it = endpoints_.find(link->to);
  if (it == endpoints_.end()) {
    Break(link, absl::UnavailableError("connection refused"));
    return;
  }
  it->second.scheduler->After(
      latency, [this, alive = alive_, link, e = std::move(envelope)]() mutable {
        if (!*alive || link->closed) return;
        if (down_.count(link->to)) {  // went down while this was in flight
          ++lost_;
          return;
        }
        auto to = endpoints_.find(link->to);
        if (to != endpoints_.end())
          to->second.receiver(link->reply, std::move(e));
      });
}

void SimChatNetwork::ToOpener(const std::shared_ptr<Link>& link,
                              pb::ChatEnvelope envelope) {
  if (link->closed) return;
  if (muted_.count(link->to)) {
    ++lost_;
    return;
  }
  link->opener->After(
      latency, [alive = alive_, link, e = std::move(envelope)]() mutable {
        if (*alive && !link->closed) link->callbacks.on_envelope(std::move(e));
      });
}

}  // namespace peerlab::chat
