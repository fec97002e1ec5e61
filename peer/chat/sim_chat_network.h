// SimChatNetwork: the chat's transport in memory, in virtual time, for tests
// and simulation (ChatCore's unit tests, the whole peer on the membership
// simulator). Every envelope is a task of the receiver's scheduler after
// `latency`; answers and the end of a stream are tasks of the opener's.
// Faults: an address that is down (refuses new streams, loses what is sent
// to it), a muted address (receives, its answers are lost), dropped sends,
// and streams broken as a reset connection would break them.
#ifndef PEERLAB_PEER_CHAT_SIM_CHAT_NETWORK_H_
#define PEERLAB_PEER_CHAT_SIM_CHAT_NETWORK_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "peer/chat/chat_transport.h"
#include "peer/runtime/scheduler.h"

namespace peerlab::chat {

// Not thread-safe: every call, and every scheduler it is given, belongs to
// the one thread that runs the simulation's clock. The schedulers and
// receivers must outlive the tasks this network posts on them; transports
// and streams it made must not outlive it.
class SimChatNetwork {
 public:
  // The receiving end at an address: ChatCore::OnIncoming or
  // ChatHost::OnIncoming (or a test's recorder).
  using Receiver = std::function<void(const std::shared_ptr<ChatReply>&,
                                      ::peer::v1::ChatEnvelope)>;

  SimChatNetwork();
  ~SimChatNetwork();
  SimChatNetwork(const SimChatNetwork&) = delete;
  SimChatNetwork& operator=(const SimChatNetwork&) = delete;

  // The chat at `address` receives on `scheduler` (not owned) through
  // `receiver`. Attaching an address again replaces its receiver. Streams
  // opened to an address nobody attached are refused (UNAVAILABLE).
  void Attach(const std::string& address, runtime::Scheduler* scheduler,
              Receiver receiver);

  // A transport whose streams' callbacks run on `scheduler` (not owned):
  // the opener's. Owned by the caller.
  std::unique_ptr<ChatTransport> TransportFor(runtime::Scheduler* scheduler);

  // Faults.
  // A down address refuses new streams (they end UNAVAILABLE "connection
  // refused"), and whatever is in flight to it or sent later is lost.
  void SetDown(const std::string& address, bool down);
  // A muted address receives, but what it answers is lost (a frozen peer
  // whose acks never come).
  void SetMuted(const std::string& address, bool muted);
  // The next `count` envelopes sent to `address` are lost (the streams stay
  // open: the sender hears nothing).
  void DropNextSends(const std::string& address, int count);
  // Ends every open stream to `address` UNAVAILABLE "connection reset" (a
  // failed send: the opener sees its stream end).
  void BreakStreamsTo(const std::string& address);

  // Virtual time an envelope takes, each way.
  absl::Duration latency = absl::Milliseconds(1);

  // Counters.
  // Streams opened to `address` (refused ones included).
  int opens(const std::string& address) const;
  // The largest envelope sent on any stream, in bytes (ByteSizeLong).
  size_t largest_envelope() const { return largest_envelope_; }
  // Envelopes lost to faults (down, muted, dropped).
  uint64_t lost() const { return lost_; }

 private:
  struct Link;
  class Reply;
  class Stream;
  class Transport;
  struct Endpoint {
    runtime::Scheduler* scheduler;
    Receiver receiver;
  };

  // Ends the stream once: its opener hears `status`, last.
  void Break(const std::shared_ptr<Link>& link, absl::Status status);
  void ToReceiver(const std::shared_ptr<Link>& link,
                  ::peer::v1::ChatEnvelope envelope);
  void ToOpener(const std::shared_ptr<Link>& link,
                ::peer::v1::ChatEnvelope envelope);

  std::map<std::string, Endpoint> endpoints_;
  std::set<std::string> down_;
  std::set<std::string> muted_;
  std::map<std::string, int> drop_next_;
  std::map<std::string, int> opens_;
  std::vector<std::weak_ptr<Link>> links_;  // for BreakStreamsTo
  size_t largest_envelope_ = 0;
  uint64_t lost_ = 0;
  // Tasks already posted check this (a network destroyed before its
  // simulation's clock stops delivers nothing more).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_SIM_CHAT_NETWORK_H_
