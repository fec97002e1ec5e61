#include "peer/membership/tool/view_tracker.h"

namespace peerlab::membership::tool {

bool RemovedOrQuarantined(MemberState state) {
  // No default: a new state must be classified here (-Wswitch).
  switch (state) {
    case MemberState::kAlive:
    case MemberState::kSuspect:
      return false;
    case MemberState::kDead:
    case MemberState::kLeft:
      return true;
  }
  return true;
}

bool FalseRemoval(MemberState state) {
  return state != MemberState::kLeft && RemovedOrQuarantined(state);
}

ViewTracker::ViewTracker(int n)
    : n_(n),
      views_(size_t(n) * n, kUnknown),
      observer_(n, true),
      healthy_(n, true),
      tracked_(n, false),
      falsely_removed_(n, false),
      live_(n, 1),
      dead_holders_(n, 0),
      dead_cleared_(n, absl::InfinitePast()),
      observers_(n),
      removals_(n),
      readmissions_of_(n, 0) {
  for (int i = 0; i < n; ++i) at(i, i) = Code(MemberState::kAlive);
  views_by_state_[0] = n;
  RecountDisagreeing();
}

bool ViewTracker::Live(uint8_t code) {
  code &= kStateMask;
  return code != kUnknown &&
         !RemovedOrQuarantined(static_cast<MemberState>(code - 1));
}

void ViewTracker::Sum(int t, uint8_t code, int sign) {
  code &= kStateMask;
  if (code == kUnknown) return;
  const auto state = static_cast<MemberState>(code - 1);
  const int k = state == MemberState::kAlive     ? 0
                : state == MemberState::kSuspect ? 1
                : RemovedOrQuarantined(state)    ? 2
                                                 : -1;
  if (k < 0) return;
  views_by_state_[k] += sign;
  if (tracked_[t]) tracked_by_state_[k] += sign;
}

void ViewTracker::Hold(int t, uint8_t code, int sign, absl::Time now) {
  code &= kStateMask;
  if (code == kUnknown || !FalseRemoval(static_cast<MemberState>(code - 1))) {
    return;
  }
  dead_holders_[t] += sign;
  if (sign < 0 && dead_holders_[t] == 0) dead_cleared_[t] = now;
}

void ViewTracker::RecordRemoval(int t, absl::Time now) {
  if (removals_[t].size() < kMaxRemovals) {
    removals_[t].push_back(now);
  } else {
    ++removals_dropped_;
  }
}

void ViewTracker::CountFalse(int o, int t) {
  uint8_t& v = at(o, t);
  if ((v & kCountedBit) == 0) {
    v |= kCountedBit;
    ++false_pairs_;
  }
  if (!falsely_removed_[t]) {
    falsely_removed_[t] = true;
    ++false_targets_;
  }
}

void ViewTracker::RecountDisagreeing() {
  disagreeing_ = 0;
  for (int t = 0; t < n_; ++t) disagreeing_ += Disagrees(t) ? 1 : 0;
}

void ViewTracker::OnChange(int o, int t, MemberState state, absl::Time now) {
  if (o == t || o < 0 || t < 0 || o >= n_ || t >= n_) return;
  uint8_t& v = at(o, t);
  const uint8_t before = v & kStateMask;
  const uint8_t after = Code(state);
  if (before != after) {
    v = uint8_t((v & kCountedBit) | after);
    if (observer_[o]) {
      Sum(t, before, -1);
      Sum(t, after, +1);
      Hold(t, before, -1, now);
      Hold(t, after, +1, now);
      const bool was_live = Live(before), is_live = Live(after);
      if (was_live != is_live) {
        const bool was_disagreeing = Disagrees(t);
        const int old_live = live_[t];
        live_[t] += is_live ? 1 : -1;
        disagreeing_ += int(Disagrees(t)) - int(was_disagreeing);
        if (tracked_[t]) {
          if (old_live > 0 && live_[t] == 0) {
            RecordRemoval(t, now);
          } else if (old_live == 0 && live_[t] > 0) {
            ++readmissions_;
            ++readmissions_of_[t];
          }
        }
      }
    }
  }
  if (observer_[o] && healthy_[t] && FalseRemoval(state)) {
    ++false_events_;
    CountFalse(o, t);
  }
}

void ViewTracker::ResetRow(int o, absl::Time now) {
  for (int t = 0; t < n_; ++t) {
    if (t == o) continue;
    uint8_t& v = at(o, t);
    if ((v & kStateMask) == kUnknown) continue;
    if (observer_[o]) {
      Sum(t, v, -1);
      Hold(t, v, -1, now);
      if (Live(v) && --live_[t] == 0 && tracked_[t]) RecordRemoval(t, now);
    }
    v = uint8_t((v & kCountedBit) | kUnknown);
  }
  RecountDisagreeing();
}

void ViewTracker::SetObserver(int o, bool counts, absl::Time now) {
  if (observer_[o] == counts) return;
  const int sign = counts ? 1 : -1;
  for (int t = 0; t < n_; ++t) {
    const uint8_t v = at(o, t);
    Sum(t, v, sign);
    if (t != o) Hold(t, v, sign, now);
    if (!Live(v)) continue;
    live_[t] += sign;
    if (sign < 0 && live_[t] == 0 && tracked_[t]) RecordRemoval(t, now);
  }
  observer_[o] = counts;
  observers_ += sign;
  RecountDisagreeing();
}

void ViewTracker::SetHealthy(int t, bool healthy) {
  if (healthy_[t] == healthy) return;
  healthy_[t] = healthy;
  if (!healthy) return;
  for (int o = 0; o < n_; ++o) {
    if (o == t || !observer_[o]) continue;
    const uint8_t code = at(o, t) & kStateMask;
    if (code != kUnknown && FalseRemoval(static_cast<MemberState>(code - 1))) {
      CountFalse(o, t);
    }
  }
}

void ViewTracker::Track(int t, absl::Time) {
  if (tracked_[t]) return;
  for (int o = 0; o < n_; ++o) {
    if (o != t && observer_[o]) Sum(t, at(o, t), -1);
  }
  tracked_[t] = true;
  for (int o = 0; o < n_; ++o) {
    if (o != t && observer_[o]) Sum(t, at(o, t), +1);
  }
}

}  // namespace peerlab::membership::tool
