// peerlab-sim: the runner's figures are sane for small clusters, and the
// binary (smoke test) prints them and writes its CSV.
#include "peer/membership/tool/sim_runner.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/testing/subprocess.h"
#include "gtest/gtest.h"

namespace peerlab::membership::tool {
namespace {

TEST(SimRunnerTest, JoinConvergesAndCountsTraffic) {
  SimRunOptions o;
  o.nodes = 20;
  o.duration = absl::Seconds(20);
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->converge.has_value());
  EXPECT_GT(*r->converge, absl::ZeroDuration());
  EXPECT_LT(*r->converge, absl::Seconds(20));
  EXPECT_EQ(r->false_positives, 0);
  EXPECT_GT(r->msgs_per_member_s, 0);
  EXPECT_GT(r->bytes_per_member_s, r->msgs_per_member_s);
  EXPECT_GT(r->steady_msgs_per_member_s, 0);
  EXPECT_EQ(r->sim_time, absl::Seconds(20));
}

TEST(SimRunnerTest, SameSeedSameFigures) {
  SimRunOptions o;
  o.nodes = 15;
  o.scenario = Scenario::kCrash;
  o.duration = absl::Seconds(40);
  o.seed = 7;
  auto a = RunSimulation(o);
  auto b = RunSimulation(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->converge, b->converge);
  EXPECT_EQ(a->last_detect, b->last_detect);
  EXPECT_EQ(a->events, b->events);
}

// Determinism: the trace hash (every delivery, its time, ends and size) is
// the same for two runs of one seed, and differs for another seed.
TEST(SimRunnerTest, SameSeedSameTraceHashOtherSeedOtherHash) {
  SimRunOptions o;
  o.nodes = 40;
  o.scenario = Scenario::kCrash;
  o.loss = 0.05;
  o.join_window = absl::Seconds(1);
  o.duration = absl::Seconds(40);
  o.seed = 11;
  auto a = RunSimulation(o);
  auto b = RunSimulation(o);
  o.seed = 12;
  auto other = RunSimulation(o);
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  ASSERT_TRUE(a->last_detect.has_value());  // the crash happened and was seen
  EXPECT_NE(a->trace_hash, 0u);
  EXPECT_EQ(a->trace_hash, b->trace_hash);
  EXPECT_EQ(a->events, b->events);
  EXPECT_NE(a->trace_hash, other->trace_hash);
  EXPECT_NE(FormatReport(*a).find(
                absl::StrFormat("trace hash: %016x\n", a->trace_hash)),
            std::string::npos);
}

TEST(SimRunnerTest, CrashIsDetectedFirstThenByAll) {
  SimRunOptions o;
  o.nodes = 30;
  o.scenario = Scenario::kCrash;
  o.crash = 2;
  o.duration = absl::Seconds(90);
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->fault_at.has_value());
  EXPECT_EQ(r->faulty.size(), 2u);
  ASSERT_TRUE(r->first_detect.has_value());
  ASSERT_TRUE(r->last_detect.has_value());
  EXPECT_GT(*r->first_detect, absl::ZeroDuration());
  EXPECT_LE(*r->first_detect, *r->last_detect);
  EXPECT_EQ(r->false_positives, 0);
}

TEST(SimRunnerTest, PartitionIsDetectedThenHeals) {
  SimRunOptions o;
  o.nodes = 10;
  o.profile = "local";
  o.scenario = Scenario::kPartition;
  o.duration = absl::Seconds(120);
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->partition_detect.has_value());
  ASSERT_TRUE(r->heal_converge.has_value());
  EXPECT_GT(*r->heal_converge, absl::ZeroDuration());
  EXPECT_EQ(r->false_positives, 0);
  EXPECT_GE(r->stale_partition_deaths, 0);
}

// The four lines scripts read (issue 17), exactly so.
TEST(SimRunnerTest, ReportHasTheSickNetworkLines) {
  SimRunOptions o;
  o.nodes = 20;
  o.scenario = Scenario::kFlipFlop;
  o.duration = absl::Seconds(90);
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string report = FormatReport(*r);
  for (const char* line :
       {"\nhealthy members declared dead: ", "\nfaulty members removed after: ",
        "\nre-admissions per cycle: ", "\nagreement: "}) {
    EXPECT_NE(report.find(line), std::string::npos) << line << "\n" << report;
  }
  EXPECT_EQ(report.find("agreement: n/a"), std::string::npos) << report;
  // The CSV keeps its old columns first, and has a cell per column.
  const std::vector<std::string> header = absl::StrSplit(CsvHeader(), ',');
  const std::vector<std::string> row = absl::StrSplit(CsvRow(*r), ',');
  EXPECT_EQ(row.size(), header.size());
  EXPECT_EQ(header[0], "nodes");
  EXPECT_EQ(header[25], "peak_rss_mib");
  EXPECT_EQ(header[26], "healthy_declared_dead");
}

