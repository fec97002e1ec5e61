// membership_compare: N real peerlab-peer processes against N Debian serf
// agents (HashiCorp memberlist underneath) with the same profile, on
// loopback, side by side in one run.
//
// For each N and each system:
//   1. member 0 starts alone; once it serves, members 1..N-1 start, each
//      joining member 0 (peerlab: memberlistjoin, serf: -join);
//   2. "converge": from the first joiner's launch until every member counts
//      N alive members (process start-up included, for both);
//   3. a steady window (--steady): CPU used in it and resident memory
//      (VmRSS) at its end, per member;
//   4. member N/2 is killed with SIGKILL; "detect first/last": until the
//      first and until every other member no longer counts it alive
//      (peerlab: gone from `memberlist`; serf: status "failed");
//   5. everyone gets SIGTERM (then SIGKILL).
// CPU over the run is utime+stime from /proc/PID/stat, from launch to the end
// of detection.
//
// Members are polled in a loop (peerlab through PeerControl.Execute
// "memberlist", serf through its msgpack RPC "members"), every member about
// every --poll-ms; the times are when the loop first saw each member meet the
// condition. Loopback only (127.0.0.1). Peerlab calls wait for the channel to
// connect (bench/control_poller.h): fail-fast calls to a peer polled before it
// listened were refused until gRPC's 5 s backup poller reconnected, which
// showed as convergence times of 5, 10 … 45 s that were the tool's, not the
// peers'. A member still waiting after 3 s is reported on stderr with what it
// sees; --log-dir and --peer-log-level keep the members' logs.
//
// Output: a table on stdout, progress on stderr, and with --json FILE the
// figures as JSON. Exit code 1 when a system failed to converge or detect.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/command_line.h"
#include "base/control_token.h"
#include "base/option_checks.h"
#include "base/testing/subprocess.h"
#include "bench/bench_members.h"
#include "bench/compare_options.h"
#include "nlohmann/json.hpp"

namespace peerlab::bench {
namespace {

using ::peerlab::testing::TempDir;

// --- The experiment --------------------------------------------------------

struct Figures {
  std::string system;
  int n = 0;
  std::optional<double> converge_s, detect_first_s, detect_last_s;
  double rss_mean_mib = 0, rss_max_mib = 0;
  // Of VmRSS: private anonymous memory (heap, stacks), and the proportional
  // set size (shared library pages split among the processes sharing them).
  double anon_mean_mib = 0, pss_mean_mib = 0;
  double cpu_run_s_per_member = 0;       // launch .. end of detection
  double cpu_steady_pct_per_member = 0;  // % of one core in the window
  double run_s = 0;
};

struct Settings {
  std::string profile = "lan";
  double timeout_s = 120;
  double steady_s = 10;
  int poll_ms = 20;
  std::string peer_log_level = "warn";
};

Figures Run(const std::string& system, int n, const Settings& s,
            const StartMember& start) {
  using Clock = std::chrono::steady_clock;
  Figures f;
  f.system = system;
  f.n = n;
  std::cerr << system << " x " << n << ": starting\n";
  auto t0 = Clock::now();
  const auto launch = Clock::now();
  std::vector<std::unique_ptr<Member>> members =
      StartGroup(system, n, start, s.timeout_s, s.poll_ms, &t0);
  if (static_cast<int>(members.size()) < n) return f;
  std::vector<int> all(n);
  for (int i = 0; i < n; ++i) all[i] = i;
  Waited converged = WaitAll(
      members, all,
      [&](const std::vector<std::string>& seen) {
        return static_cast<int>(seen.size()) == n;
      },
      t0, s.timeout_s, s.poll_ms, /*report_late=*/true);
  f.converge_s = converged.last;
  std::cerr << system << " x " << n << ": all know all after "
            << (f.converge_s ? absl::StrFormat("%.3f s", *f.converge_s)
                             : std::string("(timeout)"))
            << "\n";

  // Steady window: CPU and memory.
  std::vector<double> cpu0(n);
  for (int i = 0; i < n; ++i)
    cpu0[i] = CpuSeconds(members[i]->process()->pid());
  const auto w0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(s.steady_s));
  const double window =
      std::chrono::duration<double>(Clock::now() - w0).count();
  double cpu_steady = 0;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = members[i]->process()->pid();
    cpu_steady += CpuSeconds(pid) - cpu0[i];
    const double rss = ProcKbMiB(pid, "status", "VmRSS:");
    f.rss_mean_mib += rss / n;
    f.anon_mean_mib += ProcKbMiB(pid, "status", "RssAnon:") / n;
    f.pss_mean_mib += ProcKbMiB(pid, "smaps_rollup", "Pss:") / n;
    f.rss_max_mib = std::max(f.rss_max_mib, rss);
  }
  f.cpu_steady_pct_per_member = 100.0 * cpu_steady / n / window;

