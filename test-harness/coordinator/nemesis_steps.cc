// The nemesis and the history checkers of a run (run.h):
//
//   nemesis FAULTS every MIN..MAX for DURATION [on GROUP]
//     draws its schedule (test-harness/nemesis) from the run's seed and the
//     step's line, writes it to the summary (RunSummary.nemesis_schedule)
//     and carries it out on a thread of its own while the script goes on:
//     each action is a step of the run ("nemesis: kill p3", at the nemesis
//     line), so it is in the steps, the live lines and the timeline. Its
//     network faults go the way of the script's (the peers' `faults` in the
//     local lab, peer_faults.cc; the client in the netns lab). An action
//     this lab cannot do is SKIPPED with the reason, and so is its heal. A
//     command step of the script that fails because its peer is under a fault
//     the nemesis set is SKIPPED, not FAILED (the checkers judge what got
//     through).
//   check chat | check kv
//     waits for every nemesis to end, then runs its checker on the history
//     (RunHistory) until it holds and the chat views have been quiet for
//     RunOptions.quiet_ms, or until end_timeout_ms; the step fails with the
//     checker's smallest counterexample. `check kv` reads each healthy
//     peer's map with `broadcastlist stamps`.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "test-harness/check/chat_check.h"
#include "test-harness/check/kv_check.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/nemesis/nemesis.h"

namespace peerlab::harness {
namespace {

using ::harness::v1::StepResult;

nemesis::Plan PlanOf(const NemesisSpec& spec) {
  nemesis::Plan plan;
  for (NemesisFault f : spec.faults) {
    switch (f) {
      case NemesisFault::kKill:
        plan.faults.push_back(nemesis::Fault::kKill);
        break;
      case NemesisFault::kStop:
        plan.faults.push_back(nemesis::Fault::kStop);
        break;
      case NemesisFault::kPartition:
        plan.faults.push_back(nemesis::Fault::kPartition);
        break;
      case NemesisFault::kLoss:
        plan.faults.push_back(nemesis::Fault::kLoss);
        break;
      case NemesisFault::kDelay:
        plan.faults.push_back(nemesis::Fault::kDelay);
        break;
      case NemesisFault::kOneway:
        plan.faults.push_back(nemesis::Fault::kOneway);
        break;
    }
  }
  plan.min_interval = spec.every_min;
  plan.max_interval = spec.every_max;
  plan.duration = spec.duration;
  return plan;
}

// The step that carries out `a`, at the nemesis step's line.
Step StepOf(const nemesis::Action& a, const Step& nemesis_step) {
  using K = nemesis::Action::Kind;
  Step s;
  s.line = nemesis_step.line;
  s.text = absl::StrCat("nemesis: ", a.ToString());
  if (!a.peers.empty()) s.peer = a.peers[0];
  switch (a.kind) {
    case K::kKill:
      s.kind = StepKind::kKill;
      break;
    case K::kStart:
      s.kind = StepKind::kStart;
      break;
    case K::kCommand:
      s.kind = StepKind::kCommand;
      s.command = absl::StrJoin(a.args, " ");
      break;
    case K::kStop:
      s.kind = StepKind::kStop;
      break;
    case K::kCont:
      s.kind = StepKind::kCont;
      break;
    case K::kPartition:
      s.kind = StepKind::kPartition;
      s.peer.clear();
      s.groups = a.groups;
      break;
    case K::kOneway:
      s.kind = StepKind::kOneway;
      s.peer.clear();
      s.groups = {{a.peers[0]}, {a.peers[1]}};
      break;
    case K::kHeal:
      s.kind = StepKind::kHeal;
      break;
    case K::kNetem:
      s.kind = StepKind::kNetem;
      s.netem = a.args;
      break;
  }
  return s;
}

}  // namespace

void Run::RecordFaultStep(const Step& step, const StepResult& r,
                          absl::Time start, absl::Time end) {
  // The fault record of RunHistory: a fault counts from its step's start, a
  // repair from its step's end.
  if (r.outcome() != ::harness::v1::OUTCOME_OK) return;
  const absl::Time at = start;
  switch (step.kind) {
    case StepKind::kStop:
      history_.AddFault(step.peer, "stop", at);
      break;
    case StepKind::kCont:
      history_.ClearFault(step.peer, "stop", end);
      break;
    case StepKind::kNetem:
      if (!step.netem.empty() && step.netem[0] == "clear") {
        history_.ClearFault(step.peer, "netem", end);
      } else {
        history_.AddFault(step.peer, "netem", at);
      }
      break;
    case StepKind::kHeal:
      history_.Heal(end);
      break;
    case StepKind::kPartition: {
      // Every side but the largest is cut off from the majority.
      size_t largest = 0;
      for (size_t i = 1; i < step.groups.size(); ++i) {
        if (step.groups[i].size() > step.groups[largest].size()) largest = i;
      }
      for (size_t i = 0; i < step.groups.size(); ++i) {
        if (i == largest) continue;
        for (const auto& p : step.groups[i]) {
          history_.AddFault(p, "partition", at);
        }
      }
      break;
    }
    case StepKind::kOneway:
      // The smaller side is under the fault, as for a partition: `oneway
      // p1,p2 -> p3` makes p3 deaf to the group (a member whose ingress is
      // blocked), not p1 and p2. One to one (the nemesis's): the sender,
      // whose traffic is dropped.
      if (step.groups.size() == 2) {
        const auto& faulty = step.groups[1].size() < step.groups[0].size()
                                 ? step.groups[1]
                                 : step.groups[0];
        for (const auto& p : faulty) history_.AddFault(p, "oneway", at);
      }
      break;
    default:
      break;  // kill, restart, start: registrations and deaths tell
  }
}

void Run::RunNemesis(const Step& step, StepResult* r) {
  const uint64_t seed = nemesis::SeedFor(options_.seed(), step.line);
  std::vector<std::string> targets = step.members;
  if (targets.empty()) targets = script_.peers;
  absl::StatusOr<std::vector<nemesis::Action>> schedule =
      nemesis::Schedule(PlanOf(step.nemesis), targets, seed);
  if (!schedule.ok()) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
    r->set_message(std::string(schedule.status().message()));
    return;
  }
  int faults = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const nemesis::Action& a : *schedule) {
      if (!a.heal) ++faults;
      nemesis_schedule_.push_back(
          absl::StrFormat("line %d: +%.3f s %s", step.line,
                          absl::ToDoubleSeconds(a.at), a.ToString()));
    }
    ++nemesis_running_;
  }
  r->set_message(absl::StrCat(
      faults, " faults, ", schedule->size(), " actions over ",
      absl::FormatDuration(step.nemesis.duration), " (seed ", seed, ")"));
  for (const nemesis::Action& a : *schedule) {
    if (r->output_size() >= 50) break;
    r->add_output(absl::StrFormat("+%.3f s %s", absl::ToDoubleSeconds(a.at),
                                  a.ToString()));
  }
  const absl::Time start = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  nemesis_threads_.emplace_back(
      [this, step, start, actions = *std::move(schedule)] {
        NemesisMain(step, start, actions);
      });
}

