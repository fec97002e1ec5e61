#include "peer/membership/tool/sim_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "peer/membership/config.h"
#include "peer/membership/sim_cluster.h"

namespace peerlab::membership::tool {
namespace {

// VmHWM from /proc/self/status, in MiB; 0 if unreadable.
double PeakRssMib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    double kib = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(absl::StripSuffix(
                             absl::StripPrefix(line, "VmHWM:"), "kB")),
                         &kib)) {
      return kib / 1024;
    }
  }
  return 0;
}

}  // namespace
namespace {

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

std::string Cell(const std::optional<absl::Duration>& d) {
  return d ? absl::StrFormat("%.3f", Seconds(*d)) : "";
}

std::string Text(const std::optional<absl::Duration>& d) {
  return d ? absl::StrFormat("%.3f s", Seconds(*d)) : "not reached";
}

struct Traffic {
  uint64_t messages = 0;
  uint64_t bytes = 0;
};

Traffic TotalTraffic(SimCluster& c) {
  sim::NodeStats s = c.net().TotalStats();
  return {s.packets_sent + s.reliable_calls + s.reliable_served,
          s.bytes_sent + s.reliable_bytes_sent};
}

// `count` distinct members of [1, n) picked at random (member 0 is the one
// everybody joined through; it stays healthy).
std::vector<int> PickMembers(int n, int count, uint64_t seed) {
  std::vector<int> all(n - 1);
  std::iota(all.begin(), all.end(), 1);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(count);
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

absl::StatusOr<Scenario> ParseScenario(const std::string& name) {
  if (name == "join") return Scenario::kJoin;
  if (name == "crash") return Scenario::kCrash;
  if (name == "partition") return Scenario::kPartition;
  if (name == "slow") return Scenario::kSlow;
  return absl::InvalidArgumentError(absl::StrCat(
      "scenario: \"", name, "\" is not join, crash, partition or slow"));
}

std::string ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kJoin:
      return "join";
    case Scenario::kCrash:
      return "crash";
    case Scenario::kPartition:
      return "partition";
    case Scenario::kSlow:
      return "slow";
  }
  return "?";
}

