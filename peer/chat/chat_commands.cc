#include "peer/chat/chat_commands.h"

#include <mutex>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "peer/runtime/completion.h"
#include "base/logging.h"

namespace peerlab::chat {
namespace {

namespace pb = ::peer::v1;

std::string Ms(absl::Duration d) {
  return absl::StrFormat("%.3f ms", absl::ToDoubleMilliseconds(d));
}

// "streams authenticated N, refused M (no hello 1, bad signature 2)": the
// incoming streams, and the refusals by kind (chat_auth.h).
std::string StreamsLine(const ChatStats& s) {
  uint64_t total = 0;
  std::vector<std::string> kinds;
  for (size_t k = 0; k < s.streams_refused.size(); ++k) {
    if (s.streams_refused[k] == 0) continue;
    total += s.streams_refused[k];
    kinds.push_back(absl::StrCat(RefusalName(static_cast<Refusal>(k)), " ",
                                 s.streams_refused[k]));
  }
  return absl::StrCat(
      "streams authenticated ", s.streams_authenticated, ", streams refused ",
      total,
      kinds.empty() ? "" : absl::StrCat(" (", absl::StrJoin(kinds, ", "), ")"),
      s.hello_nonces_evicted
          ? absl::StrCat(", hello nonces forgotten (over the bound) ",
                         s.hello_nonces_evicted)
          : "");
}

// Messages are one line and at most this long.
constexpr size_t kMaxText = 16 * 1024;

}  // namespace

ChatCommands::ChatCommands(Env env)
    : env_(std::move(env)),
      loop_(std::make_unique<runtime::EventLoop>("chat")),
      transport_(std::make_unique<GrpcChatTransport>(env_.credentials)),
      probe_transport_(std::make_unique<GrpcChatTransport>(env_.credentials)) {
  ChatCore::Options options;
  options.name = env_.name;
  options.session = env_.session;
  options.delivery_timeout = delivery_timeout_;
  options.ack_timeout = ack_timeout_;
  options.authenticator = env_.authenticator.get();
  options.group = env_.group;
  core_ =
      std::make_unique<ChatCore>(options, loop_.get(), transport_.get(),
                                 [hub = env_.views](const std::string& line) {
                                   hub->Write(cli::kMessagesView, line);
                                 });
  if (env_.service) env_.service->SetHandler(this);
}

ChatCommands::~ChatCommands() {
  if (env_.service) env_.service->SetHandler(nullptr);
  loop_->Call([this] { core_.reset(); });
  // Waits for the streams' last callbacks, which post to the loop.
  transport_.reset();
  probe_transport_.reset();
  loop_->Stop();
}

template <typename F>
auto ChatCommands::OnLoop(F f) -> decltype(f()) {
  return loop_->Call(std::move(f));
}

void ChatCommands::OnIncoming(const std::shared_ptr<ChatReply>& reply,
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
  loop_->Post([this, reply, e = std::move(envelope)]() mutable {
    incoming_queued_.fetch_sub(1);
    if (core_) core_->OnIncoming(reply, std::move(e));
  });
}

void ChatCommands::MemberUp(const std::string& name,
                            const std::string& address) {
  loop_->Post([this, name, address] {
    if (!core_) return;
    if (address.empty()) {
      core_->RemoveMember(name, ChatCore::Departure::kGone);
    } else {
      core_->SetMember(name, address);
    }
  });
}

void ChatCommands::MemberDown(const std::string& name,
                              ChatCore::Departure how) {
  loop_->Post([this, name, how] {
    if (core_) core_->RemoveMember(name, how);
  });
}

void ChatCommands::Sync() {
  // The membership's snapshot is taken after every event it has already
  // handed us was posted, so events are never undone by it.
  std::map<std::string, std::string> members = env_.members();
  OnLoop([&] { core_->SyncMembers(members); });
}

bool ChatCommands::running() {
  return OnLoop([&] { return core_->running(); });
}

absl::Status ChatCommands::Start() {
  const std::string address = env_.address();
  if (address.empty()) {
    return absl::FailedPreconditionError("no gRPC address to announce yet");
  }
  env_.announce(address);
  {
    auto lock = config_->Lock();
    absl::Duration d = delivery_timeout_, a = ack_timeout_;
    lock.unlock();
    OnLoop([&] {
      core_->SetDeliveryTimeout(d);
      core_->SetAckTimeout(a);
      core_->Start();
    });
  }
  Sync();
  return absl::OkStatus();
}

absl::Status ChatCommands::Stop() {
  env_.announce("");
  OnLoop([&] { core_->Stop("the chat was stopped"); });
  return absl::OkStatus();
}

absl::Status ChatCommands::AnnounceJoined(cli::Output& out) {
  // Like msg: a member that crashed a moment ago must not fail init.
  return CheckSent(Send(pb::CHAT_KIND_JOINED, ""), out, /*quiet=*/false,
                   /*all=*/false);
}

absl::Status ChatCommands::AnnounceLeaving(cli::Output& out) {
  absl::Duration wait;
  {
    auto lock = config_->Lock();
    wait = leave_timeout_;
  }
  // Like msg: quit does not wait for a member that does not answer.
  return CheckSent(Send(pb::CHAT_KIND_LEAVING, "", wait), out,
                   /*quiet=*/false, /*all=*/false);
}

absl::StatusOr<SendResult> ChatCommands::Send(pb::ChatKind kind,
                                              std::string text,
                                              absl::Duration timeout,
                                              bool all) {
  if (text.size() > kMaxText) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message too long: ", text.size(), " bytes (at most ", kMaxText, ")"));
  }
  {
    auto lock = config_->Lock();
    absl::Duration d = delivery_timeout_, a = ack_timeout_;
    lock.unlock();
    OnLoop([&] {
      core_->SetDeliveryTimeout(d);
      core_->SetAckTimeout(a);
    });
  }
  runtime::Completion<absl::StatusOr<SendResult>> result("the chat");
  loop_->Post([this, kind, timeout, all, text = std::move(text),
               cb = result.Callback()] {
    if (!core_) return;
    core_->Send(kind, text, cb, timeout, all);
  });
  return result.Wait();  // Cancelled if the chat shut down meanwhile
}

