// DelegateMux: several user-data components on one Memberlist, each on a
// channel. A Memberlist has one Delegate; the mux is that Delegate and
// hands each broadcast and each slice of push/pull state to the component
// registered on its channel (the key/value store on kKvChannel, the
// cluster layer's user events and queries on theirs: peer/cluster/).
//
// Wire form (protocol version 4 on, protocol_version.h):
//   broadcast payload: one channel byte, then the component's payload;
//   push/pull user state: for each channel with state, one channel byte,
//   the length as a varint, then the component's state.
// Broadcast keys are made per channel ("<channel>:<key>"), so components
// never replace each other's queued broadcasts.
//
// Bounds: a payload for a channel nobody registered, an empty payload, a
// malformed state or a state slice of an unknown channel is dropped and
// counted (stats()); every slice is at most kMaxMuxStateSliceBytes and a
// state at most kMaxMuxStates slices (the whole state is bounded by the
// reliable path's message limit as before).
//
// Direct messages (Memberlist::SendUserMessage, the reliable path) carry
// their channel in DirectMessage::channel and go to that channel's
// component; one for a channel nobody registered (or above 255) is refused
// (NotFound, to the sender) and counted. A new kind of user traffic is one
// more method routed the same way (Route() below); components keep
// implementing Delegate.
#ifndef PEERLAB_PEER_MEMBERSHIP_DELEGATE_MUX_H_
#define PEERLAB_PEER_MEMBERSHIP_DELEGATE_MUX_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/membership/member.h"
#include "peer/runtime/logger.h"

namespace peerlab::membership {

// The channels this project uses (a component of its own picks another).
inline constexpr uint8_t kKvChannel = 0;         // KvStore
inline constexpr uint8_t kUserEventChannel = 1;  // cluster::UserEvents
inline constexpr uint8_t kQueryChannel = 2;      // cluster queries
// Bytes the mux adds to a broadcast payload: a component's payload is at
// most Memberlist::MaxBroadcastBytes() - kMuxHeaderBytes.
inline constexpr int kMuxHeaderBytes = 1;
// Bounds on a push/pull state (see the file comment).
inline constexpr size_t kMaxMuxStateSliceBytes = size_t{16} << 20;
inline constexpr size_t kMaxMuxStates = 256;

// Queues one user broadcast (Memberlist::Broadcast): `key` non-empty
// replaces a queued broadcast with the same key.
using BroadcastFn =
    std::function<void(std::string payload, const std::string& key)>;

// Not thread-safe: used from the node's scheduler tasks (as every
// Delegate). Registered components are not owned and must outlive the mux
// or be unregistered first.
class DelegateMux : public Delegate {
 public:
  // `broadcast` sends a mux payload (channel byte included): in the node,
  // Memberlist::Broadcast.
  explicit DelegateMux(BroadcastFn broadcast)
      : broadcast_(std::move(broadcast)) {}

  // Where drops are logged (one line per 1000 of a kind; default:
  // runtime::DefaultLogger()); MakeNodeParts and the simulator give the
  // node's.
  void set_log(runtime::ComponentLog log) { log_ = std::move(log); }

  // Puts `component` on `channel`. AlreadyExists when the channel is
  // taken; InvalidArgument for a null component.
  absl::Status Register(uint8_t channel, Delegate* component);
  // Takes the component off `channel` (nothing when none).
  void Unregister(uint8_t channel);
  bool registered(uint8_t channel) const {
    return channels_[channel] != nullptr;
  }

  // The function the component on `channel` sends with: prefixes the
  // channel byte and the key's channel. Valid while the mux lives.
  BroadcastFn SenderFor(uint8_t channel);

  // Wire helpers (pure), exposed for tests and for other paths that carry
  // channel traffic. Encode: the channel byte, then `body`.
  static std::string EncodePayload(uint8_t channel, absl::string_view body);
  // The channel and the body of a payload; InvalidArgument when empty.
  static absl::StatusOr<std::pair<uint8_t, absl::string_view>> DecodePayload(
      absl::string_view payload);
  // A push/pull state from per-channel slices (empty slices left out).
  static std::string EncodeState(const std::map<uint8_t, std::string>& slices);
  // The slices of a state; InvalidArgument (naming the offset) when
  // malformed, past a bound or when a channel repeats.
  static absl::StatusOr<std::map<uint8_t, std::string>> DecodeState(
      absl::string_view state);

  // Delegate.
  void OnUserMessage(const std::string& payload) override;
  std::string LocalState(bool join) override;
  void MergeRemoteState(const std::string& state, bool join) override;
  absl::Status OnDirectMessage(const DirectMessage& message) override;

  struct Stats {
    // Broadcasts handed to a component, for no registered channel,
    // without even a channel byte.
    uint64_t delivered = 0;
    uint64_t unknown_channel = 0;
    uint64_t empty_payloads = 0;
    // Push/pull states that did not decode; their slices of no registered
    // channel; own slices left out (past kMaxMuxStateSliceBytes).
    uint64_t bad_states = 0;
    uint64_t unknown_state_slices = 0;
    uint64_t local_slices_dropped = 0;
    // Direct messages handed to a component, refused (no component).
    uint64_t direct_delivered = 0;
    uint64_t direct_unknown_channel = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  // The component of `channel`, or nullptr (counted as unknown).
  Delegate* Route(uint8_t channel) const { return channels_[channel]; }

  // Logs `what` on its 1st, 1001st, ... occurrence (`count` after ++).
  void LogDrop(uint64_t count, const std::string& what) const;

  BroadcastFn broadcast_;
  std::array<Delegate*, 256> channels_{};
  Stats stats_;
  runtime::ComponentLog log_{nullptr, "membership"};
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_DELEGATE_MUX_H_
