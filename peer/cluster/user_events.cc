#include "peer/cluster/user_events.h"

#include <openssl/sha.h>

#include <algorithm>
#include <functional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "peer/membership/memberlist.h"

namespace peerlab::cluster {
namespace {

constexpr size_t kDigestBytes = 32;

std::string Sha256(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// An announcement: a digest and a size, no payload.
bool IsAnnouncement(const ::peer::v1::UserEventMsg& m) {
  return !m.digest().empty() && m.size() > 0 && m.payload().empty();
}

// Names one event unambiguously (lengths before the variable fields).
std::string FetchKey(uint64_t ltime, const std::string& from,
                     const std::string& name, const std::string& digest) {
  return absl::StrCat(ltime, "/", from.size(), ":", from, "/", name.size(), ":",
                      name, "/", digest);
}

}  // namespace

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
  if (o.max_buffer_bytes < o.max_event_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event buffer bytes: ", o.max_buffer_bytes,
        ", must be at least max event bytes (", o.max_event_bytes, ")"));
  }
  if (o.fetch_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("event fetch timeout: must be positive");
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
  *alive_ = false;
  if (flush_timer_) scheduler_->Cancel(flush_timer_);
  if (coalesce_timer_) scheduler_->Cancel(coalesce_timer_);
  for (auto& [key, f] : fetches_) {
    if (f.timer) scheduler_->Cancel(f.timer);
  }
}

