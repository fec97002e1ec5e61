#include "peer/chat/chat_host.h"

#include <mutex>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "peer/runtime/completion.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;

}  // namespace

ChatHost::ChatHost(Env env, std::unique_ptr<runtime::HostLoop> loop,
                   std::unique_ptr<ChatTransport> transport,
                   std::unique_ptr<ChatTransport> probe_transport)
    : env_(std::move(env)),
      loop_(std::move(loop)),
      transport_(std::move(transport)),
      probe_transport_(std::move(probe_transport)) {
  const ChatSettings defaults;
  ChatCore::Options options;
  options.name = env_.name;
  options.session = env_.session;
  options.delivery_timeout = defaults.delivery_timeout;
  options.ack_timeout = defaults.ack_timeout;
  options.authenticator = env_.authenticator.get();
  options.group = env_.group;
  core_ = std::make_unique<ChatCore>(options, &loop_->scheduler(),
                                     transport_.get(), env_.show);
}

ChatHost::~ChatHost() {
  loop_->Call([this] { core_.reset(); });
  // Waits for the streams' last callbacks, which post to the loop.
  transport_.reset();
  probe_transport_.reset();
  loop_->Stop();
}

void ChatHost::SetSettingsSource(std::function<ChatSettings()> source) {
  settings_source_ = std::move(source);
}

ChatSettings ChatHost::Settings() const {
  return settings_source_ ? settings_source_() : ChatSettings{};
}

void ChatHost::OnIncoming(const std::shared_ptr<ChatReply>& reply,
                          pb::ChatEnvelope envelope) {
  // Envelopes wait for the chat loop here; a sender faster than the loop
  // (a flood) must not queue them without bound: its stream is ended and
  // it retries after a backoff, as after any break.
  if (incoming_queued_.fetch_add(1) >= kMaxIncomingQueued) {
    incoming_queued_.fetch_sub(1);
    const uint64_t n = ++incoming_refused_;
    if ((n & (n - 1)) == 0) {
      spdlog::warn(
          "chat: {} incoming envelopes wait for the chat loop; ending the "
          "stream that sent one more ({} so far)",
          kMaxIncomingQueued, n);
    }
    reply->Close(absl::ResourceExhaustedError(
        "the receiver's chat is busy: retry later"));
    return;
  }
  loop_->scheduler().Post([this, reply, e = std::move(envelope)]() mutable {
    incoming_queued_.fetch_sub(1);
    if (core_) core_->OnIncoming(reply, std::move(e));
  });
}

void ChatHost::MemberUp(const std::string& name, const std::string& address) {
  loop_->scheduler().Post([this, name, address] {
    if (!core_) return;
    if (address.empty()) {
      core_->RemoveMember(name, ChatCore::Departure::kGone);
    } else {
      core_->SetMember(name, address);
    }
  });
}

void ChatHost::MemberDown(const std::string& name, ChatCore::Departure how) {
  loop_->scheduler().Post([this, name, how] {
    if (core_) core_->RemoveMember(name, how);
  });
}

void ChatHost::Sync() {
  // The membership's snapshot is taken after every event it has already
  // handed us was posted, so events are never undone by it.
  std::map<std::string, std::string> members = env_.members();
  OnLoop([&] { core_->SyncMembers(members); });
}

bool ChatHost::running() {
  return OnLoop([&] { return core_->running(); });
}

void ChatHost::ApplySettings() {
  const ChatSettings s = Settings();
  OnLoop([&] {
    core_->SetDeliveryTimeout(s.delivery_timeout);
    core_->SetAckTimeout(s.ack_timeout);
  });
}

absl::Status ChatHost::Start() { return StartChat(/*joining=*/false); }

absl::Status ChatHost::StartJoining() { return StartChat(/*joining=*/true); }

absl::Status ChatHost::StartChat(bool joining) {
  const std::string address = env_.address();
  if (address.empty()) {
    return absl::FailedPreconditionError("no gRPC address to announce yet");
  }
  env_.announce(address);
  ApplySettings();
  OnLoop([&] {
    core_->Start();
    if (joining) core_->HoldSends();
  });
  Sync();
  return absl::OkStatus();
}

void ChatHost::EndJoining() {
  OnLoop([&] {
    if (core_->holding()) core_->ReleaseSends();
  });
}

absl::Status ChatHost::Stop() {
  env_.announce("");
  OnLoop([&] { core_->Stop("the chat was stopped"); });
  return absl::OkStatus();
}

absl::Status ChatHost::AnnounceJoined(const Lines& say) {
  // Like msg: a member that crashed a moment ago must not fail init.
  return ReportSent(Send(pb::CHAT_KIND_JOINED, ""), say, /*quiet=*/false,
                    /*all=*/false);
}

