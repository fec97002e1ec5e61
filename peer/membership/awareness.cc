#include "peer/membership/awareness.h"

#include <algorithm>

namespace peerlab::membership {

void Awareness::ApplyDelta(int delta) {
  if (!enabled_) return;
  score_ = std::clamp(score_ + delta, 0, max_ - 1);
}

}  // namespace peerlab::membership
