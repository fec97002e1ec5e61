#include "peer/app/faults_commands.h"

#include <cstdlib>
#include <random>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace peerlab::peer {
namespace {

constexpr char kUsage[] =
    "faults drop|dup DEST P% | delay DEST TIME [JITTER] | block DEST | "
    "reorder DEST P% [HOLD] | fail|hang DEST | clear [DEST] | list | self";

absl::StatusOr<absl::Duration> ParseTime(absl::string_view text,
                                         absl::string_view what) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration() ||
      d > absl::Hours(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", text, "\" is no time between 0 and 1h (e.g. 20ms, 1.5s)"));
  }
  return d;
}

bool LooksLikeAddress(absl::string_view dest) {
  const size_t colon = dest.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  int port = 0;
  return absl::SimpleAtoi(dest.substr(colon + 1), &port) && port > 0 &&
         port < 65536;
}

// The addresses DEST stands for, and how to name it in answers.
struct Destination {
  std::vector<std::string> addresses;
  std::string label;
};

absl::StatusOr<Destination> Resolve(const FaultsEnv& env,
                                    const std::string& dest) {
  if (dest == runtime::FaultPlan::kEveryDestination) {
    return Destination{{dest}, "every destination"};
  }
  if (LooksLikeAddress(dest)) return Destination{{dest}, dest};
  if (!env.resolve) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", dest, "\" is no HOST:PORT address"));
  }
  absl::StatusOr<std::vector<std::string>> addresses = env.resolve(dest);
  if (!addresses.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "\"", dest,
        "\" is neither * nor HOST:PORT nor a member this peer knows (",
        addresses.status().message(), ")"));
  }
  if (addresses->empty()) {
    return absl::NotFoundError(
        absl::StrCat("member ", dest, " has no known address"));
  }
  std::string label =
      absl::StrCat(dest, " (", absl::StrJoin(*addresses, ", "), ")");
  return Destination{*std::move(addresses), std::move(label)};
}

std::string StatsLine(const runtime::FaultStats& s) {
  return absl::StrCat("datagrams: ", s.packets, " decided, ", s.dropped,
                      " dropped, ", s.blocked, " blocked, ", s.delayed,
                      " held back, ", s.duplicated, " duplicated, ",
                      s.reordered, " reordered, ", s.queue_full,
                      " dropped (hold queue full); calls: ", s.calls,
                      " decided, ", s.calls_failed, " failed, ", s.calls_hung,
                      " hung, ", s.calls_delayed, " delayed");
}

