#include "test-harness/coordinator/run.h"

#include <algorithm>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"
#include "peer/cli/view.h"

namespace peerlab::harness {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::harness::v1::RunEvent;
using ::harness::v1::RunState;
using ::harness::v1::StepResult;

constexpr size_t kMaxTimeline = 20000;
// Registrations of the run's peers it follows (each is a connection and a
// watch thread until the step ends).
constexpr uint64_t kMaxRegistrationsPerRun = 500;
// Notices (registrations, deaths) kept per run.
constexpr uint64_t kMaxNotices = 1000;
// What a step keeps of its command's output: lines, bytes of a line. An
// output above kMaxStepOutputBytes fails the step.
constexpr int kMaxOutputLines = 50;
constexpr size_t kMaxOutputLineBytes = 4096;
constexpr size_t kMaxStepOutputBytes = 256 * 1024;
// The output all steps of a run keep together; beyond it steps keep none.
constexpr size_t kMaxRunOutputBytes = 1024 * 1024;
// What a run keeps of a script line, a filter's text or a peer's error
// message, and of a timeline entry's text. With the bounds above, a run's
// summary stays far below peerlab-test's receive limit (run_client.cc).
constexpr size_t kMaxTextBytes = 4096;
constexpr size_t kMaxTimelineTextBytes = 512;
// How long a client may take to carry out a fault.
constexpr absl::Duration kFaultTimeout = absl::Seconds(60);

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(t));
}

std::chrono::system_clock::time_point Chrono(absl::Time t) {
  // Far deadlines would overflow the clock's representation.
  absl::Time cap = absl::Now() + absl::Hours(24 * 365);
  return absl::ToChronoTime(std::min(t, cap));
}

std::string Clock(absl::Time t) {
  return absl::FormatTime("%H:%M:%E3S", t, absl::LocalTimeZone());
}

// "512 B", "64 KiB", "1.0 MiB".
std::string HumanBytes(size_t n) {
  if (n < 1024) return absl::StrCat(n, " B");
  if (n < 1024 * 1024 && n % 1024 == 0) return absl::StrCat(n / 1024, " KiB");
  if (n < 1024 * 1024) return absl::StrFormat("%.1f KiB", n / 1024.0);
  return absl::StrFormat("%.1f MiB", n / (1024.0 * 1024.0));
}

// `text`, or its first `max` bytes and a note.
std::string Cut(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  return absl::StrCat(text.substr(0, max), " [cut: ", HumanBytes(text.size()),
                      "]");
}

std::string Seconds(absl::Duration d) {
  return absl::StrCat(absl::ToDoubleSeconds(d), " s");
}

// "member bob is suspect" from "info  [alice] member bob is suspect", when
// the log line is a membership event; "" otherwise.
std::string MembershipEvent(const std::string& log_line) {
  size_t at = log_line.find("] member ");
  if (at == std::string::npos) return "";
  std::string text = log_line.substr(at + 2);
  for (const char* what : {" joined", " left", " failed", " is suspect",
                           " is alive again", " updated"}) {
    if (absl::StrContains(text, what)) return text;
  }
  return "";
}

}  // namespace

std::string NewRunId() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrCat(
      absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::LocalTimeZone()),
      "-", absl::StrFormat("%06x", rng() & 0xffffff));
}

::harness::v1::RunOptions WithDefaults(::harness::v1::RunOptions o) {
  if (o.end_timeout_ms() <= 0) o.set_end_timeout_ms(10000);
  if (o.quiet_ms() <= 0) o.set_quiet_ms(250);
  if (o.step_timeout_ms() <= 0) o.set_step_timeout_ms(30000);
  if (o.peer_wait_timeout_ms() <= 0) o.set_peer_wait_timeout_ms(15000);
  if (o.lab().empty()) o.set_lab("local");
  return o;
}

ScriptContext ContextFor(const ::harness::v1::RunOptions& options) {
  ScriptContext context;
  for (const char* view : cli::kPeerViews) context.views.push_back(view);
  context.lab = options.lab().empty() ? "local" : options.lab();
  context.signal_faults = options.client_faults();
  context.start_faults = options.client_faults();
  return context;
}

absl::StatusOr<std::unique_ptr<Run>> Run::Create(
    std::string id, std::string script_name, std::string script_text,
    ::harness::v1::RunOptions options, PeerRegistry* registry) {
  absl::StatusOr<Script> script = ParseScript(
      script_name, script_text,
      std::map<std::string, std::string>(options.params().begin(),
                                         options.params().end()));
  if (!script.ok()) return script.status();
  options = WithDefaults(std::move(options));
  if (absl::Status s = CheckScript(*script, ContextFor(options)); !s.ok()) {
    return s;
  }
  return std::unique_ptr<Run>(new Run(std::move(id), *std::move(script),
                                      std::move(script_text),
                                      std::move(options), registry));
}

