// The runner on fake links (FakePeerLinks: no gRPC server) and a FakeClock:
// sleeps, waits, fault timeouts and the end phase end when the test moves
// the clock, never by sleeping.
#include <cstdint>

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

class StepRunnerTest : public ::testing::Test {
 protected:
  void Register(const std::string& name) {
    ::harness::v1::PeerInfo info;
    info.set_name(name);
    info.set_control_address("fake:" + name);
    info.set_pid(1);
    ASSERT_TRUE(registry_.Register(info).ok());
  }

  // Creates and starts a run of `text`; with `watched`, a client watches
  // it from the start (faults need one).
  std::unique_ptr<harness::Run> Start(const std::string& text,
                                      ::harness::v1::RunOptions options = {},
                                      bool watched = false) {
    options.set_quiet_ms(100);
    auto run =
        harness::Run::Create("r1", "t.cmd", text, options, &registry_,
                             {.clock = &clock_, .links = links_.Factory()});
    EXPECT_TRUE(run.ok()) << run.status();
    if (!run.ok()) return nullptr;
    if (watched) (*run)->AddWatcher();
    (*run)->Start();
    return *std::move(run);
  }

  // Waits (real time, bounded) until the run blocks on the clock.
  void UntilWaiting() {
    ASSERT_TRUE(Eventually([&] { return clock_.waiters() > 0; }));
  }

  // Plays the client that owns the processes: answers every new
  // FaultRequest of `run` (kill: the registration ends; start: a new one;
  // restart: both). Returns how many events the run has had.
  size_t ServeFaults(harness::Run& run) {
    std::vector<::harness::v1::RunEvent> events = run.EventsFrom(served_);
    served_ += events.size();
    if (!answer_faults_) return served_;
    for (const auto& e : events) {
      if (!e.has_fault_request()) continue;
      const auto& f = e.fault_request();
      if (f.kind() == "kill" || f.kind() == "restart") {
        auto info = registry_.Get(f.peer());
        if (info && info->alive()) {
          registry_.Unregister(f.peer(), info->generation());
        }
      }
      if (f.kind() == "start" || f.kind() == "restart") Register(f.peer());
      EXPECT_TRUE(run.ResolveFault(f.fault_id(), true, "").ok());
    }
    return served_;
  }

  // Whenever the run waits on the clock (and no fault request is on its
  // way), moves the clock to the wait's deadline, until the run has
  // finished. Answers fault requests.
  RunSummary RunToEnd(harness::Run& run) {
    return testing::RunToEnd(run, clock_, [&] { return ServeFaults(run); });
  }

  PeerRegistry registry_;
  FakeClock clock_;
  FakePeerLinks links_{&clock_};
  size_t served_ = 0;  // events of the run seen by ServeFaults
  bool answer_faults_ = true;
};

// A script whose every peer starts late: its first step is a fault, which
// waits for the client that is about to watch the run. Before: "no client
// is watching this run to carry out the fault".
TEST_F(StepRunnerTest, AScriptWhosePeersAllStartLateRuns) {
  ::harness::v1::RunOptions options;
  options.set_client_faults(true);
  auto run = Start("start alice\nalice say x\n", options);
  UntilWaiting();
  run->AddWatcher();
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  EXPECT_THAT(links_.commands(), ::testing::ElementsAre("alice: say x"));
  run->RemoveWatcher();
}

// Before: refused before the run ("restart alice: alice is not running
// here (killed at line 2)").
TEST_F(StepRunnerTest, RestartAfterKillStartsANewProcess) {
  Register("alice");
  ::harness::v1::RunOptions options;
  options.set_client_faults(true);
  auto run = Start("alice say x\nkill alice\nrestart alice\nalice say y\n",
                   options, /*watched=*/true);
  ASSERT_NE(run, nullptr);
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  EXPECT_THAT(links_.commands(),
              ::testing::ElementsAre("alice: say x", "alice: say y"));
  EXPECT_EQ(links_.opened(), 2);
  run->RemoveWatcher();
}

