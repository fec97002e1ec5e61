#include "test-harness/script/script.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "test-harness/script/script_internal.h"

namespace peerlab::harness {
namespace {

using script_internal::kMaxErrors;
using script_internal::NextWord;
using script_internal::TargetResolver;
using script_internal::Targets;

// A parsed step line before `all` is known (the peers of the whole script)
// and before its fan-out.
struct PendingStep {
  Step step;
  Targets target;
  bool members_all = false;
};

// What one Step holds, roughly, in bytes (kMaxScriptBytes).
size_t StepBytes(const Step& s) {
  size_t names = s.members.size() + s.netem.size();
  for (const auto& g : s.groups) names += g.size();
  return sizeof(Step) + s.text.size() + s.command.size() +
         s.filter.match.text.size() + names * sizeof(std::string);
}

// The state of one parse: the script so far and its errors.
class Parser {
 public:
  Parser(absl::string_view name,
         const std::map<std::string, std::string>& overrides)
      : name_(name), overrides_(overrides), resolver_(&script_.groups) {
    script_.name = std::string(name);
    for (const auto& [param, value] : overrides) {
      // Overrides also come from RunOptions.params: check them like
      // --param NAME=VALUE.
      std::map<std::string, std::string> checked;
      if (std::string e =
              ParseParamAssignment(absl::StrCat(param, "=", value), &checked);
          !e.empty() || checked.size() != 1 || !checked.count(param)) {
        errors_.push_back(absl::StrCat(
            name_, ": --param ", param,
            e.empty() ? ": not NAME=VALUE" : absl::StrCat(": ", e)));
        continue;
      }
      params_[param] = value;
    }
  }

  absl::StatusOr<Script> Parse(absl::string_view text) {
    int line_no = 0;
    for (absl::string_view raw : absl::StrSplit(text, '\n')) {
      ++line_no;
      if (errors_.size() >= kMaxErrors || over_bounds_) break;
      if (std::string e = Line(line_no, raw); !e.empty()) Error(line_no, e);
    }
    if (open_block_line_ != 0) {
      Error(open_block_line_,
            "parallel: no `end` closes this block (parallel ... end)");
    }
    for (const auto& [param, value] : overrides_) {
      if (declared_params_.count(param) || used_params_.count(param) ||
          !params_.count(param)) {
        continue;
      }
      std::vector<std::string> known(declared_params_.begin(),
                                     declared_params_.end());
      errors_.push_back(
          absl::StrCat(name_, ": --param ", param, "=", value,
                       ": the script neither declares nor uses parameter ",
                       param, script_internal::DidYouMean(param, known)));
    }
    if (errors_.empty()) Expand();
    if (!errors_.empty()) {
      if (errors_.size() > kMaxErrors) errors_.resize(kMaxErrors);
      return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
    }
    if (script_.steps.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ":", line_no, ": the script has no steps"));
    }
    for (const std::string& p : declared_params_) {
      script_.params[p] = params_[p];
    }
    for (const std::string& p : used_params_) script_.params[p] = params_[p];
    return std::move(script_);
  }

 private:
  void Error(int line, const std::string& what) {
    errors_.push_back(absl::StrCat(name_, ":", line, ": ", what));
  }

  // Adds `peers` to the script's peers (first mention at `line`).
  std::string Name(const std::vector<std::string>& peers, int line) {
    for (const std::string& p : peers) {
      if (script_.groups.count(p)) {
        return absl::StrCat("peer ", p, " has the name of a group");
      }
      if (script_.named_at.emplace(p, line).second) {
        script_.peers.push_back(p);
      }
    }
    if (script_.peers.size() > kMaxScriptPeers) {
      return absl::StrCat("the script names more than ", kMaxScriptPeers,
                          " peers");
    }
    return "";
  }

