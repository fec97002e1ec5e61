// Run: one execution of a test script against registered peers — the
// runner library of the harness.
//
// A run claims the script's peers in the PeerRegistry, waits until the ones
// that start with the run have registered, then executes the steps in
// order, each as soon as the previous one has finished (the steps of a
// parallel block, and the members' shares of a step on a group, start
// together and the next step waits for all of them): a command goes to
// its peer through its PeerLink, a `wait` blocks until the peer's view
// shows enough matching lines, a process fault (kill, stop, cont, restart,
// start) is asked of the client (RunOptions.client_faults) through a
// FaultRequest event and ResolveFault. Every view line of every peer is
// followed through the link; filters count them. A failing step is
// recorded and the run goes on (unless fail_fast). After the last step the
// run waits until every filter holds and the filtered views have been quiet
// for RunOptions.quiet_ms, or until end_timeout_ms, then checks the filters.
//
// Files (one concern each):
//   run.h/.cc          the run's life: create, claim, registrations and
//                      deaths, the step loop, the end phase, the summary
//   step_runner.cc     Run::RunStep, the one place a StepKind is dispatched,
//                      and one function per kind of step; Run::RunSteps runs
//                      a batch at once (at_once.h)
//   filter_tally.h     counting view lines for filters and waits
//   verdict.h          filter results and the run's verdict
//   fault_broker.h     faults asked of the client and its answers
//   run_log.h          events, subscribers, notices, timeline
//   peer_link.h        the line to one peer (gRPC: PeerConnection)
//
// Nothing here polls: every wait is on a condition variable, through the
// run's Clock (RunSeams), that view lines, registrations, deaths, fault
// answers and Cancel() signal. A peer whose registration ends unexpectedly
// fails the steps addressed to it and the run; the run never hangs (every
// wait has a deadline).
//
// Events (RunEvent) are kept from the start, so a watcher that comes late
// sees everything; the last event carries the final RunSummary.
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_RUN_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_RUN_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/harness/v1/coordinator.pb.h"
#include "test-harness/check/run_history.h"
#include "test-harness/coordinator/convergence.h"
#include "test-harness/coordinator/fault_broker.h"
#include "test-harness/coordinator/filter_tally.h"
#include "test-harness/coordinator/peer_link.h"
#include "test-harness/coordinator/peer_registry.h"
#include "test-harness/coordinator/run_log.h"
#include "test-harness/nemesis/nemesis.h"
#include "test-harness/script/script.h"

namespace peerlab::harness {

// A new run id: "YYYYMMDD-HHMMSS-xxxxxx" (local time, random hex).
// Thread-safe.
std::string NewRunId();

// RunOptions with the defaults filled in (0 means "default" on the wire).
::harness::v1::RunOptions WithDefaults(::harness::v1::RunOptions options);

// What a run with `options` can do, for CheckScript: the peer's views
// (peer/cli/view.h kPeerViews), options.lab(), and process faults only when
// a client carries them out (options.client_faults()).
ScriptContext ContextFor(const ::harness::v1::RunOptions& options);

// What a run talks to besides the registry: its clock (every time and
// every wait) and how it opens a link to a peer. The defaults are the real
// ones; tests pass a FakeClock and fake links (step_runner_test.cc).
struct RunSeams {
  const Clock* clock = &Clock::Real();  // not owned; outlives the run
  PeerLinkFactory links;                // empty: GrpcPeerLinks()
};

class Run : public PeerListener {
 public:
  // Parses `script_text` and checks it as a whole (CheckScript with
  // ContextFor(options)): InvalidArgument "NAME:LINE: ..." on errors.
  // `registry` must outlive the run. Call Start() to begin.
  static absl::StatusOr<std::unique_ptr<Run>> Create(
      std::string id, std::string script_name, std::string script_text,
      ::harness::v1::RunOptions options, PeerRegistry* registry,
      RunSeams seams = {});
  // Cancels the run if it is still going and waits for its thread.
  ~Run() override;

  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // Starts the run's thread. Call once.
  void Start();