absl::StatusOr<SimRunResult> RunSimulation(const SimRunOptions& in) {
  SimRunResult result;
  SimRunOptions& o = result.options;
  o = in;
  o.progress = nullptr;
  o.timeline = nullptr;
  const int n = o.nodes;
  if (n < 1 || n > 100000) {
    return absl::InvalidArgumentError("nodes: must be in [1, 100000]");
  }
  if (!(o.loss >= 0 && o.loss < 1)) {
    return absl::InvalidArgumentError("loss: must be in [0, 1)");
  }
  if (o.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration: must be positive");
  }
  if (o.latency < absl::ZeroDuration() || o.settle < absl::ZeroDuration() ||
      o.join_window < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "latency, settle and join window must not be negative");
  }
  Config config;
  if (auto s = Config::FromProfile(o.profile, &config); !s.ok()) return s;
  config.lifeguard = o.lifeguard;
  config.logger = o.logger;
  // Room for every simulated member (the real peer's default is smaller).
  config.max_members = std::max(config.max_members, o.nodes + 16);
  if (o.slow == 0) o.slow = std::max(1, n / 10);
  if (o.slow_lag <= absl::ZeroDuration()) o.slow_lag = config.probe_interval;
  switch (o.scenario) {
    case Scenario::kJoin:
      break;
    case Scenario::kCrash:
      if (o.crash < 1 || o.crash > n - 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "crash: must be in [1, nodes - 1] = [1, ", n - 1, "]"));
      }
      break;
    case Scenario::kPartition: {
      const int a = static_cast<int>(std::lround(o.partition_fraction * n));
      if (a < 1 || a > n - 1) {
        return absl::InvalidArgumentError(
            "partition fraction: both groups need a member");
      }
      break;
    }
    case Scenario::kSlow:
      if (o.slow > n - 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("slow: at most nodes - 1 = ", n - 1));
      }
      break;
  }

  SimCluster::Options co;
  co.nodes = n;
  co.config = config;
  co.seed = o.seed;
  co.loss = o.loss;
  co.latency = o.latency;
  SimCluster c(co);
  runtime::SimClock& clock = c.net().clock();

  // --- Observation state, fed by the change hook ---
  // Crash: victim slot of each member (-1: not a victim), and which live
  // (observer, victim) pairs have seen the death.
  std::vector<int> victim_slot(n, -1);
  std::vector<bool> crash_seen;
  int64_t crash_seen_count = 0;
  std::optional<absl::Time> first_dead_of_victim;
  // Partition: side of each member, and which cross pairs saw a death.
  const int group_a =
      o.scenario == Scenario::kPartition
          ? static_cast<int>(std::lround(o.partition_fraction * n))
          : 0;
  bool partition_on = false, partition_happened = false;
  std::vector<bool> cross_seen;
  std::vector<bool> dead_across(n, false);  // declared dead by the other side
  int64_t cross_seen_count = 0;
  const int64_t cross_pairs = 2 * int64_t{group_a} * (n - group_a);
  auto side = [&](int i) { return i < group_a ? 0 : 1; };
  uint64_t suspect_events = 0, dead_events = 0;

  c.SetChangeHook([&](int observer, int target, MemberState state) {
    if (state == MemberState::kSuspect) ++suspect_events;
    if (state != MemberState::kDead) return;
    ++dead_events;
    if (target < 0) return;
    if (c.crashed(target)) {
      const int slot = victim_slot[target];
      if (slot < 0) return;
      if (!first_dead_of_victim) first_dead_of_victim = c.Now();
      const size_t bit = size_t(observer) * o.crash + slot;
      if (!crash_seen[bit]) {
        crash_seen[bit] = true;
        ++crash_seen_count;
      }
      return;
    }
    if (partition_happened && side(observer) != side(target)) {
      if (partition_on) {
        dead_across[target] = true;
        const size_t bit = size_t(observer) * n + target;
        if (!cross_seen[bit]) {
          cross_seen[bit] = true;
          ++cross_seen_count;
        }
      }
      return;  // expected: they could not reach each other
    }
    if (partition_happened && dead_across[target]) {
      ++result.stale_partition_deaths;
      return;
    }
    ++result.false_positives;
  });

  // --- Progress and timeline ---
  const auto real_start = std::chrono::steady_clock::now();
  auto real_elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         real_start)
        .count();
  };
  const absl::Time start = c.Now();
  const absl::Time end = start + o.duration;
  uint64_t ticks = 0;
  double next_progress = absl::ToDoubleSeconds(in.progress_every);
  auto tick = [&] {
    if (!in.progress || (++ticks & 0xfff) != 0) return;
    const double real = real_elapsed();
    if (real < next_progress) return;
    next_progress = real + absl::ToDoubleSeconds(in.progress_every);
    in.progress({.sim_elapsed = c.Now() - start,
                 .sim_total = o.duration,
                 .real_seconds = real,
                 .events = clock.events_processed(),
                 .know_all = c.KnowAllCount(),
                 .live = c.LiveCount()});
  };
  // Runs until `pred` holds (checked after every event) or `deadline`.
  auto run_until = [&](auto pred, absl::Time deadline) {
    return clock.RunUntilCondition(
        [&] {
          tick();
          return pred();
        },
        deadline);
  };
  auto never = [] { return false; };

  std::function<void()> sample;
  if (in.timeline) {
    in.timeline(
        "time_s,know_all,live,suspect_events,dead_events,messages,bytes");
    sample = [&] {
      const Traffic t = TotalTraffic(c);
      in.timeline(absl::StrFormat(
          "%.3f,%d,%d,%d,%d,%d,%d", Seconds(c.Now() - start), c.KnowAllCount(),
          c.LiveCount(), suspect_events, dead_events, t.messages, t.bytes));
      if (c.Now() + in.timeline_every <= end) {
        clock.Schedule(c.Now() + in.timeline_every, sample);
      }
    };
    clock.Schedule(start, sample);
  }

  // --- Start ---
  absl::Time last_start = start;
  if (o.join_window <= absl::ZeroDuration() || n == 1) {
    c.StartAll();
  } else {
    c.Start(0);
    for (int i = 1; i < n; ++i) {
      const absl::Time at = start + o.join_window * i / (n - 1);
      last_start = at;
      clock.Schedule(at, [&c, i] { c.StartAndJoin(i, 0); });
    }
  }

  std::optional<Traffic> steady_from;
  absl::Time steady_at;
  if (run_until([&] { return c.AllKnowAllFast(); }, end)) {
    result.converge = c.Now() - last_start;
    steady_from = TotalTraffic(c);
    steady_at = c.Now();
  }

  // --- Fault ---
  if (result.converge && o.scenario != Scenario::kJoin &&
      c.Now() + o.settle < end) {
    run_until(never, c.Now() + o.settle);
    const absl::Time fault = c.Now();
    result.fault_at = fault - start;
    switch (o.scenario) {
      case Scenario::kJoin:
        break;
      case Scenario::kCrash: {
        result.faulty = PickMembers(n, o.crash, o.seed);
        crash_seen.assign(size_t(n) * o.crash, false);
        for (int k = 0; k < o.crash; ++k) victim_slot[result.faulty[k]] = k;
        for (int v : result.faulty) c.Crash(v);
        if (run_until(
                [&] {
                  return crash_seen_count == int64_t{c.LiveCount()} * o.crash;
                },
                end)) {
          result.last_detect = c.Now() - fault;
        }
        if (first_dead_of_victim) {
          result.first_detect = *first_dead_of_victim - fault;
        }
        break;
      }
      case Scenario::kPartition: {
        std::vector<sim::NodeId> first(group_a);
        std::iota(first.begin(), first.end(), 0);
        for (int i = 0; i < group_a; ++i) result.faulty.push_back(i);
        cross_seen.assign(size_t(n) * n, false);
        partition_on = partition_happened = true;
        c.net().Partition({first});
        absl::Time heal_at = end;
        if (o.partition_for > absl::ZeroDuration()) {
          heal_at = std::min(end, fault + o.partition_for);
        }
        if (run_until([&] { return cross_seen_count == cross_pairs; },
                      heal_at)) {
          result.partition_detect = c.Now() - fault;
        }
        if (c.Now() < end) {
          c.net().Heal();
          partition_on = false;
          result.healed_after = c.Now() - fault;
          const absl::Time healed = c.Now();
          if (run_until([&] { return c.AllKnowAllFast(); }, end)) {
            result.heal_converge = c.Now() - healed;
          }
        }
        break;
      }
      case Scenario::kSlow:
        result.faulty = PickMembers(n, o.slow, o.seed);
        for (int v : result.faulty) {
          c.net().SetSlowness(
              static_cast<sim::NodeId>(v),
              {.timer_lag = o.slow_lag, .inbound_lag = o.slow_lag});
        }
        break;
    }
  }
  run_until(never, end);

  // --- Figures ---
  result.sim_time = c.Now() - start;
  result.real_seconds = real_elapsed();
  result.events = clock.events_processed();
  result.peak_rss_mib = PeakRssMib();
  result.trace_hash = c.net().trace_hash();
  const double member_seconds = double(n) * Seconds(result.sim_time);
  const Traffic total = TotalTraffic(c);
  result.msgs_per_member_s = double(total.messages) / member_seconds;
  result.bytes_per_member_s = double(total.bytes) / member_seconds;
  if (steady_from && c.Now() > steady_at) {
    const double steady = double(n) * Seconds(c.Now() - steady_at);
    result.steady_msgs_per_member_s =
        double(total.messages - steady_from->messages) / steady;
    result.steady_bytes_per_member_s =
        double(total.bytes - steady_from->bytes) / steady;
  }
  return result;
}

