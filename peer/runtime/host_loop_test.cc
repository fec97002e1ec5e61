#include "peer/runtime/host_loop.h"

#include <thread>

#include "gtest/gtest.h"
#include "peer/runtime/sim_scheduler.h"

namespace peerlab::runtime {
namespace {

TEST(SimHostLoopTest, AwaitRunsTheClockUntilTheAnswerIsThere) {
  SimClock clock(absl::UnixEpoch());
  SimScheduler scheduler(&clock);
  SimHostLoop loop(&scheduler, &clock);
  Completion<int> done("answer");
  auto cb = done.Callback();
  loop.scheduler().Post([&loop, cb] {
    loop.scheduler().After(absl::Seconds(3), [cb] { cb(42); });
  });
  absl::StatusOr<int> r = loop.Await(done);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(3));
}

TEST(SimHostLoopTest, AwaitEndsAtItsBoundOrWhenDropped) {
  SimClock clock(absl::UnixEpoch());
  SimScheduler scheduler(&clock);
  SimHostLoop loop(&scheduler, &clock, absl::Minutes(1));
  Completion<int> never("never");
  auto kept = never.Callback();  // held, never called
  EXPECT_EQ(loop.Await(never).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Minutes(1));

  Completion<int> dropped("dropped");
  loop.scheduler().After(absl::Seconds(1), [cb = dropped.Callback()] {});
  EXPECT_EQ(loop.Await(dropped).status().code(), absl::StatusCode::kCancelled);
}

TEST(SimHostLoopTest, CallRunsAtOnceAndAwaitsNest) {
  SimClock clock(absl::UnixEpoch());
  SimScheduler scheduler(&clock);
  SimHostLoop loop(&scheduler, &clock);
  EXPECT_EQ(loop.Call([] { return 7; }), 7);
  // A task that awaits runs the clock further, as a blocked thread would
  // wait for another loop.
  absl::StatusOr<int> inner = absl::UnknownError("not run");
  Completion<int> outer("outer");
  loop.scheduler().Post([&, cb = outer.Callback()] {
    Completion<int> in("inner");
    loop.scheduler().After(absl::Seconds(1), [icb = in.Callback()] { icb(1); });
    inner = loop.Await(in);
    cb(2);
  });
  EXPECT_EQ(*loop.Await(outer), 2);
  EXPECT_EQ(*inner, 1);
}

TEST(ThreadHostLoopTest, CallAndAwaitBlockForTheLoopThread) {
  ThreadHostLoop loop("test-loop");
  const std::thread::id caller = std::this_thread::get_id();
  EXPECT_NE(loop.Call([] { return std::this_thread::get_id(); }), caller);
  Completion<int> done("answer");
  loop.scheduler().After(absl::Milliseconds(10),
                         [cb = done.Callback()] { cb(5); });
  EXPECT_EQ(*loop.Await(done), 5);
  loop.Stop();
  // After Stop, Call still runs `f` once (on the caller's thread).
  EXPECT_EQ(loop.Call([] { return std::this_thread::get_id(); }), caller);
}

}  // namespace
}  // namespace peerlab::runtime
