// SimClock: the simulator's one virtual clock and its event heap.
//
// Every simulated node, link and timer schedules events on one SimClock; the
// clock runs them one at a time, in (time, sequence number) order, in the
// calling thread. Events at the same instant run in the order they were
// scheduled (FIFO), so a run is a pure function of what was scheduled: with
// the same seed, the same trace. Time only moves when the clock is run, and
// jumps straight from one event to the next.
//
// Two kinds of events:
//   - tasks: a std::function<void()>, moved in and out, never copied;
//   - messages: a payload string handed to a MessageSink with a 64-bit tag.
//     A datagram in flight is one of these, so sending a packet costs no
//     allocation beyond the payload the sender already built.
// Events live in a slot array that is reused; the binary heap holds only
// 24-byte (time, sequence, slot) entries, so heap operations move no closures.
//
// Owners. An event may name an owner (a node index) and the owner's epoch.
// Before running an owned event the clock asks its Gate (if one is set)
// whether to run it, drop it (the owner crashed, or the event belongs to an
// earlier incarnation) or defer it (the owner is frozen); a deferred event
// keeps its slot and is put back on the heap by Resume(). SimNetwork is the
// gate for its nodes; a SimClock used alone needs none.
//
// Thread safety: none. A SimClock and everything scheduled on it belong to one
// thread.
#ifndef PEERLAB_PEER_RUNTIME_SIM_CLOCK_H_
#define PEERLAB_PEER_RUNTIME_SIM_CLOCK_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace peerlab::runtime {

class SimClock {
 public:
  using Task = std::function<void()>;
  // Identifies a scheduled event for Cancel()/Resume(). Never 0.
  using EventId = uint64_t;

  // Owner value of events that belong to no node.
  static constexpr uint32_t kNoOwner = ~uint32_t{0};
  // Epoch value that matches every epoch of the owner (see Gate).
  static constexpr uint32_t kAnyEpoch = ~uint32_t{0};

  // Receives message events (see ScheduleMessage).
  class MessageSink {
   public:
    virtual ~MessageSink() = default;
    virtual void DeliverMessage(uint64_t tag, std::string payload) = 0;
  };

  // Decides the fate of owned events when they come due.
  class Gate {
   public:
    enum class Verdict { kRun, kDrop, kDefer };
    virtual ~Gate() = default;
    // Called when an event of `owner`, scheduled with `epoch`, is due.
    virtual Verdict Admit(uint32_t owner, uint32_t epoch) = 0;
    // Called after Admit() returned kDefer: the event is parked, and the gate
    // must eventually Resume() or Cancel() it (or the clock keeps its slot
    // until destroyed).
    virtual void Defer(uint32_t owner, EventId id) = 0;
  };

  // Starts the virtual time at `start`.
  explicit SimClock(absl::Time start = absl::UnixEpoch());
  SimClock(const SimClock&) = delete;
  SimClock& operator=(const SimClock&) = delete;

  // The virtual time: the time of the event running now, or the time the
  // last Run*() call stopped at.
  absl::Time Now() const { return start_ + absl::Nanoseconds(now_ns_); }

  // Events run so far (tasks and messages; cancelled, dropped and deferred
  // events are not counted).
  uint64_t events_processed() const { return events_processed_; }
  // Events waiting in the heap (cancelled ones included until they come due).
  size_t pending_events() const { return heap_.size(); }
  // The time of the earliest event in the heap, if any.
  std::optional<absl::Time> NextEventTime() const;

  // Schedules `task` at `at` (at Now() if `at` is in the past). Owned events
  // (owner != kNoOwner) go through the gate.
  EventId Schedule(absl::Time at, Task task, uint32_t owner = kNoOwner,
                   uint32_t epoch = 0);

  // Schedules `sink->DeliverMessage(tag, payload)` at `at`. `sink` is not
  // owned and must outlive the event.
  EventId ScheduleMessage(absl::Time at, MessageSink* sink, uint64_t tag,
                          std::string payload, uint32_t owner = kNoOwner,
                          uint32_t epoch = 0);

  // Cancels an event that has not run (a deferred one included). Returns
  // false if it already ran, was cancelled or dropped, or the id is unknown.
  bool Cancel(EventId id);
  // As Cancel(), but only if the event belongs to `owner`.
  bool CancelOwned(EventId id, uint32_t owner);

  // Puts a deferred event (see Gate::Defer) back on the heap at `at`, behind
  // every event already scheduled for that instant. No-op if `id` is not a
  // deferred event (it was cancelled, or resumed already).
  void Resume(EventId id, absl::Time at);

  // Sets the gate (not owned; nullptr: every event runs).
  void SetGate(Gate* gate) { gate_ = gate; }

  // Runs the next live event, advancing Now() to its time. Returns false if
  // there is none.
  bool Step();

  // Runs every event due at or before `t`, then sets Now() to `t` (if later;
  // RunUntil(absl::InfiniteFuture()) runs until no event is left and leaves
  // Now() at the last one).
  void RunUntil(absl::Time t);
  // RunUntil(Now() + d).
  void RunFor(absl::Duration d) { RunUntil(Now() + d); }

  // Runs events until `pred()` holds or `deadline` passes; returns whether
  // `pred()` holds. With a zero `check_every`, `pred` is checked before the
  // first event and after every event, so Now() is then the time of the event
  // that made it true. Otherwise it is checked every `check_every` of virtual
  // time (cheaper for expensive predicates; Now() is then a step boundary).
  // When it returns false, Now() == deadline (for a finite deadline; with
  // absl::InfiniteFuture() it returns once no event is left).
  bool RunUntilCondition(absl::FunctionRef<bool()> pred, absl::Time deadline,
                         absl::Duration check_every = absl::ZeroDuration());

 private:
  enum class Kind : uint8_t { kFree, kTask, kMessage, kCancelled };

  struct Slot {
    Task task;
    std::string payload;
    MessageSink* sink = nullptr;
    uint64_t tag = 0;
    uint32_t owner = kNoOwner;
    uint32_t epoch = 0;
    uint32_t generation = 1;
    Kind kind = Kind::kFree;
    bool in_heap = false;  // false while free or deferred
  };

  struct HeapEntry {
    int64_t time_ns;
    uint64_t seq;
    uint32_t slot;
  };
  // Orders the heap as a min-heap on (time_ns, seq).
  struct Later {
    bool operator()(const HeapEntry& a, const HeapEntry& b) const {
      return a.time_ns != b.time_ns ? a.time_ns > b.time_ns : a.seq > b.seq;
    }
  };

  int64_t ToNs(absl::Time t) const;
  uint32_t AllocateSlot();
  void FreeSlot(uint32_t slot);
  void Push(int64_t time_ns, uint32_t slot);
  EventId MakeId(uint32_t slot) const {
    return (uint64_t{slots_[slot].generation} << 32) | slot;
  }
  // Returns the slot of a live (scheduled, not yet run) event, or -1.
  int64_t LiveSlot(EventId id) const;
  // Pops the top entry and runs it unless cancelled, dropped or deferred.
  // Returns whether an event ran.
  bool PopAndRun();

  const absl::Time start_;
  int64_t now_ns_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t events_processed_ = 0;
  Gate* gate_ = nullptr;
  std::vector<HeapEntry> heap_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
};

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_SIM_CLOCK_H_
