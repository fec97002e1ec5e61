// The checks of a whole script before it runs (CheckScript) and the
// "did you mean" of every message.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "test-harness/script/script.h"
#include "test-harness/script/script_internal.h"

namespace peerlab::harness {
namespace {

using script_internal::DidYouMean;
using script_internal::Keywords;
using script_internal::kMaxErrors;
using script_internal::NextWord;

// Whether a nemesis's network faults can be carried out in `context`. The
// steps partition, heal, netem and oneway can in every lab (the netns lab
// by the kernel, the others by the peers' own fault layer, without root).
// The netem settings only the kernel's qdisc has (the peers' fault layer
// does not): the first one in `args`, or "".
std::string KernelOnlyNetem(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); i += 2) {
    if (args[i] == "corrupt" || args[i] == "rate") return args[i];
    if (args[i] == "delay" && i + 2 < args.size() && args[i + 2] != "loss" &&
        args[i + 2] != "duplicate" && args[i + 2] != "corrupt" &&
        args[i + 2] != "reorder" && args[i + 2] != "rate" &&
        args[i + 2] != "delay") {
      ++i;  // its jitter
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
  std::set<std::string> said;  // the members of a fan-out line share errors
  auto error = [&](int line, const std::string& what) {
    std::string e = absl::StrCat(script.name, ":", line, ": ", what);
    if (errors.size() < kMaxErrors && said.insert(e).second) {
      errors.push_back(std::move(e));
    }
  };
  // Peers that run a command or are declared: the ones the script drives.
  std::vector<std::string> active = script.declared;
  std::set<std::string> active_set(active.begin(), active.end());
  for (const Step& s : script.steps) {
    if (s.kind == StepKind::kCommand && active_set.insert(s.peer).second) {
      active.push_back(s.peer);
    }
  }
  auto is_active = [&](const std::string& peer) {
    return active_set.count(peer) > 0;
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
  std::vector<std::string> group_names;
  for (const auto& [name, members] : script.groups) {
    group_names.push_back(name);
  }
  // The process faults of the current parallel block: peer -> line.
  int block = 0;
  std::map<std::string, int> block_faults;
  std::map<CheckKind, int> checks;  // line of each `check`
  std::set<std::string> reported_group_typo;
  // On how many lines each peer is named (a misspelled group name is named
  // once).
  std::map<std::string, std::pair<int, int>> lines_naming;  // count, last
  for (const Step& s : script.steps) {
    std::vector<std::string> named = s.members;
    if (!s.peer.empty()) named.push_back(s.peer);
    for (const auto& g : s.groups)
      named.insert(named.end(), g.begin(), g.end());
    for (const std::string& p : named) {
      auto& [count, last] = lines_naming[p];
      if (last != s.line) ++count;
      last = s.line;
    }
  }
  for (const Step& s : script.steps) {
    if (s.block != block) {
      block = s.block;
      block_faults.clear();
    }
    if (block != 0 && IsProcessFault(s.kind)) {
      auto [it, fresh] = block_faults.emplace(s.peer, s.line);
      if (!fresh) {
        error(s.line, absl::StrCat(StepKindName(s.kind), " ", s.peer,
                                   ": a second process fault on ", s.peer,
                                   " in one parallel block (line ", it->second,
                                   "): their order would be left to chance"));
      }
    }
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
          if (state == Process::kNotStarted ||
              (state == Process::kKilled && s.kind != StepKind::kRestart)) {
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
    if (s.kind == StepKind::kCheck) {
      auto [it, fresh] = checks.emplace(s.check, s.line);
      if (!fresh) {
        error(s.line,
              absl::StrCat("check ", CheckKindName(s.check),
                           " is asked for twice (line ", it->second, ")"));
      }
    }
    if (s.fanout == 0 && !s.target.empty() && !group_names.empty() &&
        lines_naming[s.peer].first == 1 && !reported_group_typo.count(s.peer) &&
        std::find(script.declared.begin(), script.declared.end(), s.peer) ==
            script.declared.end()) {
      reported_group_typo.insert(s.peer);
      // A misspelled group name reads as a new peer.
      if (std::string g = ClosestName(s.peer, group_names); !g.empty()) {
        error(s.line, absl::StrCat("peer ", s.peer,
                                   " is no group (did you "
                                   "mean ",
                                   g, "?); declare it with `peers ", s.peer,
                                   "` if it is a peer"));
      }
    }
    if (s.kind == StepKind::kCommand) {
      // A misspelled keyword reads as a peer running a command: `wiat alice
      // messagesView 1 x` would start a peer "wiat".
      absl::string_view rest = s.command;
      const std::string first(NextWord(&rest));
      const std::string second(NextWord(&rest));
      const std::string keyword = ClosestName(s.peer, keywords);
      if (!keyword.empty() && s.fanout == 0 &&
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
    named.insert(named.end(), s.members.begin(), s.members.end());
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
    if (s.kind == StepKind::kNetem && context.lab != "netns") {
      if (std::string key = KernelOnlyNetem(s.netem); !key.empty()) {
        error(s.line, absl::StrCat("netem ", key,
                                   " needs --lab netns (the peers' fault "
                                   "layer has loss, delay, duplicate and "
                                   "reorder); this run's lab is --lab ",
                                   context.lab));
      }
    }
    if (s.kind == StepKind::kNemesis) {
      for (NemesisFault f : s.nemesis.faults) {
        const char* need = "";
        if (IsNetworkFault(f)) {
          // Every lab has them (the local one by the peers' fault layer).
        } else if (!context.signal_faults) {
          need =
              "signals the peers' processes: it needs a client that owns "
              "them (run the script with peerlab-test)";
        } else if (f == NemesisFault::kKill && !context.start_faults) {
          need =
              "starts the killed peers again at the end: it needs the lab "
              "of peerlab-test (--lab local or netns, without "
              "--coordinator)";
        }
        if (*need != '\0') {
          error(s.line,
                absl::StrCat("nemesis ", NemesisFaultName(f), " ", need,
                             "; this run's lab is --lab ", context.lab));
        }
      }
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
  // Peers that only a `group` line names.
  for (const std::string& peer : script.peers) {
    if (is_active(peer) || !reported.insert(peer).second) continue;
    auto at = script.named_at.find(peer);
    error(at == script.named_at.end() ? 0 : at->second,
          absl::StrCat("peer ", peer,
                       " (of a group) runs no command in this script; a "
                       "peer that only takes part needs a declaration: "
                       "`peers ",
                       peer, "`"));
  }
  // The lab's files: logs/NAME.log and NAME.out, NAME.N.* for a later
  // start, next to its servers' logs/bootstrap.* and coordinator.*.
  const std::set<std::string> peer_set(script.peers.begin(),
                                       script.peers.end());
  for (const std::string& p : script.peers) {
    auto at = script.named_at.find(p);
    const int line = at == script.named_at.end() ? 0 : at->second;
    if (p == "bootstrap" || p == "coordinator") {
      error(line,
            absl::StrCat("peer ", p, ": the lab's ", p, " server writes logs/",
                         p, ".log and .out; name the peer otherwise"));
      continue;
    }
    const size_t dot = p.rfind('.');
    if (dot == std::string::npos || dot + 1 == p.size()) continue;
    const std::string prefix = p.substr(0, dot);
    const absl::string_view n = absl::string_view(p).substr(dot + 1);
    if (peer_set.count(prefix) && std::all_of(n.begin(), n.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      error(line, absl::StrCat("peer ", p, ": the lab names the files of ",
                               prefix, "'s ", n == "2" ? "second" : "later",
                               " start so (logs/", p,
                               ".log); name the peer otherwise"));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

}  // namespace peerlab::harness