Run::Run(std::string id, Script script, std::string script_text,
         ::harness::v1::RunOptions options, PeerRegistry* registry)
    : id_(std::move(id)),
      script_(std::move(script)),
      script_text_(std::move(script_text)),
      options_(std::move(options)),
      registry_(registry),
      created_(absl::Now()) {
  for (const std::string& name : script_.peers) peers_[name].name = name;
  for (size_t i = 0; i < script_.steps.size(); ++i) {
    const Step& step = script_.steps[i];
    if (step.kind == StepKind::kWait) {
      waits_[static_cast<int>(i)] = {.filter = step.filter, .line = step.line};
    }
    if (step.kind != StepKind::kFilter) continue;
    filters_.push_back({.filter = step.filter, .line = step.line});
    filtered_views_.insert({step.filter.peer, step.filter.view});
  }
}

Run::~Run() {
  Cancel("the run was deleted");
  if (thread_.joinable()) thread_.join();
}

void Run::Start() {
  thread_ = std::thread([this] { Main(); });
}

void Run::Cancel(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_ || cancelled_) return;
  cancelled_ = true;
  cancel_reason_ = reason;
  for (auto& [name, p] : peers_) {
    if (p.connection) p.connection->Close();
  }
  for (auto& [id, f] : faults_) {
    if (!f.done) f = {.done = true, .ok = false, .message = "run cancelled"};
  }
  cv_.notify_all();
}

absl::Status Run::ResolveFault(uint64_t fault_id, bool ok,
                               const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = faults_.find(fault_id);
  if (it == faults_.end() || it->second.done) {
    return absl::NotFoundError(absl::StrCat(
        "run ", id_, " has no fault ", fault_id, " waiting for an answer"));
  }
  it->second = {.done = true, .ok = ok, .message = message};
  cv_.notify_all();
  return absl::OkStatus();
}

std::vector<RunEvent> Run::EventsFrom(size_t from) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (from >= events_.size()) return {};
  return std::vector<RunEvent>(events_.begin() + from, events_.end());
}

bool Run::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

RunState Run::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

bool Run::WaitFinished(absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, Chrono(absl::Now() + timeout),
                        [this] { return finished_; });
}

int Run::Subscribe(std::function<void()> notify) {
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  int handle = next_subscriber_++;
  subscribers_[handle] = std::move(notify);
  return handle;
}

void Run::Unsubscribe(int handle) {
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  subscribers_.erase(handle);
}

void Run::AddWatcher() {
  std::lock_guard<std::mutex> lock(mu_);
  ++watchers_;
}

void Run::RemoveWatcher() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--watchers_ > 0) return;
  for (auto& [id, f] : faults_) {
    if (!f.done) {
      f = {.done = true,
           .ok = false,
           .message = "the client carrying out faults stopped watching"};
    }
  }
  cv_.notify_all();
}

void Run::Emit(RunEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    *event.mutable_time() = ToProto(absl::Now());
    events_.push_back(event);
    if (event.has_finished()) finished_ = true;
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  for (auto& [handle, notify] : subscribers_) notify();
}

void Run::Notice(const std::string& text) {
  RunEvent event;
  {
    // Registrations and deaths come from remote parties: the events kept
    // for late watchers hold a bounded number of them.
    std::lock_guard<std::mutex> lock(mu_);
    if (notices_ >= kMaxNotices) {
      ++notices_dropped_;
      return;
    }
    ++notices_;
    event.set_notice(
        notices_ < kMaxNotices
            ? text
            : absl::StrCat(text, " (notice limit of ", kMaxNotices,
                           " reached: later notices are left out)"));
  }
  Emit(std::move(event));
}

void Run::AddTimelineLocked(absl::Time time, const std::string& peer,
                            const std::string& kind, const std::string& text,
                            bool ok, absl::Duration duration) {
  if (timeline_.size() >= kMaxTimeline) {
    ++timeline_dropped_;
    return;
  }
  ::harness::v1::TimelineEntry& e = timeline_.emplace_back();
  *e.mutable_time() = ToProto(time);
  e.set_peer(peer);
  e.set_kind(kind);
  e.set_text(Cut(text, kMaxTimelineTextBytes));
  e.set_ok(ok);
  e.set_duration_us(absl::ToInt64Microseconds(duration));
}

