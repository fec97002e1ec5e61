// ViewTracker: what every simulated member believes of every other, kept up
// to date from the membership events (SimCluster's change hook), and the
// sick-network figures of issue 17 derived from it incrementally, so that a
// run of 1,000 members can be sampled every second at O(1) per sample:
//
//   - Observers: the members whose views count (healthy and running; the
//     runner decides). H is their number.
//   - live[t]: how many observers hold target t in their live set (not
//     removed or quarantined; unknown counts as removed; an observer always
//     holds itself live).
//   - Agreement: every observer holds the same live set, i.e. live[t] is 0
//     or H for every target t; kept as the number of targets where it is
//     neither (disagreeing()).
//   - Removal of a tracked (faulty) target: live[t] reaches 0, every
//     observer has removed or quarantined it (removals(t) lists when);
//     a re-admission: live[t] leaves 0 again through an event.
//   - False removals: an observer removes (dead) or quarantines a target
//     that is healthy; counted per distinct (observer, target) pair and per
//     distinct target. A target that becomes healthy (a restarted member
//     after its grace) counts the observers that hold it removed then.
//   - Held dead: how many observers hold target t dead (removed or
//     quarantined, not left), and when that last fell to 0 (mass-restart:
//     until when a restarted member was seen dead).
//
// Memory: one byte per (observer, target) pair (N² bytes: 1 MB at 1,000
// members, 100 MB at 10,000). Observer and health changes cost O(N); events
// O(1).
//
// Thread safety: none (the simulation's one thread).
#ifndef PEERLAB_PEER_MEMBERSHIP_TOOL_VIEW_TRACKER_H_
#define PEERLAB_PEER_MEMBERSHIP_TOOL_VIEW_TRACKER_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "peer/membership/member.h"

namespace peerlab::membership::tool {

// Whether a member held in `state` is out of the holder's live set: removed
// (dead, left) or quarantined. The one place the figures ask; a protocol
// that adds a state (quarantine) adds it here.
bool RemovedOrQuarantined(MemberState state);
// Whether `state` of a healthy member is a false removal: removed or
// quarantined, but not by its own leave.
bool FalseRemoval(MemberState state);

class ViewTracker {
 public:
  // `n` members, all observers, all healthy, none tracked; each knows only
  // itself.
  explicit ViewTracker(int n);

  int size() const { return n_; }

  // Observer `o` holds target `t` in `state` now (an event). Self-events
  // (o == t) and targets outside [0, n) are ignored.
  void OnChange(int o, int t, MemberState state, absl::Time now);
  // Observer `o`'s process is new: it knows only itself. O(N).
  void ResetRow(int o, absl::Time now);

  // Whether `o`'s views count (healthy and running). O(N) on a change.
  void SetObserver(int o, bool counts, absl::Time now);
  bool observer(int o) const { return observer_[o]; }
  int observers() const { return observers_; }
  // Whether removals of `t` are false (it is healthy). Becoming healthy
  // counts the observers that hold it removed now. O(N) on a change.
  void SetHealthy(int t, bool healthy);
  // Records removals and re-admissions of `t` from now on.
  void Track(int t, absl::Time now);

  // --- Figures ---
  int live(int t) const { return live_[t]; }
  bool removed(int t) const { return live_[t] == 0; }
  // Targets on whose liveness the observers disagree; 0: agreement.
  int disagreeing() const { return disagreeing_; }
  bool agree() const { return disagreeing_ == 0; }
  // Times when every observer had removed tracked target `t` (live[t]
  // reached 0), at most kMaxRemovals per target (more are counted in
  // removals_dropped()).
  static constexpr size_t kMaxRemovals = 4096;
  const std::vector<absl::Time>& removals(int t) const { return removals_[t]; }
  uint64_t removals_dropped() const { return removals_dropped_; }
  // Times a tracked, removed target came back into some observer's live set.
  int64_t readmissions() const { return readmissions_; }
  int64_t readmissions(int t) const { return readmissions_of_[t]; }
  // Distinct (observer, target) pairs and distinct targets of false
  // removals, and false removal events.
  int64_t false_removal_pairs() const { return false_pairs_; }
  int false_removal_targets() const { return false_targets_; }
  int64_t false_removal_events() const { return false_events_; }
  const std::vector<bool>& falsely_removed() const { return falsely_removed_; }
  // Observers holding `t` removed or quarantined (FalseRemoval: not left)
  // now, and the last time that number fell to 0 (InfinitePast: never).
  int dead_holders(int t) const { return dead_holders_[t]; }
  absl::Time dead_cleared(int t) const { return dead_cleared_[t]; }
  // Sums over the observers' views (an observer's view of itself is alive):
  // targets held alive, suspect, and removed or quarantined (known ones).
  int64_t alive_views() const { return views_by_state_[0]; }
  int64_t suspect_views() const { return views_by_state_[1]; }
  int64_t removed_views() const { return views_by_state_[2]; }
  // The same, of the tracked targets only (the observers' views of the
  // faulty members).
  int64_t tracked_alive_views() const { return tracked_by_state_[0]; }
  int64_t tracked_suspect_views() const { return tracked_by_state_[1]; }
  int64_t tracked_removed_views() const { return tracked_by_state_[2]; }

 private:
  // The byte of a view: kUnknown or 1 + MemberState; kCountedBit marks a
  // pair already counted as a false removal.
  static constexpr uint8_t kUnknown = 0;
  static constexpr uint8_t kStateMask = 0x7f;
  static constexpr uint8_t kCountedBit = 0x80;
  static uint8_t Code(MemberState s) { return uint8_t(1 + uint8_t(s)); }
  static bool Live(uint8_t code);
  uint8_t& at(int o, int t) { return views_[size_t(o) * n_ + t]; }
  // Adds `sign` times an observer's view `code` of `t` to the view sums.
  void Sum(int t, uint8_t code, int sign);
  // Tracked target `t` was removed by every observer at `now`.
  void RecordRemoval(int t, absl::Time now);
  void CountFalse(int o, int t);
  // Adds `sign` times an observer's view `code` of `t` to dead_holders_.
  void Hold(int t, uint8_t code, int sign, absl::Time now);
  bool Disagrees(int t) const { return live_[t] > 0 && live_[t] < observers_; }
  void RecountDisagreeing();

  const int n_;
  std::vector<uint8_t> views_;
  std::vector<bool> observer_, healthy_, tracked_, falsely_removed_;
  std::vector<int> live_;
  std::vector<int> dead_holders_;
  std::vector<absl::Time> dead_cleared_;
  int observers_ = 0;
  int disagreeing_ = 0;
  std::vector<std::vector<absl::Time>> removals_;
  std::vector<int64_t> readmissions_of_;
  uint64_t removals_dropped_ = 0;
  int64_t readmissions_ = 0;
  int64_t false_pairs_ = 0, false_events_ = 0;
  int false_targets_ = 0;
  // Views held alive, suspect, removed: of every target, of tracked ones.
  int64_t views_by_state_[3] = {0, 0, 0};
  int64_t tracked_by_state_[3] = {0, 0, 0};
};

}  // namespace peerlab::membership::tool

#endif  // PEERLAB_PEER_MEMBERSHIP_TOOL_VIEW_TRACKER_H_
