// The typed subscription to user events (Serf's UserEvent): what the
// cluster layer delivers, once per event and member, in Lamport order
// (user_events.h makes them). Handler programs (the metrics lane) and the
// agent's Stream RPC subscribe through UserEventListener.
#ifndef PEERLAB_PEER_CLUSTER_USER_EVENT_H_
#define PEERLAB_PEER_CLUSTER_USER_EVENT_H_

#include <cstdint>
#include <string>

namespace peerlab::cluster {

struct UserEvent {
  std::string name;       // 1..kMaxEventNameBytes bytes (user_events.h)
  std::string payload;    // opaque; may be empty
  uint64_t ltime = 0;     // the event's Lamport time
  std::string from;       // the member that sent it
  bool coalesce = false;  // sent with --coalesce
};

// Callbacks run on the node's scheduler (the membership loop in the peer):
// they must not block; copy the event to hand it to another thread.
class UserEventListener {
 public:
  virtual ~UserEventListener() = default;
  virtual void OnUserEvent(const UserEvent& event) = 0;
};

}  // namespace peerlab::cluster

#endif  // PEERLAB_PEER_CLUSTER_USER_EVENT_H_
