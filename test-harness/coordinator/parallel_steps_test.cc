// The steps that run at once: a parallel block and the members' shares of a
// step on a group (Run::RunSteps), on fake links and a FakeClock.
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "base/clock.h"
#include "base/testing/eventually.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test-harness/coordinator/fake_peer_link.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/coordinator/runner_testing.h"

namespace peerlab::harness {
namespace {

using ::harness::v1::RunSummary;
using ::peerlab::testing::Eventually;
using ::testing::HasSubstr;

class ParallelStepsTest : public ::testing::Test {
 protected:
  void Register(const std::string& name) {
    ::harness::v1::PeerInfo info;
    info.set_name(name);
    info.set_control_address("fake:" + name);
    info.set_pid(1);
    ASSERT_TRUE(registry_.Register(info).ok());
  }

  std::unique_ptr<harness::Run> Start(const std::string& text,
                                      ::harness::v1::RunOptions options = {}) {
    options.set_quiet_ms(100);
    auto run =
        harness::Run::Create("r1", "t.cmd", text, options, &registry_,
                             {.clock = &clock_, .links = links_.Factory()});
    EXPECT_TRUE(run.ok()) << run.status();
    if (!run.ok()) return nullptr;
    (*run)->Start();
    return *std::move(run);
  }

  // Whenever the run waits on the clock, moves the clock to the wait's
  // deadline, until the run has finished.
  RunSummary RunToEnd(harness::Run& run) {
    return testing::RunToEnd(run, clock_);
  }

  // A handler under which `hold` returns only once `n` holds are under way
  // at the same time (within 10 s of real time; else it fails the command).
  void HoldUntil(int n) {
    links_.SetHandler([this, n](const std::string&, const std::string& line)
                          -> absl::StatusOr<::peer::v1::ExecuteResponse> {
      ::peer::v1::ExecuteResponse response;
      if (line != "hold") return response;
      std::unique_lock<std::mutex> lock(mu_);
      ++holding_;
      cv_.notify_all();
      if (!cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return holding_ >= n; })) {
        response.set_code(static_cast<int>(absl::StatusCode::kAborted));
        response.set_message("the others never came: not at once");
      }
      return response;
    });
  }

  PeerRegistry registry_;
  FakeClock clock_;
  FakePeerLinks links_{&clock_};
  std::mutex mu_;
  std::condition_variable cv_;
  int holding_ = 0;
};

TEST_F(ParallelStepsTest, TheMembersOfAStepOnAGroupRunAtOnce) {
  for (const char* p : {"p1", "p2", "p3"}) Register(p);
  HoldUntil(3);
  auto run = Start("p[1..3] hold\np1 say done\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  ASSERT_EQ(s.steps_size(), 4);
  // In script order, each naming its member.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.steps(i).index(), i);
    EXPECT_EQ(s.steps(i).peer(), absl::StrCat("p", i + 1));
  }
  EXPECT_EQ(s.steps(1).text(), "p[1..3] hold (on p2)");
  EXPECT_EQ(s.steps(3).text(), "p1 say done");
}

TEST_F(ParallelStepsTest, TheStepsOfAParallelBlockRunAtOnce) {
  for (const char* p : {"alice", "bob"}) Register(p);
  HoldUntil(3);
  auto run = Start(
      "group g alice bob\n"
      "g say hi\n"
      "parallel\n"
      "  alice hold\n"
      "  bob hold\n"
      "  alice hold\n"
      "  sleep 1s\n"
      "end\n"
      "bob say after\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  ASSERT_EQ(s.steps_size(), 7);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(s.steps(i).index(), i);
  // The step after the block began once all of the block had ended.
  EXPECT_EQ(links_.commands().back(), "bob: say after");
}

TEST_F(ParallelStepsTest, AStepOnAGroupFailsWhenOneMemberFailsAndNamesIt) {
  for (const char* p : {"a", "b", "c"}) Register(p);
  links_.SetHandler(
      [](const std::string& name,
         const std::string&) -> absl::StatusOr<::peer::v1::ExecuteResponse> {
        ::peer::v1::ExecuteResponse response;
        if (name == "b") {
          response.set_code(static_cast<int>(absl::StatusCode::kInternal));
          response.set_message("b broke");
        }
        return response;
      });
  ::harness::v1::RunOptions options;
  options.set_fail_fast(true);
  auto run = Start("group g a b c\ng explode\ng say next\n", options);
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  ASSERT_EQ(s.steps_size(), 6);
  EXPECT_EQ(s.steps(0).outcome(), ::harness::v1::OUTCOME_OK);
  EXPECT_EQ(s.steps(1).outcome(), ::harness::v1::OUTCOME_FAILED);
  EXPECT_EQ(s.steps(1).peer(), "b");
  EXPECT_EQ(s.steps(1).text(), "g explode (on b)");
  EXPECT_THAT(s.steps(1).message(), HasSubstr("b broke"));
  EXPECT_EQ(s.steps(2).outcome(), ::harness::v1::OUTCOME_OK);
  // --fail-fast skips the whole next group step.
  for (int i = 3; i < 6; ++i) {
    EXPECT_EQ(s.steps(i).outcome(), ::harness::v1::OUTCOME_SKIPPED);
  }
  EXPECT_EQ(s.steps(5).text(), "g say next (on c)");
}

}  // namespace
}  // namespace peerlab::harness
