#include "peer/cluster/user_events.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace peerlab::cluster {

absl::Status ValidateUserEventsOptions(const UserEventsOptions& o) {
  if (o.buffer < 1 || o.buffer > kMaxEventBuffer) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event buffer: ", o.buffer, ", must be in 1..", kMaxEventBuffer));
  }
  if (o.max_event_bytes < 1 || o.max_event_bytes > kMaxEventBytesLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("max event bytes: ", o.max_event_bytes, ", must be in 1..",
                     kMaxEventBytesLimit));
  }
  if (o.order_delay < absl::ZeroDuration() ||
      o.coalesce_period <= absl::ZeroDuration() ||
      o.quiescent_period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "event order delay, coalesce and quiescent periods: must be "
        "positive");
  }
  return absl::OkStatus();
}

UserEvents::UserEvents(UserEventsOptions options, runtime::Scheduler* scheduler,
                       membership::BroadcastFn send,
                       std::function<int()> max_payload)
    : options_(std::move(options)),
      scheduler_(scheduler),
      send_(std::move(send)),
      max_payload_(std::move(max_payload)),
      clock_(options_.window) {}

UserEvents::~UserEvents() {
  if (flush_timer_) scheduler_->Cancel(flush_timer_);
  if (coalesce_timer_) scheduler_->Cancel(coalesce_timer_);
}

void UserEvents::AddListener(UserEventListener* listener) {
  listeners_.push_back(listener);
}

void UserEvents::RemoveListener(UserEventListener* listener) {
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener),
                   listeners_.end());
}

void UserEvents::Count(uint64_t& counter, const std::string& what) {
  if (++counter % 1000 == 1) {
    log_.Warn(options_.node, ": ", what, " (", counter, " so far)");
  }
}

absl::StatusOr<uint64_t> UserEvents::Send(const std::string& name,
                                          const std::string& payload,
                                          bool coalesce) {
  if (name.empty()) return absl::InvalidArgumentError("event: empty name");
  if (name.size() > kMaxEventNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event name: ", name.size(), " bytes, at most ", kMaxEventNameBytes));
  }
  const size_t size = name.size() + payload.size();
  if (size > options_.max_event_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event ", name, ": ", size, " bytes (name and payload), at most ",
        options_.max_event_bytes, " (the event size limit)"));
  }
  ::peer::v1::UserEventMsg m;
  m.set_name(name);
  m.set_payload(payload);
  m.set_from(options_.node);
  m.set_coalesce(coalesce);
  m.set_ltime(clock_.Time() + 1);  // what Increment gives, to measure
  const int max = max_payload_ ? max_payload_() : 0;
  const size_t encoded = m.ByteSizeLong();
  if (max > 0 && encoded > static_cast<size_t>(max)) {
    return absl::InvalidArgumentError(
        absl::StrCat("event ", name, ": ", encoded,
                     " bytes on the wire, at most ", max, " (one datagram)"));
  }
  auto t = clock_.Increment();
  if (!t.ok()) return t.status();
  m.set_ltime(*t);
  ++stats_.sent;
  Take(m);
  send_(m.SerializeAsString(), "");
  return *t;
}

const char* UserEvents::Invalid(const ::peer::v1::UserEventMsg& m) const {
  if (m.name().empty()) return "no name";
  if (m.name().size() > kMaxEventNameBytes) return "name too long";
  if (m.name().size() + m.payload().size() > options_.max_event_bytes) {
    return "larger than the event size limit";
  }
  if (m.from().empty() || m.from().size() > membership::kMaxNameBytes) {
    return "bad sender";
  }
  return nullptr;
}

void UserEvents::Prune() {
  const uint64_t now = clock_.Time();
  const uint64_t b = static_cast<uint64_t>(options_.buffer);
  if (now < b) return;
  seen_.erase(seen_.begin(), seen_.lower_bound(now - b + 1));
}

bool UserEvents::Take(const ::peer::v1::UserEventMsg& m) {
  if (const char* why = Invalid(m)) {
    Count(stats_.refused,
          absl::StrCat("refused a user event from ",
                       absl::CHexEscape(m.from().substr(0, 64)), ": ", why));
    return false;
  }
  switch (clock_.Observe(m.ltime())) {
    case LamportClock::Witness::kIgnored:
    case LamportClock::Witness::kRefused:
      Count(stats_.clock_refused,
            absl::StrCat("ignored a user event from ",
                         absl::CHexEscape(m.from().substr(0, 64)),
                         ": Lamport time ", m.ltime(),
                         " is out of reach of this node's clock ",
                         clock_.Time()));
      return false;
    default:
      break;
  }
  // Serf: older than the buffer's window, it cannot be told from a repeat.
  const uint64_t b = static_cast<uint64_t>(options_.buffer);
  if (clock_.Time() >= b && m.ltime() <= clock_.Time() - b) {
    ++stats_.too_old;
    return false;
  }
  Prune();
  std::vector<::peer::v1::UserEventMsg>& at = seen_[m.ltime()];
  for (const auto& e : at) {
    if (e.from() == m.from() && e.name() == m.name() &&
        e.payload() == m.payload()) {
      ++stats_.duplicates;
      return false;
    }
  }
  if (at.size() >= kMaxEventsPerLtime) {
    Count(stats_.refused,
          absl::StrCat("refused a user event: ", kMaxEventsPerLtime,
                       " already at Lamport time ", m.ltime()));
    return false;
  }
  at.push_back(m);
  ++stats_.received;
  if (pending_.size() >= kMaxPendingEvents) {
    // Deliver the oldest now rather than hold more.
    Count(stats_.pending_overflows,
          absl::StrCat(kMaxPendingEvents,
                       " user events wait for delivery: delivering early"));
    auto first = pending_.begin();
    Deliver(first->second.msg);
    pending_.erase(first);
  }
  pending_[KeyOf(m)] = Pending{m, scheduler_->Now()};
  ArmFlush();
  return true;
}

