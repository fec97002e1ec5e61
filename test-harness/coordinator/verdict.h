// The verdict of a run: the final results of its filters and the run's end
// state and one-line verdict, from what its steps, filters and peers did.
// Pure functions (no lock, no clock).
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_VERDICT_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_VERDICT_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "proto/harness/v1/coordinator.pb.h"
#include "test-harness/coordinator/filter_tally.h"

namespace peerlab::harness {

// A filter's result without its outcome: what it asked and `received`.
::harness::v1::FilterResult FilterResultOf(const Tally& tally,
                                           int64_t received);

// The final results of `filters`, with outcomes. `generation_of(peer)` is
// the peer's current start (the one counted by all ops but `never`). A
// filter whose step is in `not_reached` (its line was skipped: --fail-fast
// after a failure, a cancel) is SKIPPED, not checked.
std::vector<::harness::v1::FilterResult> CheckFilters(
    const std::vector<Tally>& filters,
    absl::FunctionRef<uint64_t(const std::string&)> generation_of,
    const std::set<int>& not_reached = {});

struct Verdict {
  ::harness::v1::RunState state = ::harness::v1::RUN_STATE_PASSED;
  std::string text;  // "" when passed; the problems joined by "; "
};

// PASSED when no step and no filter failed and no peer died unexpectedly;
// FAILED otherwise; CANCELLED (first problem "cancelled: REASON") when
// `cancel_reason` is set.
Verdict Decide(const std::vector<::harness::v1::StepResult>& steps,
               const std::vector<::harness::v1::FilterResult>& filters,
               const std::vector<std::string>& unexpected_deaths,
               const std::optional<std::string>& cancel_reason);

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_VERDICT_H_