// The gossip queue's bound (Config::max_queued_alives) shows in the report
// and the CSV when it acted: 150 members joining at once with at most 32
// notices queued drop some and catch up; the default bound (1,024) is never
// reached by 150 members.
TEST(SimRunnerTest, ReportsTheAliveNoticesDroppedAndTheCatchUps) {
  SimRunOptions o;
  o.nodes = 150;
  o.duration = absl::Seconds(30);
  auto unbounded = RunSimulation(o);
  ASSERT_TRUE(unbounded.ok()) << unbounded.status();
  EXPECT_EQ(unbounded->alive_notices_dropped, 0u);
  EXPECT_EQ(unbounded->drop_catch_ups, 0u);
  EXPECT_NE(FormatReport(*unbounded)
                .find("\nalive notices dropped: 0 (drop catch-ups: 0)\n"),
            std::string::npos)
      << FormatReport(*unbounded);
  o.max_queued_alives = 32;
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->alive_notices_dropped, 0u);
  EXPECT_GT(r->drop_catch_ups, 0u);
  const std::string report = FormatReport(*r);
  EXPECT_NE(report.find(absl::StrFormat(
                "\nalive notices dropped: %d (drop catch-ups: %d)\n",
                r->alive_notices_dropped, r->drop_catch_ups)),
            std::string::npos)
      << report;
  // The last two columns of the CSV.
  const std::vector<std::string> header = absl::StrSplit(CsvHeader(), ',');
  const std::vector<std::string> row = absl::StrSplit(CsvRow(*r), ',');
  ASSERT_EQ(row.size(), header.size());
  ASSERT_GE(header.size(), 2u);
  EXPECT_EQ(header[header.size() - 2], "alive_notices_dropped");
  EXPECT_EQ(header.back(), "drop_catch_ups");
  EXPECT_EQ(row[row.size() - 2], absl::StrCat(r->alive_notices_dropped));
  EXPECT_EQ(row.back(), absl::StrCat(r->drop_catch_ups));
}

// --start converged: all know all at 0 (said so in the report), the crash
// is seen dead by all, and the same seed gives the same trace hash.
TEST(SimRunnerTest, ConvergedStartKnowsAllAtZeroThenDetectsACrash) {
  SimRunOptions o;
  o.nodes = 50;
  o.scenario = Scenario::kCrash;
  o.start = StartMode::kConverged;
  o.duration = absl::Seconds(60);
  auto a = RunSimulation(o);
  auto b = RunSimulation(o);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  ASSERT_TRUE(a->converge.has_value());
  EXPECT_EQ(*a->converge, absl::ZeroDuration());
  ASSERT_TRUE(a->fault_at.has_value());
  EXPECT_EQ(*a->fault_at, o.settle);
  ASSERT_TRUE(a->last_detect.has_value());
  EXPECT_LT(*a->last_detect, absl::Seconds(30));
  EXPECT_EQ(a->false_positives, 0);
  EXPECT_EQ(a->trace_hash, b->trace_hash);
  EXPECT_EQ(a->events, b->events);
  const std::string report = FormatReport(*a);
  EXPECT_NE(report.find("start: converged\n"), std::string::npos) << report;
  EXPECT_NE(report.find("all know all after: 0.000 s (converged start"),
            std::string::npos)
      << report;
  // The CSV's start column.
  const std::vector<std::string> header = absl::StrSplit(CsvHeader(), ',');
  auto start_cell = [&](const SimRunResult& r) {
    const std::vector<std::string> row = absl::StrSplit(CsvRow(r), ',');
    for (size_t i = 0; i < header.size() && i < row.size(); ++i) {
      if (header[i] == "start") return row[i];
    }
    return std::string("(no start column)");
  };
  EXPECT_EQ(start_cell(*a), "converged") << CsvRow(*a);
  o.start = StartMode::kJoin;
  auto joined = RunSimulation(o);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_NE(joined->trace_hash, a->trace_hash);
  EXPECT_EQ(start_cell(*joined), "join") << CsvRow(*joined);
}

