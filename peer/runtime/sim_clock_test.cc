#include "peer/runtime/sim_clock.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::runtime {
namespace {

using ::testing::ElementsAre;

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(SimClockTest, RunsInTimeOrderAndFifoAtTheSameInstant) {
  SimClock clock(kStart);
  std::vector<std::string> order;
  clock.Schedule(kStart + absl::Seconds(2), [&] { order.push_back("c"); });
  clock.Schedule(kStart + absl::Seconds(1), [&] { order.push_back("a"); });
  clock.Schedule(kStart + absl::Seconds(1), [&] { order.push_back("b"); });
  clock.Schedule(kStart + absl::Seconds(2), [&] { order.push_back("d"); });
  clock.RunUntil(absl::InfiniteFuture());
  EXPECT_THAT(order, ElementsAre("a", "b", "c", "d"));
  EXPECT_EQ(clock.Now(), kStart + absl::Seconds(2));
  EXPECT_EQ(clock.events_processed(), 4u);
}

TEST(SimClockTest, NowIsTheEventTimeAndPastEventsRunNow) {
  SimClock clock(kStart);
  std::vector<absl::Time> seen;
  clock.Schedule(kStart + absl::Milliseconds(5), [&] {
    seen.push_back(clock.Now());
    // In the past: runs at the current instant, after this task.
    clock.Schedule(kStart, [&] { seen.push_back(clock.Now()); });
  });
  clock.RunFor(absl::Seconds(1));
  EXPECT_THAT(seen, ElementsAre(kStart + absl::Milliseconds(5),
                                kStart + absl::Milliseconds(5)));
  EXPECT_EQ(clock.Now(), kStart + absl::Seconds(1));
}

TEST(SimClockTest, RunUntilStopsAtTheLimitInclusive) {
  SimClock clock(kStart);
  int ran = 0;
  clock.Schedule(kStart + absl::Seconds(1), [&] { ++ran; });
  clock.Schedule(kStart + absl::Seconds(2), [&] { ++ran; });
  clock.RunUntil(kStart + absl::Seconds(1));
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(clock.pending_events(), 1u);
  EXPECT_EQ(clock.NextEventTime(), kStart + absl::Seconds(2));
  clock.RunFor(absl::Seconds(1));
  EXPECT_EQ(ran, 2);
  EXPECT_FALSE(clock.NextEventTime().has_value());
}

TEST(SimClockTest, CancelPreventsRunAndStaleIdsAreRejected) {
  SimClock clock(kStart);
  int ran = 0;
  const SimClock::EventId a =
      clock.Schedule(kStart + absl::Seconds(1), [&] { ++ran; });
  const SimClock::EventId b =
      clock.Schedule(kStart + absl::Seconds(1), [&] { ran += 10; });
  EXPECT_NE(a, 0u);
  EXPECT_TRUE(clock.Cancel(a));
  EXPECT_FALSE(clock.Cancel(a));
  clock.RunFor(absl::Seconds(2));
  EXPECT_EQ(ran, 10);
  EXPECT_FALSE(clock.Cancel(b));  // already ran
  // The slot of `a` is reused; the old id must not cancel the new event.
  clock.Schedule(kStart + absl::Seconds(3), [&] { ran += 100; });
  EXPECT_FALSE(clock.Cancel(a));
  clock.RunFor(absl::Seconds(2));
  EXPECT_EQ(ran, 110);
  EXPECT_EQ(clock.events_processed(), 2u);
}

TEST(SimClockTest, CancelOwnedChecksTheOwner) {
  SimClock clock(kStart);
  const SimClock::EventId id = clock.Schedule(
      kStart + absl::Seconds(1), [] {}, /*owner=*/3);
  EXPECT_FALSE(clock.CancelOwned(id, 4));
  EXPECT_TRUE(clock.CancelOwned(id, 3));
}

TEST(SimClockTest, StepRunsOneLiveEvent) {
  SimClock clock(kStart);
  int ran = 0;
  const SimClock::EventId first =
      clock.Schedule(kStart + absl::Seconds(1), [&] { ++ran; });
  clock.Schedule(kStart + absl::Seconds(2), [&] { ++ran; });
  clock.Cancel(first);
  EXPECT_TRUE(clock.Step());
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(clock.Now(), kStart + absl::Seconds(2));
  EXPECT_FALSE(clock.Step());
}

class RecordingSink : public SimClock::MessageSink {
 public:
  void DeliverMessage(uint64_t tag, std::string payload) override {
    got.push_back(std::to_string(tag) + ":" + payload);
  }
  std::vector<std::string> got;
};

TEST(SimClockTest, MessagesInterleaveWithTasks) {
  SimClock clock(kStart);
  RecordingSink sink;
  clock.ScheduleMessage(kStart + absl::Seconds(1), &sink, 7, "x");
  clock.Schedule(kStart + absl::Seconds(1),
                 [&] { sink.got.push_back("task"); });
  clock.ScheduleMessage(kStart, &sink, 8, "y");
  clock.RunFor(absl::Seconds(1));
  EXPECT_THAT(sink.got, ElementsAre("8:y", "7:x", "task"));
}

TEST(SimClockTest, RunUntilConditionChecksAfterEachEvent) {
  SimClock clock(kStart);
  int count = 0;
  for (int i = 1; i <= 10; ++i) {
    clock.Schedule(kStart + absl::Seconds(i), [&] { ++count; });
  }
  EXPECT_TRUE(clock.RunUntilCondition([&] { return count >= 4; },
                                      kStart + absl::Seconds(100)));
  EXPECT_EQ(count, 4);
  EXPECT_EQ(clock.Now(), kStart + absl::Seconds(4));
  EXPECT_FALSE(clock.RunUntilCondition([&] { return count >= 20; },
                                       kStart + absl::Seconds(50)));
  EXPECT_EQ(count, 10);
  EXPECT_EQ(clock.Now(), kStart + absl::Seconds(50));
}

TEST(SimClockTest, RunUntilConditionWithCoarseSteps) {
  SimClock clock(kStart);
  int count = 0;
  for (int i = 1; i <= 10; ++i) {
    clock.Schedule(kStart + absl::Milliseconds(100 * i), [&] { ++count; });
  }
  EXPECT_TRUE(clock.RunUntilCondition([&] { return count >= 3; },
                                      kStart + absl::Seconds(10),
                                      absl::Milliseconds(250)));
  // Checked at 250 ms (2 ran) and 500 ms (5 ran).
  EXPECT_EQ(count, 5);
  EXPECT_EQ(clock.Now(), kStart + absl::Milliseconds(500));
  // Nothing left to run: returns at the deadline without spinning.
  EXPECT_FALSE(clock.RunUntilCondition([&] { return count > 10; },
                                       absl::InfiniteFuture(),
                                       absl::Milliseconds(1)));
  EXPECT_EQ(count, 10);
}

// Defers events of owner 1, drops those of owner 2 and of stale epochs.
class TestGate : public SimClock::Gate {
 public:
  Verdict Admit(uint32_t owner, uint32_t epoch) override {
    if (owner == 2 || epoch == 99) return Verdict::kDrop;
    if (owner == 1 && frozen) return Verdict::kDefer;
    return Verdict::kRun;
  }
  void Defer(uint32_t /*owner*/, SimClock::EventId id) override {
    deferred.push_back(id);
  }
  bool frozen = true;
  std::vector<SimClock::EventId> deferred;
};

TEST(SimClockTest, GateDefersDropsAndResumes) {
  SimClock clock(kStart);
  TestGate gate;
  clock.SetGate(&gate);
  std::vector<std::string> order;
  clock.Schedule(
      kStart + absl::Seconds(1), [&] { order.push_back("1a"); }, 1);
  clock.Schedule(
      kStart + absl::Seconds(2), [&] { order.push_back("2"); }, 2);
  clock.Schedule(
      kStart + absl::Seconds(2), [&] { order.push_back("1b"); }, 1);
  const SimClock::EventId cancelled = clock.Schedule(
      kStart + absl::Seconds(2), [&] { order.push_back("1c"); }, 1);
  clock.Schedule(
      kStart + absl::Seconds(3), [&] { order.push_back("0"); }, 0);
  clock.Schedule(
      kStart + absl::Seconds(3), [&] { order.push_back("stale"); }, 0, 99);
  clock.RunFor(absl::Seconds(5));
  EXPECT_THAT(order, ElementsAre("0"));
  ASSERT_EQ(gate.deferred.size(), 3u);
  EXPECT_TRUE(clock.Cancel(cancelled));
  gate.frozen = false;
  for (SimClock::EventId id : gate.deferred) clock.Resume(id, clock.Now());
  clock.RunFor(absl::Seconds(1));
  EXPECT_THAT(order, ElementsAre("0", "1a", "1b"));
  EXPECT_EQ(clock.pending_events(), 0u);
}

}  // namespace
}  // namespace peerlab::runtime
