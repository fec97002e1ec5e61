#include "peer/app/query_commands.h"

#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace peerlab::peer {
namespace {

// A duration: "2s", "500ms", "1m", or plain seconds ("1.5").
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& option,
                                            const std::string& text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, " ", text, ": not a duration (2s, 500ms, 1m)"));
  }
  if (d <= absl::ZeroDuration() || d > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, " ", text, ": must be in (0, 1h]"));
  }
  return d;
}

// Splits "--opt=value" into ("--opt", "value"); other words as they are.
std::pair<std::string, std::optional<std::string>> SplitOption(
    const std::string& word) {
  if (word.rfind("--", 0) != 0) return {word, std::nullopt};
  size_t eq = word.find('=');
  if (eq == std::string::npos) return {word, std::nullopt};
  return {word.substr(0, eq), word.substr(eq + 1)};
}

// Takes the value of `option`: inline (--opt=v) or the next word.
absl::StatusOr<std::string> TakeValue(
    const std::string& option, const std::optional<std::string>& inline_value,
    const std::vector<std::string>& args, size_t& i) {
  if (inline_value) return *inline_value;
  if (i + 1 >= args.size()) {
    return absl::InvalidArgumentError(absl::StrCat(option, " needs a value"));
  }
  return args[++i];
}

std::string Indented(const std::string& payload) {
  std::string text(absl::StripSuffix(payload, "\n"));
  if (text.find('\n') == std::string::npos) return text;
  return "\n  " + absl::StrJoin(absl::StrSplit(text, '\n'), "\n  ");
}

}  // namespace

absl::StatusOr<cluster::QueryParams> ParseQueryArgs(
    const std::vector<std::string>& args) {
  cluster::QueryParams p;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    auto [option, inline_value] = SplitOption(args[i]);
    if (option == "--ack") {
      if (inline_value) {
        return absl::InvalidArgumentError("--ack takes no value");
      }
      p.ack = true;
    } else if (option == "--node") {
      auto v = TakeValue(option, inline_value, args, i);
      if (!v.ok()) return v.status();
      if (v->empty()) return absl::InvalidArgumentError("--node: empty name");
      p.nodes.push_back(*v);
    } else if (option == "--tag") {
      auto v = TakeValue(option, inline_value, args, i);
      if (!v.ok()) return v.status();
      size_t eq = v->find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--tag ", *v, ": want KEY=REGEX"));
      }
      p.tags.push_back({v->substr(0, eq), v->substr(eq + 1)});
    } else if (option == "--timeout") {
      auto v = TakeValue(option, inline_value, args, i);
      if (!v.ok()) return v.status();
      auto d = ParseTimeout(option, *v);
      if (!d.ok()) return d.status();
      p.timeout = *d;
    } else if (option == "--relay") {
      auto v = TakeValue(option, inline_value, args, i);
      if (!v.ok()) return v.status();
      int n = 0;
      if (!absl::SimpleAtoi(*v, &n) || n < 0 || n > 5) {
        return absl::InvalidArgumentError(
            absl::StrCat("--relay ", *v, ": must be in 0..5"));
      }
      p.relay = n;
    } else if (option.rfind("--", 0) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option ", args[i],
                       " (--node, --tag, --timeout, --ack, --relay)"));
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.empty() || positional.size() > 2) {
    return absl::InvalidArgumentError(
        "usage: query NAME [PAYLOAD] [--node NAME]... [--tag KEY=REGEX]... "
        "[--timeout D] [--ack] [--relay N]");
  }
  p.name = positional[0];
  if (positional.size() == 2) p.payload = positional[1];
  return p;
}

std::string QuerySummary(const cluster::QueryResult& r) {
  std::string missing = absl::StrCat(r.missing.size());
  if (!r.missing.empty()) {
    absl::StrAppend(&missing, " (", absl::StrJoin(r.missing, ", "), ")");
  }
  return absl::StrCat(
      "summary: matched ", r.matched.size(), ", acked ", r.acked.size(),
      ", answered ", r.answered.size(), ", missing ", missing, " in ",
      absl::FormatDuration(absl::Trunc(r.elapsed, absl::Milliseconds(1))));
}

std::vector<std::string> FormatQueryOutput(
    const std::vector<cluster::QueryAnswer>& answers,
    const cluster::QueryResult& result, bool acks) {
  std::vector<std::string> lines;
  for (const cluster::QueryAnswer& a : answers) {
    if (a.ack) {
      if (acks) lines.push_back(absl::StrCat("ack from ", a.from));
      continue;
    }
    lines.push_back(absl::StrCat("response from ", a.from,
                                 a.relayed ? " (relayed)" : "", ": ",
                                 Indented(a.payload)));
  }
  lines.push_back(QuerySummary(result));
  return lines;
}

