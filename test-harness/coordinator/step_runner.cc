// The step runner: Run::RunStep, the one place where a StepKind is
// dispatched, and one function per kind of step. A new kind of step plugs
// in here: a case in RunStep's switch and a Run::RunKIND function below
// (declared in run.h). Each function fills in the StepResult (outcome OK
// unless it sets FAILED) and waits only through WaitLocked (the run's
// clock), so that Cancel and the step's deadline end it.
#include <algorithm>
#include <atomic>
#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "test-harness/coordinator/at_once.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/coordinator/run_text.h"

namespace peerlab::harness {
namespace {

using ::harness::v1::RunEvent;
using ::harness::v1::StepResult;
using run_text::Cut;
using run_text::HumanBytes;
using run_text::kMaxTextBytes;
using run_text::Seconds;
using run_text::ToProto;

// What a step keeps of its command's output: lines, bytes of a line. An
// output above kMaxStepOutputBytes fails the step.
constexpr int kMaxOutputLines = 50;
constexpr size_t kMaxOutputLineBytes = 4096;
constexpr size_t kMaxStepOutputBytes = 256 * 1024;
// The output all steps of a run keep together; beyond it steps keep none.
constexpr size_t kMaxRunOutputBytes = 1024 * 1024;

}  // namespace

bool Run::RunSteps(size_t begin, size_t end) {
  size_t first_result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first_result = steps_.size();
  }
  std::atomic<bool> ok{true};
  RunAtOnce(end - begin, [&](size_t k) {
    const size_t index = begin + k;
    StepResult r = RunStep(static_cast<int>(index), script_.steps[index]);
    if (r.outcome() == ::harness::v1::OUTCOME_FAILED) ok = false;
  });
  // The results in script order, whichever step ended first.
  std::lock_guard<std::mutex> lock(mu_);
  std::stable_sort(steps_.begin() + static_cast<std::ptrdiff_t>(first_result),
                   steps_.end(), [](const StepResult& a, const StepResult& b) {
                     return a.index() < b.index();
                   });
  return ok;
}

StepResult Run::RunStep(int index, const Step& step) {
  StepResult r;
  if (step.kind == StepKind::kFilter) {
    // Checked at the end of the run and reported once, as a filter: no
    // step result, event or timeline entry of its own.
    r.set_outcome(::harness::v1::OUTCOME_OK);
    return r;
  }
  r.set_index(index);
  r.set_line(step.line);
  r.set_peer(step.peer);
  r.set_kind(StepKindName(step.kind));
  r.set_text(Cut(StepLabel(step), kMaxTextBytes));
  const absl::Time start = clock_->Now();
  *r.mutable_started() = ToProto(start);
  {
    RunEvent e;
    *e.mutable_step_started() = r;
    log_.Emit(std::move(e));
  }
  r.set_outcome(::harness::v1::OUTCOME_OK);
  switch (step.kind) {
    case StepKind::kCommand:
      RunCommand(step, &r);
      break;
    case StepKind::kFilter:
      break;  // returned above
    case StepKind::kWait:
      RunWait(index, step, &r);
      break;
    case StepKind::kKill:
    case StepKind::kStop:
    case StepKind::kCont:
    case StepKind::kRestart:
    case StepKind::kStart:
      RunProcessFault(step, &r);
      if (r.outcome() == ::harness::v1::OUTCOME_OK &&
          options_.lab() != "netns" && step.kind != StepKind::kKill &&
          step.kind != StepKind::kStop) {
        FollowPeerFaults(step.peer, &r);  // peer_faults.cc
      }
      break;
    case StepKind::kPartition:
    case StepKind::kHeal:
    case StepKind::kNetem:
    case StepKind::kOneway:
      RunNetworkFault(step, &r);
      break;
    case StepKind::kSleep:
      RunSleep(step, &r);
      break;
    case StepKind::kNemesis:
      RunNemesis(step, &r);  // nemesis_steps.cc
      break;
    case StepKind::kCheck:
      if (step.check == CheckKind::kMembership) {
        RunCheckMembership(step, &r);  // membership_steps.cc
      } else {
        RunCheck(step, &r);  // nemesis_steps.cc
      }
      break;
    case StepKind::kWaitConverged:
      RunWaitConverged(step, &r);  // membership_steps.cc
      break;
    case StepKind::kWaitMembers:
      RunWaitMembers(step, &r);  // membership_steps.cc
      break;
  }
  // The history of the checkers, and what a nemesis makes of a result.
  AfterStep(step, &r, start);  // nemesis_steps.cc
  const absl::Duration took = clock_->Now() - start;
  r.set_duration_us(absl::ToInt64Microseconds(took));
  {
    std::lock_guard<std::mutex> lock(mu_);
    steps_.push_back(r);
    const bool fault = IsProcessFault(step.kind) || IsNetworkFault(step.kind);
    log_.AddTimeline(start, step.peer, fault ? "fault" : "step", step.text,
                     r.outcome() == ::harness::v1::OUTCOME_OK, took);
  }
  RunEvent e;
  *e.mutable_step_finished() = r;
  log_.Emit(std::move(e));
  return r;
}