void Run::OnPeerRegistered(const ::harness::v1::PeerInfo& info) {
  std::string notice;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peers_.find(info.name());
    if (it == peers_.end() || finished_ || cancelled_) return;
    PeerState& p = it->second;
    if (info.generation() <= p.generation) return;  // seen already
    if (p.connection) {
      p.connection->Close();
      retired_.push_back(std::move(p.connection));
    }
    if (registrations_ >= kMaxRegistrationsPerRun) {
      // Each registration is a connection with a watch thread until the
      // step ends: a peer that keeps registering is no longer followed.
      p.alive = false;
      p.gone_note =
          absl::StrCat("registered more than ", kMaxRegistrationsPerRun,
                       " times in this run: no longer followed");
      if (registrations_ignored_++ == 0) {
        notice =
            absl::StrCat("peer ", p.name, " registered again (start ",
                         info.generation(), ") beyond the run's limit of ",
                         kMaxRegistrationsPerRun, " registrations: ignored");
      }
      cv_.notify_all();
    } else {
      ++registrations_;
      p.info = info;
      p.generation = info.generation();
      p.alive = true;
      p.stopped = false;
      p.gone_note.clear();
      const std::string name = p.name;
      const uint64_t generation = p.generation;
      p.connection = std::make_unique<PeerConnection>(
          info.control_address(), registry_->SessionToken(name, generation),
          PeerConnection::Callbacks{
              .lines =
                  [this, name,
                   generation](const ::peer::v1::WatchViewsResponse& r) {
                    OnLines(name, generation, r);
                  },
              .ended =
                  [this, name, generation](const absl::Status& s) {
                    OnWatchEnded(name, generation, s);
                  }});
      notice =
          absl::StrCat("peer ", name, " registered (", info.control_address(),
                       ", pid ", info.pid(), ", start ", generation, ")");
      AddTimelineLocked(absl::Now(), name, "peer",
                        absl::StrCat("registered (start ", generation, ")"),
                        true, absl::ZeroDuration());
      cv_.notify_all();
    }
  }
  if (!notice.empty()) Notice(notice);
}

void Run::OnPeerGone(const ::harness::v1::PeerInfo& info) {
  std::string notice;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peers_.find(info.name());
    if (it == peers_.end() || finished_) return;
    PeerState& p = it->second;
    if (info.generation() != p.generation || !p.alive) return;
    p.alive = false;
    p.info = info;
    if (p.connection) p.connection->Close();
    absl::Time at = FromProto(info.gone_at());
    if (p.expect_death) {
      notice = absl::StrCat("peer ", p.name, " is gone (as the script asked)");
      AddTimelineLocked(at, p.name, "peer", "gone", true, absl::ZeroDuration());
    } else if (!cancelled_) {
      p.gone_note = absl::StrCat("died unexpectedly at ", Clock(at));
      notice = absl::StrCat("peer ", p.name,
                            " DIED unexpectedly (its registration ended at ",
                            Clock(at), ")");
      unexpected_deaths_.push_back(
          absl::StrCat("peer ", p.name, " ", p.gone_note));
      AddTimelineLocked(at, p.name, "peer", "died unexpectedly", false,
                        absl::ZeroDuration());
    }
    cv_.notify_all();
  }
  if (!notice.empty()) Notice(notice);
}

void Run::OnLines(const std::string& name, uint64_t generation,
                  const ::peer::v1::WatchViewsResponse& response) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it == peers_.end()) return;
  PeerState& p = it->second;
  p.dropped += response.dropped();
  absl::Time now = absl::Now();
  for (const ::peer::v1::ViewLine& line : response.lines()) {
    const std::string& view = line.view();
    const std::string& text = line.text();
    auto count = [&](FilterState& f) {
      if (f.filter.peer == name && f.filter.view == view &&
          f.filter.match.Matches(text)) {
        ++f.by_generation[generation];
        ++f.total;
      }
    };
    for (FilterState& f : filters_) count(f);
    for (auto& [index, w] : waits_) count(w);
    if (filtered_views_.count({name, view})) last_activity_ = now;
    absl::Time at = FromProto(line.time());
    if (view == "messagesView") {
      bool membership = absl::StartsWith(text, "<joined>") ||
                        absl::StartsWith(text, "<left>") ||
                        absl::StartsWith(text, "<failed>");
      AddTimelineLocked(at, name, membership ? "membership" : "message", text,
                        !absl::StartsWith(text, "<failed>"),
                        absl::ZeroDuration());
    } else if (view == "logView") {
      std::string event = MembershipEvent(text);
      if (!event.empty()) {
        AddTimelineLocked(at, name, "membership", event,
                          !absl::StrContains(event, " failed"),
                          absl::ZeroDuration());
      }
    }
  }
  cv_.notify_all();
}

void Run::OnWatchEnded(const std::string& name, uint64_t generation,
                       const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it == peers_.end() || status.ok() || cancelled_ || finished_) return;
  PeerState& p = it->second;
  // The watch of a live peer should last as long as the peer; whether the
  // peer is gone is known only later (its registration ends on its own).
  if (status.code() != absl::StatusCode::kCancelled) {
    p.watch_failed_generation = generation;
    p.watch_error = status.ToString();
  }
}

