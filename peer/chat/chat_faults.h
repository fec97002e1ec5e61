// FaultyChatTransport: the chat's streams under a runtime::FaultPlan
// (peer/runtime/fault_plan.h), the one plan the membership's transport
// also obeys. It wraps the real transport (grpc_chat.h) and decides, per
// stream and per envelope, by the stream's address:
//   - block, or calls fail: the stream fails at once (Unavailable), as a
//     connection to a blackholed address; a stream already open breaks at
//     its next envelope;
//   - calls hang: the stream opens but nothing it sends arrives and it
//     never closes by itself (ChatCore's ack timeout reopens it);
//   - delay and jitter: each envelope is written that much later, in the
//     stream's order (a stream never reorders).
// Only what this peer sends on the streams it opens is faulted; the
// answers on streams other peers opened are theirs to fault.
//
// Bounds: envelopes held back are bounded by ChatCore's window of unacked
// messages (at most that many are sent before an ack).
//
// Thread-safe as ChatTransport; Send of a delayed stream REQUIRES being
// called from a task of `scheduler` (ChatCore's loop).
#ifndef PEERLAB_PEER_CHAT_CHAT_FAULTS_H_
#define PEERLAB_PEER_CHAT_CHAT_FAULTS_H_

#include <memory>
#include <string>

#include "peer/chat/chat_transport.h"
#include "peer/runtime/fault_plan.h"
#include "peer/runtime/scheduler.h"

namespace peerlab::chat {

class FaultyChatTransport final : public ChatTransport {
 public:
  // Owns `target`. `scheduler` (not owned; the chat's) must outlive this
  // object and the streams it opened; `plan` is shared with the rest of
  // the peer.
  FaultyChatTransport(std::unique_ptr<ChatTransport> target,
                      std::shared_ptr<runtime::FaultPlan> plan,
                      runtime::Scheduler* scheduler);
  // Destroys the target (which may wait for its streams).
  ~FaultyChatTransport() override;

  std::unique_ptr<ChatStream> Open(const std::string& address,
                                   ChatStreamCallbacks callbacks) override;

 private:
  std::unique_ptr<ChatTransport> target_;
  const std::shared_ptr<runtime::FaultPlan> plan_;
  runtime::Scheduler* const scheduler_;
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_CHAT_FAULTS_H_
