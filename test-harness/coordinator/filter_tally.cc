#include "test-harness/coordinator/filter_tally.h"

namespace peerlab::harness {

FilterTally::FilterTally(const Script& script) {
  for (size_t i = 0; i < script.steps.size(); ++i) {
    const Step& step = script.steps[i];
    if (step.kind == StepKind::kWait) {
      waits_[static_cast<int>(i)] = {.filter = step.filter, .line = step.line};
    }
    if (step.kind != StepKind::kFilter) continue;
    filters_.push_back({.filter = step.filter,
                        .line = step.line,
                        .step = static_cast<int>(i)});
    filtered_views_.insert({step.filter.peer, step.filter.view});
  }
}

bool FilterTally::Count(const std::string& peer, uint64_t generation,
                        const std::string& view, const std::string& text) {
  auto count = [&](Tally& t) {
    if (t.filter.peer == peer && t.filter.view == view &&
        t.filter.match.Matches(text)) {
      ++t.by_generation[generation];
      ++t.total;
    }
  };
  for (Tally& t : filters_) count(t);
  for (auto& [index, w] : waits_) count(w);
  return filtered_views_.count({peer, view}) > 0;
}

}  // namespace peerlab::harness
