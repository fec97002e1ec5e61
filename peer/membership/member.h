// Member: what the membership knows about one node, and the interfaces
// through which a node tells its user about members (EventListener) and
// carries user data (Delegate). A public header (installed as
// <peerlab/membership/member.h>, included by node.h): abseil and the
// standard library only. The wire forms are in wire.h.
#ifndef PEERLAB_PEER_MEMBERSHIP_MEMBER_H_
#define PEERLAB_PEER_MEMBERSHIP_MEMBER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace peerlab::membership {

enum class MemberState : uint8_t { kAlive, kSuspect, kDead, kLeft };

// "alive", "suspect", "dead", "left".
const char* StateName(MemberState state);

struct Member {
  std::string name;
  std::string addr;  // "host:port": datagrams (UDP) and the reliable path
  std::string id;    // random id of the member process's incarnation
  std::string meta;  // opaque, at most 512 bytes
  uint64_t incarnation = 0;
  // Restart generation of the name (see Config::generation): a member is
  // name + generation.
  uint64_t generation = 0;
  MemberState state = MemberState::kAlive;
  absl::Time state_change;  // when the state last changed, local time
};

// Callbacks about other members (memberlist EventDelegate, plus suspect and
// alive-again). They run as tasks of the node's scheduler and must not
// block; they may call the Memberlist.
class EventListener {
 public:
  virtual ~EventListener() = default;
  virtual void OnJoin(const Member&) {}
  // `member.state` says whether it left (kLeft) or failed (kDead).
  virtual void OnLeave(const Member&) {}
  virtual void OnUpdate(const Member&) {}  // metadata changed
  virtual void OnSuspect(const Member&) {}
  virtual void OnAlive(const Member&) {}  // a suspect refuted
};

// A user message one member sent to another on the reliable path
// (Memberlist::SendUserMessage).
struct DirectMessage {
  // The sender. With gossip encryption, always proven: the request's sender
  // tag (sealing.h) verified under the key this node shares with the key
  // pinned to that name, so it is never a name the sender merely claimed.
  // In the open mode (Config::insecure_gossip) nothing is authenticated:
  // `proven` is false and `from` is what the request said.
  std::string from;
  uint64_t from_generation = 0;
  bool proven = false;
  uint32_t channel = 0;  // which user-data component it is for
  std::string payload;
};

// User data carried by the protocol (memberlist Delegate). Runs as tasks of
// the node's scheduler.
class Delegate {
 public:
  virtual ~Delegate() = default;
  // A user broadcast arrived (sent with Memberlist::Broadcast elsewhere).
  virtual void OnUserMessage(const std::string& payload) = 0;
  // This node's user state for a push/pull exchange.
  virtual std::string LocalState(bool join) = 0;
  // Merge another node's user state.
  virtual void MergeRemoteState(const std::string& state, bool join) = 0;
  // A direct message (Memberlist::SendUserMessage elsewhere). What it
  // returns goes back to the sender as its call's status. Default: refused
  // (Unimplemented), for delegates that take none.
  virtual absl::Status OnDirectMessage(const DirectMessage& message) {
    return absl::UnimplementedError(
        "this member takes no direct messages on channel " +
        std::to_string(message.channel));
  }
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_MEMBER_H_
