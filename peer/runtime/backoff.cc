#include "peer/runtime/backoff.h"

#include <algorithm>

#include "absl/random/distributions.h"

namespace peerlab::runtime {

absl::Duration Backoff(int attempt, const BackoffPolicy& policy, double u) {
  const absl::Duration initial = std::max(policy.initial, absl::ZeroDuration());
  const absl::Duration max = std::max(policy.max, initial);
  const double multiplier = std::max(policy.multiplier, 1.0);
  absl::Duration delay = initial;
  // Stops at the cap, so a large attempt neither loops long nor overflows.
  for (int i = 1; i < attempt && delay < max; ++i) delay = delay * multiplier;
  delay = std::min(delay, max);
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  if (jitter > 0) {
    delay = delay * (1.0 - jitter + 2.0 * jitter * std::clamp(u, 0.0, 1.0));
  }
  return delay;
}

absl::Duration Backoff(int attempt, const BackoffPolicy& policy,
                       absl::BitGenRef rng) {
  const double u = policy.jitter > 0 ? absl::Uniform(rng, 0.0, 1.0) : 0.5;
  return Backoff(attempt, policy, u);
}

}  // namespace peerlab::runtime