  const std::string& id() const { return id_; }
  const std::string& script_name() const { return script_.name; }

  // Ends the run soon: steps not begun are skipped, waits and commands in
  // flight are cancelled, the state becomes CANCELLED (ERROR before the
  // steps began). Thread-safe; idempotent.
  void Cancel(const std::string& reason);

  // The client's answer to FaultRequest `fault_id`. NotFound for an unknown
  // or already answered fault. Thread-safe.
  absl::Status ResolveFault(uint64_t fault_id, bool ok,
                            const std::string& message);

  // Events number `from` onwards (copies). Thread-safe.
  std::vector<::harness::v1::RunEvent> EventsFrom(size_t from) const;
  // True once the `finished` event has been added.
  bool finished() const;
  ::harness::v1::RunState state() const;
  // The summary so far (the final one once finished()).
  ::harness::v1::RunSummary Summary() const;
  // Blocks until finished() or `timeout`; returns finished().
  bool WaitFinished(absl::Duration timeout) const;

  // `notify` is called (on the thread that added the event, without the
  // run's lock) after each new event. After Unsubscribe returns it is not
  // running and will not be called again. Thread-safe.
  int Subscribe(std::function<void()> notify);
  void Unsubscribe(int handle);

  // Clients watching the run. Faults need one: with none, a fault fails at
  // once, and when the last one leaves, faults waiting for an answer fail.
  void AddWatcher();
  void RemoveWatcher();

  // PeerListener (called by the registry).
  void OnPeerRegistered(const ::harness::v1::PeerInfo& peer) override;
  void OnPeerGone(const ::harness::v1::PeerInfo& peer) override;

 private:
  // One peer of the script, across its generations.
  struct PeerState {
    std::string name;
    ::harness::v1::PeerInfo info;  // latest registration
    uint64_t generation = 0;       // latest registration; 0: never
    bool alive = false;
    bool stopped = false;       // by a `stop` step, until `cont`
    bool expect_death = false;  // a kill/restart step is under way
    std::string gone_note;      // why it is not running
    std::unique_ptr<PeerLink> link;
    // No view line is kept: filters and waits count theirs as lines arrive
    // (FilterTally), so a run's memory does not grow with the lines.
    uint64_t dropped = 0;
    // The watch of generation `watch_failed_generation` ended with
    // `watch_error` (reported if that process is still alive at the end).
    uint64_t watch_failed_generation = 0;
    std::string watch_error;
  };

  Run(std::string id, Script script, std::string script_text,
      ::harness::v1::RunOptions options, PeerRegistry* registry,
      RunSeams seams);

  // run.cc: the run's life.
  void Main();
  // Returns false when the run cannot go on (registration timeout, cancel).
  bool WaitForInitialPeers();
  void EndPhase();
  void Finish(::harness::v1::RunState state, const std::string& verdict);

