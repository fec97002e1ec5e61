// One step line of a script: the keyword forms and PEER COMMAND.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "test-harness/script/script.h"
#include "test-harness/script/script_internal.h"

namespace peerlab::harness::script_internal {
namespace {

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
  LineParser(absl::string_view line, const TargetResolver& resolver, Step* step,
             Targets* target, bool* members_all)
      : rest_(line),
        resolver_(resolver),
        step_(step),
        target_(target),
        members_all_(members_all) {}

  std::string Parse() {
    absl::string_view first = NextWord(&rest_);
    if (first == "expect") return ParseExpect();
    if (first == "wait") {
      absl::string_view probe = rest_;
      absl::string_view second = NextWord(&probe);
      if (second == "converged") {
        rest_ = probe;
        return ParseWaitConverged();
      }
      if (second == "members") {
        rest_ = probe;
        return ParseWaitMembers();
      }
      return ParseWait();
    }
    if (first == "oneway") return ParseOneway();
    if (first == "nemesis") return ParseNemesis();
    if (first == "check") return ParseCheck();
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
  // The PEER of a step: a peer, a group, a range or `all`.
  std::string PeerName(absl::string_view word, const char* what) {
    if (word.empty()) return absl::StrCat(what, ": missing PEER");
    if (std::string e = resolver_.Resolve(word, /*allow_all=*/true, target_);
        !e.empty()) {
      return absl::StrCat(what, ": ", e);
    }
    step_->target = std::string(word);
    return "";
  }

  std::string ParsePeerLine(absl::string_view peer) {
    const bool range = peer.find('[') != absl::string_view::npos ||
                       peer.find(']') != absl::string_view::npos;
    if (std::string e = resolver_.Resolve(peer, /*allow_all=*/true, target_);
        !e.empty()) {
      if (range) return e;
      return absl::StrCat(
          "\"", peer,
          "\" is neither a harness keyword (expect, wait, kill, stop, cont, "
          "restart, start, partition, heal, netem, oneway, nemesis, check, "
          "sleep, peers, group, param, parallel, end) nor a peer, group or "
          "range");
    }
    step_->target = std::string(peer);
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
                          "\" after the peer (one peer per line; name a "
                          "group or a range for several)");
    }
    return "";
  }

  // The sides of partition and oneway: PEER, PEER... with groups and
  // ranges; no peer on two sides.
  std::string Sides(const std::vector<absl::string_view>& sides,
                    const std::string& usage) {
    std::set<std::string> seen;
    for (absl::string_view side : sides) {
      Targets members;
      if (std::string e = resolver_.ResolveList(side, &members); !e.empty()) {
        return absl::StrCat(usage, ": ", e);
      }
      if (members.peers.empty()) {
        return absl::StrCat(usage, ": empty group (each side needs peers)");
      }
      for (const std::string& m : members.peers) {
        if (!seen.insert(m).second) {
          return absl::StrCat(usage, ": peer ", m, " is in two groups");
        }
      }
      if (seen.size() > kMaxScriptPeers) {
        return absl::StrCat(usage, ": more than ", kMaxScriptPeers, " peers");
      }
      step_->groups.push_back(std::move(members.peers));
    }
    return "";
  }

  std::string ParsePartition() {
    step_->kind = StepKind::kPartition;
    std::vector<absl::string_view> sides = absl::StrSplit(rest_, '|');
    if (std::string e = Sides(sides, "partition A,B | C"); !e.empty()) {
      return e;
    }
    if (step_->groups.size() < 2) {
      return "partition A,B | C: needs at least two groups separated by |";
    }
    return "";
  }

  std::string ParseOneway() {
    step_->kind = StepKind::kOneway;
    const char* usage = "oneway A -> B";
    std::vector<absl::string_view> sides =
        absl::StrSplit(rest_, absl::ByString("->"));
    if (sides.size() != 2) {
      return absl::StrCat(usage,
                          ": expected the senders, ->, the receivers "
                          "(oneway alice -> bob, oneway servers -> p[1..3])");
    }
    return Sides(sides, usage);
  }

  // An optional last word that is a duration with a unit: the timeout.
  bool Timeout(std::vector<absl::string_view>* words) {
    absl::Duration d;
    if (!words->empty() &&
        ParseScriptDuration(words->back(), /*bare_seconds=*/false, &d)) {
      step_->duration = d;
      words->pop_back();
      return true;
    }
    return false;
  }

