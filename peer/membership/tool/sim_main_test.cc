// peerlab-sim's command line: an option of another scenario is a usage
// error (exit 2) rather than silently ignored, counts beyond the members are
// usage errors too, and a run that would need more memory than there is is
// refused (exit 1) before it allocates anything.
#include <cstdlib>
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

// Runs peerlab-sim with `args` and waits up to `wait` for its exit.
SimExit Sim(const std::vector<std::string>& args,
            absl::Duration wait = absl::Seconds(60)) {
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

}  // namespace
}  // namespace peerlab::membership::tool
