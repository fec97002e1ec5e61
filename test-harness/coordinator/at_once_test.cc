#include "test-harness/coordinator/at_once.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

// Every call waits until all have begun: only calls that really run at the
// same time end (a deadline turns a serial run into a failure, not a hang).
TEST(RunAtOnceTest, TheCallsRunAtTheSameTime) {
  constexpr size_t kCalls = 20;
  std::mutex mu;
  std::condition_variable cv;
  size_t begun = 0;
  size_t met = 0;
  RunAtOnce(kCalls, [&](size_t) {
    std::unique_lock<std::mutex> lock(mu);
    ++begun;
    cv.notify_all();
    if (cv.wait_for(lock, std::chrono::seconds(10),
                    [&] { return begun == kCalls; })) {
      ++met;
    }
  });
  EXPECT_EQ(met, kCalls);
}

TEST(RunAtOnceTest, EveryIndexOnceAndNoMoreThreadsThanAllowed) {
  std::mutex mu;
  std::multiset<size_t> seen;
  size_t running = 0, most = 0;
  RunAtOnce(
      100,
      [&](size_t i) {
        {
          std::lock_guard<std::mutex> lock(mu);
          seen.insert(i);
          most = std::max(most, ++running);
        }
        std::this_thread::yield();
        std::lock_guard<std::mutex> lock(mu);
        --running;
      },
      /*max_threads=*/4);
  EXPECT_EQ(seen.size(), 100u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
  EXPECT_LE(most, 4u);
}

TEST(RunAtOnceTest, OneCallRunsOnTheCallingThread) {
  std::thread::id where;
  RunAtOnce(1, [&](size_t) { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
  int calls = 0;
  RunAtOnce(0, [&](size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace peerlab::harness
