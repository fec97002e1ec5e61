#include "peer/cli/view.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/escape.h"

namespace peerlab::cli {

std::string FormatViewLine(const ViewLine& line) {
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3S", line.time, absl::LocalTimeZone()),
      " [", line.view, "] ", line.text);
}

ViewHub::ViewHub(Clock* clock, size_t history)
    : clock_(clock), history_limit_(history) {}

std::vector<ViewLine> ViewHub::Write(absl::string_view view,
                                     absl::string_view text) {
  std::vector<ViewLine> written;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  absl::Time now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  for (absl::string_view part : absl::StrSplit(text, '\n')) {
    if (!part.empty() && part.back() == '\r') part.remove_suffix(1);  // CRLF
    written.push_back(AppendLocked(
        {.time = now, .view = std::string(view), .text = EscapeControl(part)}));
  }
  return written;
}

ViewLine ViewHub::WriteRecord(absl::string_view view, absl::string_view text,
                              std::string record) {
  ViewLine line{.time = clock_->Now(),
                .view = std::string(view),
                .text = EscapeControl(text),
                .record = std::move(record)};
  std::lock_guard<std::mutex> lock(mu_);
  return AppendLocked(std::move(line));
}

ViewLine ViewHub::AppendLocked(ViewLine line) {
  auto it = history_.find(line.view);
  if (it == history_.end()) {
    it = history_.emplace(line.view, std::deque<ViewLine>()).first;
  }
  line.seq = next_seq_++;
  for (auto& [handle, sub] : watchers_) {
    if (sub.views.empty() || sub.views.count(line.view)) sub.watcher(line);
  }
  it->second.push_back(line);
  if (it->second.size() > history_limit_) it->second.pop_front();
  return line;
}

int ViewHub::Watch(std::set<std::string> views, Watcher watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  int handle = next_handle_++;
  watchers_.emplace(handle, Subscription{std::move(views), std::move(watcher)});
  return handle;
}

void ViewHub::Unwatch(int handle) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.erase(handle);
}

std::vector<ViewLine> ViewHub::History(absl::string_view view) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = history_.find(view);
  if (it == history_.end()) return {};
  return std::vector<ViewLine>(it->second.begin(), it->second.end());
}

std::vector<std::string> ViewHub::Views() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, lines] : history_) out.push_back(name);
  return out;
}

ViewQueue::ViewQueue(ViewHub* hub, std::set<std::string> views, size_t capacity)
    : hub_(hub), capacity_(capacity) {
  handle_ = hub_->Watch(std::move(views), [this](const ViewLine& line) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      lines_.push_back(line);
      if (lines_.size() > capacity_) {
        lines_.pop_front();
        ++dropped_;
      }
    }
    ready_.notify_one();
  });
}

ViewQueue::~ViewQueue() { hub_->Unwatch(handle_); }

ViewQueue::Batch ViewQueue::Pop(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  ready_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                  [this] { return closed_ || !lines_.empty() || dropped_; });
  Batch batch;
  batch.lines.assign(std::make_move_iterator(lines_.begin()),
                     std::make_move_iterator(lines_.end()));
  lines_.clear();
  batch.dropped = dropped_;
  dropped_ = 0;
  batch.closed = closed_ && batch.lines.empty();
  return batch;
}

void ViewQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  ready_.notify_all();
}

}  // namespace peerlab::cli
