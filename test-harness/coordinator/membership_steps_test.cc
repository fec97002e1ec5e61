// wait converged, wait members and check membership on fake links and a
// FakeClock: the peers' digests are what the test says, polling ends when
// the answers agree or when the test moves the clock past the deadline.
#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "base/clock.h"
#include "base/testing/eventually.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/app/member_digest.h"
#include "test-harness/coordinator/convergence.h"
#include "test-harness/coordinator/fake_peer_link.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/coordinator/runner_testing.h"

namespace peerlab::harness {
namespace {

using ::harness::v1::RunSummary;
using ::peerlab::testing::Eventually;
using ::testing::HasSubstr;
using Rows = std::vector<peer::MemberRow>;

class MembershipStepsTest : public ::testing::Test {
 protected:
  void Register(const std::string& name) {
    ::harness::v1::PeerInfo info;
    info.set_name(name);
    info.set_control_address("fake:" + name);
    info.set_pid(1);
    ASSERT_TRUE(registry_.Register(info).ok());
  }

  // Each peer answers memberlistdigest [members] from tables_ (guarded by
  // mu_); any other command is OK with no output.
  void AnswerFromTables() {
    links_.SetHandler([this](const std::string& name, const std::string& line)
                          -> absl::StatusOr<::peer::v1::ExecuteResponse> {
      ::peer::v1::ExecuteResponse r;
      if (!absl::StartsWith(line, kDigestCommand)) return r;
      ++probes_;
      std::lock_guard<std::mutex> lock(mu_);
      auto it = tables_.find(name);
      if (it == tables_.end()) {
        r.set_code(static_cast<int>(absl::StatusCode::kFailedPrecondition));
        r.set_message("no membership node: run memberlistcreate first");
        return r;
      }
      r.add_output()->set_text(
          peer::FormatDigestLine(peer::DigestOf(it->second)));
      if (line == kDigestMembersCommand) {
        for (const peer::MemberRow& row : it->second) {
          r.add_output()->set_text(peer::FormatMemberRow(row));
        }
      }
      return r;
    });
  }
  void SetTable(const std::string& peer, Rows rows) {
    std::lock_guard<std::mutex> lock(mu_);
    tables_[peer] = std::move(rows);
  }

