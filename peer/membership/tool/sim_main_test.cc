// peerlab-sim's command line: an option of another scenario, or one that
// has nothing to act on (--timeline-every without --timeline,
// --progress-every with -q), is a usage error (exit 2) rather than silently
// ignored, counts beyond the members are usage errors too, and a run that
// would need more memory than there is (MemAvailable, or the cgroup's
// limit if smaller) is refused (exit 1) before it allocates anything.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "base/testing/subprocess.h"
#include "gtest/gtest.h"

namespace peerlab::membership::tool {
namespace {

struct SimExit {
  int code = -1;
  std::string out, err;
};

// Runs peerlab-sim with `args` (and `env` added to ours) and waits up to
// `wait` for its exit.
SimExit Sim(const std::vector<std::string>& args,
            absl::Duration wait = absl::Seconds(60),
            const std::map<std::string, std::string>& env = {}) {
  SimExit run;
  const char* bin_dir = std::getenv("PEERLAB_BIN_DIR");
  if (bin_dir == nullptr) {
    ADD_FAILURE() << "PEERLAB_BIN_DIR is not set (run via ctest)";
    return run;
  }
  auto dir = testing::TempDir::Create("peerlab-sim-cli");
  if (!dir.ok()) {
    ADD_FAILURE() << dir.status();
    return run;
  }
  std::vector<std::string> argv = {std::string(bin_dir) + "/peerlab-sim"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = testing::Subprocess::Start({.argv = argv,
                                       .env = env,
                                       .stdout_path = (*dir)->File("out"),
                                       .stderr_path = (*dir)->File("err")});
  if (!p.ok()) {
    ADD_FAILURE() << p.status();
    return run;
  }
  auto exit = (*p)->Wait(wait);
  run.out = (*p)->ReadStdout();
  run.err = (*p)->ReadStderr();
  if (!exit.ok()) {
    ADD_FAILURE() << "peerlab-sim " << absl::StrJoin(args, " ") << ": "
                  << exit.status();
    return run;
  }
  run.code = exit->exited ? exit->code : -1;
  return run;
}

struct Misplaced {
  std::vector<std::string> args;  // the option and the scenario it misses
  std::string flag;
  std::string applies_to;  // as the message lists them
};

// Each scenario's options, given with the default scenario (join) or with
// another one: the run would ignore them.
TEST(PeerlabSimCliTest, OptionOfAnotherScenarioIsAUsageError) {
  const std::vector<Misplaced> cases = {
      {{"--crash", "3"}, "--crash", "crash"},
      {{"--crash", "11"}, "--crash", "crash"},
      {{"--scenario", "flipflop", "--crash", "3"}, "--crash", "crash"},
      {{"--partition-fraction", "0.3"}, "--partition-fraction", "partition"},
      {{"--scenario", "crash", "--partition-for", "5"},
       "--partition-for",
       "partition"},
      {{"--slow", "2"}, "--slow", "slow"},
      {{"--scenario", "partition", "--slow-lag", "2"}, "--slow-lag", "slow"},
      {{"--flip-members", "2"}, "--flip-members", "flipflop"},
      {{"--flip-on", "5"}, "--flip-on", "flipflop"},
      {{"--scenario", "egress-loss", "--flip-off", "5"},
       "--flip-off",
       "flipflop"},
      {{"--egress-share", "0.2"}, "--egress-share", "egress-loss"},
      {{"--scenario", "oneway", "--egress-loss", "0.5"},
       "--egress-loss",
       "egress-loss"},
      {{"--restart-window", "5"}, "--restart-window", "mass-restart"},
      {{"--scenario", "slow", "--restart-downtime", "1"},
       "--restart-downtime",
       "mass-restart"},
      {{"--scenario", "crash", "--restart-grace", "5"},
       "--restart-grace",
       "mass-restart"},
      {{"--settle", "2"},
       "--settle",
       "crash, partition, slow, flipflop, egress-loss, oneway, mass-restart"},
  };
  for (const Misplaced& c : cases) {
    std::vector<std::string> args = {"-n", "10", "-d", "5", "-q"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const std::string line = absl::StrJoin(args, " ");
    SimExit run = Sim(args, absl::Seconds(10));
    EXPECT_EQ(run.code, 2) << line << "\n" << run.err;
    EXPECT_NE(run.err.find(c.flag + " applies only to --scenario " +
                           c.applies_to + ", not "),
              std::string::npos)
        << line << "\n"
        << run.err;
    EXPECT_EQ(run.out, "") << line;
  }
}

// --start converged: nobody joins, so --join-window is refused, and so is
// the join scenario (nothing would happen); with a fault it runs.
TEST(PeerlabSimCliTest, ConvergedStartUsage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--start", "converged"}, "--start converged needs a fault"},
      {{"--start", "converged", "--scenario", "crash", "--join-window", "0"},
       "--join-window does not apply to --start converged"},
      {{"--start", "converged", "--scenario", "join", "--join-window", "2"},
       "--join-window does not apply to --start converged"},
  };
  for (const auto& [extra, message] : cases) {
    std::vector<std::string> args = {"-n", "10", "-d", "5", "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string line = absl::StrJoin(args, " ");
    SimExit run = Sim(args, absl::Seconds(10));
    EXPECT_EQ(run.code, 2) << line << "\n" << run.err;
    EXPECT_NE(run.err.find(message), std::string::npos) << line << "\n"
                                                        << run.err;
    EXPECT_EQ(run.out, "") << line;
  }
  SimExit run = Sim({"-n", "10", "-d", "5", "-q", "--start", "converged",
                     "--scenario", "crash", "--baseline", "memberlist"},
                    absl::Seconds(10));
  EXPECT_EQ(run.code, 0) << run.err;
  // peerlab's report and the baseline's both start converged.
  size_t first = run.out.find("start: converged\n");
  ASSERT_NE(first, std::string::npos) << run.out;
  EXPECT_NE(run.out.find("start: converged\n", first + 1), std::string::npos)
      << run.out;
}

// The same options with their own scenario run (the table is not too strict),
// and the options of every scenario are accepted with each.
TEST(PeerlabSimCliTest, OptionOfItsScenarioRuns) {
  const std::vector<std::vector<std::string>> cases = {
      {"--scenario", "crash", "--crash", "2", "--settle", "0.5"},
      {"--scenario", "partition", "--partition-fraction", "0.3",
       "--partition-for", "2"},
      {"--scenario", "slow", "--slow", "2", "--slow-lag", "0.5"},
      {"--scenario", "flipflop", "--flip-members", "2", "--flip-on", "1",
       "--flip-off", "1"},
      {"--scenario", "egress-loss", "--egress-share", "0.2", "--egress-loss",
       "0.5"},
      {"--scenario", "oneway", "--settle", "0.5"},
      {"--scenario", "mass-restart", "--restart-window", "2",
       "--restart-downtime", "0.5", "--restart-grace", "2"},
      {"--scenario", "join", "--loss", "0.01", "--join-window", "1",
       "--no-lifeguard", "--profile", "wan", "--latency-ms", "2"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> args = {"-n", "10",     "-d", "10",
                                     "-q", "--seed", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    SimExit run = Sim(args);
    EXPECT_EQ(run.code, 0) << absl::StrJoin(args, " ") << "\n" << run.err;
    EXPECT_NE(run.out.find("trace hash: "), std::string::npos) << run.out;
  }
}

// A count of members beyond the group is a usage error (2), like a value
// outside an option's range, not a failure (1).
TEST(PeerlabSimCliTest, CountsBeyondTheMembersAreUsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"-n", "10", "--scenario", "crash", "--crash", "10"},
      {"-n", "10", "--scenario", "slow", "--slow", "10"},
      {"-n", "1", "--scenario", "slow"},
      {"-n", "10", "--scenario", "flipflop", "--flip-members", "10"},
      // The default, 1 % of the members and at least 1, is past the
      // others: it used to flip-flop member 0, the one all joined through.
      {"-n", "1", "--scenario", "flipflop"},
      {"-n", "1", "--scenario", "partition"},
      {"-n", "1", "--scenario", "egress-loss"},
      {"-n", "2", "--scenario", "oneway"},
      {"-n", "1", "--scenario", "mass-restart"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> args = {"-d", "5", "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    SimExit run = Sim(args, absl::Seconds(10));
    EXPECT_EQ(run.code, 2) << absl::StrJoin(args, " ") << "\n" << run.err;
    EXPECT_EQ(run.out, "") << absl::StrJoin(args, " ");
  }
}

// 100,000 members would need hundreds of GiB (57 bytes a pair): refused at
// once, with the estimate, what is available and the way to override it.
TEST(PeerlabSimCliTest, RunBeyondTheMemoryIsRefusedBeforeItStarts) {
  const std::vector<std::string> args = {"-n", "100000", "-d", "1", "-q"};
  SimExit run = Sim(args, absl::Seconds(10));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_NE(run.err.find("100000 members need about 531 GiB"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("available (MemAvailable)"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("--ignore-memory-estimate"), std::string::npos)
      << run.err;
  EXPECT_EQ(run.out, "");
}

// Without -q the estimate comes first on stderr; stdout (what scripts read)
// is the report alone.
TEST(PeerlabSimCliTest, PrintsTheEstimateOnStderrUnlessQuiet) {
  SimExit run = Sim({"-n", "10", "-d", "5", "--progress-every", "60"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.err.rfind("peerlab-sim: 10 members, about 80 MiB at the peak "
                          "(estimate), ",
                          0),
            0u)
      << run.err;
  EXPECT_EQ(run.out.find("peerlab-sim: 10 members"), std::string::npos);
}

// An option that only tunes an output nobody asked for would be ignored
// without a word: a usage error naming what it needs.
TEST(PeerlabSimCliTest, AnEveryOptionWithoutItsOutputIsAUsageError) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"-q", "--timeline-every", "2"},
       "--timeline-every needs --timeline FILE"},
      {{"--timeline-every", "0.5", "--progress-every", "60"},
       "--timeline-every needs --timeline FILE"},
      {{"-q", "--progress-every", "5"},
       "--progress-every does nothing with -q/--quiet"},
      {{"--quiet", "--progress-every", "5", "--timeline", "/dev/null"},
       "--progress-every does nothing with -q/--quiet"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"-n", "10", "-d", "5"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const std::string line = absl::StrJoin(args, " ");
    SimExit run = Sim(args, absl::Seconds(10));
    EXPECT_EQ(run.code, 2) << line << "\n" << run.err;
    EXPECT_NE(run.err.find("peerlab-sim: " + c.message), std::string::npos)
        << line << "\n"
        << run.err;
    EXPECT_EQ(run.out, "") << line;
  }
  // With their outputs they run.
  auto dir = testing::TempDir::Create("peerlab-sim-cli");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string timeline = (*dir)->File("timeline.csv");
  SimExit run = Sim({"-n", "10", "-d", "4", "-q", "--timeline", timeline,
                     "--timeline-every", "2"});
  EXPECT_EQ(run.code, 0) << run.err;
  auto rows = testing::ReadFile(timeline);
  ASSERT_TRUE(rows.ok()) << rows.status();
  // The header and the samples at 0, 2 and 4 s.
  EXPECT_EQ(std::count(rows->begin(), rows->end(), '\n'), 4) << *rows;
}

// A fake root for the memory check (PEERLAB_SIM_FS_ROOT stands for "/" when
// peerlab-sim reads /proc/meminfo, /proc/self/cgroup and the cgroup's
// limits): MemAvailable, the process's cgroup lines, and limit files by
// path under the root.
struct FakeRoot {
  std::unique_ptr<testing::TempDir> dir;
  std::map<std::string, std::string> env;
};

FakeRoot MakeRoot(const std::string& mem_available_kib,
                  const std::string& cgroup,
                  const std::map<std::string, std::string>& files) {
  FakeRoot root;
  auto dir = testing::TempDir::Create("peerlab-sim-root");
  if (!dir.ok()) {
    ADD_FAILURE() << dir.status();
    return root;
  }
  root.dir = std::move(*dir);
  std::map<std::string, std::string> all = files;
  all["proc/meminfo"] =
      "MemTotal:       25165824 kB\nMemFree:         1000 kB\n"
      "MemAvailable:   " +
      mem_available_kib + " kB\nBuffers:  1 kB\n";
  all["proc/self/cgroup"] = cgroup;
  for (const auto& [path, contents] : all) {
    const std::string full = root.dir->File(path);
    std::filesystem::create_directories(
        std::filesystem::path(full).parent_path());
    EXPECT_TRUE(testing::WriteFile(full, contents).ok()) << full;
  }
  root.env = {{"PEERLAB_SIM_FS_ROOT", root.dir->path()}};
  return root;
}

// 1,000 members need about 134 MiB (80 MiB + 57 bytes a pair): a cgroup
// limit of 100 MiB refuses the run though MemAvailable says 20 GiB (before,
// only MemAvailable counted and the run was killed by the cgroup's OOM
// killer, or swapped, at its peak). The smaller of the two counts, each
// ancestor's limit too, "max" is no limit; cgroup v2 and v1.
TEST(PeerlabSimCliTest, ACgroupLimitBelowMemAvailableRefusesTheRun) {
  const std::vector<std::string> args = {"-n", "1000", "-d", "0.001", "-q"};
  struct Case {
    std::string name;
    std::string mem_available_kib;
    std::string cgroup;
    std::map<std::string, std::string> files;
    int code;
    std::string message;  // on stderr ("" for a run)
  };
  const std::vector<Case> cases = {
      {"v2, the parent's limit",
       "20971520",
       "0::/lab/sim\n",
       {{"sys/fs/cgroup/lab/sim/memory.max", "max\n"},
        {"sys/fs/cgroup/lab/memory.max", "104857600\n"}},
       1,
       "1000 members need about 134 MiB (estimated peak), more than the "
       "100 MiB available (memory.max of cgroup /lab)"},
      {"v2, its own limit below the parent's",
       "20971520",
       "0::/lab/sim\n",
       {{"sys/fs/cgroup/lab/sim/memory.max", "125829120\n"},
        {"sys/fs/cgroup/lab/memory.max", "1073741824\n"}},
       1,
       "more than the 120 MiB available (memory.max of cgroup /lab/sim)"},
      {"v1 memory controller",
       "20971520",
       "4:memory:/process_api/x\n0::/\n",
       {{"sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes",
         "104857600\n"}},
       1,
       "more than the 100 MiB available (memory.limit_in_bytes of cgroup "
       "/process_api/x)"},
      {"MemAvailable smaller than the cgroup's limit",
       "102400",
       "0::/lab\n",
       {{"sys/fs/cgroup/lab/memory.max", "68719476736\n"}},
       1,
       "more than the 100 MiB available (MemAvailable)"},
      {"no limit anywhere",
       "20971520",
       "0::/lab/sim\n",
       {{"sys/fs/cgroup/lab/sim/memory.max", "max\n"}},
       0,
       ""},
      {"a limit above the estimate",
       "20971520",
       "0::/\n",
       {{"sys/fs/cgroup/memory.max", "209715200\n"}},
       0,
       ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeRoot root = MakeRoot(c.mem_available_kib, c.cgroup, c.files);
    SimExit run = Sim(args, absl::Seconds(30), root.env);
    EXPECT_EQ(run.code, c.code) << run.err;
    if (c.code == 1) {
      EXPECT_NE(run.err.find(c.message), std::string::npos) << run.err;
      EXPECT_EQ(run.out, "");
    } else {
      EXPECT_NE(run.out.find("trace hash: "), std::string::npos) << run.out;
    }
  }
}

// Without -q the estimate line says which bound it checked against.
TEST(PeerlabSimCliTest, TheEstimateLineNamesTheCgroupLimit) {
  FakeRoot root = MakeRoot("20971520", "0::/lab\n",
                           {{"sys/fs/cgroup/lab/memory.max", "1073741824\n"}});
  SimExit run = Sim({"-n", "10", "-d", "1"}, absl::Seconds(30), root.env);
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.err.rfind("peerlab-sim: 10 members, about 80 MiB at the peak "
                          "(estimate), 1024 MiB available (memory.max of "
                          "cgroup /lab)\n",
                          0),
            0u)
      << run.err;
}

}  // namespace
}  // namespace peerlab::membership::tool