  // step_runner.cc: one step, and one function per kind of step.
  // Runs steps [begin, end) at once (a parallel block, the members of a
  // step on a group; a single step on this thread) and returns whether all
  // passed; their results join steps_ in script order. Run thread only.
  bool RunSteps(size_t begin, size_t end);
  // Runs one step: safe on several threads at once (RunSteps).
  ::harness::v1::StepResult RunStep(int index, const Step& step);
  void RunCommand(const Step& step, ::harness::v1::StepResult* result);
  void RunWait(int index, const Step& step, ::harness::v1::StepResult* result);
  void RunProcessFault(const Step& step, ::harness::v1::StepResult* result);
  // partition, heal, netem, oneway: in the netns lab asks the client (the
  // lab's owner) to change the network and waits for its answer; in any
  // other lab RunPeerFaults.
  void RunNetworkFault(const Step& step, ::harness::v1::StepResult* result);
  // peer_faults.cc: the same in every other lab, by the peers' `faults`
  // command (no root, no kernel qdisc). Safe on any thread (the run's and a
  // nemesis's): the faults are changed under net_mu_.
  void RunPeerFaults(const Step& step, ::harness::v1::StepResult* result);
  // After `cont`, `start` or `restart` of `peer` (not in the netns lab):
  // the network faults in force that `peer` could not take while it was
  // not running are carried out now (its blocks and netem; the blocks of
  // others towards a new process's addresses). Notes problems in `result`.
  void FollowPeerFaults(const std::string& peer,
                        ::harness::v1::StepResult* result);
  // REQUIRES net_mu_: makes `peer`'s process block and shape what cuts_
  // and netem_ ask. FailedPrecondition when `peer` is not running (its part
  // follows when it runs again: FollowPeerFaults); other problems are
  // added to `problems`, and peers whose addresses are not known yet to
  // `waiting`.
  absl::Status SyncPeerNetLocked(const std::string& peer,
                                 std::vector<std::string>* problems,
                                 std::set<std::string>* waiting);
  // REQUIRES net_mu_: the addresses of `peer` (gossip, gRPC), asked of its
  // current process once, else those of its last process.
  absl::StatusOr<std::vector<std::string>> PeerAddressesLocked(
      const std::string& peer);
  // Runs `line` (a `faults` command) on `peer`, with a timeline entry;
  // its output lines, or why it failed.
  absl::StatusOr<std::vector<std::string>> ExecuteFaults(
      const std::string& peer, const std::string& line);
  void RunSleep(const Step& step, ::harness::v1::StepResult* result);

  // membership_steps.cc: wait converged, wait members, check membership,
  // polling the peers' memberlistdigest.
  void RunWaitConverged(const Step& step, ::harness::v1::StepResult* result);
  void RunWaitMembers(const Step& step, ::harness::v1::StepResult* result);
  void RunCheckMembership(const Step& step, ::harness::v1::StepResult* result);
  // The healthy peers among `among` (every peer of the script when empty),
  // in order: RunHistory's healthy list (history_.Healthy()), the one rule
  // of the checkers and the waits. Thread-safe; takes no lock of the run.
  std::vector<std::string> HealthyPeers(
      const std::vector<std::string>& among) const;
  // One `memberlistdigest [members]` probe of `peer` (quiet).
  DigestProbe ProbeDigest(const std::string& peer, bool with_members,
                          absl::Time deadline);
  // The deadline of a membership step: its TIMEOUT, else end_timeout_ms.
  absl::Time MembershipDeadline(const Step& step) const;
  // Waits kProbeInterval; false when the step must end instead: the next
  // round would start at or after `deadline`, or the run was cancelled
  // (then `*why_stopped` says so).
  bool PollAgain(absl::Time deadline, std::string* why_stopped);
  // The deadline of the probes of a round that starts now: the step's, but
  // at least kProbeTimeout away (a round just before the step's deadline
  // still gets answers; a loaded peer may take a while).
  absl::Time ProbeDeadline(absl::Time step_deadline) const;
  // nemesis_steps.cc: the nemesis (a schedule drawn from the seed, carried
  // out on a thread of its own as steps of the run) and `check chat|kv`.
  void RunNemesis(const Step& step, ::harness::v1::StepResult* result);
  void NemesisMain(const Step& nemesis_step, absl::Time start,
                   std::vector<nemesis::Action> actions);
  // Joins every nemesis thread (they end by their schedule, or at Cancel).
  void WaitForNemeses();
  void RunCheck(const Step& step, ::harness::v1::StepResult* result);
  // `broadcastlist stamps` on `peer` (run thread only: it uses the link
  // without the lock), every line.
  absl::StatusOr<std::vector<std::string>> ReadKvList(const std::string& peer,
                                                      absl::Time deadline);
  // After every step (before it is recorded): the history of the checkers
  // (commands, the fault record) and a nemesis's adjustments (a network
  // fault this lab cannot do, a command whose peer the nemesis broke:
  // SKIPPED).
  void AfterStep(const Step& step, ::harness::v1::StepResult* result,
                 absl::Time start);
  void RecordFaultStep(const Step& step,
                       const ::harness::v1::StepResult& result,
                       absl::Time start, absl::Time end);

