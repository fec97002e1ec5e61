// Test scripts of the harness: parsing and the parsed form.
//
// A script is a text file with one step per line, run in order:
//
//   PEER COMMAND...                 a command line, run on PEER
//   PEER testfilter VIEW N TEXT     PEER's VIEW must show exactly N lines
//                                   starting with TEXT by the end of the run
//   expect PEER VIEW OP N TEXT      OP: == (exactly), >= (atleast),
//                                   <= (atmost)
//   expect PEER VIEW never TEXT     no such line may ever appear
//   wait PEER VIEW N TEXT [TIMEOUT] barrier: until VIEW has >= N such lines
//   wait converged [GROUP] [TIMEOUT]  every live peer of GROUP (default
//                                   all) reports the same member table
//   wait members PEER N [TIMEOUT]   until PEER counts N alive members
//   kill|stop|cont|restart|start PEER
//   partition A,B | C   heal   netem PEER loss 10% delay 20ms
//   oneway A -> B                   A's traffic to B is dropped
//   nemesis FAULTS every MIN..MAX for DURATION [on GROUP]
//                                   a random fault schedule (FAULTS: a comma
//                                   list of kill,stop,partition,loss,delay,
//                                   oneway)
//   check chat|kv|membership        a checker run on the recorded history
//   sleep SECONDS
//   peers NAME...                   declares peers that run no command (they
//                                   are started and may be watched)
//   group NAME PEER...              names a group of peers
//   param NAME VALUE                a parameter and its default
//   parallel ... end                the steps between run at once
//
// Wherever a step takes a PEER it also takes a group name, a range
// `p[1..20]` (p1 ... p20; `p[01..20]` keeps the zeros) or `all` (every peer
// of the script): the step then runs on each member (see Step::fanout).
// `${NAME}` anywhere in a line is replaced by the parameter's value
// (`param` default, or the override given to ParseScript).
//
// Blank lines and lines whose first non-blank character is `#` are skipped.
// TEXT is the rest of the line (inner spaces kept); a TEXT starting with `~`
// matches lines that contain the rest instead of lines that start with it
// (`\~` stands for a literal leading `~`). docs/harness.md is the reference.
//
// The parser is pure (no I/O, no globals): safe on any input, from any
// thread.
#ifndef PEERLAB_TEST_HARNESS_SCRIPT_SCRIPT_H_
#define PEERLAB_TEST_HARNESS_SCRIPT_SCRIPT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace peerlab::harness {

enum class StepKind {
  kCommand,    // PEER COMMAND...
  kFilter,     // PEER testfilter ..., expect ...
  kWait,       // wait PEER VIEW N TEXT [TIMEOUT]
  kKill,       // SIGKILL
  kStop,       // SIGSTOP
  kCont,       // SIGCONT
  kRestart,    // clean stop, then a fresh process
  kStart,      // a peer that joins mid-run
  kPartition,  // netns lab only
  kHeal,       // netns lab only
  kNetem,      // netns lab only
  kSleep,
  // Executed by the converge lane:
  kWaitConverged,  // wait converged [GROUP] [TIMEOUT]: Step::members, the
                   // peers that must agree (every peer of the script when
                   // GROUP is left out); Step::duration the timeout (zero:
                   // the run's default)
  kWaitMembers,    // wait members PEER N [TIMEOUT]: Step::peer,
                   // Step::count (N alive members), Step::duration
  // Executed by the faults lane:
  kOneway,  // oneway A -> B: Step::groups = {A's peers, B's peers}; the
            // traffic from every peer of the first to every peer of the
            // second is dropped, the other way flows
  // Executed by the nemesis lane:
  kNemesis,  // nemesis FAULTS every MIN..MAX for DURATION [on GROUP]:
             // Step::nemesis; Step::members the peers it may break (every
             // peer of the script when `on GROUP` is left out)
  kCheck,    // check chat|kv|membership: Step::check
};

// "command", "filter", "wait", "kill", ... (the script keyword).
const char* StepKindName(StepKind kind);
// True for kill, stop, cont, restart, start: faults on a peer's process.
bool IsProcessFault(StepKind kind);
// True for partition, heal, netem, oneway: faults on the network.
bool IsNetworkFault(StepKind kind);