absl::Status ChatHost::AnnounceLeaving(const Lines& say) {
  // Like msg: quit does not wait for a member that does not answer.
  return ReportSent(Send(pb::CHAT_KIND_LEAVING, "", Settings().leave_timeout),
                    say, /*quiet=*/false, /*all=*/false);
}

absl::StatusOr<SendResult> ChatHost::Send(pb::ChatKind kind, std::string text,
                                          absl::Duration timeout, bool all) {
  if (text.size() > kMaxText) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message too long: ", text.size(), " bytes (at most ", kMaxText, ")"));
  }
  ApplySettings();
  runtime::Completion<absl::StatusOr<SendResult>> result("the chat");
  loop_->scheduler().Post([this, kind, timeout, all, text = std::move(text),
                           cb = result.Callback()] {
    if (!core_) return;
    core_->Send(kind, text, cb, timeout, all);
  });
  return loop_->Await(result);  // Cancelled if the chat shut down meanwhile
}

absl::Status ChatHost::ReportSent(const absl::StatusOr<SendResult>& result,
                                  const Lines& say, bool quiet, bool all) {
  if (!result.ok()) return result.status();
  std::vector<std::string> who;
  for (const auto& u : result->undelivered) {
    who.push_back(absl::StrCat(u.member, " (", u.reason, ")"));
  }
  const std::string delivered =
      result->delivered.empty()
          ? ""
          : absl::StrCat("delivered to ",
                         absl::StrJoin(result->delivered, ", "));
  // A member still pending, with every member asked for (`all`), or no
  // member at all having it is a failure; otherwise the members that do
  // answer have it.
  if ((!who.empty() || !result->pending.empty()) &&
      (all || result->delivered.empty())) {
    std::vector<std::string> parts;
    if (!who.empty()) {
      parts.push_back(
          absl::StrCat("undelivered to ", absl::StrJoin(who, ", ")));
    }
    if (!result->pending.empty()) {
      parts.push_back(absl::StrCat("no ack yet from ",
                                   absl::StrJoin(result->pending, ", ")));
    }
    if (!delivered.empty()) parts.push_back(delivered);
    return absl::UnavailableError(absl::StrJoin(parts, "; "));
  }
  if (result->delivered.empty()) {
    say("nobody else is in the chat (chatmembers)");
    return absl::OkStatus();
  }
  if (!who.empty()) {
    say(absl::StrCat(delivered, "; undelivered to ", absl::StrJoin(who, ", ")));
  }
  if (!result->pending.empty()) {
    say(absl::StrCat(delivered, "; still sending to ",
                     absl::StrJoin(result->pending, ", "),
                     " in the background (a failure shows in messagesView)"));
  }
  if (who.empty() && result->pending.empty() && !quiet) say(delivered);
  return absl::OkStatus();
}

absl::Status ChatHost::SendLine(absl::string_view line, const Lines& say) {
  std::string text(absl::StripAsciiWhitespace(line));
  if (text.empty()) return absl::OkStatus();
  return ReportSent(Send(pb::CHAT_KIND_MESSAGE, std::move(text)), say,
                    /*quiet=*/true, /*all=*/false);
}

std::pair<bool, std::vector<ChatCore::MemberInfo>> ChatHost::Members() {
  Sync();
  return OnLoop(
      [&] { return std::make_pair(core_->running(), core_->Members()); });
}

ChatStats ChatHost::Stats(bool reset) {
  return OnLoop([&] {
    ChatStats stats = core_->Stats();
    if (reset) core_->ResetStats();
    return stats;
  });
}

ChatStats ChatHost::TotalStats() {
  return OnLoop([&] { return core_->TotalStats(); });
}

absl::StatusOr<absl::Duration> ChatHost::Ping(const std::string& member,
                                              absl::Duration timeout) {
  runtime::Completion<absl::StatusOr<absl::Duration>> result("the chat");
  loop_->scheduler().Post([this, member, timeout, cb = result.Callback()] {
    if (core_) core_->Ping(member, timeout, cb);
  });
  return loop_->Await(result);  // Cancelled if the chat shut down
}