absl::Status ChatCommands::CheckSent(const absl::StatusOr<SendResult>& result,
                                     cli::Output& out, bool quiet, bool all) {
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
    out.Print("nobody else is in the chat (chatmembers)");
    return absl::OkStatus();
  }
  if (!who.empty()) {
    out.Print(
        absl::StrCat(delivered, "; undelivered to ", absl::StrJoin(who, ", ")));
  }
  if (!result->pending.empty()) {
    out.Print(absl::StrCat(
        delivered, "; still sending to ", absl::StrJoin(result->pending, ", "),
        " in the background (a failure shows in messagesView)"));
  }
  if (who.empty() && result->pending.empty() && !quiet) out.Print(delivered);
  return absl::OkStatus();
}

absl::Status ChatCommands::SendLine(absl::string_view line, cli::Output& out) {
  std::string text(absl::StripAsciiWhitespace(line));
  if (text.empty()) return absl::OkStatus();
  return CheckSent(Send(pb::CHAT_KIND_MESSAGE, std::move(text)), out,
                   /*quiet=*/true, /*all=*/false);
}

absl::StatusOr<absl::Duration> ChatCommands::ProbeNewStream(
    const std::string& member, const std::string& address,
    absl::Duration timeout) {
  runtime::Completion<absl::StatusOr<absl::Duration>> result("chat probe");
  auto cb =
      std::make_shared<std::function<void(absl::StatusOr<absl::Duration>)>>(
          result.Callback());
  auto once = std::make_shared<std::once_flag>();
  const absl::Time start = absl::Now();
  ChatStreamCallbacks callbacks;
  callbacks.on_envelope = [cb, once, start](pb::ChatEnvelope e) {
    if (e.pongs_size() == 0) return;
    std::call_once(*once, [&] { (*cb)(absl::Now() - start); });
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
        absl::StrCat(env_.session, "/probe/", ++probes_), absl::Now());
    if (hello.ok()) *ping.mutable_hello() = *std::move(hello);
  }
  ping.add_pings()->set_nonce(1);
  stream->Send(std::move(ping));
  auto r = result.WaitFor(timeout);
  stream->Close();
  if (!result.completed()) {
    return absl::DeadlineExceededError(
        absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
  }
  return r;
}