// The faults a nemesis may draw from.
enum class NemesisFault { kKill, kStop, kPartition, kLoss, kDelay, kOneway };
// "kill", "stop", "partition", "loss", "delay", "oneway".
const char* NemesisFaultName(NemesisFault fault);
// True for partition, loss, delay, oneway (the others signal processes).
bool IsNetworkFault(NemesisFault fault);

// `nemesis FAULTS every MIN..MAX for DURATION`: during `duration`, a fault
// drawn from `faults` (with the run's seed) every MIN..MAX, each healed or
// undone at the end (the nemesis lane owns the schedule).
struct NemesisSpec {
  std::vector<NemesisFault> faults;  // as written, no duplicates, not empty
  absl::Duration every_min = absl::ZeroDuration();  // > 0
  absl::Duration every_max = absl::ZeroDuration();  // >= every_min
  absl::Duration duration = absl::ZeroDuration();   // > 0, the `for` part
};

// The checkers of `check`.
enum class CheckKind { kChat, kKv, kMembership };
// "chat", "kv", "membership".
const char* CheckKindName(CheckKind kind);

// Which lines of a view a filter counts.
struct LineMatch {
  std::string text;       // the prefix, or the substring when `contains`
  bool contains = false;  // TEXT was written "~TEXT"

  bool Matches(absl::string_view line) const;
  // As written in a script ("~TEXT" for contains).
  std::string ToString() const;
};

enum class CountOp { kExactly, kAtLeast, kAtMost, kNever };

// "==", ">=", "<=", "never".
const char* CountOpName(CountOp op);

// A condition on one peer's view, checked at the end of the run.
struct Filter {
  std::string peer;
  std::string view;
  CountOp op = CountOp::kExactly;
  int64_t count = 0;  // unused for kNever
  LineMatch match;
  std::string source;  // "testfilter" or "expect"

  // Whether `received` matching lines satisfy the filter.
  bool Holds(int64_t received) const;
  // Whether no later line can make it hold again (the count only grows).
  bool Exceeded(int64_t received) const;
};

// One parsed step: one line, or one member's share of a line whose PEER is
// a group, a range or `all`.
//
// Fan-out: a line `servers init` (servers = alice, bob) becomes two
// consecutive Steps, {peer alice, command init} and {peer bob, command
// init}, with the same line, text, target ("servers") and a nonzero
// `fanout` number of their own. Every Step has at most one peer, so
// filters, waits and faults on a group are those of its members. The
// members of one line run at once and the line fails if any of them fails
// (each member's step names its peer). A line on a single peer has fanout 0
// and is what it always was.
//
// Parallel blocks: the steps between `parallel` and `end` (members of fan-out
// lines included) carry the same nonzero `block` number and run at once; the
// block ends when all have. ConcurrentEnd() finds the steps that run
// together.
struct Step {
  int line = 0;      // 1-based line in the file
  std::string text;  // the line, trimmed, ${NAME} replaced
  StepKind kind = StepKind::kCommand;
  std::string peer;     // empty for sleep, partition, heal, oneway,
                        // wait converged, nemesis, check
  std::string command;  // kCommand: the command line for the peer
  Filter filter;        // kFilter; kWait (op kAtLeast)
  absl::Duration duration = absl::ZeroDuration();  // kSleep; kWait,
                                                   // kWaitConverged,
                                                   // kWaitMembers timeout
                                                   // (zero: default)
  std::vector<std::vector<std::string>> groups;    // kPartition, kOneway
  std::vector<std::string> netem;                  // kNetem: the arguments
  std::vector<std::string> members;    // kWaitConverged, kNemesis (above)
  int64_t count = 0;                   // kWaitMembers: N
  NemesisSpec nemesis;                 // kNemesis
  CheckKind check = CheckKind::kChat;  // kCheck

  // The PEER word as written: a peer, a group name, a range or "all"
  // (empty when the step takes no PEER).
  std::string target;
  // Nonzero: this step is one member's share of a fan-out line; the steps
  // of one line have the same number (numbers are 1, 2, ... in order).
  int fanout = 0;
  // Nonzero: the step is inside parallel block number `block` (1, 2, ...).
  int block = 0;
};

