// The membership steps of a run (run.h):
//
//   wait converged [GROUP] [TIMEOUT]
//     every healthy peer of GROUP (every peer of the script when left out)
//     answers `memberlistdigest` with the same line: the same live members
//     in the same states at the same incarnations, and so the same count.
//   wait members PEER N [TIMEOUT]
//     PEER counts N live members (alive or suspect, itself included).
//   check membership
//     no healthy peer was declared dead by a healthy one during the run
//     (RunHistory's death declarations), every healthy peer ends with the
//     same member table, and no healthy peer lists another healthy one dead (test-harness/check/
//     membership_check.h), on the tables read with `memberlistdigest
//     members`.
//
// Each polls: a round of probes (quiet: nothing is written to the peers'
// views), then, unless it holds, a wait of kProbeInterval on the run's clock
// (Cancel wakes it) until the step's deadline: TIMEOUT, else --timeout
// (RunOptions.end_timeout_ms). Healthy ("Healthy, not live",
// docs/architecture.md) is RunHistory's rule, the one of the checkers:
// running (not being killed or restarted), and under no fault of the
// script or of a nemesis (stop, netem, the smaller side of a partition or
// of a oneway, a nemesis kill until the new process ran init).
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "test-harness/check/membership_check.h"
#include "test-harness/coordinator/convergence.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/coordinator/run_text.h"

namespace peerlab::harness {

using ::harness::v1::StepResult;
using run_text::Seconds;

std::vector<std::string> Run::HealthyPeers(
    const std::vector<std::string>& among) const {
  const std::vector<std::string> healthy = history_.Healthy();
  const std::set<std::string> is_healthy(healthy.begin(), healthy.end());
  std::vector<std::string> out;
  for (const std::string& name : among.empty() ? script_.peers : among) {
    if (is_healthy.count(name)) out.push_back(name);
  }
  return out;
}

DigestProbe Run::ProbeDigest(const std::string& peer, bool with_members,
                             absl::Time deadline) {
  PeerLink* link = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peers_.find(peer);
    if (it == peers_.end()) return {peer, absl::NotFoundError("no such peer")};
    std::string why = NotRunningLocked(it->second);
    if (!why.empty()) return {peer, absl::FailedPreconditionError(why)};
    // Only the run thread destroys links (retired_): valid during the call.
    link = it->second.link.get();
  }
  absl::StatusOr<::peer::v1::ExecuteResponse> response = link->Probe(
      with_members ? kDigestMembersCommand : kDigestCommand, deadline);
  if (!response.ok()) return {peer, response.status()};
  return {peer, DigestFromResponse(*response)};
}

absl::Time Run::MembershipDeadline(const Step& step) const {
  return clock_->Now() + (step.duration > absl::ZeroDuration()
                              ? step.duration
                              : absl::Milliseconds(options_.end_timeout_ms()));
}

bool Run::PollAgain(absl::Time deadline, std::string* why_stopped) {
  std::unique_lock<std::mutex> lock(mu_);
  if (cancelled_) {
    *why_stopped = "cancelled: " + cancel_reason_;
    return false;
  }
  const absl::Time now = clock_->Now();
  if (now >= deadline) return false;
  // No round starts at the deadline: its probes would fail at once
  // (DEADLINE_EXCEEDED) and hide the last real answers.
  const bool again = now + kProbeInterval < deadline;
  WaitLocked(lock, again ? now + kProbeInterval : deadline,
             [&] { return cancelled_; });
  if (cancelled_) {
    *why_stopped = "cancelled: " + cancel_reason_;
    return false;
  }
  return again;
}

absl::Time Run::ProbeDeadline(absl::Time step_deadline) const {
  return std::max(step_deadline, clock_->Now() + kProbeTimeout);
}

void Run::RunWaitConverged(const Step& step, StepResult* r) {
  const absl::Time start = clock_->Now();
  const absl::Time deadline = MembershipDeadline(step);
  std::string why;
  std::string stopped;
  do {
    const std::vector<std::string> healthy = HealthyPeers(step.members);
    std::vector<DigestProbe> probes;
    const absl::Time round_deadline = ProbeDeadline(deadline);
    for (const std::string& peer : healthy) {
      probes.push_back(ProbeDigest(peer, false, round_deadline));
    }
    why = WhyNotConverged(probes);
    if (why.empty()) {
      r->set_message(
          absl::StrCat(probes.size(), " healthy peer(s) agree: ",
                       peer::FormatDigestLine(probes.front().report->digest)));
      return;
    }
  } while (PollAgain(deadline, &stopped));
  r->set_outcome(::harness::v1::OUTCOME_FAILED);
  r->set_message(!stopped.empty()
                     ? stopped
                     : absl::StrCat("not converged after ",
                                    Seconds(clock_->Now() - start), ": ", why));
}

void Run::RunWaitMembers(const Step& step, StepResult* r) {
  const absl::Time start = clock_->Now();
  const absl::Time deadline = MembershipDeadline(step);
  std::string why;
  std::string stopped;
  do {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = peers_.find(step.peer);
      std::string gone =
          it == peers_.end() ? "no such peer" : NotRunningLocked(it->second);
      if (!gone.empty()) {
        r->set_outcome(::harness::v1::OUTCOME_FAILED);
        r->set_message(gone);
        return;
      }
    }
    DigestProbe probe = ProbeDigest(step.peer, false, ProbeDeadline(deadline));
    why = WhyNotMembers(probe, step.count);
    if (why.empty()) {
      r->set_message(
          absl::StrCat(step.peer, " counts ", step.count, " live members"));
      return;
    }
  } while (PollAgain(deadline, &stopped));
  r->set_outcome(::harness::v1::OUTCOME_FAILED);
  r->set_message(!stopped.empty()
                     ? stopped
                     : absl::StrCat("timed out after ",
                                    Seconds(clock_->Now() - start), ": ", why,
                                    ", not ", step.count));
}

void Run::RunCheckMembership(const Step& step, StepResult* r) {
  // The tables are judged once every nemesis has repaired what it broke.
  WaitForNemeses();
  const absl::Time deadline = MembershipDeadline(step);
  check::CheckResult result;
  std::string stopped;
  do {
    check::MembershipHistory history = history_.Membership();
    const std::vector<std::string> healthy = HealthyPeers({});
    history.healthy.insert(healthy.begin(), healthy.end());
    const absl::Time round_deadline = ProbeDeadline(deadline);
    for (const std::string& peer : healthy) {
      DigestProbe probe = ProbeDigest(peer, true, round_deadline);
      if (probe.report.ok()) {
        history.tables[peer] = probe.report->members;
      } else {
        history.unread[peer] = std::string(probe.report.status().message());
      }
    }
    result = check::CheckMembership(history);
    if (result.ok) break;
  } while (PollAgain(deadline, &stopped));
  r->set_message(check::FormatCheckResult(result));
  if (!stopped.empty()) r->set_message(stopped);
  if (!result.ok || !stopped.empty()) {
    r->set_outcome(::harness::v1::OUTCOME_FAILED);
  }
}

}  // namespace peerlab::harness
