#include "peer/control/control_service.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/escape.h"
#include "base/grpc_status.h"
#include "peer/cli/parser.h"
#include "peer/cli/session.h"
#include "spdlog/spdlog.h"

namespace peerlab::peer {

namespace pb = ::peer::v1;

namespace {

// A message never grows past this many bytes of text (gRPC's default
// receive limit is 4 MiB); a larger batch is split over several messages.
constexpr size_t kMaxMessageBytes = 1 << 20;
// An Execute answer carries at most this many bytes of output lines, so
// that it stays under the 4 MiB that default gRPC clients accept; the rest
// is left out with a note (the views still get every line).
constexpr size_t kMaxAnswerOutputBytes = 3 << 20;
// And at most this much of the command's status message.
constexpr size_t kMaxAnswerMessageBytes = 64 << 10;
// Bytes a ViewLine costs in an answer besides its text and view name
// (seq, time, tags: generous).
constexpr size_t kLineOverhead = 32;
// How long a stream that is asked to end waits for its write in flight
// before cancelling the call (a watcher that does not read).
constexpr absl::Duration kEndGrace = absl::Seconds(1);

void ToProto(const cli::ViewLine& line, pb::ViewLine* out) {
  out->set_seq(line.seq);
  timespec ts = absl::ToTimespec(line.time);
  out->mutable_time()->set_seconds(ts.tv_sec);
  out->mutable_time()->set_nanos(static_cast<int32_t>(ts.tv_nsec));
  out->set_view(line.view);
  out->set_text(line.text);
  // A record the peer's own code attached (cli::ViewHub::WriteRecord); one
  // that does not parse is left out rather than sent half-read.
  if (!line.record.empty() &&
      !out->mutable_record()->ParseFromString(line.record)) {
    out->clear_record();
  }
}

// Compares in time independent of where the strings differ.
bool SameSecret(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// Whether the call's bearer token is one `accept` (guarded by `mu`) takes.
bool AlsoAccepted(const grpc::CallbackServerContext& context, std::mutex& mu,
                  const std::function<bool(absl::string_view)>& accept) {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return false;
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) return false;
  std::lock_guard<std::mutex> lock(mu);
  return accept && accept(value);
}

// `text` cut to at most `max` bytes, not inside a UTF-8 sequence.
std::string CutUtf8(absl::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return std::string(text.substr(0, end));
}

// What a remote command prints: every line goes to the views as usual, and
// the answer keeps lines up to kMaxAnswerOutputBytes; the lines (or the
// part of a line) that do not fit are counted, not kept. Thread-safe.
// With `quiet` (ExecuteRequest.quiet) the lines go to the answer only.
class CappedCapture : public cli::Output {
 public:
  CappedCapture(cli::ViewHub* hub, bool quiet) : hub_(hub), quiet_(quiet) {}

  void ToView(absl::string_view view, absl::string_view text) override {
    std::vector<cli::ViewLine> lines =
        quiet_ ? Unwritten(view, text) : hub_->Write(view, text);
    std::lock_guard<std::mutex> lock(mu_);
    for (cli::ViewLine& line : lines) {
      if (full_) {
        ++omitted_lines_;
        omitted_bytes_ += line.text.size();
        continue;
      }
      const size_t fixed = line.view.size() + kLineOverhead;
      if (bytes_ + fixed + line.text.size() <= kMaxAnswerOutputBytes) {
        bytes_ += fixed + line.text.size();
        kept_.push_back(std::move(line));
        continue;
      }
      // The first line that does not fit: keep what fits of it, then
      // nothing more.
      full_ = true;
      size_t room = bytes_ + fixed < kMaxAnswerOutputBytes
                        ? kMaxAnswerOutputBytes - bytes_ - fixed
                        : 0;
      if (room == 0) {
        ++omitted_lines_;
        omitted_bytes_ += line.text.size();
        continue;
      }
      std::string cut = CutUtf8(line.text, room);
      omitted_bytes_ += line.text.size() - cut.size();
      line.text = std::move(cut);
      kept_.push_back(std::move(line));
      cut_line_ = true;
    }
  }

  // The lines ViewHub::Write would make of `text`, written nowhere (seq 0).
  static std::vector<cli::ViewLine> Unwritten(absl::string_view view,
                                              absl::string_view text) {
    std::vector<cli::ViewLine> lines;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    const absl::Time now = absl::Now();
    for (absl::string_view part : absl::StrSplit(text, '\n')) {
      if (!part.empty() && part.back() == '\r') part.remove_suffix(1);
      lines.push_back({.time = now,
                       .view = std::string(view),
                       .text = EscapeControl(part)});
    }
    return lines;
  }