// The step as reports show it: its text, and for one member of a fan-out
// line the member too ("servers init (on alice)").
std::string StepLabel(const Step& step);

// The steps that run at once from `steps[index]`: [index, end). A parallel
// block, or the members of one fan-out line, or else the one step. REQUIRES
// index < steps.size().
size_t ConcurrentEnd(const std::vector<Step>& steps, size_t index);

struct Script {
  std::string name;  // file name, used in messages
  std::vector<Step> steps;
  // Every peer the script names, in order of first mention.
  std::vector<std::string> peers;
  // The peers of `peers NAME...` lines (no step of their own).
  std::vector<std::string> declared;
  // The line that first names each peer of `peers` (a step, a `peers` or a
  // `group` line).
  std::map<std::string, int> named_at;
  // `group NAME PEER...`: the members of each group, in order, no
  // duplicates.
  std::map<std::string, std::vector<std::string>> groups;
  // Every parameter and the value the script was parsed with (its `param`
  // default or the override).
  std::map<std::string, std::string> params;

  // The peers to start before the run: all but those first named by a
  // `start` step (late joiners).
  std::vector<std::string> InitialPeers() const;
  // The filters of every kFilter step, in script order.
  std::vector<Filter> Filters() const;
};

// Bounds of a script: a range or a whole script names at most kMaxPeers
// peers, and the fan-out of every line makes at most kMaxSteps steps.
inline constexpr size_t kMaxScriptPeers = 1000;
inline constexpr size_t kMaxScriptSteps = 100000;
// ... and takes at most this much memory once expanded (roughly: the steps,
// their texts and the names of their groups and members).
inline constexpr size_t kMaxScriptBytes = size_t{64} << 20;

// Parses `text`. `params` (NAME -> VALUE, from `--param NAME=VALUE`)
// override the script's `param` defaults; a `${NAME}` that is neither
// declared by an earlier `param` line nor in `params` is an error, and so is
// an override the script neither declares nor uses. On error returns
// InvalidArgument whose message has one line per error (at most 20), each
// "NAME:LINE: what is wrong".
absl::StatusOr<Script> ParseScript(
    absl::string_view name, absl::string_view text,
    const std::map<std::string, std::string>& params = {});

// Parses a `--param` value "NAME=VALUE" into `params` (a later one for the
// same NAME wins). Returns "" or what is wrong.
std::string ParseParamAssignment(absl::string_view assignment,
                                 std::map<std::string, std::string>* params);

// What the lab of a run offers, for CheckScript.
struct ScriptContext {
  // The views a peer has (peer/cli/view.h kPeerViews); a filter or wait on
  // any other view is refused. Empty: views are not checked.
  std::vector<std::string> views;
  // The lab: "local" (every peer on loopback) or "netns". partition, heal
  // and netem need "netns".
  std::string lab = "local";
  // kill, stop, cont: a client that can signal the peers' processes
  // (peerlab-test) carries the faults out.
  bool signal_faults = true;
  // start, restart: the client starts processes (peerlab-test's own lab,
  // not --coordinator).
  bool start_faults = true;
};

// Checks `script` as a whole, before anything runs: every peer it names
// runs at least one command or is declared (`peers NAME`), every view a
// filter or wait names exists, every fault is possible in `context`.
// Unknown names get "did you mean". On error returns InvalidArgument with one
// line per problem (at most 20), each "NAME:LINE: what is wrong".
absl::Status CheckScript(const Script& script, const ScriptContext& context);

// The closest of `candidates` to `word` within a small edit distance
// (transpositions count one), or "" when none is close.
std::string ClosestName(absl::string_view word,
                        const std::vector<std::string>& candidates);

// Parses "5s", "250ms", "1.5s", "2m" (and, when `bare_seconds`, "1.5").
// Returns false on anything else or a negative value.
bool ParseScriptDuration(absl::string_view word, bool bare_seconds,
                         absl::Duration* out);

// True for a valid peer (or group) name: [A-Za-z0-9_.-]+, at most 64 bytes,
// not a script keyword.
bool IsValidPeerName(absl::string_view name);

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_SCRIPT_SCRIPT_H_