  // One line of the file; returns "" or the error.
  std::string Line(int line_no, absl::string_view raw) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') return "";
    if (line.find('\0') != absl::string_view::npos) {
      return "NUL byte in the line";
    }
    std::string replaced;
    if (std::string e = script_internal::SubstituteParams(
            line, params_, &replaced, &used_params_);
        !e.empty()) {
      return e;
    }
    line = absl::StripAsciiWhitespace(replaced);
    if (line.empty()) return "";
    absl::string_view rest = line;
    absl::string_view first = NextWord(&rest);
    if (first == "param") return Param(line_no, rest);
    if (first == "group") return Group(line_no, rest);
    if (first == "peers") return Declaration(line_no, rest);
    if (first == "parallel") return Parallel(line_no, rest);
    if (first == "end") return End(line_no, rest);
    PendingStep pending;
    pending.step.line = line_no;
    pending.step.text = std::string(line);
    pending.step.block = open_block_line_ != 0 ? blocks_ : 0;
    if (std::string e = script_internal::ParseStepLine(
            line, resolver_, &pending.step, &pending.target,
            &pending.members_all);
        !e.empty()) {
      return e;
    }
    std::vector<std::string> named = pending.target.peers;
    for (const auto& g : pending.step.groups) {
      named.insert(named.end(), g.begin(), g.end());
    }
    named.insert(named.end(), pending.step.members.begin(),
                 pending.step.members.end());
    if (std::string e = Name(named, line_no); !e.empty()) return e;
    // Bounded before expanding (`all` is counted once here, its members
    // in Add).
    const size_t copies = std::max<size_t>(1, pending.target.peers.size());
    if (std::string e = Count(copies, copies * StepBytes(pending.step));
        !e.empty()) {
      return e;
    }
    ++steps_in_block_;
    pending_.push_back(std::move(pending));
    return "";
  }

  // param NAME VALUE
  std::string Param(int line_no, absl::string_view rest) {
    const char* usage = "param NAME VALUE";
    absl::string_view name = NextWord(&rest);
    if (!script_internal::IsValidParamName(name)) {
      return absl::StrCat(usage, ": \"", name,
                          "\" is not a parameter name (letters, digits and "
                          "_, not first a digit)");
    }
    if (rest.empty()) return absl::StrCat(usage, ": no value for ", name);
    if (rest.size() > script_internal::kMaxParamValueBytes) {
      return absl::StrCat(usage, ": the value of ", name, " is longer than ",
                          script_internal::kMaxParamValueBytes, " bytes");
    }
    const std::string key(name);
    if (auto [it, fresh] = param_lines_.emplace(key, line_no); !fresh) {
      return absl::StrCat(usage, ": ", name, " is declared twice (line ",
                          it->second, ")");
    }
    declared_params_.insert(key);
    // An override (--param) wins over the default.
    if (!overrides_.count(key)) params_[key] = std::string(rest);
    return "";
  }

  // group NAME PEER...
  std::string Group(int line_no, absl::string_view rest) {
    const char* usage = "group NAME PEER...";
    absl::string_view name = NextWord(&rest);
    if (!IsValidPeerName(name)) {
      return absl::StrCat(usage, ": \"", name,
                          "\" is not a group name (letters, digits, _ . -; "
                          "not a harness keyword)");
    }
    const std::string key(name);
    if (auto it = group_lines_.find(key); it != group_lines_.end()) {
      return absl::StrCat(usage, ": group ", name, " is defined twice (line ",
                          it->second, ")");
    }
    if (auto it = script_.named_at.find(key); it != script_.named_at.end()) {
      return absl::StrCat(usage, ": ", name,
                          " is a peer already (named at line ", it->second,
                          ")");
    }
    Targets members;
    if (std::string e = resolver_.ResolveList(rest, &members); !e.empty()) {
      return absl::StrCat(usage, ": ", e);
    }
    if (members.peers.empty()) {
      return absl::StrCat(usage, ": group ", name, " has no members");
    }
    if (std::find(members.peers.begin(), members.peers.end(), key) !=
        members.peers.end()) {
      return absl::StrCat(usage, ": group ", name, " names itself");
    }
    if (std::string e = Name(members.peers, line_no); !e.empty()) {
      return absl::StrCat(usage, ": ", e);
    }
    if (std::string e = Count(0, members.peers.size() * sizeof(std::string));
        !e.empty()) {
      return e;
    }
    group_lines_[key] = line_no;
    script_.groups[key] = std::move(members.peers);
    return "";
  }

  // peers NAME...: adds the names to script.declared (and .peers).
  std::string Declaration(int line_no, absl::string_view rest) {
    Targets names;
    if (std::string e = resolver_.ResolveList(rest, &names); !e.empty()) {
      return absl::StrCat("peers NAME...: ", e);
    }
    if (names.peers.empty()) return "peers NAME...: no peer named";
    if (std::string e = Name(names.peers, line_no); !e.empty()) {
      return absl::StrCat("peers NAME...: ", e);
    }
    for (std::string& n : names.peers) {
      if (std::find(script_.declared.begin(), script_.declared.end(), n) ==
          script_.declared.end()) {
        script_.declared.push_back(std::move(n));
      }
    }
    return "";
  }

  std::string Parallel(int line_no, absl::string_view rest) {
    if (!rest.empty()) {
      return absl::StrCat("parallel takes no arguments (got \"", rest,
                          "\"; its steps follow, one a line, up to `end`)");
    }
    if (open_block_line_ != 0) {
      return absl::StrCat("parallel inside the parallel block of line ",
                          open_block_line_, " (blocks do not nest)");
    }
    open_block_line_ = line_no;
    ++blocks_;
    steps_in_block_ = 0;
    return "";
  }

  std::string End(int line_no, absl::string_view rest) {
    (void)line_no;
    if (!rest.empty()) {
      return absl::StrCat("end takes no arguments (got \"", rest, "\")");
    }
    if (open_block_line_ == 0) {
      return "end without a `parallel` before it";
    }
    const int opened = open_block_line_;
    open_block_line_ = 0;
    if (steps_in_block_ == 0) {
      return absl::StrCat("the parallel block of line ", opened,
                          " has no steps");
    }
    return "";
  }

  // Adds `steps` and `bytes` to what the script takes; returns "" or the
  // bound it passes (and stops the parse).
  std::string Count(size_t steps, size_t bytes) {
    counted_steps_ += steps;
    counted_bytes_ += bytes;
    if (counted_steps_ > kMaxScriptSteps) {
      over_bounds_ = true;
      return absl::StrCat("the script makes more than ", kMaxScriptSteps,
                          " steps once its groups are expanded");
    }
    if (counted_bytes_ > kMaxScriptBytes) {
      over_bounds_ = true;
      return absl::StrCat("the script takes more than ", kMaxScriptBytes >> 20,
                          " MiB once its groups, ranges and parameters are "
                          "expanded");
    }
    return "";
  }

  // The peers running when the run starts: all but those whose first
  // mention in a step is `start` (as Script::InitialPeers).
  std::set<std::string> InitialPeers() const {
    std::set<std::string> seen, late;
    for (const PendingStep& p : pending_) {
      std::vector<std::string> named = p.target.peers;
      for (const auto& g : p.step.groups) {
        named.insert(named.end(), g.begin(), g.end());
      }
      named.insert(named.end(), p.step.members.begin(), p.step.members.end());
      for (const auto& name : named) {
        if (seen.insert(name).second && p.step.kind == StepKind::kStart) {
          late.insert(name);
        }
      }
    }
    std::set<std::string> initial;
    for (const auto& name : script_.peers) {
      if (!late.count(name)) initial.insert(name);
    }
    return initial;
  }

  // Fills in `all` and splits the steps on several peers into one a peer.
  // `all` at a step is the peers present there, in script order: running
  // when the run starts, or started by a `start` or `restart` of an earlier
  // line, and not killed by a `kill` of an earlier line since (a fault
  // inside a parallel block counts from the block's end; a stopped peer is
  // present; what a nemesis does is not foreseen).
  void Expand() {
    std::set<std::string> present = InitialPeers();
    // Starts and kills of the open parallel block, applied at its end.
    std::vector<std::pair<std::string, bool>> block_changes;
    int block = 0;
    int fanouts = 0;
    for (PendingStep& p : pending_) {
      if (p.step.block != block) {
        for (const auto& [name, up] : block_changes) {
          up ? (void)present.insert(name) : (void)present.erase(name);
        }
        block_changes.clear();
        block = p.step.block;
      }
      std::vector<std::string> all;
      for (const auto& name : script_.peers) {
        if (present.count(name)) all.push_back(name);
      }
      if (p.target.all) p.target.peers = all;
      if (p.members_all) p.step.members = all;
      if ((p.target.all || p.members_all) && all.empty()) {
        Error(p.step.line,
              script_.peers.empty()
                  ? "`all`: the script names no peer"
                  : "`all`: no peer of the script is running at this line "
                    "(each starts later with `start`, or was killed)");
        continue;
      }
      const StepKind kind = p.step.kind;
      if (kind == StepKind::kStart || kind == StepKind::kRestart ||
          kind == StepKind::kKill) {
        const bool up = kind != StepKind::kKill;
        for (const auto& name : p.target.peers) {
          if (block != 0) {
            block_changes.emplace_back(name, up);
          } else if (up) {
            present.insert(name);
          } else {
            present.erase(name);
          }
        }
      }
      if (p.step.target.empty()) {
        Add(std::move(p.step));
        continue;
      }
      const int fanout = p.target.fanout ? ++fanouts : 0;
      for (const std::string& peer : p.target.peers) {
        Step s = p.step;
        s.peer = peer;
        s.fanout = fanout;
        if (s.kind == StepKind::kFilter || s.kind == StepKind::kWait) {
          s.filter.peer = peer;
        }
        Add(std::move(s));
      }
      if (!errors_.empty()) return;
    }
  }

  void Add(Step step) {
    added_bytes_ += StepBytes(step);
    if (added_bytes_ > kMaxScriptBytes) {
      if (errors_.empty()) {
        Error(step.line,
              absl::StrCat("the script takes more than ", kMaxScriptBytes >> 20,
                           " MiB once its groups, ranges and parameters are "
                           "expanded"));
      }
      return;
    }
    if (script_.steps.size() >= kMaxScriptSteps) {
      if (errors_.empty()) {
        Error(step.line,
              absl::StrCat("the script makes more than ", kMaxScriptSteps,
                           " steps once its groups are expanded"));
      }
      return;
    }
    script_.steps.push_back(std::move(step));
  }

  const std::string name_;
  const std::map<std::string, std::string>& overrides_;
  Script script_;
  TargetResolver resolver_;
  std::vector<std::string> errors_;
  std::vector<PendingStep> pending_;
  // Parameters: the values in force, where each was declared, which were
  // used.
  std::map<std::string, std::string> params_;
  std::map<std::string, int> param_lines_;
  std::set<std::string> declared_params_;
  std::set<std::string> used_params_;
  std::map<std::string, int> group_lines_;
  // The open parallel block (its line; 0: none) and the blocks so far.
  int open_block_line_ = 0;
  int blocks_ = 0;
  int steps_in_block_ = 0;
  // What the script takes so far (Count, Add): over a bound, the parse
  // stops.
  size_t counted_steps_ = 0;
  size_t counted_bytes_ = 0;
  size_t added_bytes_ = 0;
  bool over_bounds_ = false;
};

}  // namespace