  // The kept lines into `response`, then, if anything was left out, a note
  // saying how much (in the answer only, as an outputView line).
  void Fill(pb::ExecuteResponse* response) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const cli::ViewLine& line : kept_) {
      ToProto(line, response->add_output());
    }
    if (!full_) return;
    std::string note = absl::StrCat(
        "(output truncated: an answer holds at most ",
        kMaxAnswerOutputBytes >> 20, " MiB of output; ",
        cut_line_ ? "the line above was cut, " : "", omitted_lines_,
        " more line(s) and ", omitted_bytes_,
        " byte(s) of text left out; WatchViews or the peer's log has them)");
    pb::ViewLine* out = response->add_output();
    out->set_view(cli::kOutputView);
    out->set_text(note);
    timespec ts = absl::ToTimespec(absl::Now());
    out->mutable_time()->set_seconds(ts.tv_sec);
    out->mutable_time()->set_nanos(static_cast<int32_t>(ts.tv_nsec));
  }

 private:
  cli::ViewHub* const hub_;
  const bool quiet_;
  std::mutex mu_;
  // Guarded by mu_.
  std::vector<cli::ViewLine> kept_;
  size_t bytes_ = 0;       // answer bytes of kept_
  bool full_ = false;      // nothing more is kept
  bool cut_line_ = false;  // the last kept line was cut
  uint64_t omitted_lines_ = 0;
  uint64_t omitted_bytes_ = 0;
};

}  // namespace

// One WatchViews stream, on the shared stream writer
// (base/grpc_stream_writer.h): its thread drains the queue; End() (the
// service's end, the client's cancel) closes the queue so the stream ends
// with OK.
class WatchViewsReactor : public StreamWriter<pb::WatchViewsResponse> {
 public:
  WatchViewsReactor(ControlService* owner, grpc::CallbackServerContext* context,
                    const pb::WatchViewsRequest& request)
      : StreamWriter(context, kEndGrace),
        owner_(owner),
        views_(request.views().begin(), request.views().end()),
        include_history_(request.include_history()),
        // Following starts before the history is read, so no line falls
        // between the two; Produce() drops the ones seen twice.
        queue_(owner->hub_, views_, owner->options_.watch_queue_capacity) {}

 private:
  void OnEnd() override { queue_.Close(); }
  void OnFinished() override { owner_->ForgetWatcher(this); }

  // Sends history and live lines until End() or a failed write.
  grpc::Status Produce() override {
    // Per view, the seq of the last line sent from its history: the queue
    // may hold it again.
    std::map<std::string, uint64_t, std::less<>> history_end;
    if (include_history_) {
      std::vector<std::string> names =
          views_.empty()
              ? owner_->hub_->Views()
              : std::vector<std::string>(views_.begin(), views_.end());
      std::vector<cli::ViewLine> lines;
      for (const std::string& name : names) {
        std::vector<cli::ViewLine> held = owner_->hub_->History(name);
        if (held.empty()) continue;
        history_end[name] = held.back().seq;
        lines.insert(lines.end(), std::make_move_iterator(held.begin()),
                     std::make_move_iterator(held.end()));
      }
      std::sort(lines.begin(), lines.end(),
                [](const cli::ViewLine& a, const cli::ViewLine& b) {
                  return a.seq < b.seq;
                });
      if (!lines.empty() && !Send(lines, 0)) return StreamBroken();
    }
    while (true) {
      cli::ViewQueue::Batch batch = queue_.Pop(absl::Seconds(1));
      if (batch.closed) return grpc::Status::OK;
      if (!history_end.empty()) {
        std::erase_if(batch.lines, [&](const cli::ViewLine& line) {
          auto it = history_end.find(line.view);
          return it != history_end.end() && line.seq <= it->second;
        });
      }
      if (batch.lines.empty() && batch.dropped == 0) continue;
      if (!Send(batch.lines, batch.dropped)) return StreamBroken();
    }
  }

  grpc::Status StreamBroken() {
    return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
  }

  // Sends `lines` in as few messages as the size limit allows; `dropped`
  // goes with the first. False when a write failed.
  bool Send(const std::vector<cli::ViewLine>& lines, uint64_t dropped) {
    pb::WatchViewsResponse message;
    message.set_dropped(dropped);
    size_t bytes = 0;
    for (const cli::ViewLine& line : lines) {
      size_t size =
          line.text.size() + line.view.size() + line.record.size() + 32;
      if (message.lines_size() > 0 && bytes + size > kMaxMessageBytes) {
        if (!Write(message)) return false;
        message.Clear();
        bytes = 0;
      }
      ToProto(line, message.add_lines());
      bytes += size;
    }
    return Write(message);
  }

  ControlService* const owner_;
  const std::set<std::string> views_;
  const bool include_history_;
  cli::ViewQueue queue_;
};

ControlService::ControlService(cli::Registry* registry, cli::ViewHub* hub,
                               Options options)
    : registry_(registry), hub_(hub), options_(std::move(options)) {}

ControlService::~ControlService() {
  Shutdown();
  threads_.Join();
}

