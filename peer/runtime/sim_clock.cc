#include "peer/runtime/sim_clock.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace peerlab::runtime {

SimClock::SimClock(absl::Time start) : start_(start) {}

int64_t SimClock::ToNs(absl::Time t) const {
  if (t <= Now()) return now_ns_;
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  const absl::Duration d = t - start_;
  // absl::ToInt64Nanoseconds saturates, which is what an "infinitely late"
  // event wants.
  return absl::ToInt64Nanoseconds(d);
}

std::optional<absl::Time> SimClock::NextEventTime() const {
  if (heap_.empty()) return std::nullopt;
  return start_ + absl::Nanoseconds(heap_.front().time_ns);
}

uint32_t SimClock::AllocateSlot() {
  if (!free_slots_.empty()) {
    const uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<uint32_t>(slots_.size() - 1);
}

void SimClock::FreeSlot(uint32_t slot) {
  Slot& s = slots_[slot];
  s.task = nullptr;
  s.payload.clear();
  s.payload.shrink_to_fit();
  s.sink = nullptr;
  s.kind = Kind::kFree;
  s.in_heap = false;
  if (++s.generation == 0) s.generation = 1;  // ids are never 0
  free_slots_.push_back(slot);
}

void SimClock::Push(int64_t time_ns, uint32_t slot) {
  slots_[slot].in_heap = true;
  heap_.push_back(HeapEntry{time_ns, next_seq_++, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later());
}

SimClock::EventId SimClock::Schedule(absl::Time at, Task task, uint32_t owner,
                                     uint32_t epoch) {
  const uint32_t slot = AllocateSlot();
  Slot& s = slots_[slot];
  s.task = std::move(task);
  s.owner = owner;
  s.epoch = epoch;
  s.kind = Kind::kTask;
  Push(ToNs(at), slot);
  return MakeId(slot);
}

SimClock::EventId SimClock::ScheduleMessage(absl::Time at, MessageSink* sink,
                                            uint64_t tag, std::string payload,
                                            uint32_t owner, uint32_t epoch) {
  const uint32_t slot = AllocateSlot();
  Slot& s = slots_[slot];
  s.payload = std::move(payload);
  s.sink = sink;
  s.tag = tag;
  s.owner = owner;
  s.epoch = epoch;
  s.kind = Kind::kMessage;
  Push(ToNs(at), slot);
  return MakeId(slot);
}

int64_t SimClock::LiveSlot(EventId id) const {
  const uint64_t slot = id & 0xffffffffu;
  const uint32_t generation = static_cast<uint32_t>(id >> 32);
  if (slot >= slots_.size()) return -1;
  const Slot& s = slots_[slot];
  if (s.generation != generation) return -1;
  if (s.kind != Kind::kTask && s.kind != Kind::kMessage) return -1;
  return static_cast<int64_t>(slot);
}

bool SimClock::Cancel(EventId id) {
  const int64_t slot = LiveSlot(id);
  if (slot < 0) return false;
  Slot& s = slots_[slot];
  if (!s.in_heap) {
    // Deferred: nothing on the heap refers to it.
    FreeSlot(static_cast<uint32_t>(slot));
    return true;
  }
  // The heap entry stays until it comes due; the slot is freed then.
  s.task = nullptr;
  s.payload.clear();
  s.kind = Kind::kCancelled;
  return true;
}

bool SimClock::CancelOwned(EventId id, uint32_t owner) {
  const int64_t slot = LiveSlot(id);
  if (slot < 0 || slots_[slot].owner != owner) return false;
  return Cancel(id);
}

void SimClock::Resume(EventId id, absl::Time at) {
  const int64_t slot = LiveSlot(id);
  if (slot < 0 || slots_[slot].in_heap) return;
  Push(ToNs(at), static_cast<uint32_t>(slot));
}

bool SimClock::PopAndRun() {
  std::pop_heap(heap_.begin(), heap_.end(), Later());
  const HeapEntry entry = heap_.back();
  heap_.pop_back();
  now_ns_ = std::max(now_ns_, entry.time_ns);
  Slot& s = slots_[entry.slot];
  s.in_heap = false;
  if (s.kind == Kind::kCancelled) {
    FreeSlot(entry.slot);
    return false;
  }
  if (s.owner != kNoOwner && gate_ != nullptr) {
    switch (gate_->Admit(s.owner, s.epoch)) {
      case Gate::Verdict::kRun:
        break;
      case Gate::Verdict::kDrop:
        FreeSlot(entry.slot);
        return false;
      case Gate::Verdict::kDefer:
        gate_->Defer(s.owner, MakeId(entry.slot));
        return false;
    }
  }
  // Move the work out and free the slot first: running it may schedule
  // events, which may grow (and move) the slot array.
  ++events_processed_;
  if (s.kind == Kind::kTask) {
    Task task = std::move(s.task);
    FreeSlot(entry.slot);
    task();
  } else {
    MessageSink* sink = s.sink;
    const uint64_t tag = s.tag;
    std::string payload = std::move(s.payload);
    FreeSlot(entry.slot);
    sink->DeliverMessage(tag, std::move(payload));
  }
  return true;
}

bool SimClock::Step() {
  while (!heap_.empty()) {
    if (PopAndRun()) return true;
  }
  return false;
}

void SimClock::RunUntil(absl::Time t) {
  const int64_t limit = ToNs(t);
  while (!heap_.empty() && heap_.front().time_ns <= limit) PopAndRun();
  // "Forever" runs the heap dry but leaves the clock at the last event.
  if (t != absl::InfiniteFuture()) now_ns_ = std::max(now_ns_, limit);
}

bool SimClock::RunUntilCondition(absl::FunctionRef<bool()> pred,
                                 absl::Time deadline,
                                 absl::Duration check_every) {
  if (pred()) return true;
  const int64_t limit = ToNs(deadline);
  if (check_every <= absl::ZeroDuration()) {
    while (!heap_.empty() && heap_.front().time_ns <= limit) {
      if (PopAndRun() && pred()) return true;
    }
    if (deadline != absl::InfiniteFuture()) now_ns_ = std::max(now_ns_, limit);
    return pred();
  }
  const int64_t step =
      std::max<int64_t>(1, absl::ToInt64Nanoseconds(check_every));
  while (now_ns_ < limit) {
    if (heap_.empty()) {
      // Nothing left that could change the outcome: jump to the deadline.
      if (deadline != absl::InfiniteFuture()) now_ns_ = limit;
      return pred();
    }
    const int64_t next = now_ns_ > limit - step ? limit : now_ns_ + step;
    RunUntil(start_ + absl::Nanoseconds(next));
    if (pred()) return true;
  }
  return false;
}

}  // namespace peerlab::runtime