std::string Run::NotRunningLocked(const PeerState& p) const {
  if (p.generation == 0) {
    return absl::StrCat("peer ", p.name,
                        " is not running (never registered; a late joiner "
                        "needs `start ",
                        p.name, "` first)");
  }
  if (!p.alive) {
    return absl::StrCat("peer ", p.name, " is not running (",
                        p.gone_note.empty() ? "gone" : p.gone_note, ")");
  }
  if (p.stopped) {
    return absl::StrCat("peer ", p.name,
                        " is stopped (SIGSTOP by `stop`); `cont ", p.name,
                        "` first");
  }
  return "";
}

int64_t Run::ReceivedLocked(const FilterState& f) const {
  if (f.filter.op == CountOp::kNever) return f.total;
  auto p = peers_.find(f.filter.peer);
  if (p == peers_.end()) return 0;
  auto g = f.by_generation.find(p->second.generation);
  return g == f.by_generation.end() ? 0 : g->second;
}

void Run::Main() {
  registry_->AddListener(this);
  {
    RunEvent e;
    e.set_started(script_.name);
    Emit(std::move(e));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = absl::Now();
  }
  if (absl::Status s = registry_->Claim(script_.peers, id_); !s.ok()) {
    Finish(::harness::v1::RUN_STATE_ERROR, std::string(s.message()));
    return;
  }
  for (const std::string& name : script_.peers) {
    auto info = registry_->Get(name);
    if (info && info->alive()) OnPeerRegistered(*info);
  }
  if (!WaitForInitialPeers()) return;  // Finish called
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = ::harness::v1::RUN_STATE_RUNNING;
  }
  bool failed = false;
  for (size_t i = 0; i < script_.steps.size(); ++i) {
    const Step& step = script_.steps[i];
    std::string skip;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) {
        skip = "cancelled: " + cancel_reason_;
      } else if (failed && options_.fail_fast()) {
        skip = "not run (--fail-fast after a failure)";
      }
    }
    StepResult result;
    if (!skip.empty()) {
      result.set_index(static_cast<int>(i));
      result.set_line(step.line);
      result.set_peer(step.peer);
      result.set_kind(StepKindName(step.kind));
      result.set_text(Cut(step.text, kMaxTextBytes));
      result.set_outcome(::harness::v1::OUTCOME_SKIPPED);
      result.set_message(skip);
      {
        std::lock_guard<std::mutex> lock(mu_);
        steps_.push_back(result);
      }
      RunEvent e;
      *e.mutable_step_finished() = result;
      Emit(std::move(e));
      continue;
    }
    result = RunStep(static_cast<int>(i), step);
    if (result.outcome() == ::harness::v1::OUTCOME_FAILED) failed = true;
    std::vector<std::unique_ptr<PeerConnection>> retired;
    {
      std::lock_guard<std::mutex> lock(mu_);
      retired.swap(retired_);
    }
  }
  EndPhase();

  std::vector<std::string> problems;
  RunState state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int failed_steps = 0;
    for (const auto& s : steps_) {
      failed_steps += s.outcome() == ::harness::v1::OUTCOME_FAILED;
    }
    int failed_filters = 0;
    filter_results_.clear();
    for (const FilterState& f : filters_) {
      ::harness::v1::FilterResult& r = filter_results_.emplace_back();
      r.set_line(f.line);
      r.set_peer(f.filter.peer);
      r.set_view(f.filter.view);
      r.set_op(CountOpName(f.filter.op));
      r.set_expected(f.filter.count);
      r.set_received(ReceivedLocked(f));
      r.set_text(Cut(f.filter.match.ToString(), kMaxTextBytes));
      r.set_source(f.filter.source);
      bool ok = f.filter.Holds(r.received());
      r.set_outcome(ok ? ::harness::v1::OUTCOME_OK
                       : ::harness::v1::OUTCOME_FAILED);
      failed_filters += !ok;
    }
    if (failed_steps) {
      problems.push_back(
          absl::StrCat(failed_steps, " of ", steps_.size(), " steps failed"));
    }
    if (failed_filters) {
      problems.push_back(absl::StrCat(failed_filters, " of ", filters_.size(),
                                      " filters failed"));
    }
    for (const auto& d : unexpected_deaths_) problems.push_back(d);
    if (cancelled_) {
      state = ::harness::v1::RUN_STATE_CANCELLED;
      problems.insert(problems.begin(), "cancelled: " + cancel_reason_);
    } else {
      state = problems.empty() ? ::harness::v1::RUN_STATE_PASSED
                               : ::harness::v1::RUN_STATE_FAILED;
    }
  }
  Finish(state, absl::StrJoin(problems, "; "));
}