  std::string ParseWaitConverged() {
    step_->kind = StepKind::kWaitConverged;
    const char* usage = "wait converged [GROUP] [TIMEOUT]";
    std::vector<absl::string_view> words =
        absl::StrSplit(rest_, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    Timeout(&words);
    if (words.size() > 1) {
      return absl::StrCat(usage, ": unexpected \"",
                          absl::StrJoin(words.begin() + 1, words.end(), " "),
                          "\" (one GROUP, then a TIMEOUT with a unit: 10s)");
    }
    Targets members;
    if (words.empty()) {
      members.all = true;
    } else if (std::string e =
                   resolver_.Resolve(words[0], /*allow_all=*/true, &members);
               !e.empty()) {
      return absl::StrCat(usage, ": ", e);
    }
    *members_all_ = members.all;
    step_->members = std::move(members.peers);
    return "";
  }

  std::string ParseWaitMembers() {
    step_->kind = StepKind::kWaitMembers;
    const char* usage = "wait members PEER N [TIMEOUT]";
    std::vector<absl::string_view> words =
        absl::StrSplit(rest_, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    Timeout(&words);
    if (words.size() != 2) {
      return absl::StrCat(usage,
                          ": expected a peer and a count (wait members alice "
                          "5 10s)");
    }
    if (auto e = PeerName(words[0], usage); !e.empty()) return e;
    if (!ParseCount(words[1], &step_->count)) {
      return absl::StrCat(usage, ": N \"", words[1],
                          "\" is not a count (0, 1, 2, ...)");
    }
    return "";
  }

  std::string ParseNemesis() {
    step_->kind = StepKind::kNemesis;
    const char* usage = "nemesis FAULTS every MIN..MAX for DURATION [on GROUP]";
    std::vector<absl::string_view> words =
        absl::StrSplit(rest_, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto at = std::find(words.begin(), words.end(), "every");
    if (at == words.end() || at == words.begin()) {
      return absl::StrCat(usage,
                          ": expected the faults, then `every` (nemesis "
                          "kill,partition every 2s..5s for 30s)");
    }
    // FAULTS: a comma list (blanks after the commas allowed).
    static const std::vector<std::string> kNames = {
        "kill", "stop", "partition", "loss", "delay", "oneway"};
    NemesisSpec& spec = step_->nemesis;
    for (auto w = words.begin(); w != at; ++w) {
      for (absl::string_view name :
           absl::StrSplit(*w, ',', absl::SkipEmpty())) {
        auto known = std::find(kNames.begin(), kNames.end(), name);
        if (known == kNames.end()) {
          return absl::StrCat(usage, ": unknown fault \"", name, "\"",
                              DidYouMean(name, kNames),
                              "; the faults: ", absl::StrJoin(kNames, ", "));
        }
        auto fault = static_cast<NemesisFault>(known - kNames.begin());
        if (std::find(spec.faults.begin(), spec.faults.end(), fault) !=
            spec.faults.end()) {
          return absl::StrCat(usage, ": fault ", name, " is named twice");
        }
        spec.faults.push_back(fault);
      }
    }
    if (spec.faults.empty()) return absl::StrCat(usage, ": no fault named");
    std::vector<absl::string_view> tail(at + 1, words.end());
    if (tail.size() < 3 || tail[1] != "for") {
      return absl::StrCat(usage,
                          ": expected `every MIN..MAX for DURATION` after the "
                          "faults");
    }
    absl::string_view every = tail[0];
    absl::string_view min = every, max = every;
    if (size_t dots = every.find(".."); dots != absl::string_view::npos) {
      min = every.substr(0, dots);
      max = every.substr(dots + 2);
    }
    if (!ParseScriptDuration(min, false, &spec.every_min) ||
        !ParseScriptDuration(max, false, &spec.every_max) ||
        spec.every_min <= absl::ZeroDuration() ||
        spec.every_max < spec.every_min) {
      return absl::StrCat(usage, ": every \"", every,
                          "\" is not MIN..MAX (durations with a unit, 0 < MIN "
                          "<= MAX: 2s..5s) or one duration (3s)");
    }
    if (!ParseScriptDuration(tail[2], false, &spec.duration) ||
        spec.duration <= absl::ZeroDuration() ||
        spec.duration > absl::Hours(1)) {
      return absl::StrCat(usage, ": for \"", tail[2],
                          "\" is not a duration with a unit of at most an "
                          "hour (30s, 2m)");
    }
    if (spec.every_min > spec.duration) {
      return absl::StrCat(
          usage, ": no fault fits: MIN ", absl::FormatDuration(spec.every_min),
          " is longer than DURATION ", absl::FormatDuration(spec.duration));
    }
    Targets members;
    if (tail.size() == 3) {
      members.all = true;
    } else if (tail.size() == 5 && tail[3] == "on") {
      if (std::string e =
              resolver_.Resolve(tail[4], /*allow_all=*/true, &members);
          !e.empty()) {
        return absl::StrCat(usage, ": ", e);
      }
    } else {
      return absl::StrCat(usage, ": unexpected \"",
                          absl::StrJoin(tail.begin() + 3, tail.end(), " "),
                          "\" (only `on GROUP` may follow DURATION)");
    }
    *members_all_ = members.all;
    step_->members = std::move(members.peers);
    return "";
  }

  std::string ParseCheck() {
    step_->kind = StepKind::kCheck;
    static const std::vector<std::string> kNames = {"chat", "kv", "membership"};
    absl::string_view what = NextWord(&rest_);
    auto known = std::find(kNames.begin(), kNames.end(), what);
    if (known == kNames.end() || !rest_.empty()) {
      return absl::StrCat("check chat|kv|membership: \"", what,
                          rest_.empty() ? "" : " ", rest_, "\" is no checker",
                          DidYouMean(what, kNames));
    }
    step_->check = static_cast<CheckKind>(known - kNames.begin());
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
  const TargetResolver& resolver_;
  Step* step_;
  Targets* target_;
  bool* members_all_;
  std::string body_storage_;
};

}  // namespace

std::string ParseStepLine(absl::string_view line,
                          const TargetResolver& resolver, Step* step,
                          Targets* target, bool* members_all) {
  return LineParser(line, resolver, step, target, members_all).Parse();
}

}  // namespace peerlab::harness::script_internal
