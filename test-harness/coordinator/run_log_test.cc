#include "test-harness/coordinator/run_log.h"

#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

TEST(RunLogTest, KeepsEventsForLateWatchersAndTellsSubscribers) {
  FakeClock clock;
  RunLog log(&clock);
  int told = 0;
  int handle = log.Subscribe([&] { ++told; });
  ::harness::v1::RunEvent started;
  started.set_started("t.cmd");
  log.Emit(started);
  EXPECT_FALSE(log.finished());
  ::harness::v1::RunEvent finished;
  finished.mutable_finished();
  log.Emit(finished);
  log.Unsubscribe(handle);
  log.Notice("after");
  EXPECT_EQ(told, 2);
  EXPECT_TRUE(log.finished());
  EXPECT_TRUE(log.WaitFinished(absl::ZeroDuration()));
  ASSERT_EQ(log.EventsFrom(0).size(), 3u);
  EXPECT_EQ(log.EventsFrom(2)[0].notice(), "after");
  EXPECT_TRUE(log.EventsFrom(3).empty());
}

TEST(RunLogTest, NoticesAndTimelineAreBounded) {
  FakeClock clock;
  RunLog log(&clock);
  for (uint64_t i = 0; i < RunLog::kMaxNotices + 5; ++i) log.Notice("n");
  EXPECT_EQ(log.notices_dropped(), 5u);
  auto events = log.EventsFrom(0);
  ASSERT_EQ(events.size(), RunLog::kMaxNotices);
  EXPECT_NE(events.back().notice().find("notice limit"), std::string::npos);
  for (size_t i = 0; i < RunLog::kMaxTimeline + 3; ++i) {
    log.AddTimeline(clock.Now() - absl::Seconds(i), "alice", "step", "x", true,
                    absl::ZeroDuration());
  }
  EXPECT_EQ(log.timeline_dropped(), 3u);
  auto timeline = log.Timeline();
  ASSERT_EQ(timeline.size(), RunLog::kMaxTimeline);
  EXPECT_LE(timeline.front().time().seconds(),
            timeline.back().time().seconds());
}

}  // namespace
}  // namespace peerlab::harness