void ControlService::Shutdown() {
  // Holding mu_ keeps every listed reactor alive: its thread must
  // ForgetWatcher() before deleting it.
  std::lock_guard<std::mutex> lock(mu_);
  ending_ = true;
  for (WatchViewsReactor* w : watchers_) w->End();
}

void ControlService::SetAlsoAccept(
    std::function<bool(absl::string_view)> accept) {
  std::lock_guard<std::mutex> lock(also_accept_mu_);
  also_accept_ = std::move(accept);
}

grpc::Status ControlService::CheckToken(
    const grpc::CallbackServerContext& context, bool* by_lab) const {
  if (by_lab != nullptr) *by_lab = false;
  if (AlsoAccepted(context, also_accept_mu_, also_accept_)) {
    if (by_lab != nullptr) *by_lab = true;
    return grpc::Status::OK;
  }
  if (options_.token.empty()) return grpc::Status::OK;
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  const std::string where =
      options_.token_hint.empty()
          ? std::string()
          : absl::StrCat("; the token is in ", options_.token_hint);
  if (it == md.end()) {
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat("this peer requires a control token (\"authorization: "
                     "Bearer TOKEN\")",
                     where));
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ") ||
      !SameSecret(value, options_.token)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("wrong control token", where));
  }
  return grpc::Status::OK;
}

absl::Status ControlService::CheckLabMayRun(absl::string_view line) const {
  auto parsed = cli::ParseLine(line);
  if (!parsed.ok() || parsed->command.empty()) return absl::OkStatus();
  std::optional<cli::Command> command = registry_->Find(parsed->command);
  if (command.has_value() && command->name == "faults") {
    if (options_.lab_may_inject_faults && options_.lab_may_inject_faults()) {
      return absl::OkStatus();
    }
    spdlog::warn(
        "refused faults from the harness coordinator (lab.allow_faults is "
        "off)");
    return absl::PermissionDeniedError(
        "faults is refused to the harness coordinator: this peer's owner "
        "has not turned on lab.allow_faults");
  }
  if (!command.has_value() ||
      (command->name != "shell" && command->name != "execute" &&
       command->name != "handler")) {
    return absl::OkStatus();
  }
  if (options_.lab_may_run_programs && options_.lab_may_run_programs()) {
    return absl::OkStatus();
  }
  spdlog::warn(
      "refused {} from the harness coordinator (lab.allow_programs "
      "is off)",
      command->name);
  return absl::PermissionDeniedError(absl::StrCat(
      command->name,
      " is refused to the harness coordinator: this peer's owner has not "
      "turned on lab.allow_programs"));
}

void ControlService::ForgetWatcher(WatchViewsReactor* reactor) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.erase(reactor);
}

grpc::ServerUnaryReactor* ControlService::Execute(
    grpc::CallbackServerContext* context, const pb::ExecuteRequest* request,
    pb::ExecuteResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  bool by_lab = false;
  if (grpc::Status s = CheckToken(*context, &by_lab); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  if (by_lab) {
    if (absl::Status s = CheckLabMayRun(request->line()); !s.ok()) {
      response->set_code(s.raw_code());
      response->set_message(std::string(s.message()));
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
  }
  grpc::Status refusal;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_) {
      refusal = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "the peer is shutting down");
    } else if (running_commands_ >= options_.max_running_commands) {
      refusal = grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("already ", running_commands_,
                       " remote commands running; try again later"));
    } else {
      ++running_commands_;
    }
  }
  if (!refusal.ok()) {
    reactor->Finish(refusal);
    return reactor;
  }
  threads_.Spawn([this, reactor, request, response] {
    CappedCapture out(hub_, request->quiet());
    absl::Status status =
        cli::RunLine(*registry_, request->line(), out, /*remote=*/true);
    response->set_code(status.raw_code());
    response->set_message(CutUtf8(status.message(), kMaxAnswerMessageBytes));
    out.Fill(response);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_commands_;
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<pb::WatchViewsResponse>* ControlService::WatchViews(
    grpc::CallbackServerContext* context,
    const pb::WatchViewsRequest* request) {
  if (grpc::Status s = CheckToken(*context); !s.ok()) {
    return new RefusedWriter<pb::WatchViewsResponse>(s);
  }
  WatchViewsReactor* reactor = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_) {
      return new RefusedWriter<pb::WatchViewsResponse>(grpc::Status(
          grpc::StatusCode::UNAVAILABLE, "the peer is shutting down"));
    }
    if (watchers_.size() >= static_cast<size_t>(options_.max_watchers)) {
      return new RefusedWriter<pb::WatchViewsResponse>(
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       absl::StrCat("already ", watchers_.size(),
                                    " watchers; try again later")));
    }
    reactor = new WatchViewsReactor(this, context, *request);
    watchers_.insert(reactor);
  }
  threads_.Spawn([reactor] { WatchViewsReactor::Run(reactor); });
  return reactor;
}

}  // namespace peerlab::peer
