#include "peer/membership/protocol_math.h"

#include <algorithm>
#include <cmath>

namespace peerlab::membership {

absl::Duration SuspicionTimeout(int suspicion_mult, int n,
                                absl::Duration interval) {
  double node_scale = std::max(1.0, std::log10(std::max(1.0, double(n))));
  // memberlist: Duration(mult) * Duration(nodeScale*1000) * interval / 1000
  int64_t scale_ms = static_cast<int64_t>(node_scale * 1000);
  return suspicion_mult * scale_ms * interval / 1000;
}

int ExpectedConfirmations(int configured, int suspicion_mult, int n,
                          bool lifeguard) {
  if (!lifeguard) return 0;
  const int k = configured >= 0 ? configured : suspicion_mult - 2;
  return n - 2 < k ? 0 : std::max(0, k);
}

int RetransmitLimit(int retransmit_mult, int n) {
  double scale = std::ceil(std::log10(double(n) + 1.0));
  return retransmit_mult * static_cast<int>(scale);
}

int UserBroadcastFloor(int n) {
  return n <= 1 || n >= kUserBroadcastFloorBelow ? 0 : 3 * (n - 1);
}

absl::Duration RemainingSuspicionTime(int confirmations, int expected,
                                      absl::Duration elapsed,
                                      absl::Duration min, absl::Duration max) {
  if (expected < 1) return min - elapsed;  // nobody to wait for
  double frac =
      std::log(double(confirmations) + 1.0) / std::log(double(expected) + 1.0);
  double raw = absl::ToDoubleSeconds(max) -
               frac * (absl::ToDoubleSeconds(max) - absl::ToDoubleSeconds(min));
  absl::Duration timeout = absl::Milliseconds(std::floor(1000.0 * raw));
  if (timeout < min) timeout = min;
  return timeout - elapsed;
}

absl::Duration PushPullScale(absl::Duration interval, int n) {
  constexpr int kThreshold = 32;
  if (n <= kThreshold) return interval;
  double multiplier =
      std::ceil(std::log2(double(n)) - std::log2(double(kThreshold))) + 1.0;
  return interval * multiplier;
}

}  // namespace peerlab::membership