void Run::NemesisMain(const Step& nemesis_step, absl::Time start,
                      std::vector<nemesis::Action> actions) {
  for (const nemesis::Action& a : actions) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      WaitLocked(lock, start + a.at, [&] { return cancelled_; });
      if (cancelled_) break;
    }
    RunStep(-1, StepOf(a, nemesis_step));
  }
  std::lock_guard<std::mutex> lock(mu_);
  --nemesis_running_;
  cv_.notify_all();
}

void Run::AfterStep(const Step& step, StepResult* r, absl::Time start) {
  const bool ok = r->outcome() == ::harness::v1::OUTCOME_OK;
  const bool by_nemesis = absl::StartsWith(step.text, "nemesis: ");
  if (by_nemesis && IsNetworkFault(step.kind) && !ok &&
      absl::StrContains(r->message(), "needs --lab netns")) {
    // A network fault this lab cannot do (yet): skipped with the reason,
    // and so is its heal (it fails the same way).
    r->set_outcome(::harness::v1::OUTCOME_SKIPPED);
    r->set_message(absl::StrCat("skipped: this lab cannot do ",
                                StepKindName(step.kind), " (", r->message(),
                                ")"));
    return;
  }
  // A nemesis kill is repaired once the new process has run `init`: until
  // then the peer is not healthy (it may still be joining).
  if (by_nemesis && step.kind == StepKind::kKill && ok) {
    history_.AddFault(step.peer, "killed by the nemesis", start);
  }
  if (by_nemesis && step.kind == StepKind::kCommand && step.command == "init") {
    history_.ClearFault(step.peer, "killed by the nemesis", clock_->Now());
  }
  if (step.kind == StepKind::kCommand) {
    std::vector<std::string> output(r->output().begin(), r->output().end());
    history_.OnCommand(step.peer, step.command, ok, output, start);
    bool nemesis_ran;
    {
      std::lock_guard<std::mutex> lock(mu_);
      nemesis_ran = !nemesis_schedule_.empty();
    }
    if (!ok && !by_nemesis && nemesis_ran) {
      // The nemesis broke the peer: what got through is for the checkers.
      std::string fault = history_.FaultOf(step.peer);
      if (!fault.empty()) {
        r->set_outcome(::harness::v1::OUTCOME_SKIPPED);
        r->set_message(absl::StrCat("skipped: peer ", step.peer,
                                    " is under a fault (", fault,
                                    "): ", r->message()));
      }
    }
    return;
  }
  RecordFaultStep(step, *r, start, clock_->Now());
}