std::string CsvHeader() {
  return "nodes,profile,scenario,seed,loss,lifeguard,duration_s,join_window_s,"
         "converge_s,fault_at_s,faulty,first_detect_s,last_detect_s,"
         "partition_detect_s,healed_after_s,heal_converge_s,false_positives,"
         "stale_partition_deaths,"
         "msgs_per_member_s,bytes_per_member_s,steady_msgs_per_member_s,"
         "steady_bytes_per_member_s,events,real_s,speedup,peak_rss_mib";
}

std::string CsvRow(const SimRunResult& r) {
  const SimRunOptions& o = r.options;
  return absl::StrFormat(
      "%d,%s,%s,%d,%g,%d,%.3f,%.3f,%s,%s,%d,%s,%s,%s,%s,%s,%d,%d,%.3f,%.1f,"
      "%.3f,%.1f,%d,%.3f,%.2f,%.1f",
      o.nodes, o.profile, ScenarioName(o.scenario), o.seed, o.loss,
      o.lifeguard ? 1 : 0, Seconds(o.duration), Seconds(o.join_window),
      Cell(r.converge), Cell(r.fault_at), r.faulty.size(), Cell(r.first_detect),
      Cell(r.last_detect), Cell(r.partition_detect), Cell(r.healed_after),
      Cell(r.heal_converge), r.false_positives, r.stale_partition_deaths,
      r.msgs_per_member_s, r.bytes_per_member_s, r.steady_msgs_per_member_s,
      r.steady_bytes_per_member_s, r.events, r.real_seconds,
      r.real_seconds > 0 ? Seconds(r.sim_time) / r.real_seconds : 0.0,
      r.peak_rss_mib);
}

