#include "peer/runtime/event_loop.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "base/testing/eventually.h"

namespace peerlab::runtime {
namespace {

using ::peerlab::testing::Eventually;

using ::testing::ElementsAre;

TEST(EventLoopTest, PostedTasksRunInOrderOnTheNamedThread) {
  EventLoop loop("mbr-test-loop");
  std::vector<int> order;  // touched only by loop tasks
  for (int i = 0; i < 100; ++i) loop.Post([&order, i] { order.push_back(i); });
  const std::vector<int> seen = loop.Call([&] { return order; });
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);

  const std::string name = loop.Call([] {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof(buf));
    return std::string(buf);
  });
  EXPECT_EQ(name, "mbr-test-loop");
  EXPECT_FALSE(loop.InLoopThread());
  EXPECT_TRUE(loop.Call([&] { return loop.InLoopThread(); }));
}

TEST(EventLoopTest, LongNamesAreTruncatedNotRejected) {
  EventLoop loop("a-very-long-thread-name-indeed");
  const std::string name = loop.Call([] {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof(buf));
    return std::string(buf);
  });
  EXPECT_EQ(name, "a-very-long-thr");
}

TEST(EventLoopTest, TimersRunInDeadlineOrderAndTiesInOrderSet) {
  EventLoop loop;
  std::vector<std::string> order;
  std::atomic<int> ran{0};
  loop.Call([&] {
    loop.After(absl::Milliseconds(60), [&] {
      order.push_back("60");
      ++ran;
    });
    loop.After(absl::Milliseconds(20), [&] {
      order.push_back("20a");
      ++ran;
    });
    loop.After(absl::Milliseconds(20), [&] {
      order.push_back("20b");
      ++ran;
    });
    loop.After(absl::ZeroDuration(), [&] {
      order.push_back("0");
      ++ran;
    });
    loop.After(absl::Milliseconds(-5), [&] {
      order.push_back("-5");
      ++ran;
    });
    // Never inside After: nothing has run yet.
    EXPECT_TRUE(order.empty());
  });
  ASSERT_TRUE(Eventually([&] { return ran == 5; }));
  EXPECT_THAT(loop.Call([&] { return order; }),
              ElementsAre("0", "-5", "20a", "20b", "60"));
}

TEST(EventLoopTest, TimersFireNoEarlierThanTheirDelay) {
  EventLoop loop;
  struct Result {
    absl::Duration delay;
    std::chrono::steady_clock::duration waited;
  };
  std::mutex mu;
  std::vector<Result> results;
  const std::vector<absl::Duration> delays = {
      absl::Milliseconds(1), absl::Milliseconds(10), absl::Milliseconds(50),
      absl::Milliseconds(200)};
  for (absl::Duration d : delays) {
    const auto start = std::chrono::steady_clock::now();
    loop.After(d, [&, d, start] {
      std::lock_guard<std::mutex> lock(mu);
      results.push_back({d, std::chrono::steady_clock::now() - start});
    });
  }
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return results.size() == delays.size();
  }));
  for (const Result& r : results) {
    const absl::Duration waited = absl::FromChrono(r.waited);
    EXPECT_GE(waited, r.delay);
    // Loose: the machine is shared and may be loaded.
    EXPECT_LE(waited, r.delay + absl::Milliseconds(250)) << "delay " << r.delay;
  }
}

TEST(EventLoopTest, CancelledTimersDoNotRun) {
  EventLoop loop;
  std::atomic<int> kept{0};
  std::atomic<int> cancelled{0};
  loop.Call([&] {
    Scheduler::TimerId a =
        loop.After(absl::Milliseconds(20), [&] { ++cancelled; });
    loop.After(absl::Milliseconds(30), [&] { ++kept; });
    Scheduler::TimerId b =
        loop.After(absl::Milliseconds(10), [&] { ++cancelled; });
    loop.Cancel(a);
    loop.Cancel(b);
    loop.Cancel(b);       // twice: no-op
    loop.Cancel(999999);  // unknown: no-op
  });
  // A timer may also be cancelled from another thread.
  Scheduler::TimerId c =
      loop.After(absl::Milliseconds(20), [&] { ++cancelled; });
  loop.Cancel(c);
  ASSERT_TRUE(Eventually([&] { return kept == 1; }));
  // A timer later than every cancelled one has run, so they had their turn.
  EXPECT_EQ(cancelled, 0);

  // Cancelling a timer that already ran is a no-op.
  std::atomic<bool> ran{false};
  Scheduler::TimerId d = loop.After(absl::ZeroDuration(), [&] { ran = true; });
  ASSERT_TRUE(Eventually([&] { return ran.load(); }));
  loop.Cancel(d);
}

