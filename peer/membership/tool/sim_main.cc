// peerlab-sim: runs N simulated members of the SWIM/Lifeguard membership
// protocol in virtual time and prints how fast they converge, how fast a
// crash is detected, false positive deaths and the traffic per member (see
// sim_runner.h for the scenarios and the figures).
//
//   peerlab-sim --nodes 1000 --profile lan --scenario crash --crash 3
//       --duration 60 --csv runs.csv   (one command line)
//
// The report goes to stdout, progress to stderr. Exit code 0 on a finished
// run (whatever its figures), 2 on bad options (an option of another
// scenario, or one without its output, too), 1 when a file cannot be
// written or the run would need more memory than is available
// (MemAvailable, or the limit of the process's cgroup if smaller).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/command_line.h"
#include "base/logging.h"
#include "base/option_checks.h"
#include "peer/membership/tool/sim_plot.h"
#include "peer/membership/tool/sim_runner.h"

namespace {

using peerlab::membership::tool::CsvHeader;
using peerlab::membership::tool::CsvRow;
using peerlab::membership::tool::FormatReport;
using peerlab::membership::tool::ParseScenario;
using peerlab::membership::tool::ParseStartMode;
using peerlab::membership::tool::RenderSvg;
using peerlab::membership::tool::RunSimulation;
using peerlab::membership::tool::SimProgress;
using peerlab::membership::tool::SimRunOptions;

absl::Duration SecondsFlag(double s) { return absl::Seconds(s); }

// A simulation makes and frees many small objects (the protocol messages of
// thousands of members). glibc's per-thread cache keeps 7 free chunks per
// size; past that, frees go to bins that every large allocation then
// consolidates (a third of the time at 10,000 members). A cache of 65,000
// made a 3,000-member run 40% faster for the same memory. It is only set
// through GLIBC_TUNABLES at start-up, hence one re-exec of ourselves.
void UseLargeMallocCache(char** argv) {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "tcache_count") != nullptr) {
    return;  // already set (by us or by the user)
  }
  std::string value = tunables != nullptr ? std::string(tunables) + ":" : "";
  value += "glibc.malloc.tcache_count=65000";
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: go on as is
}

// Longest simulated span any option takes: ten days.
constexpr double kMaxSeconds = 864000;

// The options that shape one scenario's fault, and the scenarios they apply
// to; every other option applies to all. Given with another scenario they
// would be ignored without a word, so that is a usage error.
struct ScenarioOption {
  const char* flag;
  std::vector<std::string> scenarios;
};
const std::vector<ScenarioOption>& ScenarioOptions() {
  static const auto* options = new std::vector<ScenarioOption>{
      {"--crash", {"crash"}},
      {"--partition-fraction", {"partition"}},
      {"--partition-for", {"partition"}},
      {"--slow", {"slow"}},
      {"--slow-lag", {"slow"}},
      {"--flip-members", {"flipflop"}},
      {"--flip-on", {"flipflop"}},
      {"--flip-off", {"flipflop"}},
      {"--egress-share", {"egress-loss"}},
      {"--egress-loss", {"egress-loss"}},
      {"--restart-window", {"mass-restart"}},
      {"--restart-downtime", {"mass-restart"}},
      {"--restart-grace", {"mass-restart"}},
      // Between convergence and the fault: join has no fault.
      {"--settle",
       {"crash", "partition", "slow", "flipflop", "egress-loss", "oneway",
        "mass-restart"}},
  };
  return *options;
}

// The first option given that does not apply to `scenario`, as a message.
std::optional<std::string> OptionOfAnotherScenario(
    const CLI::App& app, const std::string& scenario) {
  for (const ScenarioOption& option : ScenarioOptions()) {
    if (app.count(option.flag) == 0) continue;
    if (std::find(option.scenarios.begin(), option.scenarios.end(), scenario) !=
        option.scenarios.end()) {
      continue;
    }
    return absl::StrFormat("%s applies only to --scenario %s, not %s",
                           option.flag, absl::StrJoin(option.scenarios, ", "),
                           scenario);
  }
  return std::nullopt;
}

