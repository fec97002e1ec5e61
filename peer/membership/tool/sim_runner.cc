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
#include "peer/membership/tool/view_tracker.h"

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

absl::StatusOr<StartMode> ParseStartMode(const std::string& name) {
  if (name == "join") return StartMode::kJoin;
  if (name == "converged") return StartMode::kConverged;
  return absl::InvalidArgumentError(
      absl::StrCat("start: \"", name, "\" is not join or converged"));
}

std::string StartModeName(StartMode start) {
  return start == StartMode::kConverged ? "converged" : "join";
}

absl::StatusOr<Scenario> ParseScenario(const std::string& name) {
  if (name == "join") return Scenario::kJoin;
  if (name == "crash") return Scenario::kCrash;
  if (name == "partition") return Scenario::kPartition;
  if (name == "slow") return Scenario::kSlow;
  if (name == "flipflop") return Scenario::kFlipFlop;
  if (name == "egress-loss") return Scenario::kEgressLoss;
  if (name == "oneway") return Scenario::kOneway;
  if (name == "mass-restart") return Scenario::kMassRestart;
  return absl::InvalidArgumentError(
      absl::StrCat("scenario: \"", name,
                   "\" is not join, crash, partition, slow, flipflop, "
                   "egress-loss, oneway or mass-restart"));
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
    case Scenario::kFlipFlop:
      return "flipflop";
    case Scenario::kEgressLoss:
      return "egress-loss";
    case Scenario::kOneway:
      return "oneway";
    case Scenario::kMassRestart:
      return "mass-restart";
  }
  return "?";
}

