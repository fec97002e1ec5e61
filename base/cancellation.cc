#include "base/cancellation.h"

#include <utility>

namespace peerlab {

void Cancellation::Cancel(std::string reason) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return;
  cancelled_ = true;
  reason_ = std::move(reason);
}

bool Cancellation::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

std::string Cancellation::reason() const {
  absl::MutexLock lock(&mu_);
  return reason_;
}

bool Cancellation::WaitFor(absl::Duration timeout) const {
  return WaitUntil(absl::Now() + timeout);
}

bool Cancellation::WaitUntil(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&cancelled_), deadline);
  return cancelled_;
}

}  // namespace peerlab