TEST_F(StepRunnerTest, CommandsGoThroughTheLinkAndFiltersCountItsLines) {
  Register("alice");
  links_.SetHandler([&](const std::string& name, const std::string& line)
                        -> absl::StatusOr<::peer::v1::ExecuteResponse> {
    links_.Write(name, "messagesView", line.substr(4));
    return ::peer::v1::ExecuteResponse();
  });
  auto run = Start(
      "alice say <alice> hi\n"
      "alice testfilter messagesView 1 <alice> hi\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  EXPECT_THAT(links_.commands(),
              ::testing::ElementsAre("alice: say <alice> hi"));
  ASSERT_EQ(s.filters_size(), 1);
  EXPECT_EQ(s.filters(0).received(), 1);
}

// Lines a long-lived peer showed before the run (its view history, sent
// first on a new link) are not the run's: a script passes again against
// the same peers. Before: every line since the peer's start counted.
TEST_F(StepRunnerTest, LinesFromBeforeTheRunAreNotCounted) {
  Register("alice");
  links_.SetHandler(
      [&](const std::string& name,
          const std::string&) -> absl::StatusOr<::peer::v1::ExecuteResponse> {
        links_.Write(name, "outputView", "hi", clock_.Now() - absl::Hours(1));
        links_.Write(name, "outputView", "hi");
        return ::peer::v1::ExecuteResponse();
      });
  auto run = Start(
      "alice echo hi\n"
      "wait alice outputView 1 hi\n"
      "expect alice outputView == 1 hi\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  ASSERT_EQ(s.filters_size(), 1);
  EXPECT_EQ(s.filters(0).received(), 1);
}

TEST_F(StepRunnerTest, CountFromPeerStartCountsTheHistoryToo) {
  Register("alice");
  links_.SetHandler(
      [&](const std::string& name,
          const std::string&) -> absl::StatusOr<::peer::v1::ExecuteResponse> {
        links_.Write(name, "outputView", "hi", clock_.Now() - absl::Hours(1));
        links_.Write(name, "outputView", "hi");
        return ::peer::v1::ExecuteResponse();
      });
  ::harness::v1::RunOptions options;
  options.set_count_from("peer-start");
  auto run = Start("alice echo hi\nexpect alice outputView == 2 hi\n", options);
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
}

TEST_F(StepRunnerTest, AnUnknownCountFromIsRefused) {
  ::harness::v1::RunOptions options;
  options.set_count_from("yesterday");
  auto run = harness::Run::Create("r1", "t.cmd", "alice echo hi\n", options,
                                  &registry_, {.clock = &clock_});
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
}

// A filter is a filter, not also a step: the summary, the events and the
// timeline list it once (as a FilterResult). Before: every filter line was
// also an OK step, listed among the steps and counted twice in junit.xml.
TEST_F(StepRunnerTest, FiltersAreNotSteps) {
  Register("alice");
  auto run = Start(
      "alice say x\n"
      "alice testfilter messagesView 0 <error>\n"
      "expect alice messagesView never <error>\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  ASSERT_EQ(s.steps_size(), 1);
  EXPECT_EQ(s.steps(0).kind(), "command");
  EXPECT_EQ(s.filters_size(), 2);
  for (const auto& e : run->EventsFrom(0)) {
    EXPECT_FALSE(e.has_step_started() && e.step_started().kind() == "filter");
    EXPECT_FALSE(e.has_step_finished() && e.step_finished().kind() == "filter");
  }
  for (const auto& t : s.timeline()) {
    EXPECT_THAT(t.text(), ::testing::Not(HasSubstr("testfilter")));
  }
}

// --fail-fast: a filter whose line comes after the first failure was not
// reached: SKIPPED, not checked, not counted as failed; filters before the
// failure are checked. Before: every skipped filter was checked and FAILED.
TEST_F(StepRunnerTest, FailFastSkipsTheFiltersAfterTheFailure) {
  Register("alice");
  links_.SetHandler([&](const std::string& name, const std::string& line)
                        -> absl::StatusOr<::peer::v1::ExecuteResponse> {
    if (line == "fail") return absl::InternalError("boom");
    links_.Write(name, "messagesView", line.substr(4));
    return ::peer::v1::ExecuteResponse();
  });
  ::harness::v1::RunOptions options;
  options.set_fail_fast(true);
  auto run = Start(
      "alice say x\n"
      "expect alice messagesView == 1 x\n"
      "alice fail\n"
      "alice say y\n"
      "expect alice messagesView == 1 y\n"
      "alice testfilter messagesView 1 y\n",
      options);
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  EXPECT_EQ(s.verdict(), "1 of 3 steps failed") << s.verdict();
  ASSERT_EQ(s.steps_size(), 3);
  EXPECT_EQ(s.steps(2).outcome(), ::harness::v1::OUTCOME_SKIPPED);
  ASSERT_EQ(s.filters_size(), 3);
  EXPECT_EQ(s.filters(0).outcome(), ::harness::v1::OUTCOME_OK);
  EXPECT_EQ(s.filters(1).outcome(), ::harness::v1::OUTCOME_SKIPPED);
  EXPECT_EQ(s.filters(2).outcome(), ::harness::v1::OUTCOME_SKIPPED);
}

// The end phase ends a quiet window after the filters hold, not at its
// timeout. Before: a line that arrived after the end phase began woke it,
// and it slept again until the timeout (10 s), so a run whose last line
// came late took 10 s more (the seed default.cmd, at times).
TEST_F(StepRunnerTest, TheEndPhaseEndsAQuietWindowAfterTheLastLine) {
  Register("alice");
  auto run = Start("alice say x\nexpect alice messagesView == 1 late\n");
  UntilWaiting();  // the end phase, waiting for the filter to hold
  const absl::Time t0 = clock_.Now();
  ASSERT_TRUE(links_.Write("alice", "messagesView", "late"));
  // The runner takes the line on its own thread: until it waits for the
  // quiet window, RunToEnd could take it for idle and move the clock to the
  // end phase's timeout (seen under load in CI: "10s vs 1s").
  ASSERT_TRUE(Eventually(
      [&] { return clock_.NextDeadline() < t0 + absl::Seconds(1); }));
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  EXPECT_LT(clock_.Now() - t0, absl::Seconds(1));
}

TEST_F(StepRunnerTest, SleepEndsWhenTheClockHasMoved) {
  Register("alice");
  auto run = Start("alice say x\nsleep 10s\n");
  UntilWaiting();
  clock_.Advance(absl::Seconds(9));
  UntilWaiting();
  EXPECT_FALSE(run->finished());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return run->finished(); }));
  EXPECT_EQ(run->Summary().state(), ::harness::v1::RUN_STATE_PASSED);
}

TEST_F(StepRunnerTest, AWaitTimesOutOnTheClock) {
  Register("alice");
  auto run = Start("alice say x\nwait alice messagesView 1 <nobody> 5s\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  ASSERT_EQ(s.steps_size(), 2);
  EXPECT_THAT(s.steps(1).message(), HasSubstr("timed out after 5 s"));
}

TEST_F(StepRunnerTest, AFaultTheClientNeverAnswersFailsAfterItsTimeout) {
  Register("alice");
  ::harness::v1::RunOptions options;
  options.set_client_faults(true);
  answer_faults_ = false;
  auto run = Start("alice say x\nstop alice\n", options, /*watched=*/true);
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  ASSERT_EQ(s.steps_size(), 2);
  EXPECT_THAT(s.steps(1).message(),
              HasSubstr("did not carry out the fault within 60 s"));
  run->RemoveWatcher();
}

TEST_F(StepRunnerTest, PeersThatNeverRegisterEndTheRunAtTheTimeout) {
  auto run = Start("alice say x\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_ERROR);
  EXPECT_THAT(s.verdict(), HasSubstr("did not register within 15 s: alice"));
  EXPECT_EQ(links_.opened(), 0);
}

}  // namespace
}  // namespace peerlab::harness