absl::StatusOr<SimRunResult> RunSimulation(const SimRunOptions& in) {
  SimRunResult result;
  SimRunOptions& o = result.options;
  o = in;
  o.progress = nullptr;
  o.timeline = nullptr;
  o.on_cluster = nullptr;
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
  if (o.start == StartMode::kConverged) {
    if (o.join_window > absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          "join window: members starting converged do not join");
    }
    if (o.scenario == Scenario::kJoin) {
      return absl::InvalidArgumentError(
          "start converged: the join scenario would have nothing to run; "
          "pick a fault scenario");
    }
  }
  Config config;
  if (auto s = Config::FromProfile(o.profile, &config); !s.ok()) return s;
  config.lifeguard = o.lifeguard;
  config.memberlist_compat = o.memberlist_compat;
  if (o.memberlist_compat && o.profile == "lan") {
    // memberlist's DefaultLANConfig numbers (the LAN profile departs from
    // them: Lifeguard's tuning, docs/membership.md).
    config.suspicion_mult = 4;
    config.suspicion_max_timeout_mult = 6;
    config.suspicion_confirmations = -1;
  }
  config.logger = o.logger;
  if (o.max_queued_alives >= 0) config.max_queued_alives = o.max_queued_alives;
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
    case Scenario::kFlipFlop:
      // Its default of at least 1 member would otherwise pick member 0.
      if (n < 2) return absl::InvalidArgumentError("flipflop: needs 2 members");
      if (o.flip_members < 0 || o.flip_members > n - 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "flip members: must be in [0, nodes - 1] = [0, ", n - 1, "]"));
      }
      if (o.flip_on <= absl::ZeroDuration() ||
          o.flip_off <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            "flip on and flip off: must be positive");
      }
      break;
    case Scenario::kEgressLoss:
      if (!(o.egress_share > 0 && o.egress_share < 1) ||
          !(o.egress_loss > 0 && o.egress_loss <= 1)) {
        return absl::InvalidArgumentError(
            "egress share: must be in (0, 1); egress loss: in (0, 1]");
      }
      if (n < 2) {
        return absl::InvalidArgumentError("egress-loss: needs 2 members");
      }
      break;
    case Scenario::kOneway:
      if (n < 3) return absl::InvalidArgumentError("oneway: needs 3 members");
      break;
    case Scenario::kMassRestart:
      if (o.restart_window < absl::ZeroDuration() ||
          o.restart_downtime < absl::ZeroDuration() ||
          o.restart_grace < absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            "restart window, downtime and grace must not be negative");
      }
      if (n < 2) {
        return absl::InvalidArgumentError("mass-restart: needs 2 members");
      }
      break;
  }
  if (o.flip_members == 0) o.flip_members = std::max(1, n / 100);

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
  // Every member's view of every other, and the sick-network figures.
  ViewTracker views(n);
  // Members the fault made faulty (not healthy) now.
  std::vector<bool> unhealthy(n, false);

  c.SetChangeHook([&](int observer, int target, MemberState state) {
    views.OnChange(observer, target, state, c.Now());
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
    // Deaths of faulty members (flip-flopped, lossy, restarted, ...), and
    // those a faulty member declares (it hears nobody), are expected.
    // (A partition's first group keeps the old rule: its deaths among
    // themselves are false positives.)
    if (unhealthy[target] ||
        (unhealthy[observer] && o.scenario != Scenario::kPartition)) {
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

  // --- Sick-network figures: fault windows, samples, traffic ---
  // A fault window of a faulty member, judged for its removal.
  struct RemovalWindow {
    int member;
    absl::Time from, to;
    bool removed_at_start;
  };
  std::vector<RemovalWindow> windows;
  absl::Time last_transition = absl::InfinitePast();
  auto transition = [&] { last_transition = c.Now(); };
  // Agreement and traffic are measured from here (the fault, or the
  // convergence without one).
  std::optional<absl::Time> measure_from;
  std::vector<uint64_t> sent_at_measure, received_at_measure;
  auto sent_bytes = [&](int i) {
    const sim::NodeStats& st = c.net().stats(static_cast<sim::NodeId>(i));
    return st.bytes_sent + st.reliable_bytes_sent;
  };
  auto received_bytes = [&](int i) {
    const sim::NodeStats& st = c.net().stats(static_cast<sim::NodeId>(i));
    return st.bytes_received + st.reliable_bytes_received;
  };
  auto start_measuring = [&] {
    measure_from = c.Now();
    sent_at_measure.resize(n);
    received_at_measure.resize(n);
    for (int i = 0; i < n; ++i) {
      sent_at_measure[i] = sent_bytes(i);
      received_at_measure[i] = received_bytes(i);
    }
  };
  // Member v becomes faulty: its views no longer count, its removals are
  // not false, and its removals and re-admissions are recorded.
  auto make_faulty = [&](int v) {
    unhealthy[v] = true;
    views.SetObserver(v, false, c.Now());
    views.SetHealthy(v, false);
    views.Track(v, c.Now());
  };
  auto open_window = [&](int v, absl::Time to) {
    windows.push_back({v, c.Now(), to, views.removed(v)});
  };
  auto span = [&](absl::Time from, absl::Time to) {
    result.fault_spans.push_back({Seconds(from - start), Seconds(to - start)});
  };
  constexpr absl::Duration kSampleEvery = absl::Seconds(1);
  constexpr absl::Duration kQuietAfterTransition = absl::Seconds(5);
  std::vector<uint64_t> sent_before(n, 0), received_before(n, 0);
  absl::Time previous_sample = start;
  std::function<void()> take_sample = [&] {
    SimSample smp;
    smp.t = Seconds(c.Now() - start);
    smp.observers = views.observers();
    if (smp.observers > 0) {
      const double h = smp.observers;
      smp.alive = double(views.alive_views()) / h;
      smp.suspect = double(views.suspect_views()) / h;
      smp.removed = double(views.removed_views()) / h;
    }
    smp.faulty_alive = views.tracked_alive_views();
    smp.faulty_suspect = views.tracked_suspect_views();
    smp.faulty_removed = views.tracked_removed_views();
    smp.disagreeing = views.disagreeing();
    if (measure_from && c.Now() > *measure_from &&
        c.Now() - last_transition >= kQuietAfterTransition) {
      smp.counted = true;
      ++result.agreement_samples;
      if (views.agree()) ++result.agreement_agreed;
    }
    const double dt = Seconds(c.Now() - previous_sample);
    if (dt > 0) {
      double sent = 0, received = 0, most = 0;
      for (int i = 0; i < n; ++i) {
        const uint64_t s_now = sent_bytes(i), r_now = received_bytes(i);
        const double s_i = double(s_now - sent_before[i]) / dt;
        sent += s_i;
        most = std::max(most, s_i);
        received += double(r_now - received_before[i]) / dt;
        sent_before[i] = s_now;
        received_before[i] = r_now;
      }
      smp.sent_mean = sent / n;
      smp.sent_max = most;
      smp.recv_mean = received / n;
    }
    previous_sample = c.Now();
    result.samples.push_back(smp);
    if (c.Now() + kSampleEvery <= end) {
      clock.Schedule(c.Now() + kSampleEvery, take_sample);
    }
  };
  clock.Schedule(start, take_sample);

  if (in.on_cluster) in.on_cluster(c);

  // --- Start ---
  absl::Time last_start = start;
  if (o.start == StartMode::kConverged) {
    c.StartConverged();
  } else if (o.join_window <= absl::ZeroDuration() || n == 1) {
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
    if (o.scenario == Scenario::kJoin) start_measuring();
  }

  // --- Fault ---
  // The scenarios' draws, and kMassRestart's state (at function scope: its
  // scheduled events may run after the switch below).
  std::mt19937_64 rng(o.seed ^ 0x5851f42d4c957f2dULL);
  int restarted = 0;
  std::function<void(int)> revive;
  if (result.converge && o.scenario != Scenario::kJoin &&
      c.Now() + o.settle < end) {
    run_until(never, c.Now() + o.settle);
    const absl::Time fault = c.Now();
    result.fault_at = fault - start;
    start_measuring();
    transition();
    switch (o.scenario) {
      case Scenario::kJoin:
        break;
      case Scenario::kCrash: {
        result.faulty = PickMembers(n, o.crash, o.seed);
        crash_seen.assign(size_t(n) * o.crash, false);
        for (int k = 0; k < o.crash; ++k) victim_slot[result.faulty[k]] = k;
        for (int v : result.faulty) {
          make_faulty(v);
          open_window(v, end);
          c.Crash(v);
        }
        span(fault, end);
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
        for (int i = 0; i < group_a; ++i) {
          result.faulty.push_back(i);
          make_faulty(i);
        }
        cross_seen.assign(size_t(n) * n, false);
        partition_on = partition_happened = true;
        c.net().Partition({first});
        absl::Time heal_at = end;
        if (o.partition_for > absl::ZeroDuration()) {
          heal_at = std::min(end, fault + o.partition_for);
        }
        for (int i = 0; i < group_a; ++i) open_window(i, heal_at);
        if (run_until([&] { return cross_seen_count == cross_pairs; },
                      heal_at)) {
          result.partition_detect = c.Now() - fault;
        }
        // Judged until the heal, which comes earlier when detection ends.
        for (RemovalWindow& w : windows) w.to = c.Now();
        span(fault, c.Now());
        if (c.Now() < end) {
          c.net().Heal();
          transition();
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
        span(fault, end);
        result.faulty = PickMembers(n, o.slow, o.seed);
        for (int v : result.faulty) {
          c.net().SetSlowness(
              static_cast<sim::NodeId>(v),
              {.timer_lag = o.slow_lag, .inbound_lag = o.slow_lag});
        }
        break;
      case Scenario::kFlipFlop: {
        result.faulty = PickMembers(n, o.flip_members, o.seed);
        for (int v : result.faulty) make_faulty(v);
        const absl::Duration cycle = o.flip_on + o.flip_off;
        for (absl::Time on = fault; on < end; on += cycle) {
          const absl::Time off = std::min(on + o.flip_on, end);
          span(on, off);
          clock.Schedule(on, [&, on, cycle] {
            for (int v : result.faulty) {
              c.net().DropIngress(static_cast<sim::NodeId>(v));
              open_window(v, std::min(on + cycle, end));
            }
            transition();
          });
          if (off >= end) continue;
          clock.Schedule(off, [&] {
            for (int v : result.faulty) {
              c.net().OpenIngress(static_cast<sim::NodeId>(v));
            }
            transition();
          });
        }
        break;
      }
      case Scenario::kEgressLoss: {
        const int k = std::clamp<int>(
            static_cast<int>(std::lround(o.egress_share * n)), 1, n - 1);
        result.faulty = PickMembers(n, k, o.seed);
        runtime::FaultRule lossy;
        lossy.drop = o.egress_loss;
        for (int v : result.faulty) {
          make_faulty(v);
          open_window(v, end);
          c.net()
              .faults(static_cast<sim::NodeId>(v))
              .Set(std::string(runtime::FaultPlan::kEveryDestination), lossy)
              .IgnoreError();  // valid: a probability in (0, 1]
        }
        span(fault, end);
        break;
      }
      case Scenario::kOneway: {
        const int x = PickMembers(n, 1, o.seed)[0];
        int y = x;
        while (y == x) y = static_cast<int>(rng() % n);
        result.faulty = {x};
        result.oneway_via = y;
        make_faulty(x);
        open_window(x, end);
        c.net().DropIngress(static_cast<sim::NodeId>(x),
                            {static_cast<sim::NodeId>(y)});
        span(fault, end);
        break;
      }
      case Scenario::kMassRestart: {
        // Each member once, in random order, at random moments.
        std::vector<int> order(n);
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<absl::Duration> at(n);
        const int64_t window_ns = absl::ToInt64Nanoseconds(o.restart_window);
        for (absl::Duration& d : at) {
          d = absl::Nanoseconds(
              window_ns > 0 ? static_cast<int64_t>(rng() % (window_ns + 1))
                            : 0);
        }
        std::sort(at.begin(), at.end());
        // A new process of i joins through a random live member.
        revive = [&](int i) {
          int seed_node = -1;
          for (int tries = 0; tries < 64 && seed_node < 0; ++tries) {
            const int j = static_cast<int>(rng() % n);
            if (j != i && !c.crashed(j)) seed_node = j;
          }
          for (int j = 0; j < n && seed_node < 0; ++j) {
            if (j != i && !c.crashed(j)) seed_node = j;
          }
          // The old process's counts, before its Memberlist is replaced.
          result.alive_notices_dropped +=
              c.node(i).stats().alive_notices_dropped;
          result.drop_catch_ups += c.node(i).stats().drop_catch_ups;
          // Nobody else is up: it starts alone (joining itself fails).
          c.Restart(i, seed_node < 0 ? i : seed_node);
          views.SetObserver(i, true, c.Now());
          transition();
          ++restarted;
          result.last_restart = c.Now() - start;
          result.restarts.emplace_back(i, c.Now() - start);
          clock.Schedule(c.Now() + o.restart_grace, [&, i] {
            if (c.crashed(i)) return;
            unhealthy[i] = false;
            views.SetHealthy(i, true);
          });
        };
        for (int k = 0; k < n; ++k) {
          clock.Schedule(fault + at[k], [&, i = order[k]] {
            unhealthy[i] = true;
            views.SetHealthy(i, false);
            views.SetObserver(i, false, c.Now());
            views.ResetRow(i, c.Now());
            c.Crash(i);
            transition();
            if (o.restart_downtime <= absl::ZeroDuration()) {
              revive(i);
            } else {
              clock.Schedule(c.Now() + o.restart_downtime,
                             [&, i] { revive(i); });
            }
          });
        }
        span(fault, fault + at.back() + o.restart_downtime);
        if (run_until([&] { return restarted == n; }, end) &&
            run_until([&] { return c.AllKnowAllFast(); }, end)) {
          result.restart_converge = c.Now() - (start + *result.last_restart);
        }
        break;
      }
    }
  }
  run_until(never, end);

  // --- Figures ---
  if (o.scenario == Scenario::kMassRestart && !result.restarts.empty()) {
    // The last restart of each member (each restarts once).
    std::vector<std::optional<absl::Time>> restarted_at(n);
    for (const auto& [i, at] : result.restarts) restarted_at[i] = start + at;
    bool held_at_end = false;
    absl::Duration slowest = absl::ZeroDuration();
    for (int i = 0; i < n; ++i) {
      if (!restarted_at[i]) continue;
      const absl::Time r = *restarted_at[i];
      if (views.dead_holders(i) > 0) {
        held_at_end = true;
        ++result.restart_seen_dead_after_grace;
        continue;
      }
      const absl::Duration held =
          std::max(absl::ZeroDuration(), views.dead_cleared(i) - r);
      slowest = std::max(slowest, held);
      if (held > o.restart_grace) ++result.restart_seen_dead_after_grace;
    }
    if (!held_at_end) result.restart_seen_dead_until = slowest;
  }
  // Sick-network figures (see the file comment of sim_runner.h).
  result.healthy_declared_dead = views.false_removal_targets();
  result.false_removal_pairs = views.false_removal_pairs();
  constexpr absl::Duration kJudgeAfter = absl::Seconds(30);
  std::optional<absl::Duration> slowest;
  for (const RemovalWindow& w : windows) {
    std::optional<absl::Duration> took;
    if (w.removed_at_start) {
      took = absl::ZeroDuration();
    } else {
      for (absl::Time r : views.removals(w.member)) {
        if (r >= w.from && r < w.to) {
          took = r - w.from;
          break;
        }
      }
    }
    if (!took && w.to >= end && w.to - w.from < kJudgeAfter) continue;
    ++result.removal_windows;
    if (!took) {
      ++result.removal_missed;
    } else if (!slowest || *took > *slowest) {
      slowest = took;
    }
  }
  if (result.removal_missed == 0) result.removed_after = slowest;
  result.readmissions = views.readmissions();
  if (!windows.empty()) {
    result.readmissions_per_cycle =
        double(result.readmissions) / double(windows.size());
  }
  if (result.agreement_samples > 0) {
    result.agreement_pct =
        100.0 * result.agreement_agreed / result.agreement_samples;
  }
  if (measure_from && c.Now() > *measure_from) {
    const double secs = Seconds(c.Now() - *measure_from);
    auto spread = [&](auto bytes_of, const std::vector<uint64_t>& before) {
      std::vector<double> rate(n);
      for (int i = 0; i < n; ++i) {
        rate[i] = double(bytes_of(i) - before[i]) / secs;
      }
      std::sort(rate.begin(), rate.end());
      TrafficSpread t;
      t.mean = std::accumulate(rate.begin(), rate.end(), 0.0) / n;
      const size_t p99 = static_cast<size_t>(std::ceil(0.99 * double(n))) - 1;
      t.p99 = rate[std::min(p99, rate.size() - 1)];
      t.max = rate.back();
      return t;
    };
    result.sent = spread(sent_bytes, sent_at_measure);
    result.received = spread(received_bytes, received_at_measure);
  }
  for (int i = 0; i < n; ++i) {
    const auto id = static_cast<sim::NodeId>(i);
    result.ingress_dropped += c.net().stats(id).ingress_dropped;
    if (o.scenario == Scenario::kEgressLoss && unhealthy[i]) {
      result.egress_dropped += c.net().faults(id).stats().dropped;
    }
    result.alive_notices_dropped += c.node(i).stats().alive_notices_dropped;
    result.drop_catch_ups += c.node(i).stats().drop_catch_ups;
  }

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

}  // namespace peerlab::membership::tool
