#include "peer/runtime/fault_plan.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace peerlab::runtime {
namespace {

template <typename T>
void Take(std::optional<T>& into, const std::optional<T>& from) {
  if (from.has_value()) into = from;
}

template <typename T>
void Fallback(std::optional<T>& into, const std::optional<T>& from) {
  if (!into.has_value()) into = from;
}

std::string Percent(double p) {
  return absl::StrCat(std::round(p * 10000.0) / 100.0, "%");
}

bool BadProbability(const std::optional<double>& p) {
  return p.has_value() && !(*p >= 0.0 && *p <= 1.0);  // also NaN
}

bool Negative(const std::optional<absl::Duration>& d) {
  return d.has_value() && *d < absl::ZeroDuration();
}

}  // namespace

void FaultRule::MergeFrom(const FaultRule& o) {
  Take(drop, o.drop);
  Take(delay, o.delay);
  Take(jitter, o.jitter);
  Take(block, o.block);
  Take(duplicate, o.duplicate);
  Take(reorder, o.reorder);
  Take(reorder_hold, o.reorder_hold);
  Take(call, o.call);
}

bool FaultRule::empty() const {
  return !drop && !delay && !jitter && !block && !duplicate && !reorder &&
         !reorder_hold && !call;
}

std::string FaultRule::ToString() const {
  std::vector<std::string> parts;
  if (block.value_or(false)) parts.push_back("block");
  if (drop) parts.push_back(absl::StrCat("drop ", Percent(*drop)));
  if (delay || jitter) {
    std::string d = absl::StrCat(
        "delay ", absl::FormatDuration(delay.value_or(absl::ZeroDuration())));
    if (jitter && *jitter > absl::ZeroDuration()) {
      absl::StrAppend(&d, " ±", absl::FormatDuration(*jitter));
    }
    parts.push_back(std::move(d));
  }
  if (duplicate) parts.push_back(absl::StrCat("dup ", Percent(*duplicate)));
  if (reorder) {
    std::string r = absl::StrCat("reorder ", Percent(*reorder));
    if (reorder_hold) {
      absl::StrAppend(&r, " hold ", absl::FormatDuration(*reorder_hold));
    }
    parts.push_back(std::move(r));
  }
  if (call && *call != CallFault::kNone) {
    parts.push_back(*call == CallFault::kFail ? "calls fail" : "calls hang");
  }
  if (parts.empty()) return "none";
  return absl::StrJoin(parts, ", ");
}

FaultPlan::FaultPlan(Options options)
    : options_(std::move(options)), rng_(options_.seed) {}

absl::Status FaultPlan::Set(const std::string& destination,
                            const FaultRule& rule) {
  if (destination.empty()) {
    return absl::InvalidArgumentError("a fault rule needs a destination");
  }
  if (BadProbability(rule.drop) || BadProbability(rule.duplicate) ||
      BadProbability(rule.reorder)) {
    return absl::InvalidArgumentError(
        "a fault probability must be between 0% and 100%");
  }
  if (Negative(rule.delay) || Negative(rule.jitter) ||
      Negative(rule.reorder_hold)) {
    return absl::InvalidArgumentError("a fault delay cannot be negative");
  }
  absl::ReleasableMutexLock lock(&mu_);
  auto it = rules_.find(destination);
  if (it == rules_.end()) {
    if (rules_.size() >= options_.max_rules) {
      const uint64_t refused = ++stats_.rules_refused;
      lock.Release();
      absl::Status s = absl::ResourceExhaustedError(
          absl::StrCat("at most ", options_.max_rules,
                       " destinations may have fault rules (faults clear "
                       "some first)"));
      Report(refused, std::string(s.message()));
      return s;
    }
    it = rules_.emplace(destination, FaultRule{}).first;
  }
  it->second.MergeFrom(rule);
  if (it->second.empty()) rules_.erase(it);
  UpdateEmpty();
  return absl::OkStatus();
}

bool FaultPlan::Clear(const std::string& destination) {
  absl::MutexLock lock(&mu_);
  const bool had = rules_.erase(destination) > 0;
  UpdateEmpty();
  return had;
}

void FaultPlan::ClearAll() {
  absl::MutexLock lock(&mu_);
  rules_.clear();
  UpdateEmpty();
}

void FaultPlan::ClearBlocks() {
  absl::MutexLock lock(&mu_);
  for (auto it = rules_.begin(); it != rules_.end();) {
    it->second.block.reset();
    if (it->second.empty()) {
      it = rules_.erase(it);
    } else {
      ++it;
    }
  }
  UpdateEmpty();
}

void FaultPlan::UpdateEmpty() {
  empty_.store(rules_.empty(), std::memory_order_relaxed);
}

std::map<std::string, FaultRule> FaultPlan::Rules() const {
  absl::MutexLock lock(&mu_);
  return std::map<std::string, FaultRule>(rules_.begin(), rules_.end());
}

FaultRule FaultPlan::Effective(
    std::initializer_list<absl::string_view> names) const {
  if (empty()) return FaultRule{};
  absl::MutexLock lock(&mu_);
  return EffectiveLocked(names);
}

