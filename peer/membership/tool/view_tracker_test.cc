// ViewTracker: the incremental views and figures match what the events say.
#include "peer/membership/tool/view_tracker.h"

#include "gtest/gtest.h"

namespace peerlab::membership::tool {
namespace {

constexpr MemberState kAlive = MemberState::kAlive;
constexpr MemberState kSuspect = MemberState::kSuspect;
constexpr MemberState kDead = MemberState::kDead;
constexpr MemberState kLeft = MemberState::kLeft;

absl::Time T(int s) { return absl::UnixEpoch() + absl::Seconds(s); }

// Every member of `v` learns every other alive.
void AllKnowAll(ViewTracker& v) {
  for (int o = 0; o < v.size(); ++o) {
    for (int t = 0; t < v.size(); ++t) v.OnChange(o, t, kAlive, T(0));
  }
}

TEST(ViewTrackerTest, AgreementIsEveryObserverHoldingTheSameLiveSet) {
  ViewTracker v(3);
  EXPECT_FALSE(v.agree());  // each knows only itself
  EXPECT_EQ(v.disagreeing(), 3);
  AllKnowAll(v);
  EXPECT_TRUE(v.agree());
  EXPECT_EQ(v.alive_views(), 9);
  // Suspect is still live: no disagreement.
  v.OnChange(0, 2, kSuspect, T(1));
  EXPECT_TRUE(v.agree());
  EXPECT_EQ(v.suspect_views(), 1);
  EXPECT_EQ(v.alive_views(), 8);
  v.OnChange(0, 2, kDead, T(2));
  EXPECT_FALSE(v.agree());
  EXPECT_EQ(v.disagreeing(), 1);
  EXPECT_EQ(v.live(2), 2);
  // Member 2 stops counting as an observer: 0 and 1 still disagree on it.
  v.SetObserver(2, false, T(3));
  EXPECT_EQ(v.observers(), 2);
  EXPECT_EQ(v.live(2), 1);
  EXPECT_FALSE(v.agree());
  v.OnChange(1, 2, kDead, T(4));
  EXPECT_TRUE(v.agree());
  EXPECT_TRUE(v.removed(2));
  EXPECT_EQ(v.removed_views(), 2);
}

TEST(ViewTrackerTest, RemovalsAndReadmissionsOfATrackedMember) {
  ViewTracker v(4);
  AllKnowAll(v);
  v.SetObserver(3, false, T(0));
  v.SetHealthy(3, false);
  v.Track(3, T(0));
  EXPECT_EQ(v.tracked_alive_views(), 3);
  v.OnChange(0, 3, kSuspect, T(1));
  EXPECT_EQ(v.tracked_alive_views(), 2);
  EXPECT_EQ(v.tracked_suspect_views(), 1);
  v.OnChange(0, 3, kDead, T(2));
  v.OnChange(1, 3, kDead, T(3));
  EXPECT_TRUE(v.removals(3).empty());
  v.OnChange(2, 3, kDead, T(4));
  EXPECT_EQ(v.tracked_removed_views(), 3);
  EXPECT_EQ(v.removed_views(), 3);  // every target: the same three
  ASSERT_EQ(v.removals(3).size(), 1u);
  EXPECT_EQ(v.removals(3)[0], T(4));
  EXPECT_EQ(v.readmissions(), 0);
  // Back in one member's live set: a re-admission; alive -> suspect is not.
  v.OnChange(1, 3, kAlive, T(5));
  v.OnChange(1, 3, kSuspect, T(6));
  EXPECT_EQ(v.readmissions(), 1);
  EXPECT_EQ(v.readmissions(3), 1);
  v.OnChange(1, 3, kDead, T(7));
  EXPECT_EQ(v.removals(3).size(), 2u);
  // Its own removals were never false.
  EXPECT_EQ(v.false_removal_pairs(), 0);
  EXPECT_EQ(v.false_removal_targets(), 0);
}

TEST(ViewTrackerTest, FalseRemovalsCountDistinctPairsAndTargets) {
  ViewTracker v(4);
  AllKnowAll(v);
  v.OnChange(0, 1, kDead, T(1));
  v.OnChange(0, 1, kAlive, T(2));
  v.OnChange(0, 1, kDead, T(3));  // the same pair again
  v.OnChange(2, 1, kDead, T(3));
  v.OnChange(2, 3, kLeft, T(3));  // a leave is not a removal
  EXPECT_EQ(v.false_removal_events(), 3);
  EXPECT_EQ(v.false_removal_pairs(), 2);
  EXPECT_EQ(v.false_removal_targets(), 1);
  // Deaths a non-observer (a faulty member) declares do not count.
  v.SetObserver(3, false, T(4));
  v.OnChange(3, 2, kDead, T(4));
  EXPECT_EQ(v.false_removal_targets(), 1);
  // A member that becomes healthy while held dead (a restarted member
  // after its grace) counts the observers that hold it dead then.
  v.SetHealthy(0, false);
  v.OnChange(1, 0, kDead, T(5));
  v.OnChange(2, 0, kDead, T(5));
  EXPECT_EQ(v.false_removal_targets(), 1);
  v.OnChange(2, 0, kAlive, T(6));
  v.SetHealthy(0, true);
  EXPECT_EQ(v.false_removal_targets(), 2);
  EXPECT_EQ(v.false_removal_pairs(), 3);  // (1, 0) only
}

TEST(ViewTrackerTest, AResetRowKnowsOnlyItself) {
  ViewTracker v(3);
  AllKnowAll(v);
  v.SetObserver(1, false, T(1));
  v.ResetRow(1, T(1));
  v.SetObserver(1, true, T(2));
  EXPECT_EQ(v.live(0), 2);
  EXPECT_EQ(v.live(1), 3);
  EXPECT_EQ(v.disagreeing(), 2);
  v.OnChange(1, 0, kAlive, T(3));
  v.OnChange(1, 2, kAlive, T(3));
  EXPECT_TRUE(v.agree());
  EXPECT_EQ(v.alive_views(), 9);
  // Self-events and unknown targets are ignored.
  v.OnChange(1, 1, kDead, T(4));
  v.OnChange(1, -1, kDead, T(4));
  v.OnChange(1, 7, kDead, T(4));
  EXPECT_TRUE(v.agree());
}

TEST(ViewTrackerTest, DeadHoldersAndWhenTheyLastFellToZero) {
  ViewTracker v(4);
  AllKnowAll(v);
  EXPECT_EQ(v.dead_holders(3), 0);
  EXPECT_EQ(v.dead_cleared(3), absl::InfinitePast());
  v.OnChange(0, 3, kDead, T(1));
  v.OnChange(1, 3, kDead, T(2));
  EXPECT_EQ(v.dead_holders(3), 2);
  v.OnChange(0, 3, kAlive, T(3));  // the new process's alive
  EXPECT_EQ(v.dead_holders(3), 1);
  EXPECT_EQ(v.dead_cleared(3), absl::InfinitePast());
  // An observer whose process restarts forgets it (its row is reset).
  v.SetObserver(1, false, T(4));
  EXPECT_EQ(v.dead_holders(3), 0);
  EXPECT_EQ(v.dead_cleared(3), T(4));
  v.ResetRow(1, T(4));
  v.SetObserver(1, true, T(4));
  EXPECT_EQ(v.dead_holders(3), 0);
  // Dead again, then the holder's row reset while it counts; a leave is
  // not held dead.
  v.OnChange(2, 3, kDead, T(5));
  v.ResetRow(2, T(6));
  EXPECT_EQ(v.dead_cleared(3), T(6));
  v.OnChange(0, 3, kLeft, T(7));
  EXPECT_EQ(v.dead_holders(3), 0);
  EXPECT_EQ(v.dead_cleared(3), T(6));
  // A non-observer's view does not count.
  v.SetObserver(2, false, T(8));
  v.OnChange(2, 3, kDead, T(8));
  EXPECT_EQ(v.dead_holders(3), 0);
}

TEST(ViewTrackerTest, RemovedOrQuarantinedIsThePredicate) {
  EXPECT_FALSE(RemovedOrQuarantined(kAlive));
  EXPECT_FALSE(RemovedOrQuarantined(kSuspect));
  EXPECT_TRUE(RemovedOrQuarantined(kDead));
  EXPECT_TRUE(RemovedOrQuarantined(kLeft));
  EXPECT_TRUE(FalseRemoval(kDead));
  EXPECT_FALSE(FalseRemoval(kLeft));
}

}  // namespace
}  // namespace peerlab::membership::tool
