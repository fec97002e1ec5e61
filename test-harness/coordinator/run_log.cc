#include "test-harness/coordinator/run_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "test-harness/coordinator/run_text.h"

namespace peerlab::harness {

void RunLog::Emit(::harness::v1::RunEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    *event.mutable_time() = run_text::ToProto(clock_->Now());
    if (event.has_finished()) finished_ = true;
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  for (auto& [handle, notify] : subscribers_) notify();
}

void RunLog::Notice(const std::string& text) {
  ::harness::v1::RunEvent event;
  {
    // Registrations and deaths come from remote parties: the events kept
    // for late watchers hold a bounded number of them.
    std::lock_guard<std::mutex> lock(mu_);
    if (notices_ >= kMaxNotices) {
      ++notices_dropped_;
      return;
    }
    ++notices_;
    event.set_notice(
        notices_ < kMaxNotices
            ? text
            : absl::StrCat(text, " (notice limit of ", kMaxNotices,
                           " reached: later notices are left out)"));
  }
  Emit(std::move(event));
}

std::vector<::harness::v1::RunEvent> RunLog::EventsFrom(size_t from) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (from >= events_.size()) return {};
  return std::vector<::harness::v1::RunEvent>(events_.begin() + from,
                                              events_.end());
}

bool RunLog::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_;
}

bool RunLog::WaitFinished(absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return clock_->WaitUntil(cv_, lock, clock_->Now() + timeout,
                           [this] { return finished_; });
}

int RunLog::Subscribe(std::function<void()> notify) {
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  int handle = next_subscriber_++;
  subscribers_[handle] = std::move(notify);
  return handle;
}

void RunLog::Unsubscribe(int handle) {
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  subscribers_.erase(handle);
}

void RunLog::AddTimeline(absl::Time time, const std::string& peer,
                         const std::string& kind, const std::string& text,
                         bool ok, absl::Duration duration) {
  std::lock_guard<std::mutex> lock(mu_);
  if (timeline_.size() >= kMaxTimeline) {
    ++timeline_dropped_;
    return;
  }
  ::harness::v1::TimelineEntry& e = timeline_.emplace_back();
  *e.mutable_time() = run_text::ToProto(time);
  e.set_peer(peer);
  e.set_kind(kind);
  e.set_text(run_text::Cut(text, run_text::kMaxTimelineTextBytes));
  e.set_ok(ok);
  e.set_duration_us(absl::ToInt64Microseconds(duration));
}

std::vector<::harness::v1::TimelineEntry> RunLog::Timeline() const {
  std::vector<::harness::v1::TimelineEntry> timeline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timeline = timeline_;
  }
  std::stable_sort(
      timeline.begin(), timeline.end(), [](const auto& a, const auto& b) {
        return run_text::FromProto(a.time()) < run_text::FromProto(b.time());
      });
  return timeline;
}

uint64_t RunLog::timeline_dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timeline_dropped_;
}

uint64_t RunLog::notices_dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return notices_dropped_;
}

}  // namespace peerlab::harness