FaultRule FaultPlan::EffectiveLocked(
    std::initializer_list<absl::string_view> names) const {
  FaultRule out;
  auto fill_from = [&out](const FaultRule& r) {
    Fallback(out.drop, r.drop);
    Fallback(out.delay, r.delay);
    Fallback(out.jitter, r.jitter);
    Fallback(out.block, r.block);
    Fallback(out.duplicate, r.duplicate);
    Fallback(out.reorder, r.reorder);
    Fallback(out.reorder_hold, r.reorder_hold);
    Fallback(out.call, r.call);
  };
  for (absl::string_view name : names) {
    if (name.empty()) continue;
    auto it = rules_.find(name);
    if (it != rules_.end()) fill_from(it->second);
  }
  auto every = rules_.find(kEveryDestination);
  if (every != rules_.end()) fill_from(every->second);
  return out;
}

bool FaultPlan::Blocks(absl::string_view destination) const {
  if (empty()) return false;
  absl::MutexLock lock(&mu_);
  return EffectiveLocked({destination}).block.value_or(false);
}

double FaultPlan::Uniform() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

absl::Duration FaultPlan::Jitter(absl::Duration max) {
  if (max <= absl::ZeroDuration()) return absl::ZeroDuration();
  const uint64_t max_ns = static_cast<uint64_t>(absl::ToInt64Nanoseconds(max));
  return absl::Nanoseconds(static_cast<int64_t>(rng_() % (max_ns + 1)));
}

PacketFate FaultPlan::DecidePacket(absl::string_view destination,
                                   absl::Time now) {
  PacketFate fate;
  if (empty()) {
    fate.copies.push_back(absl::ZeroDuration());
    return fate;
  }
  absl::ReleasableMutexLock lock(&mu_);
  ++stats_.packets;
  const FaultRule rule = EffectiveLocked({destination});
  if (rule.block.value_or(false)) {
    ++stats_.blocked;
    fate.outcome = PacketFate::Outcome::kBlocked;
    return fate;
  }
  const double drop = rule.drop.value_or(0.0);
  if (drop > 0.0 && Uniform() < drop) {
    ++stats_.dropped;
    fate.outcome = PacketFate::Outcome::kDropped;
    return fate;
  }
  const double duplicate = rule.duplicate.value_or(0.0);
  const int copies = duplicate > 0.0 && Uniform() < duplicate ? 2 : 1;
  const absl::Duration delay =
      std::max(rule.delay.value_or(absl::ZeroDuration()), absl::ZeroDuration());
  const absl::Duration jitter = rule.jitter.value_or(absl::ZeroDuration());
  const double reorder = rule.reorder.value_or(0.0);
  bool reordered = false;
  for (int c = 0; c < copies; ++c) {
    absl::Duration d = delay + Jitter(jitter);
    if (reorder > 0.0 && Uniform() < reorder) {
      d += rule.reorder_hold.value_or(options_.default_reorder_hold);
      reordered = true;
    }
    fate.copies.push_back(d);
  }
  size_t held = 0;
  for (absl::Duration d : fate.copies) held += d > absl::ZeroDuration();
  if (held > 0) {
    // Copies whose time has come have been sent by now.
    held_.erase(held_.begin(), held_.upper_bound(now));
    if (held_.size() + held > options_.max_delayed) {
      const uint64_t full = ++stats_.queue_full;
      lock.Release();
      fate.outcome = PacketFate::Outcome::kQueueFull;
      fate.copies.clear();
      Report(full, absl::StrCat("fault plan: ", options_.max_delayed,
                                " datagrams held back already; dropped ", full,
                                " so far"));
      return fate;
    }
    for (absl::Duration d : fate.copies) {
      if (d > absl::ZeroDuration()) held_.insert(now + d);
    }
    stats_.delayed += held;
  }
  if (copies > 1) ++stats_.duplicated;
  if (reordered) ++stats_.reordered;
  return fate;
}

CallFate FaultPlan::DecideCall(std::initializer_list<absl::string_view> names) {
  CallFate fate;
  if (empty()) return fate;
  absl::MutexLock lock(&mu_);
  ++stats_.calls;
  const FaultRule rule = EffectiveLocked(names);
  if (rule.block.value_or(false)) {
    ++stats_.calls_failed;
    fate.fault = CallFault::kFail;
    fate.blocked = true;
    return fate;
  }
  fate.fault = rule.call.value_or(CallFault::kNone);
  if (fate.fault == CallFault::kFail) {
    ++stats_.calls_failed;
    return fate;
  }
  if (fate.fault == CallFault::kHang) {
    ++stats_.calls_hung;
    return fate;
  }
  fate.delay = std::max(rule.delay.value_or(absl::ZeroDuration()),
                        absl::ZeroDuration()) +
               Jitter(rule.jitter.value_or(absl::ZeroDuration()));
  if (fate.delay > absl::ZeroDuration()) ++stats_.calls_delayed;
  return fate;
}

void FaultPlan::Report(uint64_t count, const std::string& message) const {
  // The first time, then at 2, 4, 8...
  if (options_.on_limit && (count & (count - 1)) == 0) {
    options_.on_limit(message);
  }
}

FaultStats FaultPlan::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace peerlab::runtime
