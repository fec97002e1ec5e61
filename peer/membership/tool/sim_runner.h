// SimRunner: one peerlab-sim experiment. N simulated members (SimCluster on
// a SimNetwork) run a scenario in virtual time, and the run's figures come
// back as a SimRunResult: how long until every member knows every other
// member, how long until a crash is detected (first and last observer),
// partition detection and reconvergence, false positive deaths, and the
// traffic per member per second.
//
// Scenarios (every fault is applied once the cluster has converged, plus
// `settle`; a run that does not converge within `duration` applies none):
//   kJoin       every member starts and joins member 0 (spread over
//               `join_window` when it is positive); nothing else happens.
//   kCrash      `crash` random members other than member 0 stop at once
//               (kill -9).
//   kPartition  members [0, partition_fraction * N) and the rest cannot reach
//               each other until every member has declared every member of
//               the other side dead (or `partition_for` passed, when
//               positive); then the network heals.
//   kSlow       `slow` random members other than member 0 get timers and
//               arrivals late by up to `slow_lag` (an overloaded host); they
//               stay healthy, so their deaths are false positives.
//   kFlipFlop   `flip_members` random members other than member 0 (0: 1 %
//               of N, at least 1) drop ALL their ingress (datagrams, reliable
//               requests, and the answers to their own calls) for `flip_on`,
//               then nothing for `flip_off`, repeated until the end (Rapid,
//               USENIX ATC 2018, section 7: 10 of 1,000 for 20 s of 40 s).
//   kEgressLoss `egress_share` of the members (at least 1, never member 0)
//               lose `egress_loss` of the datagrams they send (a rule "*"
//               drop in their fault plan; their reliable calls, to and
//               from them, are TCP connections on that lossy path:
//               sim/tcp_model.h).
//   kOneway     one random member X (not member 0) is reachable by exactly
//               one other, Y (random): every member but Y cannot send to X
//               (a stateless ingress drop with Y let in: X's datagrams reach
//               everybody, but answers to X's own calls come back only from
//               Y). serf#185.
//   kMassRestart every member (member 0 too) restarts once, at a random
//               moment within `restart_window` (random order): kill -9, then
//               after `restart_downtime` a new process with the same name
//               and address and no state (a fresh Memberlist: incarnation 1,
//               a new generation from its clock as the protocol does without
//               a state directory) joins through a random live member.
//               memberlist#311.
//
// Start (SimRunOptions::start):
//   kJoin       every member starts at 0 (or over `join_window`) and joins
//               member 0: the join's gossip (each member's alive sent
//               O(log N) times by every member that learns it) runs
//               before the fault, minutes of CPU at 10,000 members.
//   kConverged  every member starts at 0 as if the group's join were long
//               over: it knows every other alive, nothing queued for gossip
//               (SimCluster::StartConverged); "all know all" is 0 then, not
//               a convergence figure. Not with kJoin (nothing would happen)
//               or a `join_window`.
//
// False positives: deaths of members that were not crashed, as seen by a
// member that could reach them (deaths across an active partition, of
// members on the other side of one that was healed, and the stale partition
// deaths below are expected and not counted; so are deaths of the new
// scenarios' faulty members, and the deaths they declare themselves).
//
// Sick-network figures (issue 17), for every scenario (see view_tracker.h):
//   healthy / faulty  the faulty members are the crashed, partitioned
//               (first group), flip-flopped, egress-lossy and oneway (X)
//               ones; slow members stay healthy. In kMassRestart a member is
//               faulty from its kill until `restart_grace` after its restart.
//   healthy members declared dead: distinct healthy members that a healthy
//               member declared dead (or quarantined, see
//               RemovedOrQuarantined) while they were healthy (a restarted
//               member still held dead when its grace ends counts too);
//               false_removal_pairs counts distinct (observer, target)
//               pairs. The goal is 0.
//   faulty members removed after: for each faulty member and each fault
//               window (a flip-flop on-phase until the next one; otherwise
//               from the fault to the heal or the end), how long until every
//               healthy member held it removed or quarantined; the slowest;
//               never if one window ended without (windows cut short by the
//               end of the run, under 30 s, are not judged).
//   re-admissions per cycle: times a faulty member removed by every healthy
//               member came back into one's live set, per (member, window).
//   agreement:  share of the 1 s samples (from the fault, or from
//               convergence without one) in which every healthy running
//               member holds the same live set; samples within 5 s after a
//               fault transition (a phase change, a kill, a restart) are
//               left out.
//   traffic:    per member, bytes/s sent and received (datagrams and
//               reliable messages) from the fault (or convergence) to the
//               end: mean, 99th percentile and max over the members.
//
// Thread safety: none; Run() uses the calling thread only.
#ifndef PEERLAB_PEER_MEMBERSHIP_TOOL_SIM_RUNNER_H_
#define PEERLAB_PEER_MEMBERSHIP_TOOL_SIM_RUNNER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/runtime/logger.h"