// --start converged with --join-window (nobody joins) or --scenario join
// (nothing would happen): a usage error.
std::optional<std::string> NotWithConvergedStart(const CLI::App& app,
                                                 const std::string& start,
                                                 const std::string& scenario) {
  if (start != "converged") return std::nullopt;
  if (app.count("--join-window") > 0) {
    return "--join-window does not apply to --start converged (nobody "
           "joins: every member starts knowing every other)";
  }
  if (scenario == "join") {
    return "--start converged needs a fault scenario: with --scenario join "
           "nothing would happen";
  }
  return std::nullopt;
}

// --timeline-every without --timeline, --progress-every with --quiet: the
// option would be ignored without a word, so that is a usage error.
std::optional<std::string> EveryWithoutItsOutput(
    const CLI::App& app, const std::string& timeline_path, bool quiet) {
  if (app.count("--timeline-every") > 0 && timeline_path.empty()) {
    return "--timeline-every needs --timeline FILE (it sets the simulated "
           "seconds between the timeline's rows)";
  }
  if (app.count("--progress-every") > 0 && quiet) {
    return "--progress-every does nothing with -q/--quiet (no progress "
           "lines are printed)";
  }
  return std::nullopt;
}

// Peak RSS of a run, fitted on N = 1,000 and 3,000 (bench/RESULTS.md,
// "peerlab-sim's memory estimate"): the (observer, member) pairs dominate.
// An overstatement at 10,000 members (the per-member part counts as
// per-pair), so the check errs on the side of refusing.
constexpr double kBytesPerPair = 57;
constexpr double kFixedBytes = 80.0 * (1 << 20);

double EstimatedPeakBytes(int nodes) {
  return kFixedBytes + kBytesPerPair * double(nodes) * double(nodes);
}

// What a run may use: the smaller of MemAvailable and the memory limits of
// the process's cgroup and its ancestors (cgroup v2 memory.max, v1
// memory.limit_in_bytes), with where that bound comes from.
struct MemoryBound {
  double bytes = 0;
  std::string source;  // "MemAvailable", "memory.max of cgroup /a/b"
};

// "/" in the paths read below: PEERLAB_SIM_FS_ROOT when set (the command
// line test's fake /proc and /sys), else "/" itself.
std::string FsRoot() {
  const char* root = std::getenv("PEERLAB_SIM_FS_ROOT");
  return root != nullptr && *root != '\0' ? std::string(root) : "";
}

// MemAvailable from /proc/meminfo, in bytes; nullopt if unreadable.
std::optional<double> MemAvailable(const std::string& root) {
  std::ifstream meminfo(root + "/proc/meminfo");
  std::string key, unit;
  double kib = 0;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

// The limit in a cgroup's memory.max / memory.limit_in_bytes; nullopt for
// "max" (none) or a file that is missing or unreadable.
std::optional<double> LimitIn(const std::string& path) {
  std::ifstream file(path);
  std::string value;
  if (!(file >> value) || value.empty() || value == "max") return std::nullopt;
  char* end = nullptr;
  const double bytes = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || *end != '\0' || bytes <= 0) return std::nullopt;
  return bytes;
}

