// The run's life: creation and checks, claiming peers, following their
// registrations, deaths and view lines, the step loop, the end phase and
// the summary. The steps themselves are in step_runner.cc.
#include "test-harness/coordinator/run.h"

#include <algorithm>
#include <optional>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "peer/app/member_event_text.h"
#include "peer/cli/view.h"
#include "test-harness/coordinator/run_text.h"
#include "test-harness/coordinator/verdict.h"

namespace peerlab::harness {
namespace {

using ::harness::v1::RunEvent;
using ::harness::v1::RunState;
using ::harness::v1::StepResult;
using run_text::ClockText;
using run_text::Cut;
using run_text::FromProto;
using run_text::kMaxTextBytes;
using run_text::Seconds;
using run_text::ToProto;

// Registrations of the run's peers it follows (each is a link and a watch
// thread until the step ends).
constexpr uint64_t kMaxRegistrationsPerRun = 500;

// Whether a member is in the observer's group after an event of `kind`
// (the groups of `check chat`): joined, updated, suspect, alive again: in;
// left, failed: out; nothing for an unknown kind.
std::optional<bool> InGroupAfter(::peer::v1::MemberEvent::Kind kind) {
  switch (kind) {
    case ::peer::v1::MemberEvent::JOINED:
    case ::peer::v1::MemberEvent::UPDATED:
    case ::peer::v1::MemberEvent::SUSPECT:
    case ::peer::v1::MemberEvent::ALIVE:
      return true;
    case ::peer::v1::MemberEvent::LEFT:
    case ::peer::v1::MemberEvent::FAILED:
      return false;
    default:
      return std::nullopt;
  }
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
  if (o.count_from().empty()) o.set_count_from("run-start");
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
    ::harness::v1::RunOptions options, PeerRegistry* registry, RunSeams seams) {
  absl::StatusOr<Script> script =
      ParseScript(script_name, script_text,
                  std::map<std::string, std::string>(options.params().begin(),
                                                     options.params().end()));
  if (!script.ok()) return script.status();
  options = WithDefaults(std::move(options));
  if (options.count_from() != "run-start" &&
      options.count_from() != "peer-start") {
    return absl::InvalidArgumentError(
        absl::StrCat("count_from \"", Cut(options.count_from(), 64),
                     "\" is neither run-start nor peer-start"));
  }
  if (absl::Status s = CheckScript(*script, ContextFor(options)); !s.ok()) {
    return s;
  }
  return std::unique_ptr<Run>(
      new Run(std::move(id), *std::move(script), std::move(script_text),
              std::move(options), registry, std::move(seams)));
}

Run::Run(std::string id, Script script, std::string script_text,
         ::harness::v1::RunOptions options, PeerRegistry* registry,
         RunSeams seams)
    : id_(std::move(id)),
      script_(std::move(script)),
      script_text_(std::move(script_text)),
      options_(std::move(options)),
      registry_(registry),
      clock_(seams.clock ? seams.clock : &Clock::Real()),
      links_(seams.links ? std::move(seams.links) : GrpcPeerLinks()),
      created_(clock_->Now()),
      log_(clock_),
      faults_(clock_),
      count_from_run_start_(options_.count_from() != "peer-start"),
      tally_(script_),
      history_(created_) {
  for (const std::string& name : script_.peers) peers_[name].name = name;
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
    if (p.link) p.link->Close();
  }
  faults_.Cancel(reason);
  cv_.notify_all();
}

absl::Status Run::ResolveFault(uint64_t fault_id, bool ok,
                               const std::string& message) {
  if (!faults_.Resolve(fault_id, ok, message).ok()) {
    return absl::NotFoundError(absl::StrCat(
        "run ", id_, " has no fault ", fault_id, " waiting for an answer"));
  }
  return absl::OkStatus();
}

std::vector<RunEvent> Run::EventsFrom(size_t from) const {
  return log_.EventsFrom(from);
}

bool Run::finished() const { return log_.finished(); }

RunState Run::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

bool Run::WaitFinished(absl::Duration timeout) const {
  return log_.WaitFinished(timeout);
}

int Run::Subscribe(std::function<void()> notify) {
  return log_.Subscribe(std::move(notify));
}

void Run::Unsubscribe(int handle) { log_.Unsubscribe(handle); }

void Run::AddWatcher() { faults_.AddWatcher(); }

void Run::RemoveWatcher() { faults_.RemoveWatcher(); }

void Run::OnPeerRegistered(const ::harness::v1::PeerInfo& info) {
  std::string notice;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peers_.find(info.name());
    if (it == peers_.end() || finished_ || cancelled_) return;
    PeerState& p = it->second;
    if (info.generation() <= p.generation) return;  // seen already
    if (p.link) {
      p.link->Close();
      retired_.push_back(std::move(p.link));
    }
    if (registrations_ >= kMaxRegistrationsPerRun) {
      // Each registration is a link with a watch thread until the step
      // ends: a peer that keeps registering is no longer followed.
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
      p.link = links_(info, registry_->SessionToken(name, generation),
                      PeerLink::Callbacks{
                          .lines =
                              [this, name, generation](
                                  const ::peer::v1::WatchViewsResponse& r) {
                                OnLines(name, generation, r);
                              },
                          .ended =
                              [this, name, generation](const absl::Status& s) {
                                OnWatchEnded(name, generation, s);
                              }});
      notice =
          absl::StrCat("peer ", name, " registered (", info.control_address(),
                       ", pid ", info.pid(), ", start ", generation, ")");
      log_.AddTimeline(clock_->Now(), name, "peer",
                       absl::StrCat("registered (start ", generation, ")"),
                       true, absl::ZeroDuration());
      history_.Running(name, generation, clock_->Now());
      cv_.notify_all();
    }
  }
  if (!notice.empty()) log_.Notice(notice);
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
    if (p.link) p.link->Close();
    absl::Time at = FromProto(info.gone_at());
    history_.Down(p.name, at);
    if (p.expect_death) {
      notice = absl::StrCat("peer ", p.name, " is gone (as the script asked)");
      log_.AddTimeline(at, p.name, "peer", "gone", true, absl::ZeroDuration());
    } else if (!cancelled_) {
      p.gone_note = absl::StrCat("died unexpectedly at ", ClockText(at));
      notice = absl::StrCat("peer ", p.name,
                            " DIED unexpectedly (its registration ended at ",
                            ClockText(at), ")");
      unexpected_deaths_.push_back(
          absl::StrCat("peer ", p.name, " ", p.gone_note));
      log_.AddTimeline(at, p.name, "peer", "died unexpectedly", false,
                       absl::ZeroDuration());
    }
    cv_.notify_all();
  }
  if (!notice.empty()) log_.Notice(notice);
}