void UserEvents::ArmFlush() {
  if (pending_.empty()) return;
  // The front (in Lamport order) is delivered first, once it waited
  // order_delay; what follows it goes with it if it waited as long.
  const absl::Time due =
      pending_.begin()->second.arrived + options_.order_delay;
  if (flush_timer_ && flush_at_ <= due) return;  // it fires first, re-arms
  if (flush_timer_) scheduler_->Cancel(flush_timer_);
  flush_at_ = due;
  flush_timer_ = scheduler_->After(
      std::max(absl::ZeroDuration(), due - scheduler_->Now()), [this] {
        flush_timer_ = 0;
        flush_at_ = absl::InfiniteFuture();
        Flush();
      });
}

void UserEvents::Flush() {
  const absl::Time now = scheduler_->Now();
  while (!pending_.empty()) {
    auto first = pending_.begin();
    if (first->second.arrived + options_.order_delay > now) break;
    ::peer::v1::UserEventMsg m = std::move(first->second.msg);
    pending_.erase(first);
    Deliver(m);
  }
  ArmFlush();
}

void UserEvents::Deliver(const ::peer::v1::UserEventMsg& m) {
  const Key key = KeyOf(m);
  if (delivered_any_ && key < last_delivered_) {
    ++stats_.out_of_order;
  } else {
    last_delivered_ = key;
    delivered_any_ = true;
  }
  if (m.coalesce()) {
    Coalesce(m);
  } else {
    Emit(m);
  }
}

void UserEvents::Coalesce(const ::peer::v1::UserEventMsg& m) {
  const absl::Time now = scheduler_->Now();
  if (coalesce_.empty()) coalesce_start_ = now;
  coalesce_last_ = now;
  auto it = coalesce_.find(m.name());
  if (it == coalesce_.end()) {
    if (coalesce_.size() >= kMaxCoalescedNames) FlushCoalesced();
    if (coalesce_.empty()) coalesce_start_ = now;
    coalesce_.emplace(m.name(), m);
  } else {
    ++stats_.coalesced;
    if (KeyOf(it->second) < KeyOf(m)) it->second = m;
  }
  const absl::Time due = std::min(coalesce_start_ + options_.coalesce_period,
                                  coalesce_last_ + options_.quiescent_period);
  if (coalesce_timer_) scheduler_->Cancel(coalesce_timer_);
  coalesce_timer_ =
      scheduler_->After(std::max(absl::ZeroDuration(), due - now), [this] {
        coalesce_timer_ = 0;
        FlushCoalesced();
      });
}

void UserEvents::FlushCoalesced() {
  std::vector<::peer::v1::UserEventMsg> out;
  out.reserve(coalesce_.size());
  for (auto& [name, m] : coalesce_) out.push_back(std::move(m));
  coalesce_.clear();
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return KeyOf(a) < KeyOf(b); });
  for (const auto& m : out) Emit(m);
}

void UserEvents::Emit(const ::peer::v1::UserEventMsg& m) {
  ++stats_.delivered;
  UserEvent e;
  e.name = m.name();
  e.payload = m.payload();
  e.ltime = m.ltime();
  e.from = m.from();
  e.coalesce = m.coalesce();
  // A listener may remove itself: iterate over a copy.
  const std::vector<UserEventListener*> listeners = listeners_;
  for (UserEventListener* l : listeners) l->OnUserEvent(e);
}

void UserEvents::OnUserMessage(const std::string& payload) {
  ::peer::v1::UserEventMsg m;
  if (!m.ParseFromString(payload)) {
    Count(stats_.refused, "dropped a user event that did not parse");
    return;
  }
  // Epidemic: news is gossiped on, so it reaches everyone even when the
  // first sender's retransmissions were lost.
  if (Take(m)) send_(payload, "");
}

std::string UserEvents::LocalState(bool) {
  Prune();
  ::peer::v1::UserEventState state;
  state.set_ltime(clock_.Time());
  // The newest kMaxStateEvents.
  size_t total = 0;
  for (auto it = seen_.rbegin(); it != seen_.rend(); ++it) {
    total += it->second.size();
    if (total > kMaxStateEvents) break;
    for (const auto& e : it->second) *state.add_events() = e;
  }
  return state.SerializeAsString();
}

void UserEvents::MergeRemoteState(const std::string& data, bool) {
  ::peer::v1::UserEventState state;
  if (!state.ParseFromString(data)) {
    Count(stats_.refused, "dropped a user-event state that did not parse");
    return;
  }
  if (static_cast<size_t>(state.events_size()) > kMaxStateEvents) {
    Count(stats_.refused,
          absl::StrCat("dropped a user-event state of ", state.events_size(),
                       " events (at most ", kMaxStateEvents, ")"));
    return;
  }
  // Serf: witness the sender's clock first, then take its events (those
  // still within this node's window are new or repeats).
  if (!clock_.Acceptable(state.ltime())) {
    Count(
        stats_.clock_refused,
        absl::StrCat("ignored a user-event state: Lamport time ", state.ltime(),
                     " is out of reach of this node's clock ", clock_.Time()));
    return;
  }
  clock_.Observe(state.ltime());
  // Oldest first, so pending keeps its order cheaply.
  std::vector<const ::peer::v1::UserEventMsg*> events;
  for (const auto& e : state.events()) events.push_back(&e);
  std::sort(events.begin(), events.end(), [](const auto* a, const auto* b) {
    return a->ltime() < b->ltime();
  });
  for (const auto* e : events) Take(*e);
}

}  // namespace peerlab::cluster
