// The harness's checkers: pure functions over what a run recorded (the
// peers' final tables and views, the run's fault record), run at the end of
// a run by the `check NAME` steps. They read records only, never a clock or
// a peer, so each is tested with histories that must pass and histories
// that must fail. Every checker returns a CheckResult; a failure carries the
// smallest counterexample found (one member, one message, one key: the
// first by name), not a dump of everything that differs.
//
// One file per checker (membership_check.h, ...), each taking a history
// type of its own; run_history.h says which peers the checks hold to.
#ifndef PEERLAB_TEST_HARNESS_CHECK_CHECK_H_
#define PEERLAB_TEST_HARNESS_CHECK_CHECK_H_

#include <string>

namespace peerlab::harness::check {

struct CheckResult {
  std::string checker;  // "membership", "chat", "kv"
  bool ok = true;
  // One line for the step's result: what was checked and found, e.g.
  // "4 healthy peers agree on 4 live members".
  std::string summary;
  // When !ok: the smallest counterexample, a few short lines ("member bob:
  // alive incarnation 2 at alice; dead incarnation 2 at carol").
  std::string counterexample;
};

// "check membership: OK: SUMMARY", or "check membership: FAILED: SUMMARY"
// followed by the counterexample's lines, each indented by two blanks.
std::string FormatCheckResult(const CheckResult& result);

}  // namespace peerlab::harness::check

#endif  // PEERLAB_TEST_HARNESS_CHECK_CHECK_H_
