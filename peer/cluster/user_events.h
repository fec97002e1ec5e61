// UserEvents: Serf's user events on the membership's user-data channel
// kUserEventChannel (delegate_mux.h). `event NAME [PAYLOAD] [--coalesce]`
// reaches every member once:
//   - each event carries a Lamport time (LamportClock: the sender's clock
//     moved past everything it has seen), so causally later events have
//     larger times;
//   - members remember the events of the last `buffer` Lamport times
//     (Serf's EventBuffer) and drop a repeat of one (same time, sender,
//     name and payload) and anything older than that window;
//   - news is re-gossiped (an epidemic), and the remembered events go in
//     every push/pull, so a member that missed a broadcast or joins late
//     gets them (replay, as Serf's push/pull does);
//   - delivery waits `order_delay` after an event arrives and hands events
//     over in Lamport order (time, then sender, name, payload: the same
//     order on every member); one that arrives after a later one was
//     delivered is still delivered (once beats order) and counted;
//   - coalescing events (Serf's coalesce): of the events of one name that
//     arrive within `coalesce_period` (or until `quiescent_period` passes
//     without one), only the newest is delivered;
//   - an event too large for one datagram (up to max_event_bytes, 64 KiB
//     by default; Serf's must fit 512 bytes) is gossiped as an
//     announcement (name, Lamport time, sender, size, SHA-256, and a
//     holder: the member that gossiped it, which has the body); each
//     member fetches the body on the reliable path (a direct message,
//     sealed and sender-proven like every request) from the holder, the
//     sender, then random members, takes only a body with the announced
//     digest and size, then gossips the announcement on as a holder. Push/
//     pull state carries such events as announcements too, so a late
//     joiner fetches them the same way. Needs Attach() (or SetDirect);
//     without it, events larger than a datagram are refused.
// Bounds: every table a remote member can grow has one (kMax* below,
// max_buffer_bytes); what passes one is dropped and counted (stats()).
//
// Not thread-safe: constructed, used and destroyed on the node's scheduler
// (its timers run there).
#ifndef PEERLAB_PEER_CLUSTER_USER_EVENTS_H_
#define PEERLAB_PEER_CLUSTER_USER_EVENTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/cluster/in_flight.h"
#include "peer/cluster/lamport_clock.h"
#include "peer/cluster/user_event.h"
#include "peer/membership/delegate_mux.h"
#include "peer/membership/member.h"
#include "peer/runtime/logger.h"
#include "peer/runtime/scheduler.h"
#include "proto/peer/v1/user_event.pb.h"

namespace peerlab::membership {
class Memberlist;
}

namespace peerlab::cluster {

inline constexpr size_t kMaxEventNameBytes = 128;
// The largest max_event_bytes one can set (a body travels as one direct
// message: Config::max_user_message_bytes, 1 MiB, must hold it).
inline constexpr size_t kMaxEventBytesLimit = 512 << 10;
// Events larger than this go in push/pull state as announcements.
inline constexpr size_t kStateInlineBytes = 1024;
// Body fetches under way at once; holders remembered per fetch; tries
// (each to another member) before a fetch is given up (the announcement
// comes again through gossip or push/pull).
inline constexpr size_t kMaxEventFetches = 64;
inline constexpr size_t kMaxFetchHolders = 4;
inline constexpr int kMaxFetchAttempts = 6;
// Bodies this member sends to askers at once (each up to max_event_bytes,
// held until delivered); a fetch past it is refused (ResourceExhausted,
// Stats::serves_refused) and the asker tries another member.
inline constexpr size_t kMaxBodiesServing = 16;
inline constexpr int kMaxEventBuffer = 4096;
// Events of one Lamport time remembered (Serf has no bound).
inline constexpr size_t kMaxEventsPerLtime = 64;
// Events waiting for their turn (order_delay) or their coalescing period.
inline constexpr size_t kMaxPendingEvents = 4096;
inline constexpr size_t kMaxCoalescedNames = 1024;
// Events in one push/pull state, sent or taken.
inline constexpr size_t kMaxStateEvents = 1024;

struct UserEventsOptions {
  std::string node;  // this member's name
  // Name and payload together, at most (Serf: UserEventSizeLimit, 512;
  // larger than a datagram travels on the reliable path, see above).
  size_t max_event_bytes = 64 << 10;
  // Payload bytes of remembered events kept (the oldest bodies are
  // dropped past it, their digests kept against repeats), and of events
  // waiting for delivery (delivered early past it).
  size_t max_buffer_bytes = 16 << 20;
  // How long a body fetch waits for the body before asking another member.
  absl::Duration fetch_timeout = absl::Seconds(3);
  // Lamport times remembered (Serf: EventBuffer, 64).
  int buffer = 64;
  // How long an event waits before delivery, so that events sent close
  // together arrive everywhere in Lamport order.
  absl::Duration order_delay = absl::Seconds(1);
  // Coalescing (Serf: UserCoalescePeriod and UserQuiescentPeriod).
  absl::Duration coalesce_period = absl::Seconds(3);
  absl::Duration quiescent_period = absl::Seconds(1);
  uint64_t window = kLamportWindow;  // LamportClock's
};

// InvalidArgument naming the field: a buffer of 1..kMaxEventBuffer,
// max_event_bytes of 1..kMaxEventBytesLimit, max_buffer_bytes at least
// max_event_bytes, positive periods.
absl::Status ValidateUserEventsOptions(const UserEventsOptions& options);

class UserEvents : public membership::Delegate {
 public:
  // `send` queues a broadcast on this component's channel
  // (DelegateMux::SenderFor(kUserEventChannel)); `max_payload` is the
  // largest payload it takes (Memberlist::MaxBroadcastBytes() -
  // kMuxHeaderBytes). `scheduler` (not owned) runs the delivery timers.
  // REQUIRES: ValidateUserEventsOptions(options).ok().
  UserEvents(UserEventsOptions options, runtime::Scheduler* scheduler,
             membership::BroadcastFn send, std::function<int()> max_payload);
  ~UserEvents() override;  // cancels its timers
  UserEvents(const UserEvents&) = delete;
  UserEvents& operator=(const UserEvents&) = delete;

