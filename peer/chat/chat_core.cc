#include "peer/chat/chat_core.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "google/protobuf/util/time_util.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;
using google::protobuf::util::TimeUtil;

constexpr size_t kMaxEnvelopeBytes = 512 * 1024;

// One line of text: a message must not add lines of its own to the view
// (a second line could pass itself off as "<joined> …").
std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::string Describe(const pb::ChatMessage& m) {
  switch (m.kind()) {
    case pb::CHAT_KIND_JOINED:
      return "(joined announcement)";
    case pb::CHAT_KIND_LEAVING:
      return "(leaving announcement)";
    default:
      return OneLine(m.text());
  }
}

absl::Duration Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return absl::ZeroDuration();
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k),
                   v.end());
  return absl::Microseconds(v[k]);
}

}  // namespace

void MergeEnvelope(pb::ChatEnvelope&& from, pb::ChatEnvelope* into) {
  if (from.has_hello() && !into->has_hello()) {
    *into->mutable_hello() = std::move(*from.mutable_hello());
  }
  if (from.has_ack() &&
      (!into->has_ack() || from.ack().seq() >= into->ack().seq())) {
    *into->mutable_ack() = std::move(*from.mutable_ack());
  }
  for (auto& m : *from.mutable_messages()) {
    *into->add_messages() = std::move(m);
  }
  for (auto& p : *from.mutable_pings()) *into->add_pings() = std::move(p);
  for (auto& p : *from.mutable_pongs()) *into->add_pongs() = std::move(p);
}

struct ChatCore::Delivery {
  pb::ChatMessage message;
  std::set<std::string> waiting;  // members neither acked nor given up on
  SendResult result;
  SendDone done;
  bool all = false;       // report only when every member is resolved
  bool reported = false;  // `done` has been called (or posted)
  absl::Time early_at;    // from then on, one ack is enough to report
};

ChatCore::ChatCore(Options options, runtime::Scheduler* scheduler,
                   ChatTransport* transport, ShowFn show)
    : options_(std::move(options)),
      scheduler_(scheduler),
      transport_(transport),
      show_(std::move(show)),
      verifier_(HelloVerifier::Options{.self = options_.name,
                                       .group = options_.group,
                                       .max_skew = options_.hello_max_skew,
                                       .max_nonces = options_.max_hello_nonces},
                options_.authenticator) {}

ChatCore::~ChatCore() {
  *alive_ = false;
  destroying_ = true;
  for (auto& [name, link] : links_) {
    if (link->stream) link->stream->Close();
    link->stream.reset();
    ResetLinkTimers(*link);
    GiveUpAll(*link, "the chat shut down");
  }
  for (auto& [nonce, ping] : pings_) {
    scheduler_->Cancel(ping.timer);
    ping.done(absl::CancelledError("the chat shut down"));
  }
  if (hold_timer_) scheduler_->Cancel(hold_timer_);
  for (auto& [d, timeout] : held_) {
    if (d->done) d->done(absl::CancelledError("the chat shut down"));
  }
}

runtime::Scheduler::TimerId ChatCore::AfterGuarded(absl::Duration d,
                                                   std::function<void()> f) {
  return scheduler_->After(
      d, [alive = std::weak_ptr<bool>(alive_), f = std::move(f)] {
        auto a = alive.lock();
        if (a && *a) f();
      });
}

void ChatCore::Start() {
  if (running_) return;
  running_ = true;
  for (auto& [name, link] : links_) Pump(*link);
}

void ChatCore::Stop(const std::string& reason) {
  running_ = false;
  holding_ = false;
  if (hold_timer_) {
    scheduler_->Cancel(hold_timer_);
    hold_timer_ = 0;
  }
  auto held = std::move(held_);
  held_.clear();
  for (auto& [d, timeout] : held) {
    if (!d->done) continue;
    scheduler_->Post([done = std::move(d->done), reason] {
      done(absl::UnavailableError(
          absl::StrCat("chat stopped before the message went out: ", reason)));
    });
  }
  for (auto& [name, link] : links_) {
    CloseStream(*link, /*broken=*/false, reason);
    ResetLinkTimers(*link);
    link->reopen_attempts = 0;
    GiveUpAll(*link, reason);
  }
  auto pings = std::move(pings_);
  pings_.clear();
  for (auto& [nonce, ping] : pings) {
    scheduler_->Cancel(ping.timer);
    auto done = std::move(ping.done);
    scheduler_->Post([done, reason] {
      done(absl::UnavailableError(absl::StrCat("chat stopped: ", reason)));
    });
  }
}

