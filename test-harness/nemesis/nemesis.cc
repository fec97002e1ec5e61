#include "test-harness/nemesis/nemesis.h"

#include <algorithm>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace peerlab::harness::nemesis {
namespace {

bool IsNetworkWide(Fault f) {
  return f == Fault::kPartition || f == Fault::kOneway;
}

// Draws without std distributions (their output differs between standard
// libraries): a schedule replays exactly everywhere.
class Draw {
 public:
  explicit Draw(uint64_t seed) : rng_(seed) {}
  // Uniform in [0, n) (n > 0); the modulo bias is negligible for our n.
  uint64_t Below(uint64_t n) { return rng_() % n; }
  // Uniform in [lo, hi], whole milliseconds.
  absl::Duration Between(absl::Duration lo, absl::Duration hi) {
    int64_t a = absl::ToInt64Milliseconds(lo);
    int64_t b = absl::ToInt64Milliseconds(hi);
    return absl::Milliseconds(a + static_cast<int64_t>(Below(b - a + 1)));
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kKill:
      return "kill";
    case Fault::kStop:
      return "stop";
    case Fault::kPartition:
      return "partition";
    case Fault::kLoss:
      return "loss";
    case Fault::kDelay:
      return "delay";
    case Fault::kOneway:
      return "oneway";
  }
  return "?";
}

std::string Action::ToString() const {
  using K = Kind;
  switch (kind) {
    case K::kKill:
      return absl::StrCat("kill ", absl::StrJoin(peers, ","));
    case K::kStart:
      return absl::StrCat("start ", absl::StrJoin(peers, ","));
    case K::kCommand:
      return absl::StrCat(absl::StrJoin(peers, ","), " ",
                          absl::StrJoin(args, " "));
    case K::kStop:
      return absl::StrCat("stop ", absl::StrJoin(peers, ","));
    case K::kCont:
      return absl::StrCat("cont ", absl::StrJoin(peers, ","));
    case K::kPartition: {
      std::vector<std::string> sides;
      for (const auto& g : groups) sides.push_back(absl::StrJoin(g, ","));
      return absl::StrCat("partition ", absl::StrJoin(sides, " | "));
    }
    case K::kOneway:
      return absl::StrCat("oneway ", peers.size() > 0 ? peers[0] : "", " -> ",
                          peers.size() > 1 ? peers[1] : "");
    case K::kHeal:
      return "heal";
    case K::kNetem:
      return absl::StrCat("netem ", absl::StrJoin(peers, ","), " ",
                          absl::StrJoin(args, " "));
  }
  return "?";
}

uint64_t SeedFor(uint64_t run_seed, int line) {
  // splitmix64 of the mix.
  uint64_t z = run_seed ^ (static_cast<uint64_t>(line) * 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

absl::StatusOr<std::vector<Action>> Schedule(
    const Plan& spec, const std::vector<std::string>& targets, uint64_t seed) {
  const int n = static_cast<int>(targets.size());
  if (n == 0) return absl::InvalidArgumentError("nemesis: no peers to fault");
  if (spec.faults.empty()) {
    return absl::InvalidArgumentError("nemesis: no fault kinds");
  }
  int max_faulted = spec.max_faulted;
  if (max_faulted == 0) {
    max_faulted = (n - 1) / 2;
    if (max_faulted < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nemesis: ", n, n == 1 ? " peer" : " peers",
          " have no strict minority to fault (3 or more, or ask with max N)"));
    }
  } else if (spec.max_faulted > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("nemesis: max ", spec.max_faulted, " is more than the ", n,
                     " peers it may fault"));
  }
  for (Fault f : spec.faults) {
    if (IsNetworkWide(f) && n < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("nemesis: ", FaultName(f), " needs 2 peers"));
    }
  }
  // Whole milliseconds, at least 10 ms between draws.
  Plan plan = spec;
  plan.min_interval = std::max(plan.min_interval, absl::Milliseconds(10));
  plan.max_interval = std::max(plan.max_interval, plan.min_interval);
  struct Active {
    absl::Duration until;
    std::vector<int> victims;
    bool network_wide = false;
  };
  Draw draw(seed);
  std::vector<Action> actions;
  std::vector<Active> active;
  int next_id = 0;
  for (absl::Duration t = draw.Between(plan.min_interval, plan.max_interval);
       t < spec.duration;
       t += draw.Between(plan.min_interval, plan.max_interval)) {
    // Faults healed by now free their peers.
    active.erase(std::remove_if(active.begin(), active.end(),
                                [&](const Active& a) { return a.until <= t; }),
                 active.end());
    std::set<int> faulted;
    bool network_busy = false;
    for (const Active& a : active) {
      faulted.insert(a.victims.begin(), a.victims.end());
      network_busy = network_busy || a.network_wide;
    }
    const int room = max_faulted - static_cast<int>(faulted.size());
    std::vector<int> free;
    for (int i = 0; i < n; ++i) {
      if (!faulted.count(i)) free.push_back(i);
    }
    // The kind is drawn even when nothing fits, so one fault that cannot
    // happen does not shift every later draw.
    const Fault kind = spec.faults[draw.Below(spec.faults.size())];
    const absl::Duration length =
        draw.Between(plan.min_interval, plan.max_interval);
    const uint64_t pick = draw.Below(uint64_t{1} << 32);
    const uint64_t extra = draw.Below(uint64_t{1} << 32);
    if (room <= 0 || free.empty() || (IsNetworkWide(kind) && network_busy)) {
      continue;
    }
    if (actions.size() + 4 > kMaxActions) break;
    const absl::Duration until = std::min(t + length, spec.duration);
    const int id = ++next_id;
    const std::string& victim = targets[free[pick % free.size()]];
    Active a{.until = until, .victims = {free[pick % free.size()]}};
    auto add = [&](absl::Duration at, Action::Kind k,
                   std::vector<std::string> peers, bool heal) {
      Action& x = actions.emplace_back();
      x.at = at;
      x.kind = k;
      x.affected = peers;
      x.peers = std::move(peers);
      x.heal = heal;
      x.fault_id = id;
      return &x;
    };
    using K = Action::Kind;
    switch (kind) {
      case Fault::kKill:
        add(t, K::kKill, {victim}, false);
        add(until, K::kStart, {victim}, true);
        add(until, K::kCommand, {victim}, true)->args = {"init"};
        break;
      case Fault::kStop:
        add(t, K::kStop, {victim}, false);
        add(until, K::kCont, {victim}, true);
        break;
      case Fault::kLoss:
        add(t, K::kNetem, {victim}, false)->args = {
            "loss", absl::StrCat(10 + 10 * (extra % 5), "%")};
        add(until, K::kNetem, {victim}, true)->args = {"clear"};
        break;
      case Fault::kDelay: {
        const int ms = 20 + static_cast<int>(extra % 10) * 20;
        add(t, K::kNetem, {victim}, false)->args = {
            "delay", absl::StrCat(ms, "ms"), absl::StrCat(ms / 4, "ms")};
        add(until, K::kNetem, {victim}, true)->args = {"clear"};
        break;
      }
      case Fault::kOneway: {
        // victim -> another target: the victim's traffic to it is dropped.
        const int v = free[pick % free.size()];
        int other = static_cast<int>(extra % (n - 1));
        if (other >= v) ++other;
        Action* f = add(t, K::kOneway, {victim, targets[other]}, false);
        f->affected = {victim};
        add(until, K::kHeal, {}, true)->affected = {victim};
        a.network_wide = true;
        break;
      }
      case Fault::kPartition: {
        // A minority side of 1..room free peers, the rest on the other side.
        std::vector<int> order = free;
        uint64_t s = pick | (extra << 32);
        for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates
          std::swap(order[i - 1], order[s % i]);
          s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        }
        const int size =
            1 + static_cast<int>(extra % std::min<size_t>(room, free.size()));
        std::set<int> side(order.begin(), order.begin() + size);
        std::vector<std::string> minority, majority;
        for (int i = 0; i < n; ++i) {
          (side.count(i) ? minority : majority).push_back(targets[i]);
        }
        if (majority.empty()) {
          --next_id;
          continue;
        }
        Action* f = add(t, K::kPartition, {}, false);
        f->groups = {minority, majority};
        f->affected = minority;
        add(until, K::kHeal, {}, true)->affected = minority;
        a.victims.assign(side.begin(), side.end());
        a.network_wide = true;
        break;
      }
    }
    active.push_back(std::move(a));
  }
  std::stable_sort(
      actions.begin(), actions.end(),
      [](const Action& x, const Action& y) { return x.at < y.at; });
  return actions;
}

}  // namespace peerlab::harness::nemesis