TEST(EventLoopTest, TasksCanSetTimersFromTimers) {
  EventLoop loop;
  std::atomic<int> ticks{0};
  std::function<void()> tick = [&] {
    if (++ticks < 5) loop.After(absl::Milliseconds(2), tick);
  };
  loop.Post(tick);
  ASSERT_TRUE(Eventually([&] { return ticks == 5; }));
}

TEST(EventLoopTest, PostFromManyThreadsKeepsEachThreadsOrder) {
  EventLoop loop;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<int>> seen(kThreads);  // loop-owned
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop.Post([&seen, t, i] { seen[t].push_back(i); });
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto result = loop.Call([&] { return seen; });
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(result[t].size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(result[t][i], i);
  }
}

TEST(EventLoopTest, CallFromTheLoopThreadRunsInline) {
  EventLoop loop;
  const int v = loop.Call([&] {
    // Nested Call on the loop thread would deadlock if it posted and waited.
    return loop.Call([] { return 41; }) + 1;
  });
  EXPECT_EQ(v, 42);
  int side = 0;
  loop.Call([&] { side = 7; });  // void
  EXPECT_EQ(side, 7);
}

TEST(EventLoopTest, StopRunsNothingMoreAndDestroysPendingTasks) {
  auto loop = std::make_unique<EventLoop>();
  std::atomic<int> ran{0};
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  loop->Call([&] {
    for (int i = 0; i < 10; ++i) {
      loop->After(absl::Seconds(30), [&ran, token] { ++ran; });
    }
  });
  token.reset();
  EXPECT_FALSE(watch.expired());  // the timers hold it
  const auto start = std::chrono::steady_clock::now();
  loop->Stop();
  // Stop does not wait for the timers.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(watch.expired());  // their tasks were destroyed
  EXPECT_EQ(ran, 0);

  // After Stop: Post, After drop their tasks; Stop again is a no-op.
  loop->Post([&] { ++ran; });
  loop->After(absl::ZeroDuration(), [&] { ++ran; });
  loop->Stop();
  EXPECT_EQ(ran, 0);
  // Call still runs its function exactly once, on the caller.
  EXPECT_EQ(loop->Call([] { return 5; }), 5);
  loop.reset();
  EXPECT_EQ(ran, 0);
}

TEST(EventLoopTest, StopFromATaskEndsTheLoopAfterThatTask) {
  EventLoop loop;
  std::atomic<int> after{0};
  std::atomic<bool> stopped{false};
  loop.Post([&] {
    loop.Post([&] { ++after; });
    loop.Stop();  // returns at once on the loop thread
    stopped = true;
  });
  ASSERT_TRUE(Eventually([&] { return stopped.load(); }));
  // A Call racing with the stop still runs exactly once.
  EXPECT_EQ(loop.Call([] { return 3; }), 3);
  EXPECT_EQ(after, 0);
}

TEST(EventLoopTest, CallRacingWithStopRunsExactlyOnce) {
  for (int round = 0; round < 50; ++round) {
    EventLoop loop;
    std::atomic<int> runs{0};
    std::thread caller([&] {
      for (int i = 0; i < 20; ++i) loop.Call([&] { ++runs; });
    });
    loop.Stop();
    caller.join();
    EXPECT_EQ(runs, 20);
  }
}

TEST(EventLoopTest, NowIsWallTime) {
  EventLoop loop;
  const absl::Time before = absl::Now();
  const absl::Time now = loop.Call([&] { return loop.Now(); });
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

}  // namespace
}  // namespace peerlab::runtime