void ChatCore::SetMember(const std::string& name, const std::string& address) {
  if (name == options_.name || address.empty()) return;
  auto it = links_.find(name);
  if (it == links_.end()) {
    auto link = std::make_unique<Link>();
    link->name = name;
    link->address = address;
    link->reopen_attempts = 0;
    links_.emplace(name, std::move(link));
    spdlog::debug("chat: member {} at {}", name, address);
    return;
  }
  Link& link = *it->second;
  if (link.address == address) return;
  spdlog::info("chat: member {} moved from {} to {}", name, link.address,
               address);
  link.address = address;
  CloseStream(link, /*broken=*/false, "address changed");
  if (link.reopen_timer) {
    scheduler_->Cancel(link.reopen_timer);
    link.reopen_timer = 0;
  }
  link.reopen_attempts = 0;
  Pump(link);
}

void ChatCore::RemoveMember(const std::string& name, Departure how) {
  auto it = links_.find(name);
  if (it == links_.end()) {
    if (how != Departure::kGone) announced_leaving_.erase(name);
    return;
  }
  std::unique_ptr<Link> link = std::move(it->second);
  links_.erase(it);
  CloseStream(*link, /*broken=*/false, "member removed");
  ResetLinkTimers(*link);
  std::string reason;
  switch (how) {
    case Departure::kFailed:
      reason = absl::StrCat(name, " was declared dead");
      break;
    case Departure::kLeft:
      reason = absl::StrCat(name, " left");
      break;
    case Departure::kGone:
      reason = absl::StrCat(name, " is no longer a chat member");
      break;
  }
  GiveUpAll(*link, reason);
  for (auto p = pings_.begin(); p != pings_.end();) {
    if (p->second.member != name) {
      ++p;
      continue;
    }
    scheduler_->Cancel(p->second.timer);
    auto done = std::move(p->second.done);
    scheduler_->Post([done, reason] { done(absl::UnavailableError(reason)); });
    p = pings_.erase(p);
  }
  if (how == Departure::kGone) return;
  bool announced = announced_leaving_.erase(name) > 0;
  if (!running_) return;
  if (how == Departure::kFailed) {
    show_(absl::StrCat("<failed> ", name));
  } else if (!announced) {
    show_(absl::StrCat("<left> ", name, " has left"));
  }
}

void ChatCore::SyncMembers(const std::map<std::string, std::string>& members) {
  std::vector<std::string> gone;
  for (const auto& [name, link] : links_) {
    if (!members.count(name)) gone.push_back(name);
  }
  for (const auto& name : gone) RemoveMember(name, Departure::kGone);
  for (const auto& [name, address] : members) SetMember(name, address);
}

void ChatCore::Send(pb::ChatKind kind, std::string text, SendDone done,
                    absl::Duration timeout, bool all) {
  if (!running_) {
    scheduler_->Post([done = std::move(done)] {
      done(
          absl::FailedPreconditionError("the chat is not started (chatstart)"));
    });
    return;
  }
  const bool hold = holding_ && kind != pb::CHAT_KIND_JOINED;
  if (hold && held_.size() >= options_.max_held) {
    spdlog::warn("chat: {} messages wait for the join already; refused one",
                 held_.size());
    scheduler_->Post([done = std::move(done), n = held_.size()] {
      done(absl::ResourceExhaustedError(absl::StrCat(
          n, " messages wait for this peer to join its group: try later")));
    });
    return;
  }
  auto d = std::make_shared<Delivery>();
  pb::ChatMessage& m = d->message;
  m.set_sender(options_.name);
  m.set_session(options_.session);
  *m.mutable_sent_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(scheduler_->Now()));
  m.set_kind(kind);
  m.set_text(std::move(text));
  d->done = std::move(done);
  d->all = all;
  ++stats_.sent;
  if (hold) {
    held_.emplace_back(std::move(d), timeout);
    return;
  }
  Queue(d, timeout);
}