const char* StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kCommand:
      return "command";
    case StepKind::kFilter:
      return "filter";
    case StepKind::kWait:
      return "wait";
    case StepKind::kKill:
      return "kill";
    case StepKind::kStop:
      return "stop";
    case StepKind::kCont:
      return "cont";
    case StepKind::kRestart:
      return "restart";
    case StepKind::kStart:
      return "start";
    case StepKind::kPartition:
      return "partition";
    case StepKind::kHeal:
      return "heal";
    case StepKind::kNetem:
      return "netem";
    case StepKind::kSleep:
      return "sleep";
    case StepKind::kWaitConverged:
      return "wait converged";
    case StepKind::kWaitMembers:
      return "wait members";
    case StepKind::kOneway:
      return "oneway";
    case StepKind::kNemesis:
      return "nemesis";
    case StepKind::kCheck:
      return "check";
  }
  return "?";
}

bool IsProcessFault(StepKind kind) {
  return kind == StepKind::kKill || kind == StepKind::kStop ||
         kind == StepKind::kCont || kind == StepKind::kRestart ||
         kind == StepKind::kStart;
}

bool IsNetworkFault(StepKind kind) {
  return kind == StepKind::kPartition || kind == StepKind::kHeal ||
         kind == StepKind::kNetem || kind == StepKind::kOneway;
}