bool Run::WaitForInitialPeers() {
  const std::vector<std::string> initial = script_.InitialPeers();
  const absl::Duration timeout =
      absl::Milliseconds(options_.peer_wait_timeout_ms());
  std::unique_lock<std::mutex> lock(mu_);
  auto missing = [&] {
    std::vector<std::string> out;
    for (const auto& name : initial) {
      if (!peers_[name].alive) out.push_back(name);
    }
    return out;
  };
  cv_.wait_until(lock, Chrono(absl::Now() + timeout),
                 [&] { return cancelled_ || missing().empty(); });
  if (cancelled_) {
    std::string reason = cancel_reason_;
    lock.unlock();
    Finish(::harness::v1::RUN_STATE_CANCELLED,
           "cancelled before the steps began: " + reason);
    return false;
  }
  std::vector<std::string> absent = missing();
  if (absent.empty()) return true;
  lock.unlock();
  Finish(::harness::v1::RUN_STATE_ERROR,
         absl::StrCat("peers did not register within ", Seconds(timeout), ": ",
                      absl::StrJoin(absent, ", "),
                      " (start them with --test --coordinator ADDR)"));
  return false;
}

StepResult Run::RunStep(int index, const Step& step) {
  StepResult r;
  r.set_index(index);
  r.set_line(step.line);
  r.set_peer(step.peer);
  r.set_kind(StepKindName(step.kind));
  r.set_text(Cut(step.text, kMaxTextBytes));
  const absl::Time start = absl::Now();
  *r.mutable_started() = ToProto(start);
  {
    RunEvent e;
    *e.mutable_step_started() = r;
    Emit(std::move(e));
  }
  r.set_outcome(::harness::v1::OUTCOME_OK);
  switch (step.kind) {
    case StepKind::kCommand:
      RunCommand(step, &r);
      break;
    case StepKind::kFilter:
      break;  // checked at the end of the run
    case StepKind::kWait:
      RunWait(index, step, &r);
      break;
    case StepKind::kKill:
    case StepKind::kStop:
    case StepKind::kCont:
    case StepKind::kRestart:
    case StepKind::kStart:
      RunProcessFault(step, &r);
      break;
    case StepKind::kPartition:
    case StepKind::kHeal:
    case StepKind::kNetem:
    case StepKind::kOneway:
      if (options_.lab() == "netns") {
        RunNetworkFault(step, &r);
        break;
      }
      r.set_outcome(::harness::v1::OUTCOME_FAILED);
      r.set_message(absl::StrCat(
          StepKindName(step.kind),
          " needs --lab netns (peers in network namespaces, from the deploy "
          "lab); this lab (",
          options_.lab(), ") runs every peer on the shared loopback"));
      break;
    case StepKind::kSleep:
      RunSleep(step, &r);
      break;
    case StepKind::kWaitConverged:
    case StepKind::kWaitMembers:
    case StepKind::kNemesis:
    case StepKind::kCheck:
      r.set_outcome(::harness::v1::OUTCOME_FAILED);
      r.set_message(absl::StrCat(StepKindName(step.kind),
                                 " is not carried out by this coordinator "
                                 "yet"));
      break;
  }
  const absl::Duration took = absl::Now() - start;
  r.set_duration_us(absl::ToInt64Microseconds(took));
  {
    std::lock_guard<std::mutex> lock(mu_);
    steps_.push_back(r);
    const bool fault = IsProcessFault(step.kind) || IsNetworkFault(step.kind);
    AddTimelineLocked(start, step.peer, fault ? "fault" : "step", step.text,
                      r.outcome() == ::harness::v1::OUTCOME_OK, took);
  }
  RunEvent e;
  *e.mutable_step_finished() = r;
  Emit(std::move(e));
  return r;
}