  // kill -9 one member.
  const int victim = n / 2;
  const std::string victim_name = members[victim]->name();
  std::vector<int> others;
  for (int i = 0; i < n; ++i) {
    if (i != victim) others.push_back(i);
  }
  double victim_cpu = CpuSeconds(members[victim]->process()->pid());
  (void)members[victim]->process()->Kill();
  const auto killed = Clock::now();
  Waited detected = WaitAll(
      members, others,
      [&](const std::vector<std::string>& seen) {
        return std::find(seen.begin(), seen.end(), victim_name) == seen.end();
      },
      killed, s.timeout_s, s.poll_ms);
  f.detect_first_s = detected.first;
  f.detect_last_s = detected.last;
  std::cerr << system << " x " << n << ": kill -9 seen by all after "
            << (f.detect_last_s ? absl::StrFormat("%.3f s", *f.detect_last_s)
                                : std::string("(timeout)"))
            << "\n";
  double cpu_run = victim_cpu;
  for (int i : others) cpu_run += CpuSeconds(members[i]->process()->pid());
  f.cpu_run_s_per_member = cpu_run / n;
  f.run_s = std::chrono::duration<double>(Clock::now() - launch).count();
  for (int i : others) (void)members[i]->process()->Signal(SIGTERM);
  for (int i : others) {
    if (!members[i]->process()->Wait(absl::Seconds(5)).ok()) {
      (void)members[i]->process()->Kill();
    }
  }
  return f;
}

std::string Opt(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.3f", *v) : "-";
}

int Main(int argc, char** argv) {
  CLI::App app{
      "membership_compare: N peerlab-peer processes against N serf agents "
      "on loopback (convergence, kill -9 detection, memory, CPU)."};
  std::vector<int> sizes = {10, 30};
  Settings s;
  CompareOptions o;
  app.add_option("--nodes", sizes, "member counts (2 .. 10000)")
      ->delimiter(',')
      ->check(peerlab::Range(2, 10000))
      ->capture_default_str();
  AddCompareOptions(app, &o, "seconds to wait for each phase",
                    "run everything this many times");
  app.add_option("--steady", s.steady_s,
                 "seconds of the steady window (CPU, memory; 0.001 .. 86400)")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--poll-ms", s.poll_ms,
                 "pause between polling rounds (1 .. 60000)")
      ->check(peerlab::Range(1, 60000))
      ->capture_default_str();
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  std::unique_ptr<TempDir> tmp;
  absl::StatusOr<std::string> files =
      FinishCompareOptions(&o, "membership-compare", &tmp);
  if (!files.ok()) {
    std::cerr << files.status() << "\n";
    return 1;
  }
  const std::string& dir = *files;
  s.profile = o.profile;
  s.timeout_s = o.timeout_s;
  s.peer_log_level = o.peer_log_level;
  const std::vector<std::string> systems = o.SystemList();

  std::vector<Figures> results;
  for (int r = 0; r < o.repeat; ++r) {
    for (int n : sizes) {
      for (const std::string& system : systems) {
        MemberOptions options{
            .bin = system == "peerlab" ? o.peer_bin : o.serf_bin,
            .dir = dir,
            .profile = s.profile,
            .peer_log_level = s.peer_log_level,
            .peer_settings = o.peer_settings};
        if (system == "peerlab") {
          results.push_back(
              Run(system, n, s,
                  [&](const std::string& name,
                      const std::string& join) -> std::unique_ptr<Member> {
                    return PeerlabMember::Start(options, name, join);
                  }));
        } else if (system == "serf") {
          results.push_back(
              Run(system, n, s,
                  [&](const std::string& name,
                      const std::string& join) -> std::unique_ptr<Member> {
                    return SerfMember::Start(options, name, join);
                  }));
        } else {
          std::cerr << "unknown system " << system << "\n";
          return 2;
        }
      }
    }
  }

  std::cout << absl::StrFormat(
      "profile %s, steady window %.0f s, poll every %d ms\n", s.profile,
      s.steady_s, s.poll_ms);
  std::cout << absl::StrFormat(
      "%-8s %4s %11s %15s %13s %8s %8s %8s %8s %10s %12s\n", "system", "N",
      "converge_s", "detect_first_s", "detect_all_s", "rss_MiB", "rss_max",
      "anon_MiB", "pss_MiB", "cpu_run_s", "cpu_steady%");
  bool ok = true;
  Json out = Json::array();
  for (const Figures& f : results) {
    std::cout << absl::StrFormat(
        "%-8s %4d %11s %15s %13s %8.1f %8.1f %8.1f %8.1f %10.2f %12.2f\n",
        f.system, f.n, Opt(f.converge_s), Opt(f.detect_first_s),
        Opt(f.detect_last_s), f.rss_mean_mib, f.rss_max_mib, f.anon_mean_mib,
        f.pss_mean_mib, f.cpu_run_s_per_member, f.cpu_steady_pct_per_member);
    ok = ok && f.converge_s && f.detect_last_s;
    auto num = [](const std::optional<double>& v) {
      return v ? Json(*v) : Json(nullptr);
    };
    out.push_back({{"system", f.system},
                   {"n", f.n},
                   {"profile", s.profile},
                   {"converge_s", num(f.converge_s)},
                   {"detect_first_s", num(f.detect_first_s)},
                   {"detect_last_s", num(f.detect_last_s)},
                   {"rss_mean_mib", f.rss_mean_mib},
                   {"rss_max_mib", f.rss_max_mib},
                   {"anon_mean_mib", f.anon_mean_mib},
                   {"pss_mean_mib", f.pss_mean_mib},
                   {"cpu_run_s_per_member", f.cpu_run_s_per_member},
                   {"cpu_steady_pct_per_member", f.cpu_steady_pct_per_member},
                   {"run_s", f.run_s}});
  }
  if (!o.json_path.empty()) std::ofstream(o.json_path) << out.dump(2) << "\n";
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace peerlab::bench

int main(int argc, char** argv) { return peerlab::bench::Main(argc, argv); }
