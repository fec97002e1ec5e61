#include "peer/cluster/lamport_clock.h"

#include "absl/strings/str_cat.h"
#include "peer/membership/protocol_math.h"

namespace peerlab::cluster {

absl::StatusOr<uint64_t> LamportClock::Increment() {
  if (time_ >= kMaxLamport) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the Lamport clock is at its cap (", kMaxLamport,
                     "): nothing more can be stamped"));
  }
  return ++time_;
}

bool LamportClock::Acceptable(uint64_t t) const {
  return t <= kMaxLamport && membership::WithinLamportWindow(time_, t, window_);
}

LamportClock::Witness LamportClock::Observe(uint64_t t) {
  if (t > kMaxLamport) {
    ++refused_;
    return Witness::kRefused;
  }
  if (!membership::WithinLamportWindow(time_, t, window_)) {
    ++jumps_ignored_;
    return Witness::kIgnored;
  }
  if (t <= time_) return Witness::kBehind;
  time_ = t;
  return Witness::kAdvanced;
}

}  // namespace peerlab::cluster