void Run::OnLines(const std::string& name, uint64_t generation,
                  const ::peer::v1::WatchViewsResponse& response) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it == peers_.end()) return;
  PeerState& p = it->second;
  p.dropped += response.dropped();
  absl::Time now = clock_->Now();
  for (const ::peer::v1::ViewLine& line : response.lines()) {
    const std::string& view = line.view();
    const std::string& text = line.text();
    absl::Time at = FromProto(line.time());
    // Lines from before the run (a long-lived peer's history) are not the
    // run's, unless the options say to count from the peer's start.
    if (count_from_run_start_ && at < started_) continue;
    if (tally_.Count(name, generation, view, text)) last_activity_ = now;
    history_.OnViewLine(name, generation, view, text, at);
    if (view == "messagesView") {
      chat_activity_ = now;
      bool membership = absl::StartsWith(text, "<joined>") ||
                        absl::StartsWith(text, "<left>") ||
                        absl::StartsWith(text, "<failed>");
      log_.AddTimeline(at, name, membership ? "membership" : "message", text,
                       !absl::StartsWith(text, "<failed>"),
                       absl::ZeroDuration());
    } else if (line.has_record() && line.record().has_member()) {
      // Typed: no log text is read, so none can pass for an event.
      const ::peer::v1::MemberEvent& e = line.record().member();
      log_.AddTimeline(
          at, name, "membership", peerlab::peer::MemberEventText(e),
          e.kind() != ::peer::v1::MemberEvent::FAILED, absl::ZeroDuration());
      if (std::optional<bool> in = InGroupAfter(e.kind())) {
        history_.OnMembershipChange(name, e.name(), *in, at);
      }
      if (e.kind() == ::peer::v1::MemberEvent::SUSPECT) {
        history_.OnSuspect(name, e.name(), at);
      } else if (e.kind() == ::peer::v1::MemberEvent::FAILED) {
        history_.OnFailed(name, e.name(), at);
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

uint64_t Run::GenerationLocked(const std::string& peer) const {
  auto p = peers_.find(peer);
  return p == peers_.end() ? 0 : p->second.generation;
}

int64_t Run::ReceivedLocked(const Tally& t) const {
  return t.Received(GenerationLocked(t.filter.peer));
}

void Run::Main() {
  registry_->AddListener(this);
  {
    RunEvent e;
    e.set_started(script_.name);
    log_.Emit(std::move(e));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = clock_->Now();
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
  for (size_t i = 0; i < script_.steps.size();) {
    // A parallel block, or the members of a step on a group, run at once.
    const size_t end = ConcurrentEnd(script_.steps, i);
    std::string skip;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) {
        skip = "cancelled: " + cancel_reason_;
      } else if (failed && options_.fail_fast()) {
        skip = "not run (--fail-fast after a failure)";
      }
    }
    for (size_t j = i; j < end && !skip.empty(); ++j) {
      const Step& step = script_.steps[j];
      if (step.kind == StepKind::kFilter) {
        // Not reached: SKIPPED among the filters, not checked.
        std::lock_guard<std::mutex> lock(mu_);
        not_reached_.insert(static_cast<int>(j));
        continue;
      }
      StepResult result;
      result.set_index(static_cast<int>(j));
      result.set_line(step.line);
      result.set_peer(step.peer);
      result.set_kind(StepKindName(step.kind));
      result.set_text(Cut(StepLabel(step), kMaxTextBytes));
      result.set_outcome(::harness::v1::OUTCOME_SKIPPED);
      result.set_message(skip);
      {
        std::lock_guard<std::mutex> lock(mu_);
        steps_.push_back(result);
      }
      RunEvent e;
      *e.mutable_step_finished() = result;
      log_.Emit(std::move(e));
    }
    if (skip.empty() && !RunSteps(i, end)) failed = true;
    i = end;
    std::vector<std::unique_ptr<PeerLink>> retired;
    {
      // A nemesis's thread may be using a retired link: those wait until
      // every nemesis has ended (Finish).
      std::lock_guard<std::mutex> lock(mu_);
      if (nemesis_running_ == 0) retired.swap(retired_);
    }
  }
  // Every nemesis ends by its schedule (or at Cancel) before the checks.
  WaitForNemeses();
  EndPhase();

  Verdict verdict;
  {
    std::lock_guard<std::mutex> lock(mu_);
    filter_results_ = CheckFilters(
        tally_.filters(),
        [this](const std::string& peer) { return GenerationLocked(peer); },
        not_reached_);
    verdict = Decide(
        steps_, filter_results_, unexpected_deaths_,
        cancelled_ ? std::optional<std::string>(cancel_reason_) : std::nullopt);
  }
  Finish(verdict.state, verdict.text);
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
  WaitLocked(lock, clock_->Now() + timeout,
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

void Run::EndPhase() {
  std::unique_lock<std::mutex> lock(mu_);
  state_ = ::harness::v1::RUN_STATE_CHECKING;
  // Nothing to wait for: no filter, or none whose line was reached.
  if (tally_.filters().size() == not_reached_.size() || cancelled_) return;
  const absl::Time start = clock_->Now();
  const absl::Time deadline =
      start + absl::Milliseconds(options_.end_timeout_ms());
  const absl::Duration quiet = absl::Milliseconds(options_.quiet_ms());
  // Lines may still be on their way: the window starts now at the latest.
  last_activity_ = std::max(last_activity_, start);
  bool all_hold = true;
  // Whether the end phase is over, but for the deadline: cancelled, a
  // filter that no line can repair, or every filter holds and the filtered
  // views have been quiet long enough.
  auto over = [&] {
    if (cancelled_) return true;
    all_hold = true;
    bool exceeded = false;
    for (const Tally& t : tally_.filters()) {
      if (not_reached_.count(t.step)) continue;
      int64_t received = ReceivedLocked(t);
      all_hold = all_hold && t.filter.Holds(received);
      exceeded = exceeded || t.filter.Exceeded(received);
    }
    if (exceeded) return true;  // more lines cannot repair it
    return all_hold && clock_->Now() >= last_activity_ + quiet;
  };
  while (!over() && clock_->Now() < deadline) {
    // While a filter does not hold, wake when every one does (then wait
    // for the quiet window from the last line, not for the deadline).
    const bool held = all_hold;
    WaitLocked(lock,
               held ? std::min(last_activity_ + quiet, deadline) : deadline,
               [&] { return over() || all_hold != held; });
  }
}

void Run::Finish(RunState state, const std::string& verdict) {
  registry_->RemoveListener(this);
  std::vector<std::unique_ptr<PeerLink>> links;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, p] : peers_) {
      if (p.link) {
        p.link->Close();
        links.push_back(std::move(p.link));
      }
    }
    for (auto& c : retired_) links.push_back(std::move(c));
    retired_.clear();
  }
  links.clear();  // joins the watch threads, outside the lock
  registry_->Release(id_);
  RunEvent e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = state;
    verdict_ = verdict;
    ended_ = clock_->Now();
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
    if (uint64_t dropped = log_.notices_dropped()) {
      warnings_.push_back(absl::StrCat("notice limit of ", RunLog::kMaxNotices,
                                       " reached: ", dropped,
                                       " notices left out"));
    }
    if (uint64_t dropped = log_.timeline_dropped()) {
      warnings_.push_back(
          absl::StrCat("timeline full: ", dropped, " entries left out"));
    }
    *e.mutable_finished() = SummaryLocked();
    finished_ = true;
  }
  log_.Emit(std::move(e));
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
    for (const Tally& t : tally_.filters()) {
      *s.add_filters() = FilterResultOf(t, ReceivedLocked(t));
    }
  }
  for (const std::string& name : script_.peers) {
    const PeerState& p = peers_.at(name);
    ::harness::v1::PeerInfo* info = s.add_peers();
    *info = p.info;
    info->set_name(name);
    info->set_alive(p.alive);
  }
  for (auto& t : log_.Timeline()) *s.add_timeline() = std::move(t);
  for (const auto& w : warnings_) s.add_warnings(w);
  for (const auto& line : nemesis_schedule_) s.add_nemesis_schedule(line);
  return s;
}

}  // namespace peerlab::harness