void ChatCore::HoldSends() {
  if (holding_) return;
  holding_ = true;
  hold_timer_ = AfterGuarded(options_.delivery_timeout, [this] {
    hold_timer_ = 0;
    if (!holding_) return;
    spdlog::info(
        "chat: still joining after {}; sending the {} message(s) kept back "
        "to the members known now",
        absl::FormatDuration(options_.delivery_timeout), held_.size());
    ReleaseSends();
  });
}

void ChatCore::ReleaseSends() {
  holding_ = false;
  if (hold_timer_) {
    scheduler_->Cancel(hold_timer_);
    hold_timer_ = 0;
  }
  auto held = std::move(held_);
  held_.clear();
  for (auto& [d, timeout] : held) Queue(d, timeout);
}

void ChatCore::Queue(const std::shared_ptr<Delivery>& d,
                     absl::Duration timeout) {
  pb::ChatMessage& m = d->message;
  m.set_seq(++next_seq_);
  d->result.seq = m.seq();
  const absl::Time now = scheduler_->Now();
  d->early_at = now + options_.ack_timeout;
  const absl::Time deadline =
      now + (timeout == absl::InfiniteDuration() ? options_.delivery_timeout
                                                 : timeout);
  for (auto& [name, link] : links_) {
    link->queue.push_back(Pending{d, deadline});
    d->waiting.insert(name);
  }
  if (d->waiting.empty()) {
    Finish(d);
    return;
  }
  if (!d->all && d->done) {
    early_.emplace_back(d, d->early_at);
    ArmEarly();
  }
  for (auto& [name, link] : links_) {
    ArmExpiry(*link);
    Pump(*link);
  }
}

void ChatCore::ArmEarly() {
  if (early_timer_ || early_.empty()) return;
  absl::Duration wait = early_.front().second - scheduler_->Now();
  early_timer_ = AfterGuarded(wait, [this] {
    early_timer_ = 0;
    const absl::Time now = scheduler_->Now();
    while (!early_.empty() && early_.front().second <= now) {
      std::shared_ptr<Delivery> d = early_.front().first.lock();
      early_.pop_front();
      if (d) MaybeReportEarly(d);
    }
    ArmEarly();
  });
}

bool ChatCore::Unanswering(const std::string& member) const {
  auto it = links_.find(member);
  return it != links_.end() && it->second->reopen_timer != 0;
}

