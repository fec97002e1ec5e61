// FilterTally: the counts of a run's filters (testfilter, expect) and of its
// `wait` steps, per peer start (generation). No view line is kept: each line
// is counted as it arrives, so a run's memory does not grow with the lines.
//
// Not thread-safe: the run holds its lock around every call.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_FILTER_TALLY_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_FILTER_TALLY_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "test-harness/script/script.h"

namespace peerlab::harness {

// One filter or wait and its counts.
struct Tally {
  Filter filter;
  int line = 0;   // of the script
  int step = -1;  // the filter's index among the script's steps
  std::map<uint64_t, int64_t> by_generation;
  int64_t total = 0;  // all generations (for `never`)

  // Lines counted for start `generation` of the filter's peer.
  int64_t Count(uint64_t generation) const {
    auto it = by_generation.find(generation);
    return it == by_generation.end() ? 0 : it->second;
  }
  // The count by the rules of the filter's op: `never` counts every start,
  // the others the peer's `current_generation`.
  int64_t Received(uint64_t current_generation) const {
    return filter.op == CountOp::kNever ? total : Count(current_generation);
  }
};

class FilterTally {
 public:
  // The script's filters (in script order) and waits (by step index).
  explicit FilterTally(const Script& script);

  // Counts one line `text` of `view` from start `generation` of `peer` in
  // every filter and wait that matches it. Returns whether a filter watches
  // that view of that peer (the line is activity for the end's quiet
  // window).
  bool Count(const std::string& peer, uint64_t generation,
             const std::string& view, const std::string& text);

  const std::vector<Tally>& filters() const { return filters_; }
  // The tally of the `wait` step at `step_index`. REQUIRES: it is one.
  const Tally& wait(int step_index) const { return waits_.at(step_index); }

 private:
  std::vector<Tally> filters_;
  std::map<int, Tally> waits_;
  std::set<std::pair<std::string, std::string>> filtered_views_;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_FILTER_TALLY_H_
