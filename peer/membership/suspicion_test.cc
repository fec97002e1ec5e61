// Suspicion timer rules (Lifeguard), on a simulated scheduler.
#include "peer/membership/suspicion.h"

#include "gtest/gtest.h"
#include "peer/membership/sim/sim_network.h"

namespace peerlab::membership {
namespace {

class SuspicionTest : public ::testing::Test {
 protected:
  SuspicionTest() : node_(net_.AddNode()) {}
  runtime::Scheduler* scheduler() { return net_.scheduler(node_); }
  absl::Time Now() { return net_.clock().Now(); }

  sim::SimNetwork net_;
  const sim::NodeId node_;
  bool fired_ = false;
};

constexpr absl::Duration kMin = absl::Seconds(4);
constexpr absl::Duration kMax = absl::Seconds(24);

TEST_F(SuspicionTest, WithoutConfirmationsFiresAtTheMaximum) {
  const absl::Time start = Now();
  Suspicion s(scheduler(), "accuser", 2, kMin, kMax, [&] { fired_ = true; });
  EXPECT_EQ(s.deadline(), start + kMax);
  net_.clock().RunUntil(start + kMax - absl::Milliseconds(1));
  EXPECT_FALSE(fired_);
  net_.clock().RunUntil(start + kMax);
  EXPECT_TRUE(fired_);
}

TEST_F(SuspicionTest, NothingExpectedFiresAtTheMinimum) {
  const absl::Time start = Now();
  Suspicion s(scheduler(), "accuser", 0, kMin, kMax, [&] { fired_ = true; });
  EXPECT_EQ(s.deadline(), start + kMin);
}

TEST_F(SuspicionTest, IndependentConfirmationsShortenItToTheMinimum) {
  const absl::Time start = Now();
  Suspicion s(scheduler(), "a", 2, kMin, kMax, [&] { fired_ = true; });
  EXPECT_FALSE(s.Confirm("a"));  // the accuser itself
  EXPECT_TRUE(s.Confirm("b"));
  EXPECT_FALSE(s.Confirm("b"));  // once per member
  EXPECT_EQ(s.confirmations(), 1);
  EXPECT_LT(s.deadline(), start + kMax);
  EXPECT_GT(s.deadline(), start + kMin);
  EXPECT_TRUE(s.Confirm("c"));
  EXPECT_EQ(s.deadline(), start + kMin);
  EXPECT_FALSE(s.Confirm("d"));  // already all expected
  net_.clock().RunUntil(start + kMin);
  EXPECT_TRUE(fired_);
}

// A suspicion learned by push/pull names no accuser: anonymous reports never
// confirm it, and the first named accuser only takes the accuser's place.
TEST_F(SuspicionTest, AnonymousReportsConfirmNothing) {
  const absl::Time start = Now();
  Suspicion s(scheduler(), "", 2, kMin, kMax, [&] { fired_ = true; });
  EXPECT_FALSE(s.Confirm(""));
  EXPECT_FALSE(s.Confirm(""));
  EXPECT_FALSE(s.Confirm("a"));  // the accuser
  EXPECT_EQ(s.confirmations(), 0);
  EXPECT_EQ(s.deadline(), start + kMax);
  EXPECT_TRUE(s.Confirm("b"));
  EXPECT_EQ(s.confirmations(), 1);
}

// A suspicion started by a member's dead (its own suspicion ran out):
// the sender counts as one confirmation, once; its repeats count nothing.
TEST_F(SuspicionTest, ADeadsSenderConfirmsOnce) {
  const absl::Time start = Now();
  Suspicion s(
      scheduler(), "a", 2, kMin, kMax, [&] { fired_ = true; },
      /*from_confirms=*/true);
  EXPECT_EQ(s.confirmations(), 1);
  const absl::Time one = s.deadline();
  EXPECT_LT(one, start + kMax);
  EXPECT_GT(one, start + kMin);
  EXPECT_FALSE(s.Confirm("a"));
  EXPECT_EQ(s.deadline(), one);
  EXPECT_TRUE(s.Confirm("b"));
  EXPECT_EQ(s.deadline(), start + kMin);
  // With nothing expected, or no sender named, it confirms nothing.
  Suspicion none(
      scheduler(), "a", 0, kMin, kMax, [] {}, true);
  EXPECT_EQ(none.confirmations(), 0);
  EXPECT_EQ(none.deadline(), start + kMin);
  Suspicion anonymous(
      scheduler(), "", 2, kMin, kMax, [] {}, true);
  EXPECT_EQ(anonymous.confirmations(), 0);
  EXPECT_EQ(anonymous.deadline(), start + kMax);
}

TEST_F(SuspicionTest, DestroyingItCancelsTheTimer) {
  const absl::Time start = Now();
  {
    Suspicion s(scheduler(), "a", 0, kMin, kMax, [&] { fired_ = true; });
  }
  net_.clock().RunUntil(start + kMax);
  EXPECT_FALSE(fired_);
}

}  // namespace
}  // namespace peerlab::membership