const char* NemesisFaultName(NemesisFault fault) {
  switch (fault) {
    case NemesisFault::kKill:
      return "kill";
    case NemesisFault::kStop:
      return "stop";
    case NemesisFault::kPartition:
      return "partition";
    case NemesisFault::kLoss:
      return "loss";
    case NemesisFault::kDelay:
      return "delay";
    case NemesisFault::kOneway:
      return "oneway";
  }
  return "?";
}

bool IsNetworkFault(NemesisFault fault) {
  return fault != NemesisFault::kKill && fault != NemesisFault::kStop;
}

const char* CheckKindName(CheckKind kind) {
  switch (kind) {
    case CheckKind::kChat:
      return "chat";
    case CheckKind::kKv:
      return "kv";
    case CheckKind::kMembership:
      return "membership";
  }
  return "?";
}

std::string StepLabel(const Step& step) {
  if (step.fanout == 0 || step.peer.empty()) return step.text;
  return absl::StrCat(step.text, " (on ", step.peer, ")");
}

size_t ConcurrentEnd(const std::vector<Step>& steps, size_t index) {
  size_t end = index + 1;
  const Step& first = steps[index];
  if (first.block != 0) {
    while (end < steps.size() && steps[end].block == first.block) ++end;
  } else if (first.fanout != 0) {
    while (end < steps.size() && steps[end].block == 0 &&
           steps[end].fanout == first.fanout) {
      ++end;
    }
  }
  return end;
}