  void set_log(runtime::ComponentLog log) { log_ = std::move(log); }

  // The reliable path for events larger than a datagram: `send` sends a
  // direct message on kUserEventChannel to member `to`
  // (Memberlist::SendUserMessage; `done` as its), `members` lists the live
  // members' names. Attach() sets both from a node (not owned; it must
  // outlive this, or Attach(nullptr) first). REQUIRES: on the scheduler's
  // thread, before events larger than a datagram are sent or received.
  struct Direct {
    std::function<void(const std::string& to, std::string payload,
                       std::function<void(absl::Status)> done)>
        send;
    std::function<std::vector<std::string>()> members;
  };
  void SetDirect(Direct direct) { direct_ = std::move(direct); }
  void Attach(membership::Memberlist* node);

  // Listeners (not owned; remove before destroying them).
  void AddListener(UserEventListener* listener);
  void RemoveListener(UserEventListener* listener);

  // Sends an event to every member (this one included) and returns its
  // Lamport time. InvalidArgument: an empty or too long name, name and
  // payload over max_event_bytes ("event NAME: N bytes (name and
  // payload), at most M (the event size limit)"), or, with no reliable
  // path (SetDirect/Attach), more than one datagram takes; never
  // truncated. ResourceExhausted: the clock is at its cap.
  absl::StatusOr<uint64_t> Send(const std::string& name,
                                const std::string& payload, bool coalesce);

  const LamportClock& clock() const { return clock_; }
  const UserEventsOptions& options() const { return options_; }

  struct Stats {
    uint64_t sent = 0;
    uint64_t received = 0;           // new events taken in (own included)
    uint64_t duplicates = 0;         // repeats dropped
    uint64_t too_old = 0;            // older than the buffer's window
    uint64_t refused = 0;            // malformed or past a bound
    uint64_t clock_refused = 0;      // Lamport time ignored or refused
    uint64_t delivered = 0;          // handed to the listeners
    uint64_t coalesced = 0;          // replaced by a newer one of their name
    uint64_t out_of_order = 0;       // delivered after a later one
    uint64_t pending_overflows = 0;  // delivered early: pending was full
    // Events larger than a datagram: fetch requests sent, bodies fetched
    // (taken), fetches given up after kMaxFetchAttempts, announcements
    // not fetched (kMaxEventFetches under way), bodies served to others
    // (and fetches refused: kMaxBodiesServing in flight),
    // bodies refused (not asked for, wrong digest or size), remembered
    // bodies dropped for max_buffer_bytes.
    uint64_t fetch_requests = 0;
    uint64_t bodies_fetched = 0;
    uint64_t fetches_failed = 0;
    uint64_t fetches_refused = 0;
    uint64_t bodies_served = 0;
    uint64_t serves_refused = 0;  // kMaxBodiesServing bodies in flight
    uint64_t bodies_refused = 0;
    uint64_t bodies_evicted = 0;
  };
  const Stats& stats() const { return stats_; }