  // REQUIRES mu_: received count of `t` by the rules of its op.
  int64_t ReceivedLocked(const Tally& t) const;
  // REQUIRES mu_: the current generation of `peer` (0: none).
  uint64_t GenerationLocked(const std::string& peer) const;
  // REQUIRES mu_: why `peer` cannot take a step now ("" when it can).
  std::string NotRunningLocked(const PeerState& peer) const;
  // REQUIRES mu_: waits on cv_ until `done()` or `deadline` (run's clock).
  bool WaitLocked(std::unique_lock<std::mutex>& lock, absl::Time deadline,
                  absl::FunctionRef<bool()> done) {
    return clock_->WaitUntil(cv_, lock, deadline, done);
  }
  void OnLines(const std::string& name, uint64_t generation,
               const ::peer::v1::WatchViewsResponse& response);
  void OnWatchEnded(const std::string& name, uint64_t generation,
                    const absl::Status& status);
  ::harness::v1::RunSummary SummaryLocked() const;

  const std::string id_;
  const Script script_;
  const std::string script_text_;
  const ::harness::v1::RunOptions options_;
  PeerRegistry* const registry_;
  const Clock* const clock_;
  const PeerLinkFactory links_;
  const absl::Time created_;
  RunLog log_;          // thread-safe
  FaultBroker faults_;  // thread-safe

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::thread thread_;
  ::harness::v1::RunState state_ = ::harness::v1::RUN_STATE_WAITING_FOR_PEERS;
  std::string verdict_;
  bool cancelled_ = false;
  std::string cancel_reason_;
  bool finished_ = false;  // Finish has begun
  absl::Time started_ = absl::InfinitePast();
  absl::Time ended_ = absl::InfinitePast();
  std::map<std::string, PeerState> peers_;
  // RunOptions.count_from: lines stamped before started_ are not counted.
  const bool count_from_run_start_;
  FilterTally tally_;
  absl::Time last_activity_ = absl::InfinitePast();
  std::vector<::harness::v1::StepResult> steps_;
  std::vector<::harness::v1::FilterResult> filter_results_;
  // Indices of the filter steps whose line was skipped (--fail-fast after a
  // failure, a cancel): SKIPPED, not checked.
  std::set<int> not_reached_;
  // Bytes of command output the steps kept.
  size_t output_kept_bytes_ = 0;
  uint64_t registrations_ = 0;          // followed
  uint64_t registrations_ignored_ = 0;  // beyond the bound
  std::vector<std::string> warnings_;
  std::vector<std::string> unexpected_deaths_;
  // Links replaced or closed under mu_, destroyed by the run thread outside
  // the lock (destroying one joins its watch thread).
  std::vector<std::unique_ptr<PeerLink>> retired_;
  // The network faults of every lab but netns (peer_faults.cc): what the
  // steps asked for (cuts_, netem_) and what each peer's process was told
  // (net_). Guarded by net_mu_, held through each change, so script steps
  // and a nemesis never interleave; net_mu_ is never taken under mu_.
  struct PeerNet {
    uint64_t generation = 0;  // the process `blocked` and `shaping` are of
    std::set<std::string> blocked;     // addresses it blocks
    std::vector<std::string> shaping;  // the `faults` lines of its netem
    uint64_t self_generation = 0;      // the process `self` is of
    std::vector<std::string> self;     // its addresses (faults self)
  };
  std::mutex net_mu_;
  std::set<std::pair<std::string, std::string>> cuts_;     // (A, B): A blocks B
  std::map<std::string, std::vector<std::string>> netem_;  // PEER: lines
  std::map<std::string, PeerNet> net_;

  // What the checkers judge (thread-safe; nemesis_steps.cc).
  check::RunHistory history_;
  // The schedules of the nemesis steps, one line an action (summary).
  std::vector<std::string> nemesis_schedule_;
  std::vector<std::thread> nemesis_threads_;
  int nemesis_running_ = 0;
  // The last messagesView line of any peer (check chat waits for quiet).
  absl::Time chat_activity_ = absl::InfinitePast();
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_RUN_H_
