// The chat over gRPC: GrpcChatTransport opens peer.v1.Chat/Connect streams
// (callback API, one ClientBidiReactor per stream, one channel per address),
// and ChatGrpcService serves them (one ServerBidiReactor per stream), handing
// what arrives to a ChatGrpcService::Handler. Both only convert and queue:
// the protocol is ChatCore's.
//
// Writes. Each stream writes one envelope at a time; envelopes queued
// meanwhile are merged (MergeEnvelope) into the next write, up to
// kMaxWriteBytes, so a busy stream sends few large writes instead of many
// small ones.
#ifndef PEERLAB_PEER_CHAT_GRPC_CHAT_H_
#define PEERLAB_PEER_CHAT_GRPC_CHAT_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "grpcpp/security/credentials.h"
#include "peer/chat/chat_transport.h"
#include "proto/peer/v1/chat.grpc.pb.h"

namespace peerlab::chat {

// Queued envelopes are merged while the merged one stays under this size.
inline constexpr size_t kMaxWriteBytes = 1 << 20;
// Bytes queued for writing on one stream, beyond which the stream is ended
// (logged) instead of growing without bound when the other end does not
// read. An incoming stream only queues answers (acks merge; pongs do not);
// an outgoing one up to ChatCore's window of messages (4096 of at most
// 16 KiB) plus answers.
inline constexpr size_t kMaxServerQueuedBytes = 4 << 20;
inline constexpr size_t kMaxClientQueuedBytes = 96 << 20;

class GrpcChatTransport : public ChatTransport {
 public:
  // Channels to other peers use `credentials` (TLS or not, see
  // base/tls.h); nullptr: plaintext.
  // A stream with more than `max_queued_bytes` waiting to be written (the
  // other end does not read) is closed (logged); its owner sees on_closed
  // and reopens it as after any break.
  explicit GrpcChatTransport(
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
      size_t max_queued_bytes = kMaxClientQueuedBytes);
  // Cancels the streams still open and waits until gRPC has finished each
  // (their on_closed callbacks have run). REQUIRES: whoever the callbacks
  // call is still alive.
  ~GrpcChatTransport() override;

  // ChatTransport. Thread-safe.
  std::unique_ptr<ChatStream> Open(const std::string& address,
                                   ChatStreamCallbacks callbacks) override;

  struct Tracker;  // streams alive; shared with them

 private:
  std::shared_ptr<::peer::v1::Chat::Stub> StubFor(const std::string& address);

  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const size_t max_queued_bytes_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<::peer::v1::Chat::Stub>> stubs_;
  std::shared_ptr<Tracker> tracker_;
};

class ChatGrpcService final : public ::peer::v1::Chat::CallbackService {
 public:
  // Where incoming envelopes go; called on gRPC threads, must not block.
  // For one stream, calls come one at a time, in order.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnIncoming(const std::shared_ptr<ChatReply>& reply,
                            ::peer::v1::ChatEnvelope envelope) = 0;
  };

  // `handler` must outlive the service (or be detached: SetHandler(nullptr)).
  // A stream with more than `max_queued_bytes` of answers waiting (its
  // opener does not read them) is ended with RESOURCE_EXHAUSTED and logged.
  explicit ChatGrpcService(Handler* handler = nullptr,
                           size_t max_queued_bytes = kMaxServerQueuedBytes);
  // REQUIRES: the server has shut down.
  ~ChatGrpcService() override;

  // Replaces the handler; nullptr refuses new envelopes (the stream is
  // ended with UNAVAILABLE). Thread-safe; after it returns the old handler
  // is not being called and will not be.
  void SetHandler(Handler* handler);

  // Ends every open stream with UNAVAILABLE and refuses new ones. Call
  // before grpc::Server::Shutdown so the server need not wait for the
  // streams. Thread-safe; idempotent.
  void Shutdown();

  grpc::ServerBidiReactor<::peer::v1::ChatEnvelope, ::peer::v1::ChatEnvelope>*
  Connect(grpc::CallbackServerContext* context) override;

  // Streams ended because their opener did not read. Thread-safe.
  uint64_t closed_unread() const { return closed_unread_.load(); }

  class Connection;  // one incoming stream; a ChatReply

 private:
  class Reactor;
  void Dispatch(const std::shared_ptr<Connection>& connection,
                ::peer::v1::ChatEnvelope envelope);
  void Forget(Connection* connection);

  const size_t max_queued_bytes_;
  std::atomic<uint64_t> closed_unread_{0};
  std::mutex handler_mu_;  // held around Handler calls
  Handler* handler_ = nullptr;
  std::mutex mu_;
  bool shut_down_ = false;
  std::set<std::shared_ptr<Connection>> connections_;
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_GRPC_CHAT_H_