absl::Status ChatCommands::Register(cli::Registry& registry,
                                    cli::ConfigRegistry& config) {
  config_ = &config;
  for (auto s :
       {config.AddDuration("chat.delivery_timeout",
                           "how long a message is retried for one member "
                           "before it is reported undelivered",
                           &delivery_timeout_, absl::Milliseconds(10)),
        config.AddDuration("chat.ack_timeout",
                           "a stream with no ack for this long is reopened; "
                           "msg waits this long for a member before listing "
                           "it as still pending",
                           &ack_timeout_, absl::Milliseconds(10)),
        config.AddDuration("chat.leave_timeout",
                           "how long chatleave (and quit) wait for acks",
                           &leave_timeout_, absl::Milliseconds(10)),
        config.AddDuration("chat.ping_timeout",
                           "chatping and chatmemberping give up after this",
                           &ping_timeout_, absl::Milliseconds(10))}) {
    if (!s.ok()) return s;
  }
  auto setting = [this](absl::Duration* d) {
    auto lock = config_->Lock();
    return *d;
  };

  std::vector<cli::Command> commands = {
      {.name = "chatstart",
       .group = "chat",
       .summary = "announces this peer's chat address and starts the chat",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = Start(); !s.ok()) return s;
         auto members = OnLoop([&] { return core_->Members(); });
         out.Print(absl::StrCat("chat started on ", env_.address(), " (",
                                members.size(), " other member(s))"));
         return absl::OkStatus();
       }},
      {.name = "chatstop",
       .group = "chat",
       .summary = "stops the chat: withdraws the address, gives up pending "
                  "messages, refuses incoming ones",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = Stop(); !s.ok()) return s;
         out.Print("chat stopped");
         return absl::OkStatus();
       }},
      {.name = "chatleave",
       .group = "chat",
       .summary = "tells every chat member that this peer is leaving",
       .help = "Sends \"<left> NAME is leaving\" and waits up to "
               "chat.leave_timeout for the acks. The chat keeps running "
               "(chatstop stops it); quit does this before leaving the "
               "group.",
       .max_args = 0,
       .handler = [this](const cli::Call&,
                         cli::Output& out) { return AnnounceLeaving(out); }},
      {.name = "chatmembers",
       .group = "chat",
       .summary = "lists the chat members and the stream to each",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         Sync();
         auto [running, members] = OnLoop([&] {
           return std::make_pair(core_->running(), core_->Members());
         });
         for (const auto& m : members) {
           out.Print(absl::StrFormat(
               "%-16s %-22s %-8s %d pending%s", m.name, m.address,
               m.stream_open ? "open" : "idle", m.pending,
               m.reconnects ? absl::StrCat(", ", m.reconnects, " reconnect(s)")
                            : ""));
         }
         // "N chat member(s)" ends the line when the chat runs (scripts
         // and tests look for it).
         out.Print(absl::StrCat(
             members.empty() ? "no other member announces a chat (chatstart "
                               "there): "
                             : "",
             members.size(), " chat member(s)",
             running ? "" : " (chat not started)"));
         return absl::OkStatus();
       }},
      {.name = "chatping",
       .group = "chat",
       .usage = "chatping MEMBER",
       .summary = "round trip to MEMBER over the chat stream",
       .min_args = 1,
       .max_args = 1,
       .handler = [this, setting](const cli::Call& call,
                                  cli::Output& out) -> absl::Status {
         absl::Duration timeout = setting(&ping_timeout_);
         runtime::Completion<absl::StatusOr<absl::Duration>> result("the chat");
         loop_->Post(
             [this, member = call.args[0], timeout, cb = result.Callback()] {
               if (core_) core_->Ping(member, timeout, cb);
             });
         auto r = result.Wait();  // Cancelled if the chat shut down
         if (!r.ok()) return r.status();
         out.Print(absl::StrCat("reply from ", call.args[0], " in ", Ms(*r)));
         return absl::OkStatus();
       }},
      {.name = "chatmemberping",
       .group = "chat",
       .usage = "chatmemberping MEMBER",
       .summary = "MEMBER as the membership sees it, and a round trip on a "
                  "new stream to its announced chat address",
       .min_args = 1,
       .max_args = 1,
       .handler = [this, setting](const cli::Call& call,
                                  cli::Output& out) -> absl::Status {
         const std::string& name = call.args[0];
         auto view = env_.member_view(name);
         if (!view.ok()) return view.status();
         out.Print(absl::StrCat(
             name, ": ", view->state, ", chat address ",
             view->chat_address.empty() ? "(none)" : view->chat_address));
         if (view->chat_address.empty()) {
           return absl::FailedPreconditionError(
               absl::StrCat(name,
                            " announces no chat address (chatstart "
                            "there)"));
         }
         auto rtt =
             ProbeNewStream(name, view->chat_address, setting(&ping_timeout_));
         if (!rtt.ok()) {
           return absl::UnavailableError(
               absl::StrCat(name, "'s chat at ", view->chat_address,
                            " does not answer: ", rtt.status().message()));
         }
         out.Print(absl::StrCat("chat at ", view->chat_address, " answered in ",
                                Ms(*rtt),
                                " (new stream, connection included)"));
         return absl::OkStatus();
       }},
      {.name = "msg",
       .group = "chat",
       .usage = "msg [--all] TEXT",
       .summary = "sends TEXT to every chat member",
       .help = "Returns as soon as every member that answers has acked "
               "(members that do not within chat.ack_timeout, or whose "
               "stream is broken, are listed as still pending and retried "
               "in the background; if one is given up on later, \"<error> "
               "undelivered to ...\" shows in messagesView). Fails only "
               "when no member got it. With --all: waits for every member "
               "and fails naming those that did not get it (dead, left, or "
               "no ack within chat.delivery_timeout). A typed line that is "
               "not a command is sent like msg TEXT.",
       .min_args = 1,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         absl::string_view rest = absl::StripAsciiWhitespace(call.rest);
         bool all = false;
         if (call.args[0] == "--all" &&
             (rest == "--all" || absl::StartsWith(rest, "--all ") ||
              absl::StartsWith(rest, "--all\t"))) {
           all = true;
           rest = absl::StripAsciiWhitespace(rest.substr(5));
           if (rest.empty()) {
             return absl::InvalidArgumentError("usage: msg [--all] TEXT");
           }
         }
         std::string text(rest);
         return CheckSent(Send(pb::CHAT_KIND_MESSAGE, std::move(text),
                               absl::InfiniteDuration(), all),
                          out, /*quiet=*/true, all);
       }},
      {.name = "chatstats",
       .group = "chat",
       .usage = "chatstats [reset]",
       .summary = "chat counters and delivery latency",
       .help = "Latency is measured where messages are shown: receive time "
               "minus the sender's timestamp (so only meaningful when the "
               "clocks agree, e.g. peers on one host).",
       .max_args = 1,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         if (!call.args.empty() && call.args[0] != "reset") {
           return absl::InvalidArgumentError(
               absl::StrCat("unknown subcommand \"", call.args[0],
                            "\" of chatstats; valid: reset"));
         }
         ChatStats s = OnLoop([&] {
           ChatStats stats = core_->Stats();
           if (!call.args.empty()) core_->ResetStats();
           return stats;
         });
         out.Print(absl::StrCat("sent ", s.sent, ", acked ", s.acked,
                                ", undelivered ", s.undelivered, ", received ",
                                s.received, ", duplicates ", s.duplicates,
                                ", reconnects ", s.reconnects));
         out.Print(absl::StrCat("senders remembered ", s.senders,
                                ", forgotten (over the bound) ",
                                s.senders_evicted));
         out.Print(StreamsLine(s));
         out.Print(absl::StrCat("latency p50 ", Ms(s.latency_p50), ", p99 ",
                                Ms(s.latency_p99), ", max ", Ms(s.latency_max),
                                " (", s.latency_samples, " samples)"));
         return absl::OkStatus();
       }},
      {.name = "chatflood",
       .group = "development",
       .usage = "chatflood COUNT [BYTES] [WINDOW]",
       .summary = "sends COUNT messages as fast as possible (benchmark)",
       .help = "Messages read \"flood N\" padded to BYTES (default 32); at "
               "most WINDOW (default 512) are unacked at a time. Prints the "
               "messages per second sent and delivered.",
       .min_args = 1,
       .max_args = 3,
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         auto count = call.Int(0, "COUNT");
         if (!count.ok()) return count.status();
         int64_t bytes = 32, window = 512;
         if (call.args.size() > 1) {
           auto b = call.Int(1, "BYTES");
           if (!b.ok()) return b.status();
           bytes = *b;
         }
         if (call.args.size() > 2) {
           auto w = call.Int(2, "WINDOW");
           if (!w.ok()) return w.status();
           window = *w;
         }
         if (*count < 1 || bytes < 1 ||
             bytes > static_cast<int64_t>(kMaxText) || window < 1) {
           return absl::InvalidArgumentError(
               "COUNT, BYTES and WINDOW must be positive (BYTES <= 16384)");
         }
         struct Flood {
           int64_t remaining, in_flight = 0, bytes, window;
           uint64_t delivered = 0, undelivered = 0, next = 0;
           absl::Status error;
           std::function<void(absl::Status)> done;
           std::function<void()> kick;
         };
         runtime::Completion<absl::Status> finished("the chat");
         auto flood = std::make_shared<Flood>();
         flood->remaining = *count;
         flood->bytes = bytes;
         flood->window = window;
         flood->done = finished.Callback();
         const absl::Time start = absl::Now();
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
         loop_->Post([flood] { flood->kick(); });
         auto r = finished.Wait();
         OnLoop([&] { flood->kick = nullptr; });  // breaks the cycle
         const absl::Duration elapsed = absl::Now() - start;
         if (!r.ok()) return r;  // Cancelled if the chat shut down
         const double secs = absl::ToDoubleSeconds(elapsed);
         out.Print(absl::StrFormat(
             "sent %d messages in %.3f s: %.0f messages/s, %d deliveries "
             "(%.0f/s), %d undelivered",
             *count, secs, static_cast<double>(*count) / secs, flood->delivered,
             static_cast<double>(flood->delivered) / secs, flood->undelivered));
         return absl::OkStatus();
       }},
  };
  for (auto& command : commands) {
    if (auto s = registry.Register(std::move(command)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace peerlab::chat