  std::unique_ptr<harness::Run> Start(const std::string& text) {
    ::harness::v1::RunOptions options;
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

  PeerRegistry registry_;
  FakeClock clock_;
  FakePeerLinks links_{&clock_};
  std::atomic<int> probes_{0};
  std::mutex mu_;
  std::map<std::string, Rows> tables_;
};

const Rows kAll = {
    {"alice", "alive", 1}, {"bob", "alive", 1}, {"carol", "alive", 1}};

TEST_F(MembershipStepsTest, WaitConvergedEndsWhenEveryPeerAgrees) {
  for (const char* p : {"alice", "bob", "carol"}) Register(p);
  AnswerFromTables();
  SetTable("alice", kAll);
  SetTable("bob", kAll);
  SetTable("carol", {{"carol", "alive", 1}});  // has not heard of the others
  auto run = Start("alice init\nbob init\ncarol init\nwait converged 5s\n");
  // Polls on the clock until carol catches up.
  ASSERT_TRUE(Eventually([&] { return probes_ >= 3 && clock_.waiters() > 0; }));
  EXPECT_FALSE(run->finished());
  SetTable("carol", kAll);
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  ASSERT_EQ(s.steps_size(), 4);
  EXPECT_THAT(s.steps(3).message(),
              HasSubstr("3 healthy peer(s) agree: digest "));
  EXPECT_THAT(s.steps(3).message(), HasSubstr(" live 3"));
}

TEST_F(MembershipStepsTest, WaitConvergedFailsAtItsDeadlineSayingWhoSeesWhat) {
  for (const char* p : {"alice", "bob"}) Register(p);
  AnswerFromTables();
  SetTable("alice", kAll);
  SetTable("bob", {{"alice", "alive", 1}, {"bob", "alive", 1}});
  auto run = Start(
      "group both alice bob\n"
      "alice init\nbob init\nwait converged both 3s\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  ASSERT_EQ(s.steps_size(), 3);
  EXPECT_THAT(s.steps(2).message(), HasSubstr("not converged after 3 s: "));
  EXPECT_THAT(s.steps(2).message(), HasSubstr("alice: digest "));
  EXPECT_THAT(s.steps(2).message(), HasSubstr(" live 3; bob: digest "));
}

TEST_F(MembershipStepsTest, APeerWithoutANodeIsTheReason) {
  Register("alice");
  Register("bob");
  AnswerFromTables();
  SetTable("alice", kAll);
  auto run = Start("alice init\nbob echo\nwait converged 1s\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  EXPECT_THAT(s.steps(2).message(), HasSubstr("bob: no membership node"));
}

TEST_F(MembershipStepsTest, WaitMembers) {
  Register("alice");
  AnswerFromTables();
  SetTable("alice", kAll);
  auto run =
      Start("alice init\nwait members alice 3 1s\nwait members alice 2 1s\n");
  RunSummary s = RunToEnd(*run);
  ASSERT_EQ(s.steps_size(), 3);
  EXPECT_EQ(s.steps(1).outcome(), ::harness::v1::OUTCOME_OK)
      << s.steps(1).message();
  EXPECT_EQ(s.steps(1).message(), "alice counts 3 live members");
  EXPECT_EQ(s.steps(2).outcome(), ::harness::v1::OUTCOME_FAILED);
  EXPECT_THAT(s.steps(2).message(),
              HasSubstr("alice counts 3 live members, not 2"));
}

TEST_F(MembershipStepsTest,
       CheckMembershipPassesOnAgreementAndNamesTheFirstDifference) {
  for (const char* p : {"alice", "bob"}) Register(p);
  AnswerFromTables();
  SetTable("alice", kAll);
  SetTable("bob", kAll);
  auto run = Start("alice init\nbob init\ncheck membership\n");
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
  EXPECT_EQ(s.steps(2).message(),
            "check membership: OK: 2 healthy peer(s) agree on 3 live "
            "member(s)");

  Rows dead = kAll;
  dead[1].state = "dead";  // alice lists bob dead
  SetTable("alice", dead);
  auto again = Start("alice init\nbob init\ncheck membership\n");
  s = RunToEnd(*again);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED);
  EXPECT_THAT(
      s.steps(2).message(),
      HasSubstr("alice lists bob dead (incarnation 1); bob is healthy"));
}

TEST_F(MembershipStepsTest, ProbesAreQuiet) {
  // The fake link's Probe is Execute: every probe shows in the commands.
  Register("alice");
  AnswerFromTables();
  SetTable("alice", kAll);
  auto run = Start("alice init\nwait members alice 3\n");
  RunToEnd(*run);
  EXPECT_THAT(links_.commands(),
              ::testing::ElementsAre("alice: init", "alice: memberlistdigest"));
}

// A peer under a fault of the nemesis is not healthy: `wait converged`
// compares the others (one rule with the checkers, RunHistory's healthy
// list). The client of the netns lab carries out the partitions; the
// minority side then sees only itself (for good: only the partition can
// make the healthy peers agree) and p1's log says so, which the script
// waits for.
TEST_F(MembershipStepsTest, APeerCutOffByTheNemesisIsNotHealthyForWait) {
  const Rows all = {{"p1", "alive", 1}, {"p2", "alive", 1}, {"p3", "alive", 1}};
  for (const char* p : {"p1", "p2", "p3"}) {
    Register(p);
    SetTable(p, all);
  }
  AnswerFromTables();
  ::harness::v1::RunOptions options;
  options.set_quiet_ms(100);
  options.set_lab("netns");
  options.set_client_faults(true);
  options.set_seed(7);
  // A partition of one peer at +1 s, healed at +2 s. (The sleep: the
  // clock does not jump past +1 s before the nemesis's thread waits.)
  auto created = harness::Run::Create(
      "r1", "t.cmd",
      "p1 init\np2 init\np3 init\nnemesis partition every 1s for 3s\n"
      "sleep 500ms\nwait p1 logView 1 ~partitioned 5s\n"
      "wait converged 500ms\n",
      options, &registry_, {.clock = &clock_, .links = links_.Factory()});
  ASSERT_TRUE(created.ok()) << created.status();
  harness::Run* run = created->get();
  std::mutex seen_mu;
  size_t seen = 0;
  run->AddWatcher();
  const int handle = run->Subscribe([&] {
    std::lock_guard<std::mutex> lock(seen_mu);
    for (const auto& e : run->EventsFrom(seen)) {
      ++seen;
      if (!e.has_fault_request()) continue;
      const auto& f = e.fault_request();
      if (f.kind() == "partition") {
        for (absl::string_view p : absl::StrSplit(f.args(0), ',')) {
          SetTable(std::string(p), {{std::string(p), "alive", 1}});
        }
        links_.Write("p1", "logView", "partitioned");
      }
      EXPECT_TRUE(run->ResolveFault(f.fault_id(), true, "").ok());
    }
  });
  run->Start();
  RunSummary s = RunToEnd(*run);
  run->Unsubscribe(handle);
  bool waited = false;
  for (const auto& step : s.steps()) {
    if (step.kind() != "wait converged") continue;
    waited = true;
    EXPECT_EQ(step.outcome(), ::harness::v1::OUTCOME_OK) << step.message();
    EXPECT_THAT(step.message(), HasSubstr("2 healthy peer(s) agree"));
  }
  EXPECT_TRUE(waited);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_PASSED) << s.verdict();
}

// check membership holds the whole run to its rule, not only the final
// tables: a healthy peer declared dead by a healthy one (its membership
// events) fails it. During `oneway p1,p2 -> p3` the deaf p3 is the peer
// under the fault (the smaller side, as for a partition), so p1's
// declaring p3 dead is none, but p1's declaring p2 dead is. Before, a
// oneway marked its senders unhealthy (p1 and p2: every peer but the faulty
// one in a flip-flop of one peer's ingress), and nothing was checked.
TEST_F(MembershipStepsTest,
       CheckMembershipFailsWhenAHealthyPeerWasDeclaredDead) {
  const Rows all = {{"p1", "alive", 1}, {"p2", "alive", 1}, {"p3", "alive", 1}};
  for (const char* p : {"p1", "p2", "p3"}) {
    Register(p);
    SetTable(p, all);
  }
  AnswerFromTables();
  auto run = Start(
      "p1 init\np2 init\np3 init\noneway p1,p2 -> p3\n"
      "wait p1 logView 1 go 5s\nheal\ncheck membership\n");
  // The clock moves only once the run waits in the `wait` step, after the
  // oneway began at +0 s. Before, any waiter was taken for it: the run
  // waiting for its peers to register moved the oneway to +2 s, after the
  // declarations at +1 s (both counted, "2 time(s)").
  auto waiting_in_wait_step = [&] {
    for (const auto& e : run->EventsFrom(0)) {
      if (e.has_step_started() && e.step_started().kind() == "wait") {
        return clock_.waiters() > 0;
      }
    }
    return false;
  };
  ASSERT_TRUE(Eventually(waiting_in_wait_step));
  using Kind = ::peer::v1::MemberEvent;
  clock_.Advance(absl::Seconds(1));  // the oneway holds since 1 s
  const absl::Time now = clock_.Now();
  links_.WriteMemberEvent("p1", Kind::SUSPECT, "p3", now);
  links_.WriteMemberEvent("p1", Kind::FAILED, "p3", now);
  links_.WriteMemberEvent("p1", Kind::SUSPECT, "p2", now);
  links_.WriteMemberEvent("p1", Kind::FAILED, "p2", now);
  links_.Write("p1", "logView", "go", now);
  clock_.Advance(absl::Seconds(1));  // heal 1 s later
  RunSummary s = RunToEnd(*run);
  EXPECT_EQ(s.state(), ::harness::v1::RUN_STATE_FAILED) << s.verdict();
  const auto& check = s.steps(s.steps_size() - 1);
  EXPECT_THAT(check.message(),
              HasSubstr("check membership: FAILED: 1 time(s) a healthy peer "
                        "declared a healthy one dead"));
  EXPECT_THAT(check.message(), HasSubstr("p1 declared p2 dead at +"));
}

}  // namespace
}  // namespace peerlab::harness