bool LineMatch::Matches(absl::string_view line) const {
  if (contains) return absl::StrContains(line, text);
  return absl::StartsWith(line, text);
}

std::string LineMatch::ToString() const {
  if (contains) return "~" + text;
  if (absl::StartsWith(text, "~")) return "\\" + text;
  return text;
}

const char* CountOpName(CountOp op) {
  switch (op) {
    case CountOp::kExactly:
      return "==";
    case CountOp::kAtLeast:
      return ">=";
    case CountOp::kAtMost:
      return "<=";
    case CountOp::kNever:
      return "never";
  }
  return "?";
}

bool Filter::Holds(int64_t received) const {
  switch (op) {
    case CountOp::kExactly:
      return received == count;
    case CountOp::kAtLeast:
      return received >= count;
    case CountOp::kAtMost:
      return received <= count;
    case CountOp::kNever:
      return received == 0;
  }
  return false;
}

bool Filter::Exceeded(int64_t received) const {
  switch (op) {
    case CountOp::kExactly:
    case CountOp::kAtMost:
      return received > count;
    case CountOp::kNever:
      return received > 0;
    case CountOp::kAtLeast:
      return false;
  }
  return false;
}

std::vector<std::string> Script::InitialPeers() const {
  std::set<std::string> late;
  std::set<std::string> seen;
  for (const Step& s : steps) {
    std::vector<std::string> named;
    if (!s.peer.empty()) named.push_back(s.peer);
    for (const auto& g : s.groups)
      named.insert(named.end(), g.begin(), g.end());
    named.insert(named.end(), s.members.begin(), s.members.end());
    for (const auto& p : named) {
      if (seen.insert(p).second && s.kind == StepKind::kStart) late.insert(p);
    }
  }
  std::vector<std::string> out;
  for (const auto& p : peers) {
    if (!late.count(p)) out.push_back(p);
  }
  return out;
}

std::vector<Filter> Script::Filters() const {
  std::vector<Filter> out;
  for (const Step& s : steps) {
    if (s.kind == StepKind::kFilter) out.push_back(s.filter);
  }
  return out;
}

bool ParseScriptDuration(absl::string_view word, bool bare_seconds,
                         absl::Duration* out) {
  if (word.empty()) return false;
  double v;
  absl::string_view num = word;
  absl::Duration unit;
  if (absl::ConsumeSuffix(&num, "ms")) {
    unit = absl::Milliseconds(1);
  } else if (absl::ConsumeSuffix(&num, "s")) {
    unit = absl::Seconds(1);
  } else if (absl::ConsumeSuffix(&num, "m")) {
    unit = absl::Minutes(1);
  } else if (bare_seconds) {
    unit = absl::Seconds(1);
  } else {
    return false;
  }
  if (num.empty() ||
      !(absl::ascii_isdigit(static_cast<unsigned char>(num[0])) ||
        num[0] == '.')) {
    return false;
  }
  if (!absl::SimpleAtod(num, &v) || !(v >= 0) || v > 1e7) return false;
  *out = v * unit;
  return true;
}

absl::StatusOr<Script> ParseScript(
    absl::string_view name, absl::string_view text,
    const std::map<std::string, std::string>& params) {
  return Parser(name, params).Parse(text);
}

}  // namespace peerlab::harness