TEST(SimRunnerTest, ConvergedStartRefusesAJoinWindowAndTheJoinScenario) {
  SimRunOptions o;
  o.nodes = 10;
  o.start = StartMode::kConverged;
  EXPECT_EQ(RunSimulation(o).status().code(),
            absl::StatusCode::kInvalidArgument);  // scenario join
  o.scenario = Scenario::kCrash;
  o.join_window = absl::Seconds(1);
  EXPECT_EQ(RunSimulation(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.join_window = absl::ZeroDuration();
  EXPECT_TRUE(RunSimulation(o).ok());
  EXPECT_EQ(*ParseStartMode("converged"), StartMode::kConverged);
  EXPECT_FALSE(ParseStartMode("warm").ok());
}

TEST(SimRunnerTest, RejectsBadOptions) {
  SimRunOptions o;
  o.nodes = 0;
  EXPECT_FALSE(RunSimulation(o).ok());
  o.nodes = 5;
  o.scenario = Scenario::kCrash;
  o.crash = 5;
  EXPECT_FALSE(RunSimulation(o).ok());
  o.scenario = Scenario::kJoin;
  o.profile = "mars";
  EXPECT_FALSE(RunSimulation(o).ok());
  EXPECT_FALSE(ParseScenario("flood").ok());
}

// The binary: report on stdout, a CSV with a header and one row per run.
TEST(PeerlabSimSmokeTest, PrintsSaneFiguresAndCsv) {
  const char* bin_dir = std::getenv("PEERLAB_BIN_DIR");
  ASSERT_NE(bin_dir, nullptr) << "PEERLAB_BIN_DIR is not set (run via ctest)";
  auto dir = testing::TempDir::Create("peerlab-sim-test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string csv = (*dir)->File("runs.csv");
  for (const char* scenario : {"join", "crash"}) {
    auto p = testing::Subprocess::Start(
        {.argv = {std::string(bin_dir) + "/peerlab-sim", "--nodes", "25",
                  "--scenario", scenario, "--duration", "60", "--seed", "3",
                  "--csv", csv, "--quiet"},
         .stdout_path = (*dir)->File(std::string(scenario) + ".out"),
         .stderr_path = (*dir)->File(std::string(scenario) + ".err")});
    ASSERT_TRUE(p.ok()) << p.status();
    auto exit = (*p)->Wait(absl::Seconds(60));
    ASSERT_TRUE(exit.ok()) << exit.status();
    ASSERT_TRUE(exit->success()) << exit->ToString() << "\n"
                                 << (*p)->ReadStderr();
    EXPECT_NE((*p)->ReadStdout().find("all know all after: "),
              std::string::npos)
        << (*p)->ReadStdout();
  }
  auto text = testing::ReadFile(csv);
  ASSERT_TRUE(text.ok()) << text.status();
  std::vector<std::string> lines =
      absl::StrSplit(*text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << *text;
  std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  auto column = [&](const std::string& row, const std::string& name) {
    std::vector<std::string> cells = absl::StrSplit(row, ',');
    EXPECT_EQ(cells.size(), header.size()) << row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) {
      if (header[i] == name) return cells[i];
    }
    ADD_FAILURE() << "no column " << name;
    return std::string();
  };
  auto number = [&](const std::string& row, const std::string& name) {
    double v = NAN;
    EXPECT_TRUE(absl::SimpleAtod(column(row, name), &v))
        << name << " = \"" << column(row, name) << "\" in " << row;
    return v;
  };
  for (int i : {1, 2}) {
    const double converge = number(lines[i], "converge_s");
    EXPECT_GT(converge, 0);
    EXPECT_TRUE(std::isfinite(converge));
    EXPECT_LT(converge, 60);
    EXPECT_EQ(number(lines[i], "false_positives"), 0);
    EXPECT_GT(number(lines[i], "msgs_per_member_s"), 0);
    EXPECT_GT(number(lines[i], "bytes_per_member_s"), 0);
  }
  EXPECT_EQ(column(lines[2], "scenario"), "crash");
  const double first = number(lines[2], "first_detect_s");
  const double last = number(lines[2], "last_detect_s");
  EXPECT_GT(first, 0);
  EXPECT_GE(last, first);
  EXPECT_LT(last, 60);
}

}  // namespace
}  // namespace peerlab::membership::tool
