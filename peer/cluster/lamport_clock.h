// LamportClock: the logical clock of the cluster layer (Serf's
// LamportClock), bounded as the key/value store's: it never wraps. A time
// from the network above kMaxLamport is refused; one more than `window`
// above the local time is ignored (one forged time cannot use the clock
// up; legitimate jumps after a partition or for a late joiner are far
// smaller than the window, kLamportWindow = 2^32); Increment at
// kMaxLamport is refused. Every refusal is counted.
//
// Pure (no clock, no I/O). Not thread-safe: owned by one component, used
// on the node's scheduler.
#ifndef PEERLAB_PEER_CLUSTER_LAMPORT_CLOCK_H_
#define PEERLAB_PEER_CLUSTER_LAMPORT_CLOCK_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "peer/membership/config.h"
#include "peer/membership/kv_store.h"

namespace peerlab::cluster {

using membership::kLamportWindow;
using membership::kMaxLamport;

class LamportClock {
 public:
  explicit LamportClock(uint64_t window = kLamportWindow) : window_(window) {}

  // The current time (the last one handed out or witnessed).
  uint64_t Time() const { return time_; }

  // Moves the clock on and returns the new time (Serf's Increment), or
  // ResourceExhausted when the clock is at kMaxLamport (unchanged).
  absl::StatusOr<uint64_t> Increment();

  enum class Witness {
    kAdvanced,  // the clock moved up to `t`
    kBehind,    // `t` is at or below the clock: nothing to do
    kIgnored,   // more than the window above the clock (counted)
    kRefused,   // above kMaxLamport (counted)
  };
  // Takes in a time seen from another member: afterwards Time() >= t
  // unless the time was ignored or refused. (Serf sets the clock to t + 1;
  // here the next Increment does that, so the clock only holds times
  // somebody used.)
  Witness Observe(uint64_t t);
  // Whether Observe(t) would accept `t` (not ignored, not refused).
  bool Acceptable(uint64_t t) const;

  uint64_t jumps_ignored() const { return jumps_ignored_; }
  uint64_t refused() const { return refused_; }
  uint64_t window() const { return window_; }

 private:
  uint64_t window_;
  uint64_t time_ = 0;
  uint64_t jumps_ignored_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace peerlab::cluster

#endif  // PEERLAB_PEER_CLUSTER_LAMPORT_CLOCK_H_
