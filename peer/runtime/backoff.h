// Backoff: the delay before a retry, as a pure function of the attempt.
//
//   delay(attempt) = min(initial * multiplier^(attempt - 1), max)
//                    * (1 - jitter + 2 * jitter * u)
//
// attempt 1 is the delay after the first failure; `u` in [0, 1] is the
// random draw (0.5: no jitter), so the jittered delay lies in
// [capped * (1 - jitter), capped * (1 + jitter)]. One function for every
// retry loop of the peer (bootstrap client, chat streams, harness link,
// bootstrap re-registration), so their delays are tested in one table.
#ifndef PEERLAB_PEER_RUNTIME_BACKOFF_H_
#define PEERLAB_PEER_RUNTIME_BACKOFF_H_

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"

namespace peerlab::runtime {

struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
  double multiplier = 2.0;  // values < 1 are taken as 1
  double jitter = 0.0;      // fraction in [0, 1]; clamped
};

// The delay before retry number `attempt` (<= 1: the first). Pure;
// thread-safe. `u` is clamped to [0, 1].
absl::Duration Backoff(int attempt, const BackoffPolicy& policy, double u);

// As above, drawing `u` uniformly from `rng` (not drawn when jitter is 0).
// Thread-safe if `rng` is (one generator per thread).
absl::Duration Backoff(int attempt, const BackoffPolicy& policy,
                       absl::BitGenRef rng);

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_BACKOFF_H_
