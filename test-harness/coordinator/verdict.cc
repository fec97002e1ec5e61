#include "test-harness/coordinator/verdict.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "test-harness/coordinator/run_text.h"

namespace peerlab::harness {

::harness::v1::FilterResult FilterResultOf(const Tally& t, int64_t received) {
  ::harness::v1::FilterResult r;
  r.set_line(t.line);
  r.set_peer(t.filter.peer);
  r.set_view(t.filter.view);
  r.set_op(CountOpName(t.filter.op));
  r.set_expected(t.filter.count);
  r.set_received(received);
  r.set_text(run_text::Cut(t.filter.match.ToString(), run_text::kMaxTextBytes));
  r.set_source(t.filter.source);
  return r;
}

std::vector<::harness::v1::FilterResult> CheckFilters(
    const std::vector<Tally>& filters,
    absl::FunctionRef<uint64_t(const std::string&)> generation_of,
    const std::set<int>& not_reached) {
  std::vector<::harness::v1::FilterResult> out;
  for (const Tally& t : filters) {
    ::harness::v1::FilterResult& r = out.emplace_back(
        FilterResultOf(t, t.Received(generation_of(t.filter.peer))));
    if (not_reached.count(t.step)) {
      r.set_outcome(::harness::v1::OUTCOME_SKIPPED);
      continue;
    }
    r.set_outcome(t.filter.Holds(r.received()) ? ::harness::v1::OUTCOME_OK
                                               : ::harness::v1::OUTCOME_FAILED);
  }
  return out;
}

Verdict Decide(const std::vector<::harness::v1::StepResult>& steps,
               const std::vector<::harness::v1::FilterResult>& filters,
               const std::vector<std::string>& unexpected_deaths,
               const std::optional<std::string>& cancel_reason) {
  std::vector<std::string> problems;
  int failed_steps = 0;
  for (const auto& s : steps) {
    failed_steps += s.outcome() == ::harness::v1::OUTCOME_FAILED;
  }
  int failed_filters = 0;
  for (const auto& f : filters) {
    failed_filters += f.outcome() == ::harness::v1::OUTCOME_FAILED;
  }
  if (failed_steps) {
    problems.push_back(
        absl::StrCat(failed_steps, " of ", steps.size(), " steps failed"));
  }
  if (failed_filters) {
    problems.push_back(absl::StrCat(failed_filters, " of ", filters.size(),
                                    " filters failed"));
  }
  for (const auto& d : unexpected_deaths) problems.push_back(d);
  Verdict v;
  if (cancel_reason) {
    v.state = ::harness::v1::RUN_STATE_CANCELLED;
    problems.insert(problems.begin(), "cancelled: " + *cancel_reason);
  } else {
    v.state = problems.empty() ? ::harness::v1::RUN_STATE_PASSED
                               : ::harness::v1::RUN_STATE_FAILED;
  }
  v.text = absl::StrJoin(problems, "; ");
  return v;
}

}  // namespace peerlab::harness
