// peerlab-test end to end: the real binaries (peerlab-test, -coordinator,
// -bootstrap, -peer) on loopback, driven by the seed scripts and the
// harness's own scripts in this folder.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace peerlab::harness {
namespace {

using ::peerlab::testing::BinDir;
using ::peerlab::testing::ExitStatus;
using ::peerlab::testing::ReadFile;
using ::peerlab::testing::Subprocess;
using ::peerlab::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// The bound on a lab run that must end by itself: against a hang, not a
// speed claim. These runs take 5-9 s on a quiet machine, and 10 s failed
// under load (14 runs at once: "r.took < 10s, actual: 13.7s"): the CI runs
// two tests at once on a shared machine. Each step has its own deadline.
constexpr absl::Duration kHangBound = absl::Seconds(30);

std::string Script(const std::string& name) {
  return std::string(PEERLAB_SOURCE_DIR) + "/test-harness/" + name;
}

// Processes whose command line mentions `needle` (the lab's processes all
// have the run's report folder in theirs).
std::vector<std::string> ProcessesMentioning(const std::string& needle,
                                             pid_t except = 0) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (pid == std::to_string(::getpid()) || pid == std::to_string(except)) {
      continue;
    }
    auto cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (!cmdline.ok()) continue;
    std::string line =
        absl::StrReplaceAll(*cmdline, {{std::string(1, '\0'), " "}});
    // A zombie has an empty command line; it is no running process.
    if (absl::StrContains(line, needle)) found.push_back(pid + ": " + line);
  }
  return found;
}

class HarnessE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bin = BinDir();
    ASSERT_TRUE(bin.ok()) << bin.status();
    bin_ = *bin;
    auto dir = TempDir::Create("peerlab-harness-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    reports_ = dir_->File("runs");
  }

  struct Result {
    ExitStatus exit;
    std::string out, err;
    absl::Duration took;
  };

  std::unique_ptr<Subprocess> Start(std::vector<std::string> args) {
    std::vector<std::string> argv = {bin_ + "/peerlab-test", "run",
                                     "--report-dir", reports_};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = Subprocess::Start({.argv = argv,
                                .stdout_path = dir_->File("out.txt"),
                                .stderr_path = dir_->File("err.txt")});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  Result RunHarness(std::vector<std::string> args,
                    absl::Duration timeout = absl::Seconds(120)) {
    Result r;
    absl::Time start = absl::Now();
    auto p = Start(std::move(args));
    if (!p) return r;
    auto exit = p->Wait(timeout);
    EXPECT_TRUE(exit.ok()) << "peerlab-test hangs: " << exit.status() << "\n"
                           << p->ReadStdout();
    if (exit.ok()) r.exit = *exit;
    r.took = absl::Now() - start;
    r.out = p->ReadStdout();
    r.err = p->ReadStderr();
    return r;
  }

  // The report folders written so far.
  std::vector<std::string> RunDirs() {
    std::vector<std::string> dirs;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(reports_, ec)) {
      if (e.is_directory()) dirs.push_back(e.path().string());
    }
    std::sort(dirs.begin(), dirs.end());
    return dirs;
  }

  nlohmann::json Summary(const std::string& run_dir) {
    auto text = ReadFile(run_dir + "/summary.json");
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json();
  }

  // Whether the peer has the chat's `init` (the seed scripts need it).
  bool HaveInit() {
    auto p = Subprocess::Start({.argv = {bin_ + "/peerlab-peer", "probe",
                                         "--no-init", "--exec", "help init"}});
    if (!p.ok()) return false;
    auto exit = (*p)->Wait(absl::Seconds(30));
    return exit.ok() && exit->success();
  }

  std::string bin_;
  std::unique_ptr<TempDir> dir_;
  std::string reports_;
};

#define SKIP_WITHOUT_INIT()                                               \
  if (!HaveInit()) {                                                      \
    GTEST_SKIP() << "peerlab-peer has no `init` command yet (the chat): " \
                    "this script needs it";                               \
  }