// Lowers `bound` to the smallest limit of the cgroup at `path` (as
// /proc/self/cgroup names it) and of its ancestors, files `file` under
// `mount`.
void LowerToCgroupLimits(const std::string& mount, std::string path,
                         const std::string& file, MemoryBound& bound) {
  if (path.empty() || path[0] != '/') return;
  while (true) {
    const std::string dir = path == "/" ? "" : path;
    if (auto limit = LimitIn(mount + dir + "/" + file);
        limit && *limit < bound.bytes) {
      bound = {*limit, absl::StrFormat("%s of cgroup %s", file, path)};
    }
    if (path == "/") return;
    const size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
}

std::optional<MemoryBound> AvailableMemory() {
  const std::string root = FsRoot();
  const std::optional<double> available = MemAvailable(root);
  if (!available) return std::nullopt;
  MemoryBound bound{*available, "MemAvailable"};
  // Lines "hierarchy:controllers:path": "0::/a/b" is cgroup v2 (mounted at
  // /sys/fs/cgroup), "4:memory:/a/b" v1's memory controller.
  std::ifstream cgroups(root + "/proc/self/cgroup");
  std::string line;
  while (std::getline(cgroups, line)) {
    const size_t first = line.find(':');
    const size_t second =
        first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string hierarchy = line.substr(0, first);
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (hierarchy == "0" && controllers.empty()) {
      LowerToCgroupLimits(root + "/sys/fs/cgroup", path, "memory.max", bound);
    } else if (absl::StrContains(absl::StrCat(",", controllers, ","),
                                 ",memory,")) {
      LowerToCgroupLimits(root + "/sys/fs/cgroup/memory", path,
                          "memory.limit_in_bytes", bound);
    }
  }
  return bound;
}

std::string Mib(double bytes) {
  const double mib = bytes / (1 << 20);
  return mib < 10240 ? absl::StrFormat("%.0f MiB", mib)
                     : absl::StrFormat("%.0f GiB", mib / 1024);
}

int Main(int argc, char** argv) {
  UseLargeMallocCache(argv);
  CLI::App app{
      "peerlab-sim: N simulated members of the SWIM/Lifeguard membership "
      "protocol in virtual time (deterministic for a seed). Prints the time "
      "until every member knows every other, crash detection times (first "
      "and last), false positive deaths, and messages and bytes per member "
      "per second. Refuses options of another scenario or without their "
      "output (exit 2), and a run whose estimated memory exceeds what is "
      "available, MemAvailable or the cgroup's memory limit if smaller "
      "(exit 1)."};
  SimRunOptions o;
  std::string scenario = "join", start = "join";
  double latency_ms = 1, duration_s = 60, settle_s = 1, join_window_s = 0;
  double partition_for_s = 0, slow_lag_s = 0, progress_s = 1,
         timeline_every_s = 1;
  double flip_on_s = 20, flip_off_s = 20, restart_window_s = 60,
         restart_downtime_s = 0, restart_grace_s = 30;
  bool no_lifeguard = false, quiet = false, ignore_memory_estimate = false;
  std::string baseline = "none";
  std::string csv, timeline_path, plot_path, log_level = "warn";
  app.add_option("-n,--nodes", o.nodes, "simulated members (1..100000)")
      ->check(peerlab::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--profile", o.profile, "membership profile")
      ->check(CLI::IsMember({"lan", "wan", "local"}))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the whole run")
      ->check(peerlab::Unsigned64)
      ->capture_default_str();
  app.add_option("--loss", o.loss,
                 "datagram loss rate on every link, 0 .. 0.99")
      ->check(peerlab::Range(0.0, 0.99))
      ->capture_default_str();
  app.add_option("--latency-ms", latency_ms,
                 "one-way link latency in milliseconds (jitter: half), "
                 "0 .. 60000")
      ->check(peerlab::Range(0.0, 60000.0))
      ->capture_default_str();
  app.add_option("--scenario", scenario,
                 "join: all join member 0; crash: kill -9 --crash members; "
                 "partition: split in two, heal once each side saw the other "
                 "dead; slow: --slow members with late timers and arrivals; "
                 "flipflop: --flip-members drop all ingress for --flip-on s, "
                 "then none for --flip-off s, repeated; egress-loss: "
                 "--egress-share of the members lose --egress-loss of their "
                 "datagrams; oneway: one member reachable by exactly one "
                 "other (every other cannot send to it; it sends to all); "
                 "mass-restart: every member restarts without its state "
                 "within --restart-window s, in random order")
      ->check(CLI::IsMember({"join", "crash", "partition", "slow", "flipflop",
                             "egress-loss", "oneway", "mass-restart"}))
      ->capture_default_str();
  app.add_option("--crash", o.crash, "crash: members crashed (1 .. nodes - 1)")
      ->check(peerlab::Range(1, 99999))
      ->capture_default_str();
  app.add_option("--partition-fraction", o.partition_fraction,
                 "partition: share of members in the first group, 0.01 .. "
                 "0.99")
      ->check(peerlab::Range(0.01, 0.99))
      ->capture_default_str();
  app.add_option("--partition-for", partition_for_s,
                 "partition: heal after this many seconds at the latest (0: "
                 "once detection is complete), at most 864000")
      ->check(peerlab::Range(0.0, kMaxSeconds))
      ->capture_default_str();
  app.add_option("--slow", o.slow,
                 "slow: slow members (0: N/10, at least 1; at most nodes - 1)")
      ->check(peerlab::Range(0, 99999))
      ->capture_default_str();
  app.add_option("--slow-lag", slow_lag_s,
                 "slow: largest lag in seconds (0: one probe interval), at "
                 "most 3600")
      ->check(peerlab::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--flip-members", o.flip_members,
                 "flipflop: members flip-flopped (0: 1 % of nodes, at least "
                 "1; at most nodes - 1)")
      ->check(peerlab::Range(0, 99999))
      ->capture_default_str();
  app.add_option("--flip-on", flip_on_s,
                 "flipflop: seconds with all ingress dropped, 0.001 .. 864000")
      ->check(peerlab::Range(0.001, kMaxSeconds))
      ->capture_default_str();
  app.add_option("--flip-off", flip_off_s,
                 "flipflop: seconds with ingress open between, 0.001 .. "
                 "864000")
      ->check(peerlab::Range(0.001, kMaxSeconds))
      ->capture_default_str();
  app.add_option("--egress-share", o.egress_share,
                 "egress-loss: share of the members losing egress (at least "
                 "1 member), 0.0001 .. 0.99")
      ->check(peerlab::Range(0.0001, 0.99))
      ->capture_default_str();
  app.add_option("--egress-loss", o.egress_loss,
                 "egress-loss: share of their datagrams lost, 0.01 .. 1")
      ->check(peerlab::Range(0.01, 1.0))
      ->capture_default_str();
  app.add_option("--restart-window", restart_window_s,
                 "mass-restart: every member restarts within this many "
                 "seconds, 0 .. 864000")
      ->check(peerlab::Range(0.0, kMaxSeconds))
      ->capture_default_str();
  app.add_option("--restart-downtime", restart_downtime_s,
                 "mass-restart: seconds between a member's kill and its new "
                 "process, 0 .. 3600")
      ->check(peerlab::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--restart-grace", restart_grace_s,
                 "mass-restart: seconds after its restart from which a "
                 "member held dead counts as a healthy member declared dead, "
                 "0 .. 3600")
      ->check(peerlab::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_flag("--no-lifeguard", no_lifeguard,
               "turn Lifeguard off (awareness, nacks, dynamic suspicion)");
  app.add_option("--baseline", baseline,
                 "memberlist: run the same scenario and seed a second time "
                 "with memberlist's own behaviour (every departure of "
                 "docs/membership.md off) and print its report after "
                 "peerlab's (and a second CSV row); none: only peerlab")
      ->check(CLI::IsMember({"none", "memberlist"}))
      ->capture_default_str();
  app.add_option("--settle", settle_s,
                 "seconds between convergence and the fault (every scenario "
                 "but join), at most 864000")
      ->check(peerlab::Range(0.0, kMaxSeconds))
      ->capture_default_str();
  app.add_option("-d,--duration", duration_s,
                 "simulated seconds of the whole run, 0.001 .. 864000")
      ->check(peerlab::Range(0.001, kMaxSeconds))
      ->capture_default_str();
  app.add_option("--start", start,
                 "join: every member joins member 0 (the join's gossip runs "
                 "before the fault); converged: every member starts knowing "
                 "every other alive, nothing queued for gossip (as if the "
                 "join were long over; not with --scenario join or "
                 "--join-window)")
      ->check(CLI::IsMember({"join", "converged"}))
      ->capture_default_str();
  app.add_option("--join-window", join_window_s,
                 "members start one after another over this many seconds (0: "
                 "all at once), at most 864000")
      ->check(peerlab::Range(0.0, kMaxSeconds))
      ->capture_default_str();
  app.add_option("--csv", csv,
                 "append the figures as a CSV row to FILE (header written "
                 "when FILE is new or empty)")
      ->check(peerlab::WritableFile);
  app.add_option("--timeline", timeline_path,
                 "write a CSV time series (know_all, events, traffic) to FILE")
      ->check(peerlab::WritableFile);
  app.add_option("--plot", plot_path,
                 "draw the run over time as an SVG picture to FILE (views "
                 "alive/suspect/removed, agreement, traffic, fault windows)")
      ->check(peerlab::WritableFile);
  app.add_option("--timeline-every", timeline_every_s,
                 "simulated seconds between timeline rows (with --timeline), "
                 "0.001 .. 864000")
      ->check(peerlab::Range(0.001, kMaxSeconds))
      ->capture_default_str();
  app.add_option("--progress-every", progress_s,
                 "real seconds between progress lines on stderr (not with "
                 "-q), 0.001 .. 86400")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "no progress lines");
  app.add_flag("--ignore-memory-estimate", ignore_memory_estimate,
               "run even if the estimated peak memory (about 57 bytes a "
               "pair of members, plus 80 MiB) exceeds MemAvailable or the "
               "cgroup's memory limit");
  app.add_option("--log-level", log_level,
                 "protocol log level (trace, debug, info, warn, error, "
                 "critical, off)")
      ->check(peerlab::LogLevel)
      ->capture_default_str();
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  if (auto wrong = OptionOfAnotherScenario(app, scenario)) {
    std::cerr << "peerlab-sim: " << *wrong << "\n"
              << "Run with --help for the options and their values.\n";
    return peerlab::kUsageExitCode;
  }
  if (auto wrong = NotWithConvergedStart(app, start, scenario)) {
    std::cerr << "peerlab-sim: " << *wrong << "\n"
              << "Run with --help for the options and their values.\n";
    return peerlab::kUsageExitCode;
  }
  // Options that only tune an output nobody asked for.
  if (auto wrong = EveryWithoutItsOutput(app, timeline_path, quiet)) {
    std::cerr << "peerlab-sim: " << *wrong << "\n"
              << "Run with --help for the options and their values.\n";
    return peerlab::kUsageExitCode;
  }
  // Refused before anything is allocated: past the memory there is, the
  // run would swap or be killed after minutes, or hours.
  const double estimate = EstimatedPeakBytes(o.nodes);
  const std::optional<MemoryBound> available = AvailableMemory();
  if (available && estimate > available->bytes && !ignore_memory_estimate) {
    std::cerr << "peerlab-sim: " << o.nodes << " members need about "
              << Mib(estimate) << " (estimated peak), more than the "
              << Mib(available->bytes) << " available (" << available->source
              << "); --ignore-memory-estimate runs anyway\n";
    return 1;
  }
  if (!quiet) {
    std::cerr << "peerlab-sim: " << o.nodes << " members, about "
              << Mib(estimate) << " at the peak (estimate), "
              << (available ? Mib(available->bytes) + " available" +
                                  (available->source == "MemAvailable"
                                       ? ""
                                       : " (" + available->source + ")")
                            : std::string("unknown available"))
              << "\n";
  }
  if (auto s = peerlab::SetUpLogging("peerlab-sim", log_level, ""); !s.ok()) {
    std::cerr << "peerlab-sim: " << s.message() << "\n";
    return 2;
  }
  o.scenario = *ParseScenario(scenario);  // checked by CLI11
  o.start = *ParseStartMode(start);       // checked by CLI11
  // The protocol's lines through the program's spdlog, in virtual time.
  o.logger = peerlab::DefaultSpdlogLogger();
  o.latency = absl::Microseconds(std::llround(latency_ms * 1000));
  o.duration = SecondsFlag(duration_s);
  o.settle = SecondsFlag(settle_s);
  o.join_window = SecondsFlag(join_window_s);
  o.partition_for = SecondsFlag(partition_for_s);
  o.slow_lag = SecondsFlag(slow_lag_s);
  o.flip_on = SecondsFlag(flip_on_s);
  o.flip_off = SecondsFlag(flip_off_s);
  o.restart_window = SecondsFlag(restart_window_s);
  o.restart_downtime = SecondsFlag(restart_downtime_s);
  o.restart_grace = SecondsFlag(restart_grace_s);
  o.lifeguard = !no_lifeguard;
  o.progress_every = SecondsFlag(progress_s);
  o.timeline_every = SecondsFlag(timeline_every_s);

  const bool tty = isatty(STDERR_FILENO);
  bool progress_shown = false;
  if (!quiet) {
    o.progress = [&](const SimProgress& p) {
      const double sim = absl::ToDoubleSeconds(p.sim_elapsed);
      std::fprintf(stderr,
                   "%speerlab-sim: %.1f/%.0f s simulated in %.1f s real "
                   "(%.1fx), %.2fM events, %d/%d know all%s",
                   tty ? "\r" : "", sim, absl::ToDoubleSeconds(p.sim_total),
                   p.real_seconds,
                   p.real_seconds > 0 ? sim / p.real_seconds : 0,
                   p.events / 1e6, p.know_all, p.live, tty ? "  " : "\n");
      std::fflush(stderr);
      progress_shown = true;
    };
  }
  // Opened at its first row, so that options RunSimulation refuses leave
  // no file behind (the path was checked at start).
  std::ofstream timeline;
  if (!timeline_path.empty()) {
    o.timeline = [&](const std::string& line) {
      if (!timeline.is_open()) timeline.open(timeline_path, std::ios::trunc);
      timeline << line << "\n";
    };
  }

  auto result = RunSimulation(o);
  if (progress_shown && tty) std::fputc('\n', stderr);
  if (!result.ok()) {
    std::cerr << "peerlab-sim: " << result.status().message() << "\n";
    return 2;
  }
  std::cout << FormatReport(*result) << std::flush;
  if (!csv.empty()) {
    bool empty = true;
    {
      std::ifstream existing(csv);
      empty = !existing || existing.peek() == std::ifstream::traits_type::eof();
    }
    std::ofstream out(csv, std::ios::app);
    if (empty) out << CsvHeader() << "\n";
    out << CsvRow(*result) << "\n";
    if (!out) {
      std::cerr << "peerlab-sim: cannot write " << csv << "\n";
      return 1;
    }
  }
  if (!plot_path.empty()) {
    std::ofstream plot(plot_path, std::ios::trunc);
    plot << RenderSvg(*result);
    if (!plot.flush()) {
      std::cerr << "peerlab-sim: cannot write " << plot_path << "\n";
      return 1;
    }
  }
  if (!timeline_path.empty() && !timeline.flush()) {
    std::cerr << "peerlab-sim: cannot write " << timeline_path << "\n";
    return 1;
  }
  if (baseline == "memberlist") {
    // The same scenario, seed and faults with memberlist's behaviour; the
    // timeline and the plot stay peerlab's.
    o.memberlist_compat = true;
    o.timeline = nullptr;
    auto base = RunSimulation(o);
    if (progress_shown && tty) std::fputc('\n', stderr);
    if (!base.ok()) {
      std::cerr << "peerlab-sim: " << base.status().message() << "\n";
      return 2;
    }
    std::cout << "\n== baseline: memberlist (same scenario, seed and faults)\n"
              << FormatReport(*base) << std::flush;
    if (!csv.empty()) {
      std::ofstream out(csv, std::ios::app);
      out << CsvRow(*base) << "\n";
      if (!out) {
        std::cerr << "peerlab-sim: cannot write " << csv << "\n";
        return 1;
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