void Run::RunCommand(const Step& step, StepResult* r) {
  PeerConnection* connection = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PeerState& p = peers_[step.peer];
    std::string why = NotRunningLocked(p);
    if (!why.empty()) {
      r->set_outcome(::harness::v1::OUTCOME_FAILED);
      r->set_message(why);
      return;
    }
    // Only this thread destroys connections (retired_), so the pointer
    // stays valid during the call.
    connection = p.connection.get();
  }
  auto response = connection->Execute(
      step.command,
      absl::Now() + absl::Milliseconds(options_.step_timeout_ms()));
  if (!response.ok()) {
    std::unique_lock<std::mutex> lock(mu_);
    const PeerState& p = peers_[step.peer];
    if (response.status().code() == absl::StatusCode::kUnavailable ||
        response.status().code() == absl::StatusCode::kCancelled) {
      // The connection broke: the peer may be dying, which its
      // registration tells in a moment.
      cv_.wait_until(lock, Chrono(absl::Now() + absl::Seconds(1)),
                     [&] { return cancelled_ || !p.alive; });
    }
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    if (cancelled_) {
      r->set_message("cancelled: " + cancel_reason_);
    } else if (!p.alive) {
      r->set_message(absl::StrCat("peer ", step.peer,
                                  " went away during the command (",
                                  response.status().ToString(), ")"));
    } else if (response.status().code() ==
               absl::StatusCode::kDeadlineExceeded) {
      r->set_message(absl::StrCat("no answer from peer ", step.peer,
                                  " within the step timeout (",
                                  options_.step_timeout_ms(), " ms)"));
    } else {
      r->set_message(
          absl::StrCat("peer ", step.peer, ": ", response.status().ToString()));
    }
    return;
  }
  // What a step keeps of its output is bounded (it travels in events and
  // the summary); an output above kMaxStepOutputBytes fails the step.
  size_t total = 0;
  size_t kept = 0;
  bool over_budget = false;
  for (const auto& line : response->output()) {
    total += line.text().size() + 1;
    if (r->output_size() >= kMaxOutputLines || over_budget) continue;
    const size_t size = std::min(line.text().size(), kMaxOutputLineBytes);
    if (output_kept_bytes_ + kept + size > kMaxRunOutputBytes) {
      over_budget = true;
      continue;
    }
    kept += size;
    if (line.text().size() <= kMaxOutputLineBytes) {
      r->add_output(line.text());
    } else {
      r->add_output(absl::StrCat(line.text().substr(0, kMaxOutputLineBytes),
                                 " [line cut: ", HumanBytes(line.text().size()),
                                 ", the harness keeps ",
                                 HumanBytes(kMaxOutputLineBytes),
                                 " of a line]"));
    }
  }
  output_kept_bytes_ += kept;
  if (over_budget) {
    r->add_output(absl::StrCat("[", response->output_size() - r->output_size(),
                               " lines not kept: the run's steps have kept ",
                               HumanBytes(kMaxRunOutputBytes),
                               " of output, the limit of a run]"));
  } else if (response->output_size() > kMaxOutputLines) {
    r->add_output(absl::StrCat("[", response->output_size() - kMaxOutputLines,
                               " more lines not kept: the harness keeps ",
                               kMaxOutputLines, " lines of a step]"));
  }
  std::vector<std::string> problems;
  if (response->code() != 0) {
    problems.push_back(absl::StatusCodeToString(
                           static_cast<absl::StatusCode>(response->code())) +
                       ": " + Cut(response->message(), kMaxTextBytes));
  }
  if (total > kMaxStepOutputBytes) {
    problems.push_back(
        absl::StrCat("output too large: ", HumanBytes(total), " in ",
                     response->output_size(),
                     response->output_size() == 1 ? " line" : " lines",
                     ", above the limit of ", HumanBytes(kMaxStepOutputBytes),
                     " for a step (output cut)"));
  }
  if (!problems.empty()) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message(absl::StrJoin(problems, "; "));
  }
}

void Run::RunWait(int index, const Step& step, StepResult* r) {
  const absl::Duration timeout =
      step.duration > absl::ZeroDuration()
          ? step.duration
          : absl::Milliseconds(options_.end_timeout_ms());
  std::unique_lock<std::mutex> lock(mu_);
  PeerState& p = peers_[step.peer];
  std::string why = NotRunningLocked(p);
  if (!why.empty() && !p.alive) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message(why);
    return;
  }
  // Counted since the run began, for the peer's current process.
  const FilterState& w = waits_[index];
  const uint64_t generation = p.generation;
  cv_.wait_until(lock, Chrono(absl::Now() + timeout), [&] {
    return cancelled_ || w.Count(generation) >= w.filter.count || !p.alive ||
           p.generation != generation;
  });
  if (w.Count(generation) >= w.filter.count) return;
  r->set_outcome(::harness::v1::OUTCOME_FAILED);
  if (cancelled_) {
    r->set_message("cancelled: " + cancel_reason_);
  } else if (!p.alive || p.generation != generation) {
    r->set_message(
        absl::StrCat("peer ", step.peer, " went away while waited for (",
                     p.gone_note.empty() ? "gone" : p.gone_note, ")"));
  } else {
    r->set_message(absl::StrCat("timed out after ", Seconds(timeout), ": ",
                                step.filter.view, " has ", w.Count(generation),
                                " of ", w.filter.count, " lines matching \"",
                                step.filter.match.ToString(), "\""));
  }
}

