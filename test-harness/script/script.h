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
//   kill|stop|cont|restart|start PEER
//   partition A,B | C   heal   netem PEER loss 10% delay 20ms
//   sleep SECONDS
//   peers NAME...                   declares peers that run no command (they
//                                   are started and may be watched)
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

#include <cstdint>
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
};

// "command", "filter", "wait", "kill", ... (the script keyword).
const char* StepKindName(StepKind kind);
// True for kill, stop, cont, restart, start: faults on a peer's process.
bool IsProcessFault(StepKind kind);
// True for partition, heal, netem: faults on the network.
bool IsNetworkFault(StepKind kind);

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

// One parsed line.
struct Step {
  int line = 0;      // 1-based line in the file
  std::string text;  // the line, trimmed
  StepKind kind = StepKind::kCommand;
  std::string peer;     // empty for sleep, partition, heal
  std::string command;  // kCommand: the command line for the peer
  Filter filter;        // kFilter; kWait (op kAtLeast)
  absl::Duration duration = absl::ZeroDuration();  // kSleep; kWait timeout
                                                   // (zero: default)
  std::vector<std::vector<std::string>> groups;    // kPartition
  std::vector<std::string> netem;                  // kNetem: the arguments
};

struct Script {
  std::string name;  // file name, used in messages
  std::vector<Step> steps;
  // Every peer the script names, in order of first mention.
  std::vector<std::string> peers;
  // The peers of `peers NAME...` lines (no step of their own).
  std::vector<std::string> declared;

  // The peers to start before the run: all but those first named by a
  // `start` step (late joiners).
  std::vector<std::string> InitialPeers() const;
  // The filters of every kFilter step, in script order.
  std::vector<Filter> Filters() const;
};

// Parses `text`. On error returns InvalidArgument whose message has one line
// per error (at most 20), each "NAME:LINE: what is wrong".
absl::StatusOr<Script> ParseScript(absl::string_view name,
                                   absl::string_view text);

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

// True for a valid peer name: [A-Za-z0-9_.-]+, not a script keyword.
bool IsValidPeerName(absl::string_view name);

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_SCRIPT_SCRIPT_H_
