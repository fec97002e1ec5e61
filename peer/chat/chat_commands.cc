#include "peer/chat/chat_commands.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

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

// The lines of a host operation, to a command's output.
Lines To(cli::Output& out) {
  return [&out](const std::string& line) { out.Print(line); };
}

}  // namespace

ChatCommands::ChatCommands(ChatHost* host, Env env)
    : host_(host), env_(std::move(env)) {}

ChatCommands::~ChatCommands() = default;

absl::Status ChatCommands::Register(cli::Registry& registry,
                                    cli::ConfigRegistry& config) {
  config_ = &config;
  for (auto s :
       {config.AddDuration("chat.delivery_timeout",
                           "how long a message is retried for one member "
                           "before it is reported undelivered",
                           &settings_.delivery_timeout, absl::Milliseconds(10)),
        config.AddDuration("chat.ack_timeout",
                           "a stream with no ack for this long is reopened; "
                           "msg waits this long for a member before listing "
                           "it as still pending",
                           &settings_.ack_timeout, absl::Milliseconds(10)),
        config.AddDuration("chat.leave_timeout",
                           "how long chatleave (and quit) wait for acks",
                           &settings_.leave_timeout, absl::Milliseconds(10)),
        config.AddDuration("chat.ping_timeout",
                           "chatping and chatmemberping give up after this",
                           &settings_.ping_timeout, absl::Milliseconds(10))}) {
    if (!s.ok()) return s;
  }
  host_->SetSettingsSource([this] {
    auto lock = config_->Lock();
    return settings_;
  });

  std::vector<cli::Command> commands = {
      {.name = "chatstart",
       .group = "chat",
       .summary = "announces this peer's chat address and starts the chat",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         if (auto s = host_->Start(); !s.ok()) return s;
         auto members = host_->Members().second;
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
         if (auto s = host_->Stop(); !s.ok()) return s;
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
       .handler =
           [this](const cli::Call&, cli::Output& out) {
             return host_->AnnounceLeaving(To(out));
           }},
      {.name = "chatmembers",
       .group = "chat",
       .summary = "lists the chat members and the stream to each",
       .max_args = 0,
       .handler = [this](const cli::Call&, cli::Output& out) -> absl::Status {
         auto [running, members] = host_->Members();
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
       .handler = [this](const cli::Call& call,
                         cli::Output& out) -> absl::Status {
         auto r = host_->Ping(call.args[0], host_->Settings().ping_timeout);
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
       .handler = [this](const cli::Call& call,
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
         auto rtt = host_->ProbeNewStream(name, view->chat_address,
                                          host_->Settings().ping_timeout);
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
         return ChatHost::ReportSent(
             host_->Send(pb::CHAT_KIND_MESSAGE, std::move(text),
                         absl::InfiniteDuration(), all),
             To(out), /*quiet=*/true, all);
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
         ChatStats s = host_->Stats(/*reset=*/!call.args.empty());
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
             bytes > static_cast<int64_t>(ChatHost::kMaxText) || window < 1) {
           return absl::InvalidArgumentError(
               "COUNT, BYTES and WINDOW must be positive (BYTES <= 16384)");
         }
         auto flood = host_->Flood(*count, bytes, window);
         if (!flood.ok()) return flood.status();  // Cancelled: chat shut down
         const absl::Duration elapsed = flood->elapsed;
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
