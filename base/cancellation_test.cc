#include "base/cancellation.h"

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace peerlab {
namespace {

TEST(CancellationTest, WaitRunsOutWhenNotCancelled) {
  Cancellation c;
  EXPECT_FALSE(c.cancelled());
  EXPECT_FALSE(c.WaitFor(absl::Milliseconds(1)));
  EXPECT_FALSE(c.WaitUntil(absl::InfinitePast()));
  EXPECT_EQ(c.reason(), "");
}

TEST(CancellationTest, CancelWakesALongWaitAtOnce) {
  Cancellation c;
  bool woken = false;
  absl::Duration waited;
  std::thread waiter([&] {
    absl::Time start = absl::Now();
    woken = c.WaitFor(absl::Hours(1));
    waited = absl::Now() - start;
  });
  c.Cancel("shutting down");
  waiter.join();
  EXPECT_TRUE(woken);
  EXPECT_LT(waited, absl::Minutes(1));
  EXPECT_TRUE(c.cancelled());
  EXPECT_EQ(c.reason(), "shutting down");
}

TEST(CancellationTest, OnceCancelledWaitsReturnAtOnceAndTheFirstReasonStays) {
  Cancellation c;
  c.Cancel("first");
  c.Cancel("second");
  EXPECT_TRUE(c.WaitFor(absl::Hours(1)));
  EXPECT_TRUE(c.WaitUntil(absl::InfiniteFuture()));
  EXPECT_EQ(c.reason(), "first");
}

}  // namespace
}  // namespace peerlab