namespace peerlab::membership {
class SimCluster;
}  // namespace peerlab::membership

namespace peerlab::membership::tool {

enum class Scenario {
  kJoin,
  kCrash,
  kPartition,
  kSlow,
  kFlipFlop,
  kEgressLoss,
  kOneway,
  kMassRestart
};

// How the members start (see the file comment).
enum class StartMode { kJoin, kConverged };

// "join", "converged"; InvalidArgument otherwise.
absl::StatusOr<StartMode> ParseStartMode(const std::string& name);
std::string StartModeName(StartMode start);

// "join", "crash", "partition", "slow", "flipflop", "egress-loss",
// "oneway", "mass-restart"; InvalidArgument otherwise.
absl::StatusOr<Scenario> ParseScenario(const std::string& name);
std::string ScenarioName(Scenario scenario);

// Reported while a run goes on (see SimRunOptions::progress).
struct SimProgress {
  absl::Duration sim_elapsed;  // virtual time since the start
  absl::Duration sim_total;    // the run's duration
  double real_seconds = 0;     // wall-clock time since the start
  uint64_t events = 0;         // simulator events run so far
  int know_all = 0;            // live members that know every live member
  int live = 0;                // live (not crashed) members
};

struct SimRunOptions {
  int nodes = 100;
  // "lan", "wan" or "local" (membership Config profiles).
  std::string profile = "lan";
  uint64_t seed = 1;
  // Datagram loss rate on every link, in [0, 1).
  double loss = 0.0;
  // One-way link latency (jitter is half of it).
  absl::Duration latency = absl::Milliseconds(1);
  // Lifeguard on (memberlist's behaviour) or off (for the experiment).
  bool lifeguard = true;
  // memberlist's own behaviour (Config::memberlist_compat: every departure
  // the project made on purpose turned off), for `--baseline memberlist`.
  bool memberlist_compat = false;
  Scenario scenario = Scenario::kJoin;
  // kCrash: members crashed.
  int crash = 1;
  // kPartition: share of members in the first group, in (0, 1).
  double partition_fraction = 0.5;
  // kPartition: heal after this long even if detection is not complete
  // (zero: only once it is).
  absl::Duration partition_for = absl::ZeroDuration();
  // kSlow: slow members (0: N / 10, at least 1) and their largest lag (zero:
  // one probe interval).
  int slow = 0;
  absl::Duration slow_lag = absl::ZeroDuration();
  // kFlipFlop: members flip-flopped (0: 1 % of N, at least 1; at most
  // nodes - 1), and the lengths of the phases.
  int flip_members = 0;
  absl::Duration flip_on = absl::Seconds(20);
  absl::Duration flip_off = absl::Seconds(20);
  // kEgressLoss: share of the members (at least 1, at most nodes - 1) and
  // the share of their datagrams lost, in (0, 1].
  double egress_share = 0.01;
  double egress_loss = 0.8;
  // kMassRestart: window of the restarts, time between a kill and the new
  // process, and how long after its restart a member counts as healthy.
  absl::Duration restart_window = absl::Seconds(60);
  absl::Duration restart_downtime = absl::ZeroDuration();
  absl::Duration restart_grace = absl::Seconds(30);
  // Time between convergence and the fault.
  absl::Duration settle = absl::Seconds(1);
  // Total virtual time of the run, from the first start.
  absl::Duration duration = absl::Seconds(60);
  // Members start one after another over this window (zero: all at once).
  absl::Duration join_window = absl::ZeroDuration();
  // kConverged: every member knows every other at the start (see the file
  // comment).
  StartMode start = StartMode::kJoin;
  // Config::max_queued_alives, the gossip queue's bound (-1: the
  // profile's, 1,024). Tests set it low to see the bound act in a small
  // group.
  int max_queued_alives = -1;
  // Called about every `progress_every` of wall-clock time (nullptr: never).
  std::function<void(const SimProgress&)> progress;
  absl::Duration progress_every = absl::Seconds(1);
  // When set, receives one line per `timeline_every` of virtual time:
  // time_s,know_all,live,suspect_events,dead_events,messages,bytes (events
  // and traffic cumulative over all members). Header line included.
  std::function<void(const std::string& line)> timeline;
  absl::Duration timeline_every = absl::Seconds(1);
  // Called once with the cluster before any member starts (tests: to
  // observe the network, or to schedule checks on its clock). The cluster
  // lives until RunSimulation returns.
  std::function<void(SimCluster& cluster)> on_cluster;
  // Where the members log, dated in virtual time (not owned; must outlive
  // the run). nullptr: runtime::DefaultLogger() (stderr at warning).
  runtime::Logger* logger = nullptr;
};

// Traffic of one direction per member, bytes per second.
struct TrafficSpread {
  double mean = 0, p99 = 0, max = 0;
};

// One sample of the run, every second of virtual time (for --plot).
struct SimSample {
  double t = 0;        // seconds since the start
  int observers = 0;   // healthy running members
  double alive = 0;    // members an average healthy member holds alive,
  double suspect = 0;  // suspect,
  double removed = 0;  // and removed or quarantined
  // The healthy members' views of the faulty members (counts of (healthy,
  // faulty) pairs): alive, suspect, removed or quarantined.
  int64_t faulty_alive = 0, faulty_suspect = 0, faulty_removed = 0;
  int disagreeing = 0;   // members on whose liveness they disagree
  bool counted = false;  // an agreement sample (see the file comment)
  double sent_mean = 0, sent_max = 0;  // bytes/s per member since the last
  double recv_mean = 0;                // sample
};

// A span of virtual time with a fault on (for --plot), seconds since the
// start.
struct FaultSpan {
  double from = 0, to = 0;
};

// Durations are measured in virtual time; unset optionals mean "did not
// happen within the run".
struct SimRunResult {
  SimRunOptions options;  // as run (defaults resolved), without callbacks
  // From the last member's start until every live member counts exactly the
  // live members as alive or suspect.
  std::optional<absl::Duration> converge;
  // When the fault was applied, since the start.
  std::optional<absl::Duration> fault_at;
  std::vector<int> faulty;  // crashed, slow, or the first partition group
  // kCrash: from the crash until the first live member declared a crashed
  // member dead, and until every live member saw every crashed one dead.
  std::optional<absl::Duration> first_detect;
  std::optional<absl::Duration> last_detect;
  // kPartition: from the split until every member saw every member of the
  // other side dead; when it healed (since the split); from the heal until
  // every member knows every member again.
  std::optional<absl::Duration> partition_detect;
  std::optional<absl::Duration> healed_after;
  std::optional<absl::Duration> heal_converge;
  int false_positives = 0;
  // kPartition: deaths, after the heal, of members the other side had
  // declared dead during the partition, now also believed by their own side
  // (the other side's dead news spreads until the member refutes it, as in
  // memberlist). Not counted as false positives.
  int stale_partition_deaths = 0;
  // Traffic per member per second of virtual time: datagrams sent plus
  // reliable requests and responses, and their bytes; over the whole run and
  // from convergence to the end ("steady"; 0 if it never converged).
  double msgs_per_member_s = 0;
  double bytes_per_member_s = 0;
  double steady_msgs_per_member_s = 0;
  double steady_bytes_per_member_s = 0;
  // --- Sick-network figures (see the file comment) ---
  int oneway_via = -1;  // kOneway: Y, the one member that reaches X
  int healthy_declared_dead = 0;
  int64_t false_removal_pairs = 0;
  // Whether any fault window was judged; the slowest removal (nullopt with
  // windows: never).
  int removal_windows = 0;
  int removal_missed = 0;
  std::optional<absl::Duration> removed_after;
  int64_t readmissions = 0;
  double readmissions_per_cycle = 0;
  int agreement_samples = 0;
  int agreement_agreed = 0;
  // agreement_agreed / agreement_samples in %; nullopt without samples.
  std::optional<double> agreement_pct;
  TrafficSpread sent, received;
  // kMassRestart: when the last member restarted (since the start), and
  // from then until every member knows every member.
  std::optional<absl::Duration> last_restart;
  // kMassRestart: (member, when its new process started, since the start),
  // in the order they restarted.
  std::vector<std::pair<int, absl::Duration>> restarts;
  std::optional<absl::Duration> restart_converge;
  // kMassRestart, the goal "30 s after each member's restart, no member sees
  // it as dead": for each restarted member, from its restart until the last
  // time any running member stopped holding it dead (removed or
  // quarantined; 0 if none did after its restart); the slowest (nullopt:
  // some member was still held dead at the end), and how many restarted
  // members were held dead past `restart_grace` after their restart (or at
  // the end).
  std::optional<absl::Duration> restart_seen_dead_until;
  int restart_seen_dead_after_grace = 0;
  // Datagrams and reliable messages stopped by ingress drops; datagrams
  // dropped by the members' fault plans (egress loss).
  uint64_t ingress_dropped = 0;
  uint64_t egress_dropped = 0;
  // The gossip queue's bound (Config::max_queued_alives): alive notices
  // about others dropped from the members' queues and the catch-up
  // push/pulls that followed (Stats::alive_notices_dropped, drop_catch_ups),
  // summed over every member's processes (a restarted member's old one
  // too). 0 when the bound never acted (groups of up to max_queued_alives
  // members; the memberlist baseline has no bound).
  uint64_t alive_notices_dropped = 0;
  uint64_t drop_catch_ups = 0;
  std::vector<SimSample> samples;
  std::vector<FaultSpan> fault_spans;

  absl::Duration sim_time;
  double real_seconds = 0;
  uint64_t events = 0;
  // The process's peak resident memory (VmHWM) at the end of the run, in
  // MiB (0 where /proc is not available): every member holds a record of
  // every other, so it grows as N².
  double peak_rss_mib = 0;
  // SimNetwork::trace_hash() at the end: the same options and seed give
  // the same hash (the run is deterministic); compare it across builds to
  // see whether a change altered the protocol's traffic.
  uint64_t trace_hash = 0;
};

// Runs one experiment. InvalidArgument for bad options (nodes outside
// [1, 100000], an unknown profile, loss outside [0, 1), a crash count that
// would leave no member, …).
absl::StatusOr<SimRunResult> RunSimulation(const SimRunOptions& options);

// The CSV header and one row for `result` (no trailing newline). Durations
// in seconds; empty cells for what did not happen.
std::string CsvHeader();
std::string CsvRow(const SimRunResult& result);

// A human-readable report, one "name: value" line per figure.
std::string FormatReport(const SimRunResult& result);

}  // namespace peerlab::membership::tool

#endif  // PEERLAB_PEER_MEMBERSHIP_TOOL_SIM_RUNNER_H_