void Run::WaitForNemeses() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(nemesis_threads_);
  }
  for (auto& t : threads) t.join();
}

absl::StatusOr<std::vector<std::string>> Run::ReadKvList(
    const std::string& peer, absl::Time deadline) {
  PeerLink* link = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PeerState& p = peers_[peer];
    if (std::string why = NotRunningLocked(p); !why.empty()) {
      return absl::UnavailableError(why);
    }
    // Only the run thread destroys links (retired_): valid during the call.
    link = p.link.get();
  }
  auto response = link->Execute("broadcastlist stamps", deadline);
  if (!response.ok()) return response.status();
  if (response->code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(response->code()),
                        response->message());
  }
  // A map holds at most kMaxKvEntries (10,000) entries and a count line.
  constexpr int kMaxLines = 20000;
  if (response->output_size() > kMaxLines) {
    return absl::ResourceExhaustedError(
        absl::StrCat("broadcastlist stamps printed ", response->output_size(),
                     " lines, more than a map can hold (", kMaxLines, ")"));
  }
  std::vector<std::string> lines;
  for (const auto& line : response->output()) lines.push_back(line.text());
  return lines;
}

void Run::RunCheck(const Step& step, StepResult* r) {
  WaitForNemeses();
  const absl::Time deadline =
      clock_->Now() + absl::Milliseconds(options_.end_timeout_ms());
  const absl::Duration quiet = absl::Milliseconds(options_.quiet_ms());
  check::CheckResult result;
  absl::Duration took;
  while (true) {
    if (step.check == CheckKind::kKv) {
      // Each healthy peer's map, with stamps.
      std::map<std::string, std::map<std::string, check::KvEntry>> maps;
      std::string problem;
      for (const std::string& peer : history_.Healthy()) {
        if (std::find(script_.peers.begin(), script_.peers.end(), peer) ==
            script_.peers.end()) {
          continue;
        }
        absl::StatusOr<std::vector<std::string>> lines = ReadKvList(
            peer,
            clock_->Now() + absl::Milliseconds(options_.step_timeout_ms()));
        if (!lines.ok()) {
          problem = absl::StrCat(peer, ": ", lines.status().message());
          continue;
        }
        auto map = check::ParseKvList(*lines);
        if (!map.ok()) {
          problem = absl::StrCat(peer, ": ", map.status().message());
          continue;
        }
        maps[peer] = *std::move(map);
      }
      // The checker's own time, on the real clock (a figure, not a wait).
      const absl::Time t = absl::Now();
      result = check::CheckKv(history_.Kv(std::move(maps)));
      took = absl::Now() - t;
      if (!problem.empty() && result.ok) {
        result.ok = false;
        result.summary =
            absl::StrCat("a healthy peer's map was not read (", problem, ")");
      }
    } else {
      const absl::Time t = absl::Now();
      result = check::CheckChat(history_.Chat());
      took = absl::Now() - t;
    }
    if (std::string o = history_.overflow(); !o.empty()) {
      result.ok = false;
      result.summary = absl::StrCat("the history is incomplete: ", o);
    }
    std::unique_lock<std::mutex> lock(mu_);
    const absl::Time now = clock_->Now();
    const bool settled = now >= chat_activity_ + quiet;
    if (cancelled_ || now >= deadline || (result.ok && settled)) break;
    if (step.check == CheckKind::kKv) {
      // Again a little later: maps converge through gossip, no line says so.
      WaitLocked(
          lock,
          std::min(now + std::max(quiet, absl::Milliseconds(200)), deadline),
          [&] { return cancelled_; });
    } else if (!settled) {
      // Again once the views have been quiet long enough.
      WaitLocked(lock, std::min(chat_activity_ + quiet, deadline),
                 [&] { return cancelled_; });
    } else {
      // Quiet and failing: only a new line can change the verdict.
      const absl::Time seen = chat_activity_;
      WaitLocked(lock, deadline,
                 [&] { return cancelled_ || chat_activity_ != seen; });
    }
  }
  r->set_message(absl::StrCat(check::FormatCheckResult(result), " (checked in ",
                              absl::FormatDuration(took), ")"));
  if (!result.ok) r->set_outcome(::harness::v1::OUTCOME_FAILED);
}

}  // namespace peerlab::harness