  // Delegate.
  void OnUserMessage(const std::string& payload) override;
  std::string LocalState(bool join) override;
  void MergeRemoteState(const std::string& state, bool join) override;
  absl::Status OnDirectMessage(
      const membership::DirectMessage& message) override;

 private:
  // The total order of delivery.
  using Key = std::tuple<uint64_t, std::string, std::string, std::string>;
  static Key KeyOf(const ::peer::v1::UserEventMsg& m) {
    return {m.ltime(), m.from(), m.name(), m.payload()};
  }
  struct Pending {
    ::peer::v1::UserEventMsg msg;
    absl::Time arrived;
  };

  // Takes in an event from anywhere; true when it was new.
  bool Take(const ::peer::v1::UserEventMsg& m);
  // An announcement of an event larger than a datagram: fetches its body
  // unless it is known or being fetched (then `m.holder` is one more
  // place to fetch it from).
  void TakeAnnouncement(const ::peer::v1::UserEventMsg& m);
  // A reason to refuse announcement `m`, or nullptr.
  const char* InvalidAnnouncement(const ::peer::v1::UserEventMsg& m) const;
  // The remembered event that `m` (an announcement or a fetch) names.
  const ::peer::v1::UserEventMsg* FindSeen(uint64_t ltime,
                                           const std::string& from,
                                           const std::string& name,
                                           const std::string& digest) const;
  // `m` (remembered, with its digest) as an announcement with this node as
  // its holder when it has the body.
  ::peer::v1::UserEventMsg AnnouncementOf(
      const ::peer::v1::UserEventMsg& m) const;
  // Asks the next member for the body of fetch `key`, or gives it up.
  void TryFetch(const std::string& key);
  // Drops the oldest remembered bodies past max_buffer_bytes.
  void TrimBodies();
  // A reason to refuse `m` from the network, or nullptr.
  const char* Invalid(const ::peer::v1::UserEventMsg& m) const;
  void Prune();  // forgets Lamport times older than the window
  void ArmFlush();
  void Flush();  // delivers what is ripe, in order
  void Deliver(const ::peer::v1::UserEventMsg& m);
  void Coalesce(const ::peer::v1::UserEventMsg& m);
  void FlushCoalesced();
  void Emit(const ::peer::v1::UserEventMsg& m);
  void Count(uint64_t& counter, const std::string& what);

  UserEventsOptions options_;
  runtime::Scheduler* const scheduler_;
  membership::BroadcastFn send_;
  std::function<int()> max_payload_;
  LamportClock clock_;
  // Lamport time -> the events of that time (remembered, for duplicates
  // and push/pull).
  std::map<uint64_t, std::vector<::peer::v1::UserEventMsg>> seen_;
  std::map<Key, Pending> pending_;
  size_t seen_bytes_ = 0;     // payload bytes in seen_
  size_t pending_bytes_ = 0;  // payload bytes in pending_
  // Bodies sent to askers, not yet done.
  InFlightLimit serving_{kMaxBodiesServing};
  struct Fetch {
    ::peer::v1::UserEventMsg announcement;  // holder cleared
    std::vector<std::string> holders;       // to ask first, in order
    size_t next = 0;                        // the next holder to ask
    int attempts = 0;
    runtime::Scheduler::TimerId timer = 0;
  };
  // Body fetches under way, by FetchKey (at most kMaxEventFetches).
  std::map<std::string, Fetch> fetches_;
  Direct direct_;
  bool delivered_any_ = false;
  Key last_delivered_;
  runtime::Scheduler::TimerId flush_timer_ = 0;
  absl::Time flush_at_ = absl::InfiniteFuture();
  // Coalescing: name -> newest event; the window's start and last arrival.
  std::map<std::string, ::peer::v1::UserEventMsg> coalesce_;
  size_t coalesce_bytes_ = 0;  // payload bytes in coalesce_
  absl::Time coalesce_start_, coalesce_last_;
  runtime::Scheduler::TimerId coalesce_timer_ = 0;
  std::vector<UserEventListener*> listeners_;
  Stats stats_;
  runtime::ComponentLog log_{nullptr, "cluster"};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerlab::cluster

#endif  // PEERLAB_PEER_CLUSTER_USER_EVENTS_H_
