// Views: named streams of output lines ("messagesView" for chat,
// "outputView" for command results, "logView" …). Producers write lines;
// any number of watchers follow them: the terminal, a log file, a remote
// stream, the test harness's filters.
#ifndef PEERLAB_PEER_CLI_VIEW_H_
#define PEERLAB_PEER_CLI_VIEW_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peerlab/base/clock.h"

namespace peerlab::cli {

inline constexpr char kMessagesView[] = "messagesView";
inline constexpr char kOutputView[] = "outputView";
inline constexpr char kLogView[] = "logView";
// Every view a peer writes: views are a fixed set, not free text. The test
// harness refuses a script whose checks name any other view, so a new view
// must be added here.
inline constexpr const char* kPeerViews[] = {kMessagesView, kOutputView,
                                             kLogView};
// Lines that carry a typed record (ViewLine::record) for programs that
// watch the peer: membership events, for the test harness. Not one of
// kPeerViews (scripts check records, not this view's text) and not shown
// by the terminal.
inline constexpr char kEventsView[] = "eventsView";

// One line of one view. `seq` grows by one per line across all views of a
// hub, so watchers can order lines from different views.
struct ViewLine {
  uint64_t seq = 0;
  absl::Time time;
  std::string view;
  std::string text;
  // A typed record for programs, serialized by its producer (the peer: a
  // peer.v1.ViewRecord); empty for plain text. Only ViewHub::WriteRecord
  // sets it, so no text (a chat message, `echo`) can make one.
  std::string record;
};

// Formats "2026-11-25T16:43:10.633 [outputView] text".
std::string FormatViewLine(const ViewLine& line);

// The fan-out point for every view of one peer. Thread-safe.
class ViewHub {
 public:
  using Watcher = std::function<void(const ViewLine&)>;

  // `clock` must outlive the hub. Each view keeps its last `history` lines.
  explicit ViewHub(Clock* clock = &Clock::Real(), size_t history = 10000);

  // Appends `text` to `view`, one ViewLine per line of text (a trailing
  // newline adds no empty line), each line with its control characters
  // escaped (EscapeControl, base/escape.h): text from the
  // network can neither forge a line nor drive a terminal. Returns the
  // lines written.
  std::vector<ViewLine> Write(absl::string_view view, absl::string_view text);
  // Appends one line to `view` that carries `record` (ViewLine::record);
  // `text`, for people, is written as one line (newlines escaped).
  ViewLine WriteRecord(absl::string_view view, absl::string_view text,
                       std::string record);

  // Calls `watcher` for every later line of the named views (all views when
  // `views` is empty), in seq order, on the writer's thread while holding the
  // hub's lock: a watcher must be quick and must not write to the hub. For
  // slow consumers use ViewQueue. Returns a handle for Unwatch; after Unwatch
  // returns the watcher is not running and will not be called again.
  int Watch(std::set<std::string> views, Watcher watcher);
  void Unwatch(int handle);

  // The retained lines of `view`, oldest first.
  std::vector<ViewLine> History(absl::string_view view) const;
  // Every view that has been written to.
  std::vector<std::string> Views() const;

 private:
  // REQUIRES mu_: appends `line` (seq and time set here) and tells the
  // watchers.
  ViewLine AppendLocked(ViewLine line);

  struct Subscription {
    std::set<std::string> views;
    Watcher watcher;
  };
  Clock* const clock_;
  const size_t history_limit_;
  mutable std::mutex mu_;
  uint64_t next_seq_ = 1;
  int next_handle_ = 1;
  std::map<std::string, std::deque<ViewLine>, std::less<>> history_;
  std::map<int, Subscription> watchers_;
};

// A bounded queue that follows a hub for a slow consumer (a remote stream).
// The producer never waits: when the queue is full the oldest line is
// dropped and counted, and the consumer is told how many it lost.
// Thread-safe.
class ViewQueue {
 public:
  struct Batch {
    std::vector<ViewLine> lines;
    uint64_t dropped = 0;  // lines lost since the previous batch
    bool closed = false;   // Close() was called and the queue is drained
  };

  // `hub` must outlive the queue.
  ViewQueue(ViewHub* hub, std::set<std::string> views, size_t capacity = 4096);
  ~ViewQueue();

  // Waits up to `timeout` for at least one line (or Close), then returns
  // everything queued.
  Batch Pop(absl::Duration timeout);
  // Wakes Pop() for good.
  void Close();

 private:
  ViewHub* const hub_;
  const size_t capacity_;
  int handle_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<ViewLine> lines_;
  uint64_t dropped_ = 0;
  bool closed_ = false;
};

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_VIEW_H_