void ChatCore::MaybeReportEarly(const std::shared_ptr<Delivery>& d) {
  if (d->reported || d->all || !d->done || d->result.delivered.empty() ||
      d->waiting.empty()) {
    return;
  }
  if (scheduler_->Now() < d->early_at) {
    for (const std::string& member : d->waiting) {
      if (!Unanswering(member)) return;  // may still answer in time
    }
  }
  d->reported = true;
  SendResult result = d->result;
  std::sort(result.delivered.begin(), result.delivered.end());
  result.pending.assign(d->waiting.begin(), d->waiting.end());
  spdlog::info("chat: message {} delivered to {}; still sending to {}",
               d->message.seq(), absl::StrJoin(result.delivered, ", "),
               absl::StrJoin(result.pending, ", "));
  if (destroying_) {
    d->done(std::move(result));
    return;
  }
  scheduler_->Post([done = d->done, result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

void ChatCore::Pump(Link& link) {
  if (!running_ || link.written >= link.queue.size()) return;
  if (!link.stream) {
    if (link.reopen_timer) return;  // backing off
    OpenStream(link);
  }
  const size_t limit = std::min(link.queue.size(), options_.window);
  while (link.written < limit) {
    pb::ChatEnvelope envelope;
    size_t n = std::min(options_.max_batch, limit - link.written);
    size_t bytes = 0;
    for (size_t i = 0; i < n; ++i) {
      const pb::ChatMessage& m = link.queue[link.written].delivery->message;
      bytes += m.text().size() + 64;
      // Far below gRPC's 4 MiB message limit, however long the texts.
      if (i > 0 && bytes > kMaxEnvelopeBytes) break;
      *envelope.add_messages() = m;
      ++link.written;
    }
    link.stream->Send(std::move(envelope));
  }
  ArmStall(link);
}

void ChatCore::OpenStream(Link& link) {
  const uint64_t generation = ++next_generation_;
  link.generation = generation;
  link.written = 0;
  const std::string name = link.name;
  // These run on transport threads, possibly after the core is gone: they
  // touch only the scheduler (which outlives the transport's streams) and
  // the guard.
  ChatStreamCallbacks callbacks;
  runtime::Scheduler* scheduler = scheduler_;
  std::weak_ptr<bool> alive = alive_;
  callbacks.on_envelope = [this, scheduler, alive, name,
                           generation](pb::ChatEnvelope envelope) {
    scheduler->Post(
        [this, alive, name, generation, e = std::move(envelope)]() mutable {
          auto a = alive.lock();
          if (a && *a) OnStreamEnvelope(name, generation, std::move(e));
        });
  };
  callbacks.on_closed = [this, scheduler, alive, name,
                         generation](absl::Status status) {
    scheduler->Post([this, alive, name, generation, status] {
      auto a = alive.lock();
      if (a && *a) OnStreamClosed(name, generation, status);
    });
  };
  link.stream = transport_->Open(link.address, std::move(callbacks));
  pb::ChatEnvelope hello;
  *hello.mutable_hello() = Hello(link.name);
  link.stream->Send(std::move(hello));
}

pb::ChatHello ChatCore::Hello(const std::string& receiver) {
  const std::string nonce = absl::StrCat(options_.session, "/", ++next_hello_);
  const absl::Time now = scheduler_->Now();
  absl::StatusOr<pb::ChatHello> hello =
      options_.authenticator == nullptr
          ? absl::FailedPreconditionError("no node key")
          : MakeHello(*options_.authenticator, options_.name, receiver,
                      options_.group ? options_.group() : "", nonce, now);
  if (hello.ok()) return *std::move(hello);
  if (!sign_failure_logged_) {
    sign_failure_logged_ = true;
    spdlog::error(
        "chat: cannot sign a hello ({}); other members will refuse this "
        "peer's messages",
        hello.status().message());
  }
  pb::ChatHello unsigned_hello;
  unsigned_hello.set_version(kChatHelloVersion);
  unsigned_hello.set_sender(options_.name);
  if (options_.authenticator != nullptr) {
    unsigned_hello.set_generation(options_.authenticator->Generation());
  }
  unsigned_hello.set_receiver(receiver);
  unsigned_hello.set_nonce(nonce);
  unsigned_hello.set_unix_ms(absl::ToUnixMillis(now));
  unsigned_hello.set_group(options_.group ? options_.group() : "");
  return unsigned_hello;
}

void ChatCore::CloseStream(Link& link, bool broken, const std::string& why) {
  if (link.stream) {
    link.stream->Close();
    link.stream.reset();
  }
  link.generation = 0;
  link.written = 0;
  if (link.stall_timer) {
    scheduler_->Cancel(link.stall_timer);
    link.stall_timer = 0;
  }
  if (!broken) return;
  ++link.reconnects;
  ++stats_.reconnects;
  if (link.queue.empty() || !running_ || link.reopen_timer) return;
  const absl::Duration backoff = runtime::Backoff(
      ++link.reopen_attempts,
      {.initial = options_.initial_backoff, .max = options_.max_backoff},
      /*u=*/0.5);
  spdlog::debug("chat: stream to {} broke ({}); reopening in {}", link.name,
                why, absl::FormatDuration(backoff));
  const std::string name = link.name;
  link.reopen_timer = AfterGuarded(backoff, [this, name] {
    auto it = links_.find(name);
    if (it == links_.end()) return;
    it->second->reopen_timer = 0;
    Pump(*it->second);
  });
  // The members that do answer may already have everything.
  std::vector<std::shared_ptr<Delivery>> check;
  for (const Pending& p : link.queue) {
    if (!p.delivery->reported && !p.delivery->all) check.push_back(p.delivery);
  }
  for (const auto& d : check) MaybeReportEarly(d);
}

void ChatCore::OnStreamEnvelope(const std::string& name, uint64_t generation,
                                pb::ChatEnvelope envelope) {
  auto it = links_.find(name);
  if (it == links_.end() || it->second->generation != generation) return;
  Link& link = *it->second;
  for (const auto& pong : envelope.pongs()) {
    auto p = pings_.find(pong.nonce());
    if (p == pings_.end()) continue;
    scheduler_->Cancel(p->second.timer);
    absl::Duration rtt = scheduler_->Now() - p->second.sent;
    auto done = std::move(p->second.done);
    pings_.erase(p);
    scheduler_->Post([done, rtt] { done(rtt); });
  }
  if (!envelope.pings().empty() && link.stream) {
    pb::ChatEnvelope answer;
    for (const auto& ping : envelope.pings()) {
      auto* pong = answer.add_pongs();
      pong->set_nonce(ping.nonce());
      pong->set_name(options_.name);
    }
    link.stream->Send(std::move(answer));
  }
  if (envelope.has_ack() && envelope.ack().session() == options_.session) {
    OnAck(link, envelope.ack().seq());
  }
}

void ChatCore::OnStreamClosed(const std::string& name, uint64_t generation,
                              const absl::Status& status) {
  auto it = links_.find(name);
  if (it == links_.end() || it->second->generation != generation) return;
  CloseStream(*it->second, /*broken=*/true, status.ToString());
}

void ChatCore::OnAck(Link& link, uint64_t seq) {
  bool progress = false;
  while (!link.queue.empty() &&
         link.queue.front().delivery->message.seq() <= seq) {
    std::shared_ptr<Delivery> d = std::move(link.queue.front().delivery);
    link.queue.pop_front();
    if (link.written > 0) --link.written;
    ++stats_.acked;
    Resolve(d, link.name, nullptr);
    progress = true;
  }
  if (!progress) return;
  ++link.acks;
  link.reopen_attempts = 0;
  Pump(link);
}

void ChatCore::ArmExpiry(Link& link) {
  if (link.expiry_timer || link.queue.empty()) return;
  const std::string name = link.name;
  absl::Duration wait = link.queue.front().deadline - scheduler_->Now();
  link.expiry_timer = AfterGuarded(wait, [this, name] { Expire(name); });
}

void ChatCore::Expire(const std::string& name) {
  auto it = links_.find(name);
  if (it == links_.end()) return;
  Link& link = *it->second;
  link.expiry_timer = 0;
  const absl::Time now = scheduler_->Now();
  const std::string reason = absl::StrCat("no ack from ", name, " in time");
  while (!link.queue.empty() && link.queue.front().deadline <= now) {
    std::shared_ptr<Delivery> d = std::move(link.queue.front().delivery);
    link.queue.pop_front();
    if (link.written > 0) --link.written;
    Resolve(d, name, &reason);
  }
  ArmExpiry(link);
}

void ChatCore::ArmStall(Link& link) {
  if (link.stall_timer || !link.stream || link.written == 0) return;
  const std::string name = link.name;
  link.stall_timer = AfterGuarded(
      options_.ack_timeout,
      [this, name, acks_then = link.acks] { Stall(name, acks_then); });
}

void ChatCore::Stall(const std::string& name, uint64_t acks_then) {
  auto it = links_.find(name);
  if (it == links_.end()) return;
  Link& link = *it->second;
  link.stall_timer = 0;
  if (link.written > 0 && link.acks == acks_then) {
    spdlog::info("chat: no ack from {} for {}; reopening the stream", name,
                 absl::FormatDuration(options_.ack_timeout));
    CloseStream(link, /*broken=*/true, "no ack");
    return;
  }
  ArmStall(link);
}

void ChatCore::GiveUpAll(Link& link, const std::string& reason) {
  std::deque<Pending> queue = std::move(link.queue);
  link.queue.clear();
  link.written = 0;
  for (auto& p : queue) Resolve(p.delivery, link.name, &reason);
}

void ChatCore::ResetLinkTimers(Link& link) {
  for (auto* t : {&link.reopen_timer, &link.expiry_timer, &link.stall_timer}) {
    if (*t) scheduler_->Cancel(*t);
    *t = 0;
  }
}

void ChatCore::Resolve(const std::shared_ptr<Delivery>& d,
                       const std::string& member, const std::string* reason) {
  if (reason) {
    d->result.undelivered.push_back({member, *reason});
    ++stats_.undelivered;
  } else {
    d->result.delivered.push_back(member);
  }
  d->waiting.erase(member);
  if (d->waiting.empty()) {
    Finish(d);
  } else {
    MaybeReportEarly(d);
  }
}

void ChatCore::Finish(const std::shared_ptr<Delivery>& d) {
  std::sort(d->result.delivered.begin(), d->result.delivered.end());
  if (!d->result.undelivered.empty()) {
    std::vector<std::string> who;
    for (const auto& u : d->result.undelivered) {
      who.push_back(absl::StrCat(u.member, " (", u.reason, ")"));
    }
    std::string line =
        absl::StrCat("<error> undelivered to ", absl::StrJoin(who, ", "), ": ",
                     Describe(d->message));
    spdlog::warn("chat: message {} {}", d->message.seq(), line);
    if (show_) show_(line);
  }
  if (!d->done || d->reported) return;
  d->reported = true;
  if (destroying_) {
    d->done(std::move(d->result));
    return;
  }
  scheduler_->Post([d] { d->done(std::move(d->result)); });
}

void ChatCore::Ping(const std::string& member, absl::Duration timeout,
                    std::function<void(absl::StatusOr<absl::Duration>)> done) {
  auto it = links_.find(member);
  if (it == links_.end()) {
    scheduler_->Post([done = std::move(done), member] {
      done(absl::NotFoundError(
          absl::StrCat(member, " is not a chat member (chatmembers)")));
    });
    return;
  }
  if (!running_) {
    scheduler_->Post([done = std::move(done)] {
      done(
          absl::FailedPreconditionError("the chat is not started (chatstart)"));
    });
    return;
  }
  Link& link = *it->second;
  if (!link.stream) {
    if (link.reopen_timer) {
      scheduler_->Cancel(link.reopen_timer);
      link.reopen_timer = 0;
    }
    OpenStream(link);
    Pump(link);
  }
  const uint64_t nonce = ++next_nonce_;
  PendingPing& ping = pings_[nonce];
  ping.member = member;
  ping.sent = scheduler_->Now();
  ping.done = std::move(done);
  ping.timer = AfterGuarded(timeout, [this, nonce, member, timeout] {
    auto p = pings_.find(nonce);
    if (p == pings_.end()) return;
    auto done = std::move(p->second.done);
    pings_.erase(p);
    done(absl::DeadlineExceededError(absl::StrCat(
        "no answer from ", member, " within ", absl::FormatDuration(timeout))));
  });
  pb::ChatEnvelope envelope;
  envelope.add_pings()->set_nonce(nonce);
  link.stream->Send(std::move(envelope));
}

void ChatCore::OnIncoming(const std::shared_ptr<ChatReply>& reply,
                          pb::ChatEnvelope envelope) {
  if (!running_) {
    reply->Close(absl::UnavailableError(
        absl::StrCat("the chat of ", options_.name, " is stopped")));
    return;
  }
  if (!Authenticate(reply, envelope)) return;
  const std::string sender = reply->sender();
  for (const pb::ChatMessage& m : envelope.messages()) {
    if (!m.sender().empty() && m.sender() != sender) {
      reply->set_sender("");
      reply->Close(
          verifier_.Refuse(Refusal::kSenderField,
                           absl::StrCat("a message on ", sender,
                                        "'s stream names another sender"),
                           scheduler_->Now()));
      return;
    }
  }
  pb::ChatEnvelope answer;
  for (const pb::ChatMessage& m : envelope.messages()) {
    SenderState& s = Sender(sender, m.session());
    if (m.seq() <= s.last_seq) {
      ++stats_.duplicates;
    } else {
      s.last_seq = m.seq();
      Deliver(sender, m);
    }
    answer.mutable_ack()->set_session(m.session());
    answer.mutable_ack()->set_seq(s.last_seq);
  }
  for (const auto& ping : envelope.pings()) {
    auto* pong = answer.add_pongs();
    pong->set_nonce(ping.nonce());
    pong->set_name(options_.name);
  }
  if (answer.has_ack() || answer.pongs_size() > 0) {
    reply->Send(std::move(answer));
  }
}

bool ChatCore::Authenticate(const std::shared_ptr<ChatReply>& reply,
                            const pb::ChatEnvelope& envelope) {
  const absl::Time now = scheduler_->Now();
  if (!reply->sender().empty()) {
    if (!envelope.has_hello()) return true;
    reply->set_sender("");
    reply->Close(verifier_.Refuse(
        Refusal::kMalformed, "a second hello on an authenticated stream", now));
    return false;
  }
  if (!envelope.has_hello()) {
    reply->Close(verifier_.Refuse(
        Refusal::kNoHello,
        "the first write has no hello (an outsider, or a peer from before "
        "chat authentication)",
        now));
    return false;
  }
  absl::StatusOr<std::string> sender =
      verifier_.Check(envelope.hello(), now, reply->CertificateName());
  if (!sender.ok()) {
    reply->Close(sender.status());
    return false;
  }
  spdlog::debug("chat: stream from {} authenticated", *sender);
  reply->set_sender(*std::move(sender));
  return true;
}

ChatCore::SenderState& ChatCore::Sender(const std::string& sender,
                                        const std::string& session) {
  SenderKey key{sender, session};
  auto it = senders_.find(key);
  if (it != senders_.end()) {
    senders_lru_.splice(senders_lru_.end(), senders_lru_, it->second.lru);
    return it->second;
  }
  while (!senders_.empty() && senders_.size() >= options_.max_senders) {
    const SenderKey& oldest = senders_lru_.front();
    ++stats_.senders_evicted;
    // Logged once per power of two: a flood must not flood the log too.
    const uint64_t n = stats_.senders_evicted;
    if ((n & (n - 1)) == 0) {
      spdlog::warn(
          "chat: {} senders remembered (chat max_senders); forgot the least "
          "recently heard, {} ({} forgotten so far)",
          options_.max_senders, oldest.first, n);
    }
    senders_.erase(oldest);
    senders_lru_.pop_front();
  }
  senders_lru_.push_back(key);
  SenderState& state = senders_[key];
  state.lru = std::prev(senders_lru_.end());
  return state;
}

void ChatCore::Deliver(const std::string& from, const pb::ChatMessage& m) {
  ++stats_.received;
  const absl::Time now = scheduler_->Now();
  absl::Time sent =
      absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(m.sent_at()));
  int64_t us = absl::ToInt64Microseconds(now - sent);
  if (latencies_us_.size() < options_.latency_samples) {
    latencies_us_.push_back(us);
  } else if (!latencies_us_.empty()) {
    latencies_us_[latency_next_] = us;
    latency_next_ = (latency_next_ + 1) % latencies_us_.size();
  }
  const std::string sender = OneLine(from);
  switch (m.kind()) {
    case pb::CHAT_KIND_JOINED:
      announced_leaving_.erase(from);
      show_(absl::StrCat("<joined> ", sender, " has joined"));
      break;
    case pb::CHAT_KIND_LEAVING:
      if (announced_leaving_.size() >= options_.max_senders &&
          !announced_leaving_.count(from)) {
        announced_leaving_.erase(announced_leaving_.begin());
        ++stats_.senders_evicted;
      }
      announced_leaving_[from] = m.session();
      show_(absl::StrCat("<left> ", sender, " is leaving"));
      break;
    default:
      show_(absl::StrCat("<", sender, "> ", OneLine(m.text())));
      break;
  }
}

std::vector<ChatCore::MemberInfo> ChatCore::Members() const {
  std::vector<MemberInfo> out;
  for (const auto& [name, link] : links_) {
    out.push_back({.name = name,
                   .address = link->address,
                   .stream_open = link->stream != nullptr,
                   .pending = link->queue.size(),
                   .reconnects = link->reconnects});
  }
  return out;
}

ChatStats ChatCore::Stats() const {
  ChatStats s = TotalStats();
  const ChatStats& b = baseline_;
  s.sent -= b.sent;
  s.acked -= b.acked;
  s.undelivered -= b.undelivered;
  s.received -= b.received;
  s.duplicates -= b.duplicates;
  s.reconnects -= b.reconnects;
  s.senders_evicted -= b.senders_evicted;
  s.streams_authenticated -= b.streams_authenticated;
  for (size_t i = 0; i < s.streams_refused.size(); ++i) {
    s.streams_refused[i] -= b.streams_refused[i];
  }
  s.hello_nonces_evicted -= b.hello_nonces_evicted;
  return s;
}

ChatStats ChatCore::TotalStats() const {
  ChatStats s = stats_;
  s.senders = senders_.size();
  s.streams_authenticated = verifier_.accepted();
  s.streams_refused = verifier_.refused();
  s.hello_nonces_evicted = verifier_.nonces_evicted();
  std::vector<int64_t> v = latencies_us_;
  s.latency_samples = v.size();
  s.latency_p50 = Percentile(v, 0.50);
  s.latency_p99 = Percentile(v, 0.99);
  s.latency_max =
      v.empty() ? absl::ZeroDuration()
                : absl::Microseconds(*std::max_element(v.begin(), v.end()));
  return s;
}

void ChatCore::ResetStats() {
  baseline_ = TotalStats();
  latencies_us_.clear();
  latency_next_ = 0;
}

}  // namespace peerlab::chat
