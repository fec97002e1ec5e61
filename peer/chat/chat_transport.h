// The chat's seams to the network: how ChatCore opens a stream to another
// peer (ChatTransport, ChatStream) and answers on a stream another peer
// opened (ChatReply). The real ones are gRPC (grpc_chat.h); tests use
// in-memory fakes.
#ifndef PEERLAB_PEER_CHAT_CHAT_TRANSPORT_H_
#define PEERLAB_PEER_CHAT_CHAT_TRANSPORT_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "proto/peer/v1/chat.pb.h"

namespace peerlab::chat {

// An outgoing stream (the caller's end of peer.v1.Chat/Connect).
// Thread-safe.
class ChatStream {
 public:
  // Closes the stream (Close()).
  virtual ~ChatStream() = default;
  // Queues `envelope` for writing; never blocks. Envelopes are written in
  // the order sent (queued ones may be merged into one write). Dropped once
  // the stream has ended or been closed.
  virtual void Send(::peer::v1::ChatEnvelope envelope) = 0;
  // Cancels the stream. Callbacks may still run afterwards (they race with
  // the close); the caller must ignore them.
  virtual void Close() = 0;
};

// What a stream tells its opener. Both may run on any thread, never at the
// same time for one stream, and `on_closed` runs exactly once, last (unless
// the transport is destroyed first).
struct ChatStreamCallbacks {
  std::function<void(::peer::v1::ChatEnvelope)> on_envelope;
  std::function<void(absl::Status)> on_closed;
};

class ChatTransport {
 public:
  virtual ~ChatTransport() = default;
  // Opens a stream to the chat at `address` ("host:port"). Never blocks and
  // never fails here: an unreachable address ends the stream through
  // `callbacks.on_closed`. Thread-safe.
  virtual std::unique_ptr<ChatStream> Open(const std::string& address,
                                           ChatStreamCallbacks callbacks) = 0;
};

// The receiver's end of one incoming stream. Thread-safe; the receiver may
// keep it after the stream ended (then calls do nothing).
class ChatReply {
 public:
  virtual ~ChatReply() = default;
  // Queues `envelope` for the opener; never blocks. Queued acks are merged
  // (the latest wins).
  virtual void Send(::peer::v1::ChatEnvelope envelope) = 0;
  // Ends the stream with `status` (e.g. UNAVAILABLE: chat stopped).
  virtual void Close(absl::Status status) = 0;
  // With mutual TLS, the name (common name) in the opener's client
  // certificate; "" without one. Thread-safe.
  virtual std::string CertificateName() const { return ""; }

  // The member the opener proved to be (its hello checked out); "" until
  // then. Set and read by the receiver only (ChatCore, on its scheduler):
  // not thread-safe.
  const std::string& sender() const { return sender_; }
  void set_sender(std::string sender) { sender_ = std::move(sender); }

 private:
  std::string sender_;
};

// Merges `from` into `into` as one write would carry both: messages, pings
// and pongs appended; the ack with the higher seq kept; a hello kept (the
// first one).
void MergeEnvelope(::peer::v1::ChatEnvelope&& from,
                   ::peer::v1::ChatEnvelope* into);

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_CHAT_TRANSPORT_H_
