// RunLog: what a run tells its watchers and keeps for its summary — the
// events (RunEvent, kept from the start so that a late watcher sees
// everything), the subscribers told of each new event, the notices
// (registrations, deaths: bounded) and the timeline (bounded).
//
// Thread-safe. Subscribers are called without the log's lock; the log never
// calls into the run otherwise, so the run may hold its lock while it adds
// to the timeline (lock order: run, then log).
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_RUN_LOG_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_RUN_LOG_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/clock.h"
#include "proto/harness/v1/coordinator.pb.h"

namespace peerlab::harness {

class RunLog {
 public:
  static constexpr size_t kMaxTimeline = 20000;
  // Notices (registrations, deaths) kept per run.
  static constexpr uint64_t kMaxNotices = 1000;

  // `clock` (not owned) must outlive the log.
  explicit RunLog(const Clock* clock) : clock_(clock) {}

  // Adds `event` (its time set here) and tells the subscribers. An event
  // with `finished` set makes finished() true.
  void Emit(::harness::v1::RunEvent event);
  // A notice event; beyond kMaxNotices notices are counted, not kept (the
  // last kept one says so).
  void Notice(const std::string& text);

  // Events number `from` onwards (copies).
  std::vector<::harness::v1::RunEvent> EventsFrom(size_t from) const;
  bool finished() const;
  // Blocks until finished() or `timeout` (on the log's clock).
  bool WaitFinished(absl::Duration timeout) const;

  // `notify` is called (on the thread that added the event, without the
  // log's lock) after each new event. After Unsubscribe returns it is not
  // running and will not be called again.
  int Subscribe(std::function<void()> notify);
  void Unsubscribe(int handle);

  // A timeline entry (its text cut); beyond kMaxTimeline entries are
  // counted, not kept.
  void AddTimeline(absl::Time time, const std::string& peer,
                   const std::string& kind, const std::string& text, bool ok,
                   absl::Duration duration);
  // The timeline sorted by time (stable).
  std::vector<::harness::v1::TimelineEntry> Timeline() const;
  uint64_t timeline_dropped() const;
  uint64_t notices_dropped() const;

 private:
  const Clock* const clock_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<::harness::v1::RunEvent> events_;
  bool finished_ = false;
  uint64_t notices_ = 0;
  uint64_t notices_dropped_ = 0;
  std::vector<::harness::v1::TimelineEntry> timeline_;
  uint64_t timeline_dropped_ = 0;

  std::mutex subscribers_mu_;
  int next_subscriber_ = 1;
  std::map<int, std::function<void()>> subscribers_;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_RUN_LOG_H_