absl::Status Run(const FaultsEnv& env, const cli::Call& call,
                 cli::Output& out) {
  const std::string verb =
      call.args.empty() ? "list" : absl::AsciiStrToLower(call.args[0]);
  const size_t n = call.args.size();
  runtime::FaultPlan& plan = *env.plan;
  if (verb == "list") {
    if (n > 1) return absl::InvalidArgumentError("usage: faults list");
    auto rules = plan.Rules();
    if (rules.empty()) out.Print("faults: none");
    for (const auto& [dest, rule] : rules) {
      out.Print(absl::StrCat("faults ", dest, ": ", rule.ToString()));
    }
    out.Print(StatsLine(plan.stats()));
    return absl::OkStatus();
  }
  if (verb == "self") {
    if (n > 1) return absl::InvalidArgumentError("usage: faults self");
    out.Print(env.self ? env.self() : "");
    return absl::OkStatus();
  }
  if (verb == "clear") {
    if (n > 2) return absl::InvalidArgumentError("usage: faults clear [DEST]");
    if (n == 1) {
      plan.ClearAll();
      out.Print("faults cleared");
      return absl::OkStatus();
    }
    // A name need not resolve any more (it may have left): clear what it
    // stands for when it does, and the word itself as an address.
    std::vector<std::string> addresses = {call.args[1]};
    if (absl::StatusOr<Destination> d = Resolve(env, call.args[1]); d.ok()) {
      addresses = d->addresses;
    }
    int cleared = 0;
    for (const std::string& a : addresses) cleared += plan.Clear(a);
    out.Print(absl::StrCat("faults cleared for ", call.args[1], " (", cleared,
                           cleared == 1 ? " rule)" : " rules)"));
    return absl::OkStatus();
  }

  runtime::FaultRule rule;
  size_t min_args = 2, max_args = 2;
  if (verb == "drop" || verb == "dup") {
    min_args = max_args = 3;
  } else if (verb == "delay" || verb == "reorder") {
    min_args = 3;
    max_args = 4;
  } else if (verb != "block" && verb != "fail" && verb != "hang") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown faults verb \"", call.args[0], "\"; usage: ", kUsage));
  }
  if (n < min_args || n > max_args) {
    return absl::InvalidArgumentError(absl::StrCat("usage: ", kUsage));
  }
  if (verb == "drop" || verb == "dup" || verb == "reorder") {
    absl::StatusOr<double> p = ParsePercent(call.args[2]);
    if (!p.ok()) return p.status();
    if (verb == "drop") rule.drop = *p;
    if (verb == "dup") rule.duplicate = *p;
    if (verb == "reorder") {
      rule.reorder = *p;
      if (n == 4) {
        absl::StatusOr<absl::Duration> hold = ParseTime(call.args[3], "HOLD");
        if (!hold.ok()) return hold.status();
        rule.reorder_hold = *hold;
      }
    }
  } else if (verb == "delay") {
    absl::StatusOr<absl::Duration> delay = ParseTime(call.args[2], "TIME");
    if (!delay.ok()) return delay.status();
    rule.delay = *delay;
    rule.jitter = absl::ZeroDuration();
    if (n == 4) {
      absl::StatusOr<absl::Duration> jitter = ParseTime(call.args[3], "JITTER");
      if (!jitter.ok()) return jitter.status();
      rule.jitter = *jitter;
    }
  } else if (verb == "block") {
    rule.block = true;
  } else {
    rule.call =
        verb == "fail" ? runtime::CallFault::kFail : runtime::CallFault::kHang;
  }
  absl::StatusOr<Destination> dest = Resolve(env, call.args[1]);
  if (!dest.ok()) return dest.status();
  for (const std::string& address : dest->addresses) {
    if (absl::Status s = plan.Set(address, rule); !s.ok()) return s;
  }
  out.Print(absl::StrCat("faults ", dest->label, ": ",
                         plan.Effective({dest->addresses.front()}).ToString()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<double> ParsePercent(absl::string_view text) {
  absl::string_view number = text;
  double value = 0;
  if (!absl::ConsumeSuffix(&number, "%") || !absl::SimpleAtod(number, &value) ||
      !(value >= 0 && value <= 100)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is no percentage between 0% and 100% (e.g. 10%)"));
  }
  return value / 100.0;
}

uint64_t FaultSeed(absl::string_view name) {
  const char* env = std::getenv("PEERLAB_SEED");
  uint64_t seed = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &seed)) {
    return seed ^ absl::HashOf(name);
  }
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

cli::Command FaultsCommand(FaultsEnv env) {
  return {
      .name = "faults",
      .group = "membership",
      .usage = "faults VERB [DEST] [ARGS]",
      .summary =
          "network faults in this peer (drop, delay, block, dup, "
          "reorder, fail, hang), without root",
      .help = absl::StrCat(
          kUsage,
          ". Faults apply to what this peer sends: gossip datagrams (sealed "
          "already, so a duplicate is a replay the receiver refuses), the "
          "reliable gRPC calls and the chat streams it opens (which only "
          "fail, hang or wait). DEST is * (every destination), HOST:PORT, "
          "or a member's name (its gossip and chat addresses). A rule's "
          "fields add up per destination; DEST's own fields win over *'s. "
          "block is one way: the other side's traffic still arrives. The "
          "random choices come from $PEERLAB_SEED when the harness sets "
          "it. The harness coordinator may run it only where "
          "lab.allow_faults is on."),
      .min_args = 0,
      .max_args = 4,
      .handler = [env = std::move(env)](const cli::Call& call,
                                        cli::Output& out) {
        return Run(env, call, out);
      }};
}

}  // namespace peerlab::peer