std::string FormatReport(const SimRunResult& r) {
  const SimRunOptions& o = r.options;
  std::string out = absl::StrFormat(
      "members: %d  profile: %s  scenario: %s  seed: %d  loss: %g  "
      "lifeguard: %s\n",
      o.nodes, o.profile, ScenarioName(o.scenario), o.seed, o.loss,
      o.lifeguard ? "on" : "off");
  absl::StrAppend(&out, "all know all after: ", Text(r.converge),
                  o.join_window > absl::ZeroDuration()
                      ? " (since the last member started)"
                      : "",
                  "\n");
  if (r.fault_at) {
    absl::StrAppend(&out, "fault at: ", Text(r.fault_at), " (", r.faulty.size(),
                    " members)\n");
  }
  switch (o.scenario) {
    case Scenario::kJoin:
    case Scenario::kSlow:
      break;
    case Scenario::kCrash:
      absl::StrAppend(&out, "crash seen dead, first: ", Text(r.first_detect),
                      "\n", "crash seen dead by all: ", Text(r.last_detect),
                      "\n");
      break;
    case Scenario::kPartition:
      absl::StrAppend(
          &out, "other side seen dead by all: ", Text(r.partition_detect), "\n",
          "healed after: ", Text(r.healed_after), "\n",
          "all know all after heal: ", Text(r.heal_converge), "\n",
          "deaths from stale partition news: ", r.stale_partition_deaths, "\n");
      break;
  }
  absl::StrAppend(
      &out, "false positive deaths: ", r.false_positives, "\n",
      absl::StrFormat("messages per member per second: %.2f (steady %.2f)\n",
                      r.msgs_per_member_s, r.steady_msgs_per_member_s),
      absl::StrFormat("bytes per member per second: %.0f (steady %.0f)\n",
                      r.bytes_per_member_s, r.steady_bytes_per_member_s),
      absl::StrFormat(
          "simulated %.1f s in %.2f s real (%.1fx), %d events\n",
          Seconds(r.sim_time), r.real_seconds,
          r.real_seconds > 0 ? Seconds(r.sim_time) / r.real_seconds : 0.0,
          r.events),
      absl::StrFormat("peak memory: %.0f MiB\n", r.peak_rss_mib),
      absl::StrFormat("trace hash: %016x\n", r.trace_hash));
  return out;
}

}  // namespace peerlab::membership::tool