cli::Command QueryCommand(QueryRunner run) {
  return {
      .name = "query",
      .group = "cluster",
      .usage =
          "query NAME [PAYLOAD] [--node NAME]... [--tag KEY=REGEX]... "
          "[--timeout D] [--ack] [--relay N]",
      .summary = "asks the members a question and prints their answers",
      .help =
          "Gossips query NAME (with PAYLOAD) to every member; the members "
          "that match every filter answer (--node: only the members named; "
          "--tag KEY=REGEX: only members whose tag KEY matches REGEX, RE2, "
          "unanchored). With --ack they ack on receipt. Answers come back on "
          "the reliable path (a response may be far larger than a datagram); "
          "--relay N (0..5) also sends each through N random members. The "
          "query collects until --timeout (default gossip interval x 16 x "
          "ceil(log10(members + 1)), as Serf) or until every matched member "
          "answered, then prints each response and one summary line: "
          "matched, acked, answered, missing (matched members that neither "
          "acked nor answered). Members answer through their query handler "
          "(--event-handler query:NAME=PROGRAM).",
      .min_args = 1,
      .max_args = -1,
      .handler = [run](const cli::Call& call,
                       cli::Output& out) -> absl::Status {
        auto params = ParseQueryArgs(call.args);
        if (!params.ok()) return params.status();
        const bool acks = params->ack;
        std::vector<cluster::QueryAnswer> answers;
        auto result = run(*std::move(params), &answers);
        if (!result.ok()) return result.status();
        for (const std::string& line :
             FormatQueryOutput(answers, *result, acks)) {
          out.Print(line);
        }
        return absl::OkStatus();
      },
  };
}

cli::Command ReachabilityCommand(ReachabilityRunner run) {
  return {
      .name = "reachability",
      .group = "cluster",
      .usage = "reachability [--timeout D]",
      .summary = "checks that every member answers (Serf's reachability)",
      .help =
          "Sends a query every member acks (no handler involved) and waits "
          "until all members alive or suspect here acked, or --timeout "
          "(default as query's). Prints how many acked and who did not; "
          "fails (Unavailable) when anyone did not answer in time.",
      .min_args = 0,
      .max_args = 2,
      .handler = [run](const cli::Call& call,
                       cli::Output& out) -> absl::Status {
        absl::Duration timeout = absl::ZeroDuration();
        for (size_t i = 0; i < call.args.size(); ++i) {
          auto [option, inline_value] = SplitOption(call.args[i]);
          if (option != "--timeout") {
            return absl::InvalidArgumentError(
                absl::StrCat("unknown option ", call.args[i],
                             " (usage: reachability [--timeout D])"));
          }
          auto v = TakeValue(option, inline_value, call.args, i);
          if (!v.ok()) return v.status();
          auto d = ParseTimeout(option, *v);
          if (!d.ok()) return d.status();
          timeout = *d;
        }
        auto result = run(timeout);
        if (!result.ok()) return result.status();
        out.Print(absl::StrCat("acked: ", result->acked.size(), " of ",
                               result->matched.size(), " members in ",
                               absl::FormatDuration(absl::Trunc(
                                   result->elapsed, absl::Milliseconds(1)))));
        if (result->missing.empty()) {
          out.Print("every member answered");
          return absl::OkStatus();
        }
        for (const std::string& name : result->missing) {
          out.Print(absl::StrCat("no answer from ", name));
        }
        return absl::UnavailableError(
            absl::StrCat(result->missing.size(), " of ", result->matched.size(),
                         " members did not answer in ",
                         absl::FormatDuration(result->timeout), ": ",
                         absl::StrJoin(result->missing, ", ")));
      },
  };
}

cli::Command ForceLeaveCommand(ForceLeaveRunner run) {
  return {
      .name = "forceleave",
      .group = "cluster",
      .usage = "forceleave NAME [--prune]",
      .summary =
          "takes a failed member as left everywhere (Serf's "
          "force-leave)",
      .help =
          "Member NAME, failed (dead) or suspect here, is taken as left on "
          "every member that holds it failed (one that holds it suspect: "
          "once it declares it dead), so nobody tries to reach it again; "
          "--prune forgets it at once, which frees its name. An alive member "
          "is refused: members that hold it alive ignore the request, and the "
          "member itself refutes it (docs/security.md).",
      .min_args = 1,
      .max_args = 2,
      .handler = [run](const cli::Call& call,
                       cli::Output& out) -> absl::Status {
        std::string name;
        bool prune = false;
        for (const std::string& a : call.args) {
          if (a == "--prune") {
            prune = true;
          } else if (a.rfind("--", 0) == 0 || !name.empty()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "unexpected ", a, " (usage: forceleave NAME [--prune])"));
          } else {
            name = a;
          }
        }
        if (name.empty()) {
          return absl::InvalidArgumentError("usage: forceleave NAME [--prune]");
        }
        if (absl::Status s = run(name, prune); !s.ok()) return s;
        out.Print(absl::StrCat(
            name, prune ? " forced to leave and pruned" : " forced to leave"));
        return absl::OkStatus();
      },
  };
}

}  // namespace peerlab::peer