TEST_F(HarnessE2eTest, SeedDefaultPasses) {
  SKIP_WITHOUT_INIT();
  Result r = RunHarness({Script("seed-tests/default.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Verdict: PASSED"));
  EXPECT_THAT(r.out, Not(HasSubstr("FAILED")));
  ASSERT_EQ(RunDirs().size(), 1u);
  auto s = Summary(RunDirs()[0]);
  EXPECT_EQ(s["filters"].size(), 6u);
  // Numbers are JSON numbers (proto JSON would write int64 as strings).
  for (const auto& f : s["filters"]) EXPECT_EQ(f["received"], 1) << f;
  // Filters are listed once, as filters: the 6 steps are the commands.
  EXPECT_EQ(s["steps"].size(), 6u);
}

TEST_F(HarnessE2eTest, SeedStartPasses) {
  SKIP_WITHOUT_INIT();
  Result r = RunHarness({Script("seed-tests/start.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Verdict: PASSED"));
}

TEST_F(HarnessE2eTest, EchoScriptPassesAndWritesTheReportFolder) {
  Result r = RunHarness({"--seed", "1234", Script("tests/echo.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK      alice echo hello from alice"));
  ASSERT_EQ(RunDirs().size(), 1u);
  const std::string run = RunDirs()[0];
  for (const char* f :
       {"echo.cmd", "summary.json", "junit.xml", "timeline.html",
        "logs/alice.log", "logs/bob.log", "logs/alice.out",
        "logs/coordinator.log", "logs/bootstrap.log"}) {
    EXPECT_TRUE(std::filesystem::exists(run + "/" + f)) << f;
  }
  auto s = Summary(run);
  EXPECT_EQ(s["state"], "RUN_STATE_PASSED");
  EXPECT_EQ(s["seed"], 1234);
  EXPECT_EQ(s["steps"].size(), 3u);  // the filters are not steps
  auto junit = ReadFile(run + "/junit.xml");
  ASSERT_TRUE(junit.ok());
  EXPECT_THAT(*junit, HasSubstr("failures=\"0\""));
  EXPECT_THAT(*junit, HasSubstr("<property name=\"seed\" value=\"1234\"/>"));
  auto log = ReadFile(run + "/logs/alice.log");
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, HasSubstr("registered with the coordinator"));
  // Nothing of the lab is left running.
  EXPECT_THAT(ProcessesMentioning(reports_), ::testing::IsEmpty());
}

TEST_F(HarnessE2eTest, AFilterThatMustFailFailsWithExitCode1) {
  Result r = RunHarness({Script("tests/filter_fails.cmd")});
  EXPECT_EQ(r.exit.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("FAILED  line 5   alice outputView == 1"));
  EXPECT_THAT(r.out, HasSubstr("expected == 1, received 2"));
  EXPECT_THAT(r.out, HasSubstr("Verdict: FAILED"));
  ASSERT_EQ(RunDirs().size(), 1u);
  EXPECT_EQ(Summary(RunDirs()[0])["state"], "RUN_STATE_FAILED");
  auto junit = ReadFile(RunDirs()[0] + "/junit.xml");
  ASSERT_TRUE(junit.ok());
  EXPECT_THAT(*junit, HasSubstr("<failure message=\"expected == 1"));
}

TEST_F(HarnessE2eTest, AParseErrorNamesFileAndLineAndRunsNothing) {
  Result r =
      RunHarness({Script("tests/echo.cmd"), Script("tests/parse_error.cmd")});
  EXPECT_EQ(r.exit.code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("parse_error.cmd:4: testfilter"));
  EXPECT_THAT(r.err, HasSubstr("nothing was run"));
  // Not even the good script ran.
  EXPECT_TRUE(RunDirs().empty());
  EXPECT_THAT(r.out, Not(HasSubstr("OK")));
}

TEST_F(HarnessE2eTest, APeerCrashingMidRunFailsTheRunWithoutHanging) {
  Result r = RunHarness({Script("tests/crash.cmd")});
  EXPECT_EQ(r.exit.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("alice echo after  -- peer alice is not "
                               "running (died unexpectedly"));
  EXPECT_THAT(r.out, HasSubstr("OK      bob echo after"));
  EXPECT_THAT(r.out, HasSubstr("peer alice died unexpectedly"));
  EXPECT_LT(r.took, absl::Seconds(30));
}

TEST_F(HarnessE2eTest, AKilledPeerIsSeenFailedAndTheBootstrapListRefilled) {
  SKIP_WITHOUT_INIT();
  Result r = RunHarness({Script("tests/killed_peer.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK      fault kill bob"));
}

// wait converged, wait members and check membership on real peers: five
// agree, a kill is counted out, the rest agree again.
TEST_F(HarnessE2eTest, FivePeersConvergeAndAKilledOneIsCountedOut) {
  SKIP_WITHOUT_INIT();
  Result r = RunHarness({Script("tests/converge.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_LT(r.took, kHangBound);
  ASSERT_EQ(RunDirs().size(), 1u);
  nlohmann::json summary = Summary(RunDirs()[0]);
  std::vector<std::string> messages;
  for (const auto& step : summary["steps"]) {
    if (step.contains("message")) {
      messages.push_back(step["message"].get<std::string>());
    }
  }
  EXPECT_THAT(messages, ::testing::Contains(
                            HasSubstr("5 healthy peer(s) agree: digest ")));
  EXPECT_THAT(messages, ::testing::Contains("p1 counts 4 live members"));
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr(
                            "check membership: OK: 4 healthy peer(s) agree on "
                            "4 live member(s)")));
}

TEST_F(HarnessE2eTest, ALateJoinerIsSeenByEverybody) {
  SKIP_WITHOUT_INIT();
  Result r = RunHarness({Script("tests/late_joiner.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK      fault start dave"));
  ASSERT_EQ(RunDirs().size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(RunDirs()[0] + "/logs/dave.log"));
}

// Before: "no client is watching this run to carry out the fault" at the
// first `start`, and `restart` after `kill` was refused before the run.
TEST_F(HarnessE2eTest, AllPeersStartLateAndAKilledPeerIsRestarted) {
  Result r = RunHarness({Script("tests/all_late.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
}

TEST_F(HarnessE2eTest, StopThenContIsSuspectThenAlive) {
  SKIP_WITHOUT_INIT();
  Result r = RunHarness({Script("tests/stop_cont.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK      fault stop charly"));
  EXPECT_THAT(r.out, HasSubstr("OK      fault cont charly"));
}

TEST_F(HarnessE2eTest, UnknownPeersViewsAndGhostsAreRefusedBeforeTheRun) {
  Result r = RunHarness({Script("tests/unknown_names.cmd")});
  EXPECT_EQ(r.exit.code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("unknown_names.cmd:6: peer bbo runs no "
                               "command in this script (did you mean bob?)"));
  EXPECT_THAT(r.err, HasSubstr("unknown_names.cmd:7: view mesagesView does "
                               "not exist (did you mean messagesView?)"));
  EXPECT_THAT(r.err, HasSubstr("unknown_names.cmd:8: peer ghost runs no "
                               "command"));
  EXPECT_THAT(r.err, HasSubstr("nothing was run"));
  EXPECT_THAT(r.out, Not(HasSubstr("PASSED")));
  EXPECT_TRUE(RunDirs().empty());
}

TEST_F(HarnessE2eTest, ANetnsOnlyScriptIsRefusedInTheLocalLab) {
  Result r = RunHarness({Script("tests/needs_netns.cmd")});
  EXPECT_EQ(r.exit.code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("needs_netns.cmd:6: netem corrupt needs --lab "
                               "netns"));
  EXPECT_LT(r.took, absl::Seconds(5));
  EXPECT_TRUE(RunDirs().empty());
}

// partition and heal in the local lab, without root or a kernel qdisc: the
// coordinator has each peer block the other side's addresses (`faults`);
// each side sees the other fail and keeps chatting inside itself, and after
// heal a message reaches everybody (the netns scenario, unchanged).
TEST_F(HarnessE2eTest, PartitionAndHealInTheLocalLab) {
  Result r = RunHarness({Script("scenarios/partition-3-2.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Verdict: PASSED"));
  EXPECT_LT(r.took, kHangBound);
  // The fault step and the peers' fault commands are on the timeline.
  std::vector<std::string> dirs = RunDirs();
  ASSERT_EQ(dirs.size(), 1u);
  auto summary = ReadFile(dirs[0] + "/summary.json");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(*summary, HasSubstr("partition a,b,c | d,e"));
  EXPECT_THAT(*summary, HasSubstr("faults block 127.0.0.1:"));
  EXPECT_THAT(*summary, HasSubstr("faults clear 127.0.0.1:"));
}

// oneway A -> B in the local lab: a's traffic to b is dropped, b's to a
// flows; b suspects a and declares it failed, heal brings them together.
TEST_F(HarnessE2eTest, OneWayInTheLocalLab) {
  Result r = RunHarness({Script("tests/oneway.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Verdict: PASSED"));
  EXPECT_LT(r.took, kHangBound);
}

// A peer restarted while partitioned starts alone (its bootstrap peers are
// cut off) and joins them after the heal; each side then shows the
// other's chat. Before: "not converged after 8 s: p1, p3: ... live 2; p2:
// ... live 1" for good (nobody knew the new process's address, and it
// never tried the listed peers again), and p2 never showed p3's message.
TEST_F(HarnessE2eTest, APeerRestartedWhilePartitionedJoinsAfterTheHeal) {
  SKIP_WITHOUT_INIT();
  Result r = RunHarness({Script("tests/restart_partitioned.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Verdict: PASSED"));
  EXPECT_LT(r.took, kHangBound);
}

// The listed peers killed and started again in turn, faster than they are
// declared dead: each new process takes its predecessor's bootstrap entry.
// Before: the list held three dead entries until their leases ended, and
// p3's new process got "list full", found no listed peer answering and ran
// alone ("p3: digest ... live 1").
TEST_F(HarnessE2eTest, ARestartedPeerTakesItsPredecessorsBootstrapEntry) {
  SKIP_WITHOUT_INIT();
  Result r = RunHarness({Script("tests/restart_listed.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Verdict: PASSED"));
  EXPECT_LT(r.took, kHangBound);
}

// Several scripts in one invocation: a report folder each (the same
// script twice included: nothing is overwritten), one combined summary
// (a line a run, the totals) with its own folder, and the worst exit code.
TEST_F(HarnessE2eTest, SeveralScriptsEndWithOneCombinedSummary) {
  Result r = RunHarness({Script("tests/echo.cmd"), Script("tests/echo.cmd"),
                         Script("tests/filter_fails.cmd")});
  EXPECT_EQ(r.exit.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Combined summary of 3 runs:"));
  EXPECT_THAT(r.out, HasSubstr("Totals: 3 runs: 2 passed, 1 failed, 0 could "
                               "not run;"));
  EXPECT_THAT(r.out, HasSubstr("Exit code 1: a check failed"));
  std::vector<std::string> runs, combined;
  for (const std::string& dir : RunDirs()) {
    (absl::StrContains(dir, "/combined-") ? combined : runs).push_back(dir);
  }
  ASSERT_EQ(runs.size(), 3u);
  ASSERT_EQ(combined.size(), 1u);
  std::set<std::string> ids;
  for (const std::string& dir : runs) ids.insert(Summary(dir)["run_id"]);
  EXPECT_EQ(ids.size(), 3u);
  auto c = Summary(combined[0]);
  EXPECT_EQ(c["exit_code"], 1);
  ASSERT_EQ(c["runs"].size(), 3u);
  EXPECT_EQ(c["runs"][2]["state"], "FAILED");
  EXPECT_EQ(c["totals"]["filters"]["failed"], 1);
  auto junit = ReadFile(combined[0] + "/junit.xml");
  ASSERT_TRUE(junit.ok());
  EXPECT_THAT(*junit, HasSubstr("<testsuite name=\"filter_fails.cmd\""));
}

// Steps whose output is 1 MiB, as one line and as many lines: each fails
// with the size problem, the run goes on, the report is written.
TEST_F(HarnessE2eTest, AStepWithAHugeOutputFailsAndTheReportIsWritten) {
  Result r = RunHarness({Script("tests/big_output.cmd")});
  EXPECT_EQ(r.exit.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("output too large: 1.0 MiB in 1 line,"));
  EXPECT_THAT(r.out, HasSubstr("output too large: 1.0 MiB in 16384 lines"));
  EXPECT_THAT(r.out, HasSubstr("OK      bob echo after"));
  EXPECT_THAT(r.out, Not(HasSubstr("lost the coordinator")));
  EXPECT_THAT(r.out, HasSubstr("Verdict: FAILED"));
  ASSERT_EQ(RunDirs().size(), 1u);
  const std::string run = RunDirs()[0];
  for (const char* f : {"summary.json", "junit.xml", "timeline.html"}) {
    EXPECT_TRUE(std::filesystem::exists(run + "/" + f)) << f;
  }
  auto s = Summary(run);
  EXPECT_EQ(s["state"], "RUN_STATE_FAILED");
  ASSERT_EQ(s["steps"].size(), 6u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(s["steps"][i]["message"].get<std::string>(),
                HasSubstr("output too large"))
        << i;
  }
  EXPECT_THAT(s["steps"][0]["output"][0].get<std::string>(),
              HasSubstr("[line cut: 1.0 MiB"));
  EXPECT_LT(s.dump().size(), 2u << 20);
  EXPECT_THAT(ProcessesMentioning(reports_), ::testing::IsEmpty());
}

TEST_F(HarnessE2eTest, ADirectoryOrAHugeFileAsScriptFailsClearly) {
  Result dir = RunHarness({dir_->path()});
  EXPECT_EQ(dir.exit.code, 2) << dir.out << dir.err;
  EXPECT_THAT(dir.err, HasSubstr(dir_->path()));
  EXPECT_THAT(dir.err, HasSubstr("is a directory, not a file"));
  EXPECT_THAT(dir.err, HasSubstr("nothing was run"));
  Result zero = RunHarness({"/dev/zero"}, absl::Seconds(20));
  EXPECT_EQ(zero.exit.code, 2) << zero.out << zero.err;
  EXPECT_THAT(zero.err, HasSubstr("/dev/zero"));
  EXPECT_THAT(zero.err, HasSubstr("not a regular file"));
  EXPECT_TRUE(RunDirs().empty());
}

// Waits until the run is under way (both peers answered).
void WaitUnderWay(Subprocess& p) {
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!absl::StrContains(p.ReadStdout(), "OK      bob echo up")) {
    ASSERT_TRUE(p.Running()) << p.ReadStdout() << p.ReadStderr();
    ASSERT_LT(absl::Now(), deadline) << p.ReadStdout();
    absl::SleepFor(absl::Milliseconds(20));
  }
}

TEST_F(HarnessE2eTest, CtrlCCancelsTheRunAndStopsTheLab) {
  auto p = Start({Script("tests/sleeper.cmd")});
  ASSERT_TRUE(p);
  WaitUnderWay(*p);
  ASSERT_FALSE(ProcessesMentioning(reports_).empty());
  absl::Time sent = absl::Now();
  ASSERT_TRUE(p->Signal(SIGINT).ok());
  auto exit = p->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << "peerlab-test does not end on SIGINT";
  EXPECT_LT(absl::Now() - sent, absl::Seconds(10));
  EXPECT_EQ(exit->code, 2) << p->ReadStdout();
  EXPECT_THAT(p->ReadStdout(), HasSubstr("CANCELLED"));
  EXPECT_THAT(ProcessesMentioning(reports_), ::testing::IsEmpty());
  ASSERT_EQ(RunDirs().size(), 1u);
  EXPECT_EQ(Summary(RunDirs()[0])["state"], "RUN_STATE_CANCELLED");
}

// The terminal closed: SIGHUP ends peerlab-test (and its lab) as SIGTERM
// does.
TEST_F(HarnessE2eTest, SighupCancelsTheRunAndStopsTheLab) {
  auto p = Start({Script("tests/sleeper.cmd")});
  ASSERT_TRUE(p);
  WaitUnderWay(*p);
  ASSERT_TRUE(p->Signal(SIGHUP).ok());
  auto exit = p->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << "peerlab-test does not end on SIGHUP";
  EXPECT_EQ(exit->code, 2) << p->ReadStdout();
  EXPECT_THAT(p->ReadStdout(), HasSubstr("CANCELLED"));
  EXPECT_THAT(ProcessesMentioning(reports_), ::testing::IsEmpty());
  ASSERT_EQ(RunDirs().size(), 1u);
  EXPECT_EQ(Summary(RunDirs()[0])["state"], "RUN_STATE_CANCELLED");
}

TEST_F(HarnessE2eTest, TheCoordinatorStopsCleanlyOnSighup) {
  const std::string ready = dir_->File("coordinator.ready");
  const std::string log = dir_->File("coordinator.log");
  auto p = Subprocess::Start(
      {.argv = {bin_ + "/peerlab-coordinator", "--listen", "127.0.0.1:0",
                "--ready-file", ready, "--log-file", log},
       .stdout_path = dir_->File("c.out"),
       .stderr_path = dir_->File("c.err")});
  ASSERT_TRUE(p.ok()) << p.status();
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!std::filesystem::exists(ready)) {
    ASSERT_TRUE((*p)->Running()) << (*p)->ReadStderr();
    ASSERT_LT(absl::Now(), deadline) << "no ready file";
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE((*p)->Signal(SIGHUP).ok());
  auto exit = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << "peerlab-coordinator does not end on SIGHUP";
  EXPECT_EQ(exit->code, 0) << exit->ToString();
  auto text = ReadFile(log);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("Hangup received: shutting down"));
  EXPECT_THAT(*text, HasSubstr("stopped"));
}

TEST_F(HarnessE2eTest, KillingPeerlabTestLeavesNoProcessBehind) {
  auto p = Start({Script("tests/sleeper.cmd")});
  ASSERT_TRUE(p);
  WaitUnderWay(*p);
  // bootstrap, coordinator, alice, bob.
  EXPECT_EQ(ProcessesMentioning(reports_, p->pid()).size(), 4u)
      << ::testing::PrintToString(ProcessesMentioning(reports_, p->pid()));
  ASSERT_TRUE(p->Kill().ok());
  // PR_SET_PDEATHSIG: the kernel kills them with their parent; give the
  // kernel a moment to deliver and reap.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!ProcessesMentioning(reports_).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(ProcessesMentioning(reports_), ::testing::IsEmpty());
}

TEST_F(HarnessE2eTest, RepeatReportsEveryRun) {
  Result r =
      RunHarness({"--repeat", "2", "--seed", "7", Script("tests/echo.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 of 2 runs passed (seeds 7..8)"));
  EXPECT_THAT(r.out, HasSubstr("no flaky steps"));
  EXPECT_EQ(RunDirs().size(), 2u);
}

// The timeline page in headless Chromium: the DOM has a lane per peer, and
// the screenshot is far from blank.
// A nemesis run: a schedule of kills, stops and partitions drawn from seed
// 7 (partitions are skipped in a lab without network faults) while five
// peers chat; check chat and check kv pass, and the schedule is in the
// summary.
TEST_F(HarnessE2eTest, ANemesisRunPassesCheckChatKvAndMembership) {
  SKIP_WITHOUT_INIT();
  // --timeout 25, as TheNemesisNetworkFaultsReachThePeersInTheLocalLab
  // below: a peer that missed a refutation learns the new incarnation at
  // its next push/pull (15 s in the local profile). With the default 10 s
  // it failed once in a fresh-clone CI run ("alive incarnation 3 at p1,
  // alive incarnation 4 at p2, p3, p4, p5").
  Result r = RunHarness(
      {"--seed", "7", "--timeout", "25", Script("tests/nemesis_chat.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK      nemesis kill,stop,partition every "
                               "1s..2s for 6s"));
  EXPECT_THAT(r.out, HasSubstr("-- check chat: OK: "));
  EXPECT_THAT(r.out, HasSubstr("-- check kv: OK: "));
  EXPECT_THAT(r.out, HasSubstr("-- check membership: OK: "));
  EXPECT_THAT(r.out, Not(HasSubstr("SKIPPED fault nemesis")));
  EXPECT_THAT(r.out, HasSubstr("Nemesis schedule (seed 7):\n  line 18: +"));
  ASSERT_EQ(RunDirs().size(), 1u);
  auto s = Summary(RunDirs()[0]);
  EXPECT_GE(s["nemesis_schedule"].size(), 4u);
  EXPECT_LT(r.took, absl::Seconds(45));  // against a hang: the 25 s above
  if (::testing::Test::HasFailure()) {
    // The verdict's lines only (the whole output is long).
    for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
      if (absl::StrContains(line, "FAILED") || absl::StartsWith(line, "  ") ||
          absl::StartsWith(line, "Verdict")) {
        ADD_FAILURE() << line;
      }
    }
  }
}

// The nemesis's network faults in the local lab (no root): partitions,
// one-way blocks, loss and delay are carried out by the peers' fault layer,
// undone by the end, and counted by the peers. Before: each was SKIPPED
// ("the nemesis does not carry out partition in the local lab yet").
TEST_F(HarnessE2eTest, TheNemesisNetworkFaultsReachThePeersInTheLocalLab) {
  // --timeout 25: a peer that missed a refutation while nobody accused the
  // member (its table: alive at the old incarnation) learns the new one at
  // its next push/pull, every 15 s in the local profile; with the default
  // 10 s the check failed 1 run of 9 ("alive incarnation 1 at p3,
  // alive incarnation 2 at p1, p2, p4, p5"). It passes as soon as the
  // tables agree.
  Result r = RunHarness(
      {"--seed", "7", "--timeout", "25", Script("tests/nemesis_net.cmd")});
  EXPECT_EQ(r.exit.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("SKIPPED")));
  EXPECT_THAT(r.out, HasSubstr("OK      fault nemesis: partition "));
  EXPECT_THAT(r.out, HasSubstr("-- check membership: OK: "));
  // A bound against a hang, not a speed claim: check membership waits for
  // agreement, which took 4.4-10.8 s on an idle machine, at most the 25 s
  // above.
  EXPECT_LT(r.took, absl::Seconds(45));
  ASSERT_EQ(RunDirs().size(), 1u);
  nlohmann::json s = Summary(RunDirs()[0]);
  int listed = 0;
  // Datagrams the nemesis's faults acted on: blocked (partition, oneway),
  // dropped (loss) or held back (delay). Each window lasts 0.5-1 s and a
  // quiet group of five sends few datagrams, so a given kind can count none
  // on a loaded machine ('blocked > 0' failed so, 0 vs 0); all kinds
  // together cannot.
  int64_t acted = 0;
  for (const auto& step : s["steps"]) {
    if (!absl::StrContains(step.value("text", ""), "faults list")) continue;
    ++listed;
    ASSERT_TRUE(step.contains("output")) << step.dump();
    // Everything the nemesis set was undone; what it did is counted.
    EXPECT_EQ(step["output"][0], "faults: none") << step.dump();
    for (const auto& line : step["output"]) {
      std::string text = line.get<std::string>();
      for (const char* kind : {" dropped, ", " blocked, ", " held back, "}) {
        size_t at = text.find(kind);
        if (at == std::string::npos) continue;
        size_t from = text.rfind(", ", at);
        from = from == std::string::npos ? text.find(": ") : from;
        if (from == std::string::npos) continue;
        acted += std::stoll(text.substr(from + 2, at - from - 2));
      }
    }
  }
  EXPECT_EQ(listed, 5);
  EXPECT_GT(acted, 0);
}

TEST_F(HarnessE2eTest, TimelineShowsEveryPeerLaneInChromium) {
  std::string chromium;
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (::access(c, X_OK) == 0) chromium = c;
  }
  if (chromium.empty()) {
    GTEST_SKIP() << "no chromium (apt-get install chromium) for the "
                    "screenshot test";
  }
  const bool chat = HaveInit();
  Result r =
      RunHarness({Script(chat ? "seed-tests/default.cmd" : "tests/echo.cmd")});
  ASSERT_EQ(r.exit.code, 0) << r.out << r.err;
  ASSERT_EQ(RunDirs().size(), 1u);
  const std::string page = "file://" + RunDirs()[0] + "/timeline.html";
  const std::vector<std::string> peers =
      chat ? std::vector<std::string>{"alice", "bob", "charly"}
           : std::vector<std::string>{"alice", "bob"};
  auto browse = [&](std::vector<std::string> args, const std::string& url,
                    const std::string& out) -> std::string {
    std::vector<std::string> argv = {chromium,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--no-first-run",
                                     "--user-data-dir=" + dir_->File("chrome"),
                                     "--window-size=1300,900"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    auto p = Subprocess::Start({.argv = argv,
                                .stdout_path = dir_->File(out),
                                .stderr_path = dir_->File(out + ".err")});
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return "";
    auto exit = (*p)->Wait(absl::Seconds(90));
    EXPECT_TRUE(exit.ok() && exit->success())
        << (exit.ok() ? exit->ToString() : exit.status().ToString()) << "\n"
        << (*p)->ReadStderr();
    return (*p)->ReadStdout();
  };
  std::string dom = browse({"--dump-dom"}, page, "dom.html");
  for (const auto& peer : peers) {
    EXPECT_THAT(dom, HasSubstr(absl::StrCat("<g class=\"lane\" data-peer=\"",
                                            peer, "\">")))
        << peer;
  }
  EXPECT_THAT(dom, HasSubstr("id=\"verdict\">PASSED<"));
  // Step bars were drawn in the lanes.
  EXPECT_THAT(dom, HasSubstr("class=\"step ok\""));
  // The zoom script ran (it adds the plot's clip path).
  EXPECT_THAT(dom, HasSubstr("id=\"plotclip\""));
  // The message diagram: an arrow a message shown.
  if (chat) EXPECT_THAT(dom, HasSubstr("<line class=\"msg\""));

  const std::string shot = dir_->File("timeline.png");
  const std::string blank = dir_->File("blank.png");
  browse({"--screenshot=" + shot}, page, "shot.txt");
  browse({"--screenshot=" + blank}, "about:blank", "blank.txt");
  auto png = ReadFile(shot);
  auto empty = ReadFile(blank);
  ASSERT_TRUE(png.ok()) << png.status();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(png->substr(0, 8), "\x89PNG\r\n\x1a\n");
  // A drawn page compresses far worse than an empty one.
  EXPECT_GT(png->size(), 4 * empty->size())
      << "timeline " << png->size() << " bytes, blank " << empty->size();
}

}  // namespace
}  // namespace peerlab::harness
