// Awareness: Lifeguard's local health score (memberlist awareness.go).
//
// The score grows when this node misses acks or has to refute suspicions
// about itself, i.e. when it is likely the slow one, and shrinks on
// successful probes. Probe timeouts and intervals are multiplied by
// (score + 1), so a struggling node waits longer before accusing others.
#ifndef PEERLAB_PEER_MEMBERSHIP_AWARENESS_H_
#define PEERLAB_PEER_MEMBERSHIP_AWARENESS_H_

#include "absl/time/time.h"

namespace peerlab::membership {

// Not thread-safe: used from the node's scheduler tasks.
class Awareness {
 public:
  // Scores stay in [0, max - 1]. `enabled` false keeps the score at 0.
  explicit Awareness(int max, bool enabled = true)
      : max_(max), enabled_(enabled) {}

  // Adds `delta` (may be negative), clamped.
  void ApplyDelta(int delta);
  int score() const { return score_; }
  // timeout * (score + 1).
  absl::Duration Scale(absl::Duration timeout) const {
    return timeout * (score_ + 1);
  }

 private:
  const int max_;
  const bool enabled_;
  int score_ = 0;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_AWARENESS_H_
