#include "test-harness/coordinator/fault_broker.h"

#include "absl/strings/str_cat.h"
#include "test-harness/coordinator/run_text.h"

namespace peerlab::harness {

void FaultBroker::AddWatcher() {
  std::lock_guard<std::mutex> lock(mu_);
  ++watchers_;
  ever_watched_ = true;
  cv_.notify_all();
}

bool FaultBroker::AwaitFirstWatcher(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  clock_->WaitUntil(cv_, lock, clock_->Now() + timeout, [&] {
    return ever_watched_ || cancel_reason_.has_value();
  });
  return watchers_ > 0;
}

void FaultBroker::RemoveWatcher() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--watchers_ > 0) return;
  for (auto& [id, f] : pending_) {
    if (!f.done) {
      f = {.done = true,
           .ok = false,
           .message = "the client carrying out faults stopped watching"};
    }
  }
  cv_.notify_all();
}

absl::StatusOr<uint64_t> FaultBroker::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  if (watchers_ <= 0) {
    return absl::FailedPreconditionError(
        "no client is watching this run to carry out the fault");
  }
  const uint64_t id = ++next_id_;
  pending_[id] = {};
  return id;
}

absl::Status FaultBroker::Resolve(uint64_t id, bool ok,
                                  const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.done) {
    return absl::NotFoundError(
        absl::StrCat("no fault ", id, " waiting for an answer"));
  }
  it->second = {.done = true, .ok = ok, .message = message};
  cv_.notify_all();
  return absl::OkStatus();
}

absl::Status FaultBroker::Await(uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    return absl::NotFoundError(absl::StrCat("no fault ", id));
  }
  Pending& pending = it->second;
  clock_->WaitUntil(cv_, lock, clock_->Now() + kFaultTimeout,
                    [&] { return pending.done || cancel_reason_.has_value(); });
  absl::Status result = absl::OkStatus();
  if (!pending.done) {
    result = absl::UnavailableError(
        cancel_reason_ ? "cancelled: " + *cancel_reason_
                       : absl::StrCat("the client did not carry out the "
                                      "fault within ",
                                      run_text::Seconds(kFaultTimeout)));
  } else if (!pending.ok) {
    result = absl::AbortedError(pending.message);
  }
  pending_.erase(it);
  return result;
}

void FaultBroker::Cancel(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancel_reason_) return;
  cancel_reason_ = reason;
  for (auto& [id, f] : pending_) {
    if (!f.done) f = {.done = true, .ok = false, .message = "run cancelled"};
  }
  cv_.notify_all();
}

}  // namespace peerlab::harness