void Run::RunProcessFault(const Step& step, StepResult* r) {
  auto fail = [&](const std::string& message) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message(message);
  };
  if (!options_.client_faults()) {
    fail(absl::StrCat(StepKindName(step.kind),
                      " acts on a process: it needs the lab that owns the "
                      "peers (run the script with peerlab-test)"));
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  PeerState& p = peers_[step.peer];
  if (step.kind == StepKind::kStart) {
    if (p.alive) {
      fail(absl::StrCat("peer ", step.peer, " is already running"));
      return;
    }
  } else if (!p.alive) {
    fail(NotRunningLocked(p));
    return;
  }
  if (watchers_ == 0) {
    fail("no client is watching this run to carry out the fault");
    return;
  }
  const uint64_t old_generation = p.generation;
  if (step.kind == StepKind::kKill || step.kind == StepKind::kRestart) {
    p.expect_death = true;
  }
  const uint64_t fault_id = ++next_fault_id_;
  faults_[fault_id] = {};
  lock.unlock();
  {
    RunEvent e;
    ::harness::v1::FaultRequest* f = e.mutable_fault_request();
    f->set_fault_id(fault_id);
    f->set_kind(StepKindName(step.kind));
    f->set_peer(step.peer);
    Emit(std::move(e));
  }
  lock.lock();
  PendingFault& pending = faults_[fault_id];
  cv_.wait_until(lock, Chrono(absl::Now() + kFaultTimeout),
                 [&] { return pending.done || cancelled_; });
  const absl::Duration peer_wait =
      absl::Milliseconds(options_.peer_wait_timeout_ms());
  if (!pending.done || !pending.ok) {
    p.expect_death = false;
    fail(!pending.done ? (cancelled_ ? "cancelled: " + cancel_reason_
                                     : absl::StrCat("the client did not carry "
                                                    "out the fault within ",
                                                    Seconds(kFaultTimeout)))
                       : pending.message);
    faults_.erase(fault_id);
    return;
  }
  faults_.erase(fault_id);
  switch (step.kind) {
    case StepKind::kKill:
      // The registration stream ends with the process.
      cv_.wait_until(lock, Chrono(absl::Now() + peer_wait), [&] {
        return cancelled_ || !p.alive || p.generation != old_generation;
      });
      p.expect_death = false;
      if (p.alive && p.generation == old_generation) {
        fail(absl::StrCat("peer ", step.peer, " still registered ",
                          Seconds(peer_wait), " after SIGKILL"));
      } else {
        p.gone_note =
            absl::StrCat("killed by `", step.text, "` at line ", step.line);
      }
      break;
    case StepKind::kStop:
      p.stopped = true;
      break;
    case StepKind::kCont:
      p.stopped = false;
      break;
    case StepKind::kRestart:
    case StepKind::kStart:
      cv_.wait_until(lock, Chrono(absl::Now() + peer_wait), [&] {
        return cancelled_ || (p.alive && p.generation > old_generation);
      });
      p.expect_death = false;
      if (!(p.alive && p.generation > old_generation)) {
        fail(absl::StrCat("peer ", step.peer, " did not register within ",
                          Seconds(peer_wait), " of its start"));
      }
      break;
    default:
      break;
  }
}

void Run::RunNetworkFault(const Step& step, StepResult* r) {
  auto fail = [&](const std::string& message) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message(message);
  };
  std::unique_lock<std::mutex> lock(mu_);
  if (!options_.client_faults() || watchers_ == 0) {
    fail(absl::StrCat(StepKindName(step.kind),
                      ": no client of the netns lab is watching this run to "
                      "change the network"));
    return;
  }
  const uint64_t fault_id = ++next_fault_id_;
  faults_[fault_id] = {};
  lock.unlock();
  {
    RunEvent e;
    ::harness::v1::FaultRequest* f = e.mutable_fault_request();
    f->set_fault_id(fault_id);
    f->set_kind(StepKindName(step.kind));
    f->set_peer(step.peer);
    for (const auto& group : step.groups) {
      f->add_args(absl::StrJoin(group, ","));
    }
    for (const auto& arg : step.netem) f->add_args(arg);
    Emit(std::move(e));
  }
  lock.lock();
  PendingFault& pending = faults_[fault_id];
  cv_.wait_until(lock, Chrono(absl::Now() + kFaultTimeout),
                 [&] { return pending.done || cancelled_; });
  if (!pending.done || !pending.ok) {
    fail(!pending.done ? (cancelled_ ? "cancelled: " + cancel_reason_
                                     : absl::StrCat("the client did not carry "
                                                    "out the fault within ",
                                                    Seconds(kFaultTimeout)))
                       : pending.message);
  }
  faults_.erase(fault_id);
}

void Run::RunSleep(const Step& step, StepResult* r) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, Chrono(absl::Now() + step.duration),
                 [&] { return cancelled_; });
  if (cancelled_) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message("cancelled: " + cancel_reason_);
  }
}

