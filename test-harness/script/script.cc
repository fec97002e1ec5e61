#include "test-harness/script/script.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace peerlab::harness {
namespace {

constexpr int kMaxErrors = 20;

const std::set<std::string, std::less<>>& Keywords() {
  static const auto* keywords = new std::set<std::string, std::less<>>{
      "expect", "wait",      "kill", "stop",  "cont",  "restart",
      "start",  "partition", "heal", "netem", "sleep", "peers"};
  return *keywords;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Splits off the first word of `*rest` (leading blanks skipped) and leaves
// the remainder, without its leading blanks, in `*rest`.
absl::string_view NextWord(absl::string_view* rest) {
  absl::string_view s = *rest;
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  size_t j = i;
  while (j < s.size() && !IsSpace(s[j])) ++j;
  absl::string_view word = s.substr(i, j - i);
  size_t k = j;
  while (k < s.size() && IsSpace(s[k])) ++k;
  *rest = s.substr(k);
  return word;
}

bool IsValidViewName(absl::string_view v) {
  if (v.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(v[0]))) {
    return false;
  }
  return std::all_of(v.begin(), v.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

LineMatch MakeMatch(absl::string_view text) {
  LineMatch m;
  if (absl::StartsWith(text, "\\~")) {
    m.text = std::string(text.substr(1));
  } else if (absl::StartsWith(text, "~")) {
    m.text = std::string(text.substr(1));
    m.contains = true;
  } else {
    m.text = std::string(text);
  }
  return m;
}

bool ParseCount(absl::string_view word, int64_t* n) {
  if (word.empty() || !std::all_of(word.begin(), word.end(), [](char c) {
        return c >= '0' && c <= '9';
      })) {
    return false;
  }
  return absl::SimpleAtoi(word, n) && *n >= 0 && *n <= 1000000000;
}

// Parses one line into `step`; returns "" or the error (without location).
class LineParser {
 public:
  LineParser(absl::string_view line, Step* step) : rest_(line), step_(step) {}

  std::string Parse() {
    absl::string_view first = NextWord(&rest_);
    if (first == "expect") return ParseExpect();
    if (first == "wait") return ParseWait();
    if (first == "kill") return ParseFault(StepKind::kKill);
    if (first == "stop") return ParseFault(StepKind::kStop);
    if (first == "cont") return ParseFault(StepKind::kCont);
    if (first == "restart") return ParseFault(StepKind::kRestart);
    if (first == "start") return ParseFault(StepKind::kStart);
    if (first == "partition") return ParsePartition();
    if (first == "heal") return ParseHeal();
    if (first == "netem") return ParseNetem();
    if (first == "sleep") return ParseSleep();
    return ParsePeerLine(first);
  }

 private:
  std::string PeerName(absl::string_view word, const char* what) {
    if (word.empty()) return absl::StrCat(what, ": missing PEER");
    if (!IsValidPeerName(word)) {
      return absl::StrCat(what, ": \"", word,
                          "\" is not a peer name (letters, digits, _ . -; not "
                          "a harness keyword)");
    }
    step_->peer = std::string(word);
    return "";
  }

  std::string ParsePeerLine(absl::string_view peer) {
    if (!IsValidPeerName(peer)) {
      return absl::StrCat(
          "\"", peer,
          "\" is neither a harness keyword (expect, wait, kill, stop, cont, "
          "restart, start, partition, heal, netem, sleep, peers) nor a peer "
          "name");
    }
    step_->peer = std::string(peer);
    if (rest_.empty()) {
      return absl::StrCat("PEER COMMAND: no command for peer ", peer);
    }
    absl::string_view after = rest_;
    absl::string_view word = NextWord(&after);
    if (word == "testfilter" || word == "/testfilter") {
      rest_ = after;
      return ParseFilterBody("testfilter", CountOp::kExactly);
    }
    step_->kind = StepKind::kCommand;
    step_->command = std::string(rest_);
    return "";
  }

  // VIEW N TEXT, for testfilter and the counted expect forms.
  std::string ParseFilterBody(const char* source, CountOp op) {
    step_->kind = StepKind::kFilter;
    Filter& f = step_->filter;
    f.peer = step_->peer;
    f.source = source;
    f.op = op;
    absl::string_view view = NextWord(&rest_);
    if (!IsValidViewName(view)) {
      return absl::StrCat(source, ": expected VIEW N TEXT, VIEW \"", view,
                          "\" is not a view name");
    }
    f.view = std::string(view);
    if (op != CountOp::kNever) {
      absl::string_view n = NextWord(&rest_);
      if (!ParseCount(n, &f.count)) {
        return absl::StrCat(source, ": expected VIEW N TEXT, N \"", n,
                            "\" is not a count (0, 1, 2, ...)");
      }
    }
    f.match = MakeMatch(rest_);
    return "";
  }

  std::string ParseExpect() {
    if (auto e = PeerName(NextWord(&rest_), "expect PEER VIEW OP N TEXT");
        !e.empty()) {
      return e;
    }
    // OP sits between VIEW and N: read it from a copy, then let
    // ParseFilterBody read VIEW, and N from what follows OP.
    absl::string_view probe = rest_;
    absl::string_view view = NextWord(&probe);
    absl::string_view op = NextWord(&probe);
    CountOp count_op;
    if (op == "==" || op == "exactly") {
      count_op = CountOp::kExactly;
    } else if (op == ">=" || op == "atleast") {
      count_op = CountOp::kAtLeast;
    } else if (op == "<=" || op == "atmost") {
      count_op = CountOp::kAtMost;
    } else if (op == "never") {
      count_op = CountOp::kNever;
    } else {
      return absl::StrCat(
          "expect PEER VIEW OP N TEXT: OP \"", op,
          "\" is not one of == >= <= (exactly, atleast, atmost) or never");
    }
    body_storage_ = absl::StrCat(view, " ", probe);
    rest_ = body_storage_;
    return ParseFilterBody("expect", count_op);
  }

  std::string ParseWait() {
    if (auto e = PeerName(NextWord(&rest_), "wait PEER VIEW N TEXT [TIMEOUT]");
        !e.empty()) {
      return e;
    }
    std::string e = ParseFilterBody("wait", CountOp::kAtLeast);
    if (!e.empty()) return e;
    step_->kind = StepKind::kWait;
    step_->filter.source = "wait";
    // A last word that is a duration with a unit is the timeout.
    std::string& text = step_->filter.match.text;
    size_t space = text.find_last_of(" \t");
    if (space != std::string::npos) {
      absl::Duration d;
      if (ParseScriptDuration(absl::string_view(text).substr(space + 1),
                              /*bare_seconds=*/false, &d)) {
        step_->duration = d;
        text.erase(space);
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      }
    }
    if (text.empty() && !step_->filter.match.contains) {
      return "wait PEER VIEW N TEXT [TIMEOUT]: TEXT is missing";
    }
    return "";
  }

  std::string ParseFault(StepKind kind) {
    step_->kind = kind;
    std::string usage = absl::StrCat(StepKindName(kind), " PEER");
    if (auto e = PeerName(NextWord(&rest_), usage.c_str()); !e.empty()) {
      return e;
    }
    if (!rest_.empty()) {
      return absl::StrCat(usage, ": unexpected \"", rest_,
                          "\" after the peer (one peer per line)");
    }
    return "";
  }

  std::string ParsePartition() {
    step_->kind = StepKind::kPartition;
    std::set<std::string> seen;
    for (absl::string_view group : absl::StrSplit(rest_, '|')) {
      std::vector<std::string> members;
      for (absl::string_view m :
           absl::StrSplit(group, absl::ByAnyChar(", \t"), absl::SkipEmpty())) {
        if (!IsValidPeerName(m)) {
          return absl::StrCat("partition A,B | C: \"", m,
                              "\" is not a peer name");
        }
        if (!seen.insert(std::string(m)).second) {
          return absl::StrCat("partition A,B | C: peer ", m,
                              " is in two groups");
        }
        members.emplace_back(m);
      }
      if (members.empty()) {
        return "partition A,B | C: empty group (each side of | needs peers)";
      }
      step_->groups.push_back(std::move(members));
    }
    if (step_->groups.size() < 2) {
      return "partition A,B | C: needs at least two groups separated by |";
    }
    return "";
  }

  std::string ParseHeal() {
    step_->kind = StepKind::kHeal;
    if (!rest_.empty()) {
      return absl::StrCat("heal takes no arguments (got \"", rest_, "\")");
    }
    return "";
  }

  std::string ParseNetem() {
    step_->kind = StepKind::kNetem;
    const char* usage =
        "netem PEER [loss P%] [delay D [JITTER]] "
        "[duplicate P%] [corrupt P%] [reorder P%] "
        "[rate R] | clear";
    if (auto e = PeerName(NextWord(&rest_), usage); !e.empty()) return e;
    std::vector<std::string> args =
        absl::StrSplit(rest_, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (args.empty()) return absl::StrCat(usage, ": nothing to set");
    auto percent = [](absl::string_view w) {
      double v;
      return absl::ConsumeSuffix(&w, "%") && absl::SimpleAtod(w, &v) &&
             v >= 0 && v <= 100;
    };
    auto duration = [](absl::string_view w) {
      absl::Duration d;
      return ParseScriptDuration(w, false, &d);
    };
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& key = args[i];
      if (key == "clear") {
        if (args.size() != 1)
          return absl::StrCat(usage, ": clear stands alone");
        continue;
      }
      if (i + 1 >= args.size()) {
        return absl::StrCat(usage, ": ", key, " needs a value");
      }
      const std::string& value = args[++i];
      if (key == "loss" || key == "duplicate" || key == "corrupt" ||
          key == "reorder") {
        if (!percent(value)) {
          return absl::StrCat(usage, ": ", key, " \"", value,
                              "\" is not a percentage like 10%");
        }
      } else if (key == "delay") {
        if (!duration(value)) {
          return absl::StrCat(usage, ": delay \"", value,
                              "\" is not a duration like 20ms");
        }
        if (i + 1 < args.size() && duration(args[i + 1])) ++i;  // jitter
      } else if (key == "rate") {
        if (value.empty() ||
            !absl::ascii_isdigit(static_cast<unsigned char>(value[0]))) {
          return absl::StrCat(usage, ": rate \"", value,
                              "\" is not a rate like 1mbit");
        }
      } else {
        return absl::StrCat(usage, ": unknown setting \"", key, "\"");
      }
    }
    step_->netem = std::move(args);
    return "";
  }

  std::string ParseSleep() {
    step_->kind = StepKind::kSleep;
    absl::string_view word = NextWord(&rest_);
    if (word.empty() || !rest_.empty() ||
        !ParseScriptDuration(word, /*bare_seconds=*/true, &step_->duration)) {
      return absl::StrCat("sleep SECONDS: \"", word, rest_.empty() ? "" : " ",
                          rest_, "\" is not a duration (1, 0.5, 250ms, 2s)");
    }
    if (step_->duration > absl::Hours(1)) {
      return "sleep SECONDS: longer than an hour";
    }
    return "";
  }

  absl::string_view rest_;
  Step* step_;
  std::string body_storage_;
};

// `peers NAME...`: adds the names to script->declared (and ->peers).
// Returns "-" when `line` is no declaration, "" when it is a good one, else
// the error.
std::string ParseDeclaration(absl::string_view line, Script* script,
                             std::set<std::string>* seen_peers) {
  absl::string_view rest = line;
  if (NextWord(&rest) != "peers") return "-";
  std::vector<std::string> names =
      absl::StrSplit(rest, absl::ByAnyChar(", \t"), absl::SkipEmpty());
  if (names.empty()) return "peers NAME...: no peer named";
  for (const std::string& n : names) {
    if (!IsValidPeerName(n)) {
      return absl::StrCat("peers NAME...: \"", n,
                          "\" is not a peer name (letters, digits, _ . -; "
                          "not a harness keyword)");
    }
  }
  for (std::string& n : names) {
    if (seen_peers->insert(n).second) script->peers.push_back(n);
    if (std::find(script->declared.begin(), script->declared.end(), n) ==
        script->declared.end()) {
      script->declared.push_back(std::move(n));
    }
  }
  return "";
}

// Edit distance with adjacent transpositions (optimal string alignment),
// case-insensitive; stops early above `limit`.
int EditDistance(absl::string_view a, absl::string_view b, int limit) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  if (std::abs(n - m) > limit) return limit + 1;
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (int i = 0; i <= n; ++i) d[i][0] = i;
  for (int j = 0; j <= m; ++j) d[0][j] = j;
  auto lower = [](char c) {
    return absl::ascii_tolower(static_cast<unsigned char>(c));
  };
  for (int i = 1; i <= n; ++i) {
    for (int j = 1; j <= m; ++j) {
      const int cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string DidYouMean(absl::string_view word,
                       const std::vector<std::string>& candidates) {
  std::string best = ClosestName(word, candidates);
  return best.empty() ? "" : absl::StrCat(" (did you mean ", best, "?)");
}

}  // namespace

std::string ClosestName(absl::string_view word,
                        const std::vector<std::string>& candidates) {
  // Words of up to 3 letters allow one edit, longer ones two.
  const int limit = word.size() <= 3 ? 1 : 2;
  std::string best;
  int best_distance = limit + 1;
  for (const std::string& c : candidates) {
    if (c == word) continue;
    int d = EditDistance(word, c, limit);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

absl::Status CheckScript(const Script& script, const ScriptContext& context) {
  std::vector<std::string> errors;
  auto error = [&](int line, const std::string& what) {
    if (errors.size() < kMaxErrors) {
      errors.push_back(absl::StrCat(script.name, ":", line, ": ", what));
    }
  };
  // Peers that run a command or are declared: the ones the script drives.
  std::vector<std::string> active = script.declared;
  for (const Step& s : script.steps) {
    if (s.kind == StepKind::kCommand &&
        std::find(active.begin(), active.end(), s.peer) == active.end()) {
      active.push_back(s.peer);
    }
  }
  auto is_active = [&](const std::string& peer) {
    return std::find(active.begin(), active.end(), peer) != active.end();
  };
  std::set<std::string> reported;
  const std::vector<std::string> keywords(Keywords().begin(), Keywords().end());
  // What the script's own faults make of each peer, step by step (a crash
  // the script does not ask for cannot be foreseen).
  enum class Process { kNotStarted, kRunning, kStopped, kKilled };
  std::map<std::string, Process> process;
  std::map<std::string, int> changed_at;  // line of the last fault
  for (const std::string& p : script.InitialPeers()) {
    process[p] = Process::kRunning;
  }
  for (const Step& s : script.steps) {
    if (IsProcessFault(s.kind)) {
      Process& state = process[s.peer];  // late joiners: kNotStarted
      const int at = changed_at[s.peer];
      auto where = [&](const char* what) {
        return at > 0 ? absl::StrCat(what, " at line ", at) : std::string(what);
      };
      std::string problem;
      switch (s.kind) {
        case StepKind::kStart:
          if (state == Process::kRunning || state == Process::kStopped) {
            problem = absl::StrCat(
                "start ", s.peer, ": ", s.peer, " is running already (",
                at > 0 ? where("started") : "started with the lab",
                "); only a peer not started yet (first named by `start`) or "
                "killed can be started");
          } else {
            state = Process::kRunning;
          }
          break;
        case StepKind::kKill:
        case StepKind::kRestart:
        case StepKind::kStop:
          if (state == Process::kNotStarted || state == Process::kKilled) {
            problem = absl::StrCat(StepKindName(s.kind), " ", s.peer, ": ",
                                   s.peer, " is not running here (",
                                   state == Process::kKilled
                                       ? where("killed")
                                       : "a late joiner not started yet",
                                   ")");
          } else if (s.kind == StepKind::kStop && state == Process::kStopped) {
            problem =
                absl::StrCat("stop ", s.peer, ": ", s.peer,
                             " is stopped already (", where("stopped"), ")");
          } else {
            state = s.kind == StepKind::kKill   ? Process::kKilled
                    : s.kind == StepKind::kStop ? Process::kStopped
                                                : Process::kRunning;
          }
          break;
        case StepKind::kCont:
          if (state != Process::kStopped) {
            problem =
                absl::StrCat("cont ", s.peer, ": ", s.peer,
                             " is not stopped (no `stop ", s.peer, "` before)");
          } else {
            state = Process::kRunning;
          }
          break;
        default:
          break;
      }
      if (problem.empty()) {
        changed_at[s.peer] = s.line;
      } else {
        error(s.line, problem);
      }
    }
    if (s.kind == StepKind::kCommand) {
      // A misspelled keyword reads as a peer running a command: `wiat alice
      // messagesView 1 x` would start a peer "wiat".
      absl::string_view rest = s.command;
      const std::string first(NextWord(&rest));
      const std::string second(NextWord(&rest));
      const std::string keyword = ClosestName(s.peer, keywords);
      if (!keyword.empty() &&
          std::find(script.peers.begin(), script.peers.end(), first) !=
              script.peers.end()) {
        error(s.line, absl::StrCat("\"", s.peer,
                                   "\" is no harness keyword "
                                   "(did you mean ",
                                   keyword, "?)"));
      } else if (first != "testfilter" &&
                 !ClosestName(first, {"testfilter"}).empty() &&
                 std::find(context.views.begin(), context.views.end(),
                           second) != context.views.end()) {
        error(s.line, absl::StrCat("PEER ", first,
                                   " VIEW ...: did you mean testfilter?"));
      }
    }
    std::vector<std::string> named;
    if (!s.peer.empty()) named.push_back(s.peer);
    for (const auto& g : s.groups)
      named.insert(named.end(), g.begin(), g.end());
    for (const std::string& peer : named) {
      if (is_active(peer) || !reported.insert(peer).second) continue;
      error(s.line,
            absl::StrCat("peer ", peer, " runs no command in this script",
                         DidYouMean(peer, active),
                         "; a peer that only takes part needs a declaration: "
                         "`peers ",
                         peer, "`"));
    }
    if ((s.kind == StepKind::kFilter || s.kind == StepKind::kWait) &&
        !context.views.empty() &&
        std::find(context.views.begin(), context.views.end(), s.filter.view) ==
            context.views.end()) {
      error(s.line, absl::StrCat("view ", s.filter.view, " does not exist",
                                 DidYouMean(s.filter.view, context.views),
                                 "; a peer's views: ",
                                 absl::StrJoin(context.views, ", ")));
    }
    if (IsNetworkFault(s.kind) && context.lab != "netns") {
      error(s.line, absl::StrCat(StepKindName(s.kind),
                                 " needs --lab netns (peers in network "
                                 "namespaces); this run's lab is --lab ",
                                 context.lab));
    }
    if ((s.kind == StepKind::kKill || s.kind == StepKind::kStop ||
         s.kind == StepKind::kCont) &&
        !context.signal_faults) {
      error(s.line, absl::StrCat(StepKindName(s.kind),
                                 " signals a peer's process: it needs a "
                                 "client that owns the processes (run the "
                                 "script with peerlab-test)"));
    }
    if ((s.kind == StepKind::kStart || s.kind == StepKind::kRestart) &&
        !context.start_faults) {
      error(s.line, absl::StrCat(StepKindName(s.kind),
                                 " starts a process: it needs the lab of "
                                 "peerlab-test (--lab local or netns, without "
                                 "--coordinator)"));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

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
         kind == StepKind::kNetem;
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

bool IsValidPeerName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (Keywords().count(name)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '.' || c == '-';
  });
}

absl::StatusOr<Script> ParseScript(absl::string_view name,
                                   absl::string_view text) {
  Script script;
  script.name = std::string(name);
  std::vector<std::string> errors;
  std::set<std::string> seen_peers;
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line.find('\0') != absl::string_view::npos) {
      errors.push_back(
          absl::StrCat(name, ":", line_no, ": NUL byte in the line"));
      continue;
    }
    if (std::string error = ParseDeclaration(line, &script, &seen_peers);
        error != "-") {
      if (!error.empty()) {
        errors.push_back(absl::StrCat(name, ":", line_no, ": ", error));
        if (errors.size() >= kMaxErrors) break;
      }
      continue;
    }
    Step step;
    step.line = line_no;
    step.text = std::string(line);
    std::string error = LineParser(line, &step).Parse();
    if (!error.empty()) {
      errors.push_back(absl::StrCat(name, ":", line_no, ": ", error));
      if (errors.size() >= kMaxErrors) break;
      continue;
    }
    std::vector<std::string> named;
    if (!step.peer.empty()) named.push_back(step.peer);
    for (const auto& g : step.groups) {
      named.insert(named.end(), g.begin(), g.end());
    }
    for (const auto& p : named) {
      if (seen_peers.insert(p).second) script.peers.push_back(p);
    }
    script.steps.push_back(std::move(step));
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  if (script.steps.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", line_no, ": the script has no steps"));
  }
  return script;
}

}  // namespace peerlab::harness