void UserEvents::Attach(membership::Memberlist* node) {
  if (node == nullptr) {
    direct_ = Direct{};
    return;
  }
  direct_.send = [node](const std::string& to, std::string payload,
                        std::function<void(absl::Status)> done) {
    node->SendUserMessage(to, membership::kUserEventChannel, std::move(payload),
                          std::move(done));
  };
  direct_.members = [node] {
    std::vector<std::string> out;
    for (const membership::Member& m : node->Members()) {
      if (m.state == membership::MemberState::kAlive) out.push_back(m.name);
    }
    return out;
  };
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
  const bool large = max > 0 && encoded > static_cast<size_t>(max);
  if (large && !direct_.send) {
    return absl::InvalidArgumentError(
        absl::StrCat("event ", name, ": ", encoded,
                     " bytes on the wire, at most ", max, " (one datagram)"));
  }
  auto t = clock_.Increment();
  if (!t.ok()) return t.status();
  m.set_ltime(*t);
  ++stats_.sent;
  Take(m);
  if (large) {
    m.set_digest(Sha256(m.payload()));
    m.set_size(m.payload().size());
    send_(AnnouncementOf(m).SerializeAsString(), "");
  } else {
    send_(m.SerializeAsString(), "");
  }
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

const char* UserEvents::InvalidAnnouncement(
    const ::peer::v1::UserEventMsg& m) const {
  if (m.name().empty()) return "no name";
  if (m.name().size() > kMaxEventNameBytes) return "name too long";
  if (m.digest().size() != kDigestBytes) return "bad digest";
  if (m.size() > options_.max_event_bytes ||
      m.name().size() + m.size() > options_.max_event_bytes) {
    return "larger than the event size limit";
  }
  if (m.from().empty() || m.from().size() > membership::kMaxNameBytes ||
      m.holder().size() > membership::kMaxNameBytes) {
    return "bad sender or holder";
  }
  return nullptr;
}

const ::peer::v1::UserEventMsg* UserEvents::FindSeen(
    uint64_t ltime, const std::string& from, const std::string& name,
    const std::string& digest) const {
  auto it = seen_.find(ltime);
  if (it == seen_.end()) return nullptr;
  for (const auto& e : it->second) {
    if (e.from() == from && e.name() == name && e.digest() == digest) {
      return &e;
    }
  }
  return nullptr;
}

::peer::v1::UserEventMsg UserEvents::AnnouncementOf(
    const ::peer::v1::UserEventMsg& m) const {
  ::peer::v1::UserEventMsg a = m;
  const bool has_body = m.payload().size() == m.size();
  a.clear_payload();
  a.set_size(m.size());
  if (has_body) {
    a.set_holder(options_.node);
  } else {
    a.clear_holder();
  }
  return a;
}

void UserEvents::Prune() {
  const uint64_t now = clock_.Time();
  const uint64_t b = static_cast<uint64_t>(options_.buffer);
  if (now < b) return;
  auto end = seen_.lower_bound(now - b + 1);
  for (auto it = seen_.begin(); it != end; ++it) {
    for (const auto& e : it->second) seen_bytes_ -= e.payload().size();
  }
  seen_.erase(seen_.begin(), end);
}

void UserEvents::TrimBodies() {
  for (auto it = seen_.begin();
       it != seen_.end() && seen_bytes_ > options_.max_buffer_bytes; ++it) {
    for (auto& e : it->second) {
      if (seen_bytes_ <= options_.max_buffer_bytes) break;
      if (e.payload().size() <= kStateInlineBytes) continue;
      seen_bytes_ -= e.payload().size();
      e.clear_payload();  // digest and size kept: repeats still dropped
      ++stats_.bodies_evicted;
    }
  }
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
  const std::string digest = Sha256(m.payload());
  std::vector<::peer::v1::UserEventMsg>& at = seen_[m.ltime()];
  for (const auto& e : at) {
    if (e.from() == m.from() && e.name() == m.name() && e.digest() == digest) {
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
  ::peer::v1::UserEventMsg kept = m;
  kept.set_digest(digest);
  kept.set_size(m.payload().size());
  kept.clear_holder();
  at.push_back(kept);
  seen_bytes_ += m.payload().size();
  ++stats_.received;
  while (!pending_.empty() &&
         (pending_.size() >= kMaxPendingEvents ||
          pending_bytes_ + m.payload().size() > options_.max_buffer_bytes)) {
    // Deliver the oldest now rather than hold more.
    Count(stats_.pending_overflows,
          absl::StrCat(pending_.size(), " user events (", pending_bytes_,
                       " bytes) wait for delivery: delivering early"));
    auto first = pending_.begin();
    pending_bytes_ -= first->second.msg.payload().size();
    ::peer::v1::UserEventMsg early = std::move(first->second.msg);
    pending_.erase(first);
    Deliver(early);
  }
  pending_bytes_ += m.payload().size();
  Key key = KeyOf(kept);  // before the move below
  pending_[std::move(key)] = Pending{std::move(kept), scheduler_->Now()};
  TrimBodies();
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
    pending_bytes_ -= m.payload().size();
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
    if (coalesce_.size() >= kMaxCoalescedNames ||
        coalesce_bytes_ + m.payload().size() > options_.max_buffer_bytes) {
      FlushCoalesced();
    }
    if (coalesce_.empty()) coalesce_start_ = now;
    coalesce_bytes_ += m.payload().size();
    coalesce_.emplace(m.name(), m);
  } else {
    ++stats_.coalesced;
    if (KeyOf(it->second) < KeyOf(m)) {
      coalesce_bytes_ += m.payload().size();
      coalesce_bytes_ -= it->second.payload().size();
      it->second = m;
    }
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
  coalesce_bytes_ = 0;
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
  if (IsAnnouncement(m)) {
    TakeAnnouncement(m);
    return;
  }
  // Epidemic: news is gossiped on, so it reaches everyone even when the
  // first sender's retransmissions were lost.
  if (Take(m)) send_(payload, "");
}

void UserEvents::TakeAnnouncement(const ::peer::v1::UserEventMsg& m) {
  if (const char* why = InvalidAnnouncement(m)) {
    Count(stats_.refused,
          absl::StrCat("refused a user event announcement from ",
                       absl::CHexEscape(m.from().substr(0, 64)), ": ", why));
    return;
  }
  if (!clock_.Acceptable(m.ltime())) {
    Count(stats_.clock_refused,
          absl::StrCat("ignored a user event announcement: Lamport time ",
                       m.ltime(), " is out of reach of this node's clock ",
                       clock_.Time()));
    return;
  }
  const uint64_t b = static_cast<uint64_t>(options_.buffer);
  if (clock_.Time() >= b && m.ltime() <= clock_.Time() - b) {
    ++stats_.too_old;
    return;
  }
  if (FindSeen(m.ltime(), m.from(), m.name(), m.digest()) != nullptr) {
    ++stats_.duplicates;
    return;
  }
  const std::string key = FetchKey(m.ltime(), m.from(), m.name(), m.digest());
  auto it = fetches_.find(key);
  if (it != fetches_.end()) {
    Fetch& f = it->second;
    if (!m.holder().empty() && m.holder() != options_.node &&
        f.holders.size() < kMaxFetchHolders &&
        std::find(f.holders.begin(), f.holders.end(), m.holder()) ==
            f.holders.end()) {
      f.holders.push_back(m.holder());
    }
    return;
  }
  if (fetches_.size() >= kMaxEventFetches) {
    Count(stats_.fetches_refused,
          absl::StrCat("did not fetch a user event of ", m.size(),
                       " bytes: ", kMaxEventFetches, " fetches under way"));
    return;
  }
  Fetch f;
  f.announcement = m;
  f.announcement.clear_holder();
  for (const std::string& h : {m.holder(), m.from()}) {
    if (!h.empty() && h != options_.node &&
        std::find(f.holders.begin(), f.holders.end(), h) == f.holders.end()) {
      f.holders.push_back(h);
    }
  }
  fetches_.emplace(key, std::move(f));
  TryFetch(key);
}

void UserEvents::TryFetch(const std::string& key) {
  auto it = fetches_.find(key);
  if (it == fetches_.end()) return;
  Fetch& f = it->second;
  if (f.timer) scheduler_->Cancel(f.timer);
  f.timer = 0;
  std::string target;
  if (f.next < f.holders.size()) {
    target = f.holders[f.next++];
  } else if (direct_.members) {
    // Any member may have it: one chosen by the key and the attempt, so
    // that members spread their asks.
    std::vector<std::string> members = direct_.members();
    members.erase(std::remove(members.begin(), members.end(), options_.node),
                  members.end());
    if (!members.empty()) {
      const size_t h = std::hash<std::string>()(key + options_.node);
      target = members[(h + static_cast<size_t>(f.attempts)) % members.size()];
    }
  }
  if (f.attempts >= kMaxFetchAttempts || target.empty() || !direct_.send) {
    Count(stats_.fetches_failed,
          absl::StrCat("gave up fetching user event ", f.announcement.name(),
                       " from ",
                       absl::CHexEscape(f.announcement.from().substr(0, 64)),
                       " after ", f.attempts, " tries"));
    fetches_.erase(it);
    return;
  }
  const int attempt = ++f.attempts;
  ++stats_.fetch_requests;
  ::peer::v1::UserEventDirect d;
  ::peer::v1::UserEventFetch* q = d.mutable_fetch();
  q->set_ltime(f.announcement.ltime());
  q->set_from(f.announcement.from());
  q->set_name(f.announcement.name());
  q->set_digest(f.announcement.digest());
  std::weak_ptr<bool> alive = alive_;
  f.timer = scheduler_->After(options_.fetch_timeout, [this, alive, key] {
    if (auto a = alive.lock(); !a || !*a) return;
    auto it = fetches_.find(key);
    if (it == fetches_.end()) return;
    it->second.timer = 0;
    TryFetch(key);
  });
  // `f` may be gone once send returns (a synchronous failure).
  direct_.send(target, d.SerializeAsString(),
               [this, alive, key, attempt](absl::Status status) {
                 if (auto a = alive.lock(); !a || !*a) return;
                 if (status.ok()) return;  // the body comes as a message
                 auto it = fetches_.find(key);
                 if (it != fetches_.end() && it->second.attempts == attempt) {
                   TryFetch(key);
                 }
               });
}

absl::Status UserEvents::OnDirectMessage(
    const membership::DirectMessage& message) {
  ::peer::v1::UserEventDirect d;
  if (!d.ParseFromString(message.payload)) {
    Count(stats_.refused, "dropped a user-event message that did not parse");
    return absl::InvalidArgumentError("malformed user-event message");
  }
  if (d.has_fetch()) {
    const ::peer::v1::UserEventFetch& q = d.fetch();
    const ::peer::v1::UserEventMsg* e =
        FindSeen(q.ltime(), q.from(), q.name(), q.digest());
    if (e == nullptr || e->payload().size() != e->size()) {
      return absl::NotFoundError("no body of that user event here");
    }
    if (!direct_.send) {
      return absl::UnavailableError("this member serves no event bodies");
    }
    std::function<void(absl::Status)> done = serving_.Take();
    if (done == nullptr) {
      Count(stats_.serves_refused,
            absl::StrCat("did not send a user event body to ",
                         absl::CHexEscape(message.from.substr(0, 64)), ": ",
                         kMaxBodiesServing, " bodies in flight"));
      return absl::ResourceExhaustedError(
          absl::StrCat(kMaxBodiesServing,
                       " event bodies in flight here: ask another member"));
    }
    ::peer::v1::UserEventDirect body;
    *body.mutable_event() = *e;
    body.mutable_event()->clear_digest();
    body.mutable_event()->clear_size();
    ++stats_.bodies_served;
    direct_.send(message.from, body.SerializeAsString(), std::move(done));
    return absl::OkStatus();
  }
  if (!d.has_event()) {
    Count(stats_.refused, "dropped a user-event message of an unknown kind");
    return absl::InvalidArgumentError("unknown user-event message");
  }
  const ::peer::v1::UserEventMsg& body = d.event();
  const std::string digest = Sha256(body.payload());
  auto it =
      fetches_.find(FetchKey(body.ltime(), body.from(), body.name(), digest));
  if (it == fetches_.end() ||
      it->second.announcement.size() != body.payload().size()) {
    Count(stats_.bodies_refused,
          absl::StrCat("refused a user event body from ",
                       absl::CHexEscape(message.from.substr(0, 64)),
                       ": not asked for, or not the announced one"));
    return absl::FailedPreconditionError("no fetch of that body here");
  }
  ::peer::v1::UserEventMsg m = std::move(it->second.announcement);
  if (it->second.timer) scheduler_->Cancel(it->second.timer);
  fetches_.erase(it);
  m.set_payload(body.payload());
  m.clear_digest();
  m.clear_size();
  ++stats_.bodies_fetched;
  if (Take(m)) {
    // Gossip the announcement on, as a holder.
    const ::peer::v1::UserEventMsg* kept =
        FindSeen(m.ltime(), m.from(), m.name(), digest);
    if (kept != nullptr) send_(AnnouncementOf(*kept).SerializeAsString(), "");
  }
  return absl::OkStatus();
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
    for (const auto& e : it->second) {
      if (e.size() > kStateInlineBytes || e.payload().size() != e.size()) {
        *state.add_events() = AnnouncementOf(e);  // fetched by the receiver
      } else {
        ::peer::v1::UserEventMsg* out = state.add_events();
        *out = e;
        out->clear_digest();
        out->clear_size();
      }
    }
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
  for (const auto* e : events) {
    if (IsAnnouncement(*e)) {
      TakeAnnouncement(*e);
    } else {
      Take(*e);
    }
  }
}

}  // namespace peerlab::cluster