absl::StatusOr<absl::Duration> ChatHost::ProbeNewStream(
    const std::string& member, const std::string& address,
    absl::Duration timeout) {
  runtime::Completion<absl::StatusOr<absl::Duration>> result("chat probe");
  auto cb =
      std::make_shared<std::function<void(absl::StatusOr<absl::Duration>)>>(
          result.Callback());
  auto once = std::make_shared<std::once_flag>();
  // The loop's scheduler, to read the time the pong arrived on; cleared
  // once the wait is over (the stream's callbacks may run later).
  struct Timing {
    std::mutex mu;
    runtime::Scheduler* loop = nullptr;
  };
  auto timing = std::make_shared<Timing>();
  timing->loop = &loop_->scheduler();
  // Dated and timed on the loop's clock (virtual time in a simulation).
  const absl::Time start = Now();
  ChatStreamCallbacks callbacks;
  callbacks.on_envelope = [cb, once, start, timing](pb::ChatEnvelope e) {
    if (e.pongs_size() == 0) return;
    std::lock_guard<std::mutex> lock(timing->mu);
    if (timing->loop == nullptr) return;
    timing->loop->Post([cb, once, start, loop = timing->loop] {
      std::call_once(*once, [&] { (*cb)(loop->Now() - start); });
    });
  };
  callbacks.on_closed = [cb, once](absl::Status s) {
    std::call_once(*once, [&] {
      (*cb)(s.ok() ? absl::UnavailableError("the stream ended") : s);
    });
  };
  std::unique_ptr<ChatStream> stream =
      probe_transport_->Open(address, std::move(callbacks));
  pb::ChatEnvelope ping;
  // A new stream like any other: it opens with a signed hello.
  if (env_.authenticator) {
    auto hello = MakeHello(
        *env_.authenticator, env_.name, member, env_.group ? env_.group() : "",
        absl::StrCat(env_.session, "/probe/", ++probes_), start);
    if (hello.ok()) *ping.mutable_hello() = *std::move(hello);
  }
  ping.add_pings()->set_nonce(1);
  stream->Send(std::move(ping));
  // No answer within `timeout` ends the wait (on the loop's time).
  loop_->scheduler().Post([this, cb, once, timeout] {
    loop_->scheduler().After(timeout, [cb, once, timeout] {
      std::call_once(*once, [&] {
        (*cb)(absl::DeadlineExceededError(
            absl::StrCat("no answer within ", absl::FormatDuration(timeout))));
      });
    });
  });
  auto r = loop_->Await(result);
  {
    std::lock_guard<std::mutex> lock(timing->mu);
    timing->loop = nullptr;
  }
  stream->Close();
  return r;
}

absl::Time ChatHost::Now() {
  return OnLoop([this] { return loop_->scheduler().Now(); });
}

absl::StatusOr<ChatHost::FloodResult> ChatHost::Flood(int64_t count,
                                                      int64_t bytes,
                                                      int64_t window) {
  struct Flood {
    int64_t remaining, in_flight = 0, bytes, window;
    uint64_t delivered = 0, undelivered = 0, next = 0;
    absl::Status error;
    std::function<void(absl::Status)> done;
    std::function<void()> kick;
  };
  runtime::Completion<absl::Status> finished("the chat");
  auto flood = std::make_shared<Flood>();
  flood->remaining = count;
  flood->bytes = bytes;
  flood->window = window;
  flood->done = finished.Callback();
  const absl::Time start = Now();  // the loop's clock
  // Runs on the loop; each completion sends the next message.
  flood->kick = [this, f = flood.get()] {
    while (core_ && f->error.ok() && f->remaining > 0 &&
           f->in_flight < f->window) {
      --f->remaining;
      ++f->in_flight;
      std::string text = absl::StrCat("flood ", ++f->next, " ");
      if (static_cast<int64_t>(text.size()) < f->bytes) {
        text.resize(static_cast<size_t>(f->bytes), 'x');
      }
      core_->Send(
          pb::CHAT_KIND_MESSAGE, std::move(text),
          [f](absl::StatusOr<SendResult> r) {
            --f->in_flight;
            if (!r.ok()) {
              f->error = r.status();
            } else {
              f->delivered += r->delivered.size();
              f->undelivered += r->undelivered.size();
            }
            f->kick();
          },
          absl::InfiniteDuration(), /*all=*/true);
    }
    if (f->in_flight == 0 && f->done) {
      auto done = std::move(f->done);
      f->done = nullptr;
      done(f->error);
    }
  };
  loop_->scheduler().Post([flood] { flood->kick(); });
  auto r = loop_->Await(finished);
  const absl::Time end = OnLoop([&] {
    flood->kick = nullptr;  // breaks the cycle
    return loop_->scheduler().Now();
  });
  const absl::Duration elapsed = end - start;
  if (!r.ok()) return r;  // Cancelled if the chat shut down
  return FloodResult{.elapsed = elapsed,
                     .delivered = flood->delivered,
                     .undelivered = flood->undelivered};
}

}  // namespace peerlab::chat
