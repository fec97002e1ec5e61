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

class GrpcChatTransport : public ChatTransport {
 public:
  // Channels to other peers use `credentials` (TLS or not, see
  // services/common/tls.h); nullptr: plaintext.
  explicit GrpcChatTransport(
      std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
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
  explicit ChatGrpcService(Handler* handler = nullptr);
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

  class Connection;  // one incoming stream; a ChatReply

 private:
  class Reactor;
  void Dispatch(const std::shared_ptr<Connection>& connection,
                ::peer::v1::ChatEnvelope envelope);
  void Forget(Connection* connection);

  std::mutex handler_mu_;  // held around Handler calls
  Handler* handler_ = nullptr;
  std::mutex mu_;
  bool shut_down_ = false;
  std::set<std::shared_ptr<Connection>> connections_;
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_GRPC_CHAT_H_
