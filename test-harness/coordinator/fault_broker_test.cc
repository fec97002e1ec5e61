#include "test-harness/coordinator/fault_broker.h"

#include <thread>

#include "base/testing/eventually.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

using ::testing::HasSubstr;

TEST(FaultBrokerTest, NeedsAWatchingClient) {
  FakeClock clock;
  FaultBroker broker(&clock);
  EXPECT_THAT(std::string(broker.Open().status().message()),
              HasSubstr("no client is watching"));
}

TEST(FaultBrokerTest, TheClientsAnswerEndsTheWait) {
  FakeClock clock;
  FaultBroker broker(&clock);
  broker.AddWatcher();
  auto ok = broker.Open();
  auto bad = broker.Open();
  ASSERT_TRUE(ok.ok() && bad.ok());
  EXPECT_NE(*ok, *bad);
  ASSERT_TRUE(broker.Resolve(*ok, true, "").ok());
  ASSERT_TRUE(broker.Resolve(*bad, false, "no such process").ok());
  EXPECT_EQ(broker.Resolve(*bad, true, "").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(broker.Await(*ok).ok());
  EXPECT_EQ(broker.Await(*bad).message(), "no such process");
}

TEST(FaultBrokerTest, AnUnansweredFaultTimesOutOnTheClock) {
  FakeClock clock;
  FaultBroker broker(&clock);
  broker.AddWatcher();
  auto id = broker.Open();
  ASSERT_TRUE(id.ok());
  absl::Status result;
  std::thread waiter([&] { result = broker.Await(*id); });
  ASSERT_TRUE(testing::Eventually([&] { return clock.waiters() == 1; }));
  clock.Advance(FaultBroker::kFaultTimeout);
  waiter.join();
  EXPECT_THAT(std::string(result.message()),
              HasSubstr("did not carry out the fault within 60 s"));
}

TEST(FaultBrokerTest, TheLastWatcherLeavingOrACancelFailsPendingFaults) {
  FakeClock clock;
  FaultBroker broker(&clock);
  broker.AddWatcher();
  auto a = broker.Open();
  broker.RemoveWatcher();
  EXPECT_THAT(std::string(broker.Await(*a).message()),
              HasSubstr("stopped watching"));
  broker.AddWatcher();
  auto b = broker.Open();
  broker.Cancel("bye");
  EXPECT_EQ(broker.Await(*b).message(), "run cancelled");
}

}  // namespace
}  // namespace peerlab::harness
