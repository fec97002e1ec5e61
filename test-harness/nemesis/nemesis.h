// Nemesis: a random fault schedule drawn from a run's seed.
//
//   nemesis FAULTS every MIN..MAX for DURATION [on GROUP]
//
// FAULTS is a comma list of kill, stop, partition, loss, delay, oneway. Every
// MIN..MAX (drawn uniformly, in whole milliseconds) the nemesis starts one
// fault of a kind drawn from FAULTS on peers drawn from its targets (the
// `on` group, or every peer of the script); each fault lasts its own
// MIN..MAX and is then healed (kill: start and init; stop: cont; partition
// and oneway: heal; loss and delay: netem clear). At most a strict minority
// of the targets, (targets - 1) / 2, is under a fault at once unless
// Plan::max_faulted asks for more. At DURATION everything still
// broken is healed. Partitions and one-way blocks are network-wide (a heal
// ends them all), so at most one of them is active at a time.
//
// Everything here is pure (no I/O, no clock, no global state): the same
// spec, targets and seed give the same schedule, byte for byte, on every
// platform (the draws use mt19937_64 and no std distribution). Safe from any
// thread.
#ifndef PEERLAB_TEST_HARNESS_NEMESIS_NEMESIS_H_
#define PEERLAB_TEST_HARNESS_NEMESIS_NEMESIS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace peerlab::harness::nemesis {

enum class Fault { kKill, kStop, kPartition, kLoss, kDelay, kOneway };

// "kill", "stop", "partition", "loss", "delay", "oneway".
const char* FaultName(Fault fault);

// What to draw (the script's `nemesis` step: script.h NemesisSpec and
// Step::members give the faults, the interval, the duration and the
// targets).
struct Plan {
  std::vector<Fault> faults;                           // not empty
  absl::Duration min_interval = absl::ZeroDuration();  // > 0
  absl::Duration max_interval = absl::ZeroDuration();  // >= min_interval
  absl::Duration duration = absl::ZeroDuration();
  int max_faulted = 0;  // 0: a strict minority of the targets
};

// A schedule has at most this many actions (a tiny MIN over a long
// DURATION draws no more).
inline constexpr size_t kMaxActions = 10000;

// One action of a schedule.
struct Action {
  enum class Kind {
    kKill,       // kill PEER
    kStart,      // start PEER (a new process after kill)
    kCommand,    // PEER COMMAND (init after start)
    kStop,       // stop PEER
    kCont,       // cont PEER
    kPartition,  // partition GROUPS[0] | GROUPS[1]
    kOneway,     // oneway PEERS[0] -> PEERS[1]
    kHeal,       // heal (partitions and one-way blocks)
    kNetem,      // netem PEER ARGS...
  };
  absl::Duration at;  // from the nemesis step's start
  Kind kind = Kind::kKill;
  std::vector<std::string> peers;  // kPartition: empty (see groups)
  std::vector<std::vector<std::string>> groups;  // kPartition
  std::vector<std::string> args;  // kNetem: "loss", "20%"; kCommand: words
  // The peers this action makes unhealthy (a fault) or healthy again (a
  // heal); equal to `peers` except for partitions (the minority side).
  std::vector<std::string> affected;
  bool heal = false;  // true for the actions that repair
  int fault_id = 0;   // pairs a fault with its heal (1-based)

  // As a script step: "kill p3", "partition p1,p2 | p3,p4,p5",
  // "oneway p1 -> p2", "netem p2 loss 20%", "p3 init".
  std::string ToString() const;
};

// The schedule of `plan` on `targets` from `seed`. InvalidArgument when there
// are fewer than 3 targets without `max` (no strict minority can be faulted),
// when `max` is above the number of targets, or a partition or oneway has fewer
// than 2 targets. Actions are sorted by time (stable: a fault's heal never
// precedes it); every fault is healed by plan.duration.
absl::StatusOr<std::vector<Action>> Schedule(
    const Plan& plan, const std::vector<std::string>& targets, uint64_t seed);

// The seed of a nemesis step: the run's seed mixed with the step's line, so
// two nemesis steps of one script draw different schedules.
uint64_t SeedFor(uint64_t run_seed, int line);

}  // namespace peerlab::harness::nemesis

#endif  // PEERLAB_TEST_HARNESS_NEMESIS_NEMESIS_H_