void Run::RunCommand(const Step& step, StepResult* r) {
  PeerLink* link = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PeerState& p = peers_[step.peer];
    std::string why = NotRunningLocked(p);
    if (!why.empty()) {
      r->set_outcome(::harness::v1::OUTCOME_FAILED);
      r->set_message(why);
      return;
    }
    // Only the run thread destroys links (retired_), between batches of
    // steps (RunSteps), so the pointer stays valid during the call.
    link = p.link.get();
  }
  auto response = link->Execute(
      step.command,
      clock_->Now() + absl::Milliseconds(options_.step_timeout_ms()));
  if (!response.ok()) {
    std::unique_lock<std::mutex> lock(mu_);
    const PeerState& p = peers_[step.peer];
    if (response.status().code() == absl::StatusCode::kUnavailable ||
        response.status().code() == absl::StatusCode::kCancelled) {
      // The connection broke: the peer may be dying, which its
      // registration tells in a moment.
      WaitLocked(lock, clock_->Now() + absl::Seconds(1),
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
  // the summary); an output above kMaxStepOutputBytes fails the step. Under
  // mu_: steps that run at once share the run's budget.
  std::unique_lock<std::mutex> budget_lock(mu_);
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
  budget_lock.unlock();
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
  const Tally& w = tally_.wait(index);
  const uint64_t generation = p.generation;
  WaitLocked(lock, clock_->Now() + timeout, [&] {
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
  // The client watches the run just after starting it: a first step that
  // is a fault waits for it.
  faults_.AwaitFirstWatcher(
      absl::Milliseconds(options_.peer_wait_timeout_ms()));
  std::unique_lock<std::mutex> lock(mu_);
  PeerState& p = peers_[step.peer];
  // `restart` of a killed peer starts a new process, as `start` does.
  const bool restart_dead =
      step.kind == StepKind::kRestart && !p.alive && p.generation != 0;
  if (step.kind == StepKind::kStart) {
    if (p.alive) {
      fail(absl::StrCat("peer ", step.peer, " is already running"));
      return;
    }
  } else if (!p.alive && !restart_dead) {
    fail(NotRunningLocked(p));
    return;
  }
  absl::StatusOr<uint64_t> fault_id = faults_.Open();
  if (!fault_id.ok()) {
    fail(std::string(fault_id.status().message()));
    return;
  }
  const uint64_t old_generation = p.generation;
  if (step.kind == StepKind::kKill ||
      (step.kind == StepKind::kRestart && !restart_dead)) {
    p.expect_death = true;
    // Not healthy from the step's start (its registration ends later).
    history_.Down(step.peer, clock_->Now());
  }
  lock.unlock();
  {
    RunEvent e;
    ::harness::v1::FaultRequest* f = e.mutable_fault_request();
    f->set_fault_id(*fault_id);
    f->set_kind(StepKindName(step.kind));
    f->set_peer(step.peer);
    log_.Emit(std::move(e));
  }
  const absl::Status answer = faults_.Await(*fault_id);
  lock.lock();
  const absl::Duration peer_wait =
      absl::Milliseconds(options_.peer_wait_timeout_ms());
  if (!answer.ok()) {
    if (p.expect_death && p.alive && p.generation == old_generation) {
      history_.Running(step.peer, old_generation, clock_->Now());
    }
    p.expect_death = false;
    fail(std::string(answer.message()));
    return;
  }
  switch (step.kind) {
    case StepKind::kKill:
      // The registration stream ends with the process.
      WaitLocked(lock, clock_->Now() + peer_wait, [&] {
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
      WaitLocked(lock, clock_->Now() + peer_wait, [&] {
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
  if (options_.lab() != "netns") {
    RunPeerFaults(step, r);
    return;
  }
  auto fail = [&](const std::string& message) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message(message);
  };
  if (options_.client_faults()) {
    faults_.AwaitFirstWatcher(
        absl::Milliseconds(options_.peer_wait_timeout_ms()));
  }
  absl::StatusOr<uint64_t> fault_id =
      options_.client_faults()
          ? faults_.Open()
          : absl::FailedPreconditionError("no client_faults");
  if (!fault_id.ok()) {
    fail(absl::StrCat(StepKindName(step.kind),
                      ": no client of the netns lab is watching this run to "
                      "change the network"));
    return;
  }
  {
    RunEvent e;
    ::harness::v1::FaultRequest* f = e.mutable_fault_request();
    f->set_fault_id(*fault_id);
    f->set_kind(StepKindName(step.kind));
    f->set_peer(step.peer);
    for (const auto& group : step.groups) {
      f->add_args(absl::StrJoin(group, ","));
    }
    for (const auto& arg : step.netem) f->add_args(arg);
    log_.Emit(std::move(e));
  }
  if (absl::Status answer = faults_.Await(*fault_id); !answer.ok()) {
    fail(std::string(answer.message()));
  }
}

void Run::RunSleep(const Step& step, StepResult* r) {
  std::unique_lock<std::mutex> lock(mu_);
  WaitLocked(lock, clock_->Now() + step.duration, [&] { return cancelled_; });
  if (cancelled_) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message("cancelled: " + cancel_reason_);
  }
}

}  // namespace peerlab::harness