void Run::EndPhase() {
  std::unique_lock<std::mutex> lock(mu_);
  state_ = ::harness::v1::RUN_STATE_CHECKING;
  if (filters_.empty() || cancelled_) return;
  const absl::Time start = absl::Now();
  const absl::Time deadline =
      start + absl::Milliseconds(options_.end_timeout_ms());
  const absl::Duration quiet = absl::Milliseconds(options_.quiet_ms());
  // Lines may still be on their way: the window starts now at the latest.
  last_activity_ = std::max(last_activity_, start);
  while (!cancelled_) {
    bool all_hold = true;
    bool exceeded = false;
    for (const FilterState& f : filters_) {
      int64_t received = ReceivedLocked(f);
      all_hold = all_hold && f.filter.Holds(received);
      exceeded = exceeded || f.filter.Exceeded(received);
    }
    const absl::Time now = absl::Now();
    if (exceeded) break;  // more lines cannot repair it
    const absl::Time quiet_at = last_activity_ + quiet;
    if (all_hold && now >= quiet_at) break;
    if (now >= deadline) break;
    cv_.wait_until(lock,
                   Chrono(all_hold ? std::min(quiet_at, deadline) : deadline));
  }
}

void Run::Finish(RunState state, const std::string& verdict) {
  registry_->RemoveListener(this);
  std::vector<std::unique_ptr<PeerConnection>> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, p] : peers_) {
      if (p.connection) {
        p.connection->Close();
        connections.push_back(std::move(p.connection));
      }
    }
    for (auto& c : retired_) connections.push_back(std::move(c));
    retired_.clear();
  }
  connections.clear();  // joins the watch threads, outside the lock
  registry_->Release(id_);
  RunEvent e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = state;
    verdict_ = verdict;
    ended_ = absl::Now();
    for (const auto& [name, p] : peers_) {
      if (p.alive && p.watch_failed_generation == p.generation &&
          p.generation != 0) {
        warnings_.push_back(absl::StrCat("the view stream of peer ", name,
                                         " ended early (", p.watch_error,
                                         "): its counts may be low"));
      }
      if (p.dropped) {
        warnings_.push_back(absl::StrCat(
            "peer ", name, " dropped ", p.dropped,
            " view lines for the harness (too slow a watcher): counts may be "
            "low"));
      }
    }
    if (registrations_ignored_) {
      warnings_.push_back(absl::StrCat(
          registrations_ignored_, " registrations beyond the run's limit of ",
          kMaxRegistrationsPerRun, " were ignored"));
    }
    if (notices_dropped_) {
      warnings_.push_back(absl::StrCat("notice limit of ", kMaxNotices,
                                       " reached: ", notices_dropped_,
                                       " notices left out"));
    }
    if (timeline_dropped_) {
      warnings_.push_back(absl::StrCat("timeline full: ", timeline_dropped_,
                                       " entries left out"));
    }
    *e.mutable_finished() = SummaryLocked();
  }
  Emit(std::move(e));
}

::harness::v1::RunSummary Run::Summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  return SummaryLocked();
}

::harness::v1::RunSummary Run::SummaryLocked() const {
  ::harness::v1::RunSummary s;
  s.set_run_id(id_);
  s.set_script_name(script_.name);
  s.set_script_text(script_text_);
  *s.mutable_options() = options_;
  s.set_seed(options_.seed());
  s.set_state(state_);
  s.set_verdict(verdict_);
  *s.mutable_started() =
      ToProto(started_ == absl::InfinitePast() ? created_ : started_);
  if (ended_ != absl::InfinitePast()) *s.mutable_finished() = ToProto(ended_);
  for (const auto& r : steps_) *s.add_steps() = r;
  if (finished_ || !filter_results_.empty()) {
    for (const auto& r : filter_results_) *s.add_filters() = r;
  } else {
    for (const FilterState& f : filters_) {
      ::harness::v1::FilterResult* r = s.add_filters();
      r->set_line(f.line);
      r->set_peer(f.filter.peer);
      r->set_view(f.filter.view);
      r->set_op(CountOpName(f.filter.op));
      r->set_expected(f.filter.count);
      r->set_received(ReceivedLocked(f));
      r->set_text(Cut(f.filter.match.ToString(), kMaxTextBytes));
      r->set_source(f.filter.source);
    }
  }
  for (const std::string& name : script_.peers) {
    const PeerState& p = peers_.at(name);
    ::harness::v1::PeerInfo* info = s.add_peers();
    *info = p.info;
    info->set_name(name);
    info->set_alive(p.alive);
  }
  std::vector<::harness::v1::TimelineEntry> timeline = timeline_;
  std::stable_sort(timeline.begin(), timeline.end(),
                   [](const auto& a, const auto& b) {
                     return TimeUtil::TimestampToNanoseconds(a.time()) <
                            TimeUtil::TimestampToNanoseconds(b.time());
                   });
  for (auto& t : timeline) *s.add_timeline() = std::move(t);
  for (const auto& w : warnings_) s.add_warnings(w);
  return s;
}

}  // namespace peerlab::harness
