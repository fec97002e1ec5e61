// Every option of every binary has a declared domain, checked before the
// program starts anything: this test walks each binary's --help, requires
// the table below to know every option it lists (a new option without a
// domain fails here), and runs each option with values outside its domain.
// Each run must exit with code 2 within a second, name the option on
// stderr, and leave no file behind (it runs in an empty directory).
#include <dirent.h>
#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::testing {
namespace {

using Values = std::vector<std::string>;

// How long a run with a refused value may take to exit 2. A refusal comes
// before anything starts (a few milliseconds); an accepted value keeps the
// program running. Not 1 s: with the suite's two tests at once on a shared
// machine, 6 of 8 loaded runs failed so ("peerlab-ctl members --timeout
// 1e300 (value '1e300'): still running after 1 s"), each a refusal that
// came late. Only a failing case waits this long.
constexpr absl::Duration kRefusalBound = absl::Seconds(10);

// Values outside the domain of each kind of option.
const Values kFlag = {};  // takes no value
const Values kListenPort = {"", "-1", "65536", "99999", "abc"};
const Values kListenAddress = {"",           "127.0.0.1",       "abc",
                               ":8080",      "127.0.0.1:99999", "127.0.0.1:-1",
                               "127.0.0.1:x"};
const Values kConnectAddress = {
    "", "127.0.0.1", "abc", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:x"};
const Values kLogLevel = {"", "verbose", "0"};
const Values kWritePath = {"/nonexistent-dir/x", "/"};
const Values kReadPath = {"/nonexistent-dir/x", "/"};
const Values kWriteDir = {"/nonexistent-dir/x/y", "/dev/null"};
const Values kNonEmpty = {""};
const Values kUnsigned = {"", "-1", "abc", "99999999999999999999999"};

Values Numbers(Values extra) {
  Values v = {"", "abc", "1e300"};
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

struct Binary {
  std::string name;                 // test label
  std::string program;              // file in $PEERLAB_BIN_DIR
  std::vector<std::string> prefix;  // before the option (subcommand)
  std::vector<std::string> suffix;  // after it (positionals)
  std::map<std::string, Values> domains;
};

std::map<std::string, Values> Tls() {
  return {{"--tls-cert", kReadPath},
          {"--tls-key", kReadPath},
          {"--tls-ca", kReadPath},
          {"--tls-require-client-cert", kFlag}};
}

// --metrics-listen, --metrics-token-file (base/metrics_endpoint.h): a
// non-loopback address without a token is refused too.
std::map<std::string, Values> Metrics() {
  Values listen = kListenAddress;
  listen.insert(listen.end(), {"0.0.0.0:0", "[::]:0", "10.1.2.3:9100"});
  return {{"--metrics-listen", listen}, {"--metrics-token-file", kReadPath}};
}

std::map<std::string, Values> With(std::map<std::string, Values> a,
                                   const std::map<std::string, Values>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

// A script outside the run directory for peerlab-test.
std::string ScriptPath() {
  static const std::string* path = [] {
    auto* p = new std::string("/tmp/peerlab-options-e2e.cmd");
    (void)WriteFile(*p, "alice echo hi\n");
    return p;
  }();
  return *path;
}

std::vector<Binary> Binaries() {
  const std::map<std::string, Values> ctl_join = {
      {"--help", kFlag},
      {"--id", kNonEmpty},
      {"--ttl", Numbers({"0", "-1", "99999999"})},
      {"--protocol", {"", "sctp"}},
      {"--status", {std::string(65, 'x')}},
      {"--started-at", {"", "yesterday"}}};
  // peerlab-ctl: every command takes these.
  const std::map<std::string, Values> ctl = With(
      {{"--help", kFlag},
       {"--rpc-addr", kConnectAddress},
       {"--json", kFlag},
       {"--control-token-file", kReadPath},
       {"--peer", {"", "a\tb"}},
       {"--timeout", Numbers({"0", "-1", "99999999"})}},
      Tls());
  const Values kKeyValue = {"", "role", "=x", "a\tb=c"};
  return {
      {"ctl", "peerlab-ctl", {}, {}, {{"--help", kFlag}}},
      {"ctl_members",
       "peerlab-ctl",
       {"members"},
       {},
       With(ctl, {{"--status", {"", "gone"}},
                  {"--tag", kKeyValue},
                  {"--name", kNonEmpty}})},
      {"ctl_monitor",
       "peerlab-ctl",
       {"monitor"},
       {},
       With(ctl, {{"--level", {"", "loud", "off"}}, {"--filter", kNonEmpty}})},
      {"ctl_event",
       "peerlab-ctl",
       {"event"},
       {"deploy"},
       With(ctl, {{"--coalesce", kFlag}})},
      {"ctl_query",
       "peerlab-ctl",
       {"query"},
       {"ping"},
       With(ctl, {{"--node", {"", "a\tb"}},
                  {"--tag", kKeyValue},
                  {"--ack", kFlag},
                  {"--relay", Numbers({"-1", "6"})},
                  {"--query-timeout", Numbers({"0", "-1", "601"})}})},
      {"ctl_tags",
       "peerlab-ctl",
       {"tags"},
       {},
       With(ctl, {{"--set", kKeyValue}, {"--remove", kNonEmpty}})},
      {"ctl_info", "peerlab-ctl", {"info"}, {}, ctl},
      {"ctl_force_leave",
       "peerlab-ctl",
       {"force-leave"},
       {"bob"},
       With(ctl, {{"--prune", kFlag}})},
      {"ctl_rtt", "peerlab-ctl", {"rtt"}, {"alice"}, ctl},
      {"ctl_reachability", "peerlab-ctl", {"reachability"}, {}, ctl},
      {"ctl_keys",
       "peerlab-ctl",
       {"keys"},
       {},
       With(ctl, {{"--list", kFlag},
                  {"--install", kNonEmpty},
                  {"--use", kNonEmpty},
                  {"--remove", kNonEmpty}})},
      {"bootstrap",
       "peerlab-bootstrap",
       {},
       {},
       With({{"--help", kFlag},
             {"--listen", kListenAddress},
             {"--store",
              {"", "memory", "file:", "file:/nonexistent-dir/x", "mysql://x"}},
             {"--store-follow-symlink", kFlag},
             {"--admin-token-file", kReadPath},
             {"--max-peers", Numbers({"0", "-1", "99999"})},
             {"--min-refill-candidates", Numbers({"-1", "99999"})},
             {"--join-rate", Numbers({"-1", "1e9"})},
             {"--join-burst", Numbers({"0", "-1", "1e9"})},
             {"--default-lease", Numbers({"0", "-1", "0.5", "99999999"})},
             {"--max-lease", Numbers({"0", "-1", "0.5", "99999999"})},
             {"--log-level", kLogLevel},
             {"--log-file", kWritePath},
             {"--ready-file", kWritePath}},
            With(Tls(), Metrics()))},
      {"coordinator",
       "peerlab-coordinator",
       {},
       {},
       With({{"--help", kFlag},
             {"--listen", kListenAddress},
             {"--log-level", kLogLevel},
             {"--log-file", kWritePath},
             {"--ready-file", kWritePath},
             {"--token-file", kReadPath}},
            With(Tls(), Metrics()))},
      {"peer",
       "peerlab-peer",
       {"alice", "--serve", "--no-init"},
       {},
       With({{"--help", kFlag},
             {"--bootstrap", kConnectAddress},
             {"--bind", {"", "localhost", "127.0.0.1:80", "300.1.1.1"}},
             {"--advertise-host",
              {"", "a b", "-x.peers", "a..b", "x_y", std::string(49, 'a')}},
             {"--gossip-port", kListenPort},
             {"--grpc-port", kListenPort},
             {"--log-file", kWritePath},
             {"--log-level", kLogLevel},
             {"--config", kReadPath},
             {"--control-token-file", kReadPath},
             {"--control-open-loopback", kFlag},
             {"--history-file", kWritePath},
             {"--ready-file", kWritePath},
             {"--state-dir", kWriteDir},
             {"--no-init", kFlag},
             {"--serve", kFlag},
             {"--test", kFlag},
             {"--coordinator", kConnectAddress},
             {"--token-file", kReadPath},
             {"--exec", kNonEmpty},
             {"--script", kReadPath},
             {"--insecure-gossip", kFlag},
             {"--group-label", {std::string(256, 'x'), "a\tb"}},
             {"--event-handler",
              {"", "nosuch=prog", "member-join=", "user:=x", "prog 'open"}}},
            With(Tls(), Metrics()))},
      {"control",
       "peerlab-control",
       {},
       {"127.0.0.1:1", "echo", "hi"},
       With({{"--help", kFlag},
             {"--control-token-file", kReadPath},
             {"--peer", {"", "a\tb"}},
             {"--timeout", Numbers({"0", "-1", "99999999"})}},
            Tls())},
      {"health",
       "peerlab-health",
       {},
       {"127.0.0.1:1"},
       With({{"--help", kFlag},
             {"--service", kNonEmpty},
             {"--tls-server-name", {"", "a b", "x.", std::string(254, 'a')}},
             {"--timeout", Numbers({"0", "-1", "99999999"})}},
            Tls())},
      {"bootstrapctl",
       "peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1"},
       {"ping"},
       With({{"--help", kFlag},
             {"--server", kConnectAddress},
             {"--admin-token-file", kReadPath},
             {"--timeout", Numbers({"0", "-1", "99999999"})},
             {"--json", kFlag}},
            Tls())},
      {"bootstrapctl_join",
       "peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "join"},
       {"alice", "127.0.0.1", "7001"},
       With(ctl_join, {{"--secret-file", kReadPath}})},
      {"bootstrapctl_leave",
       "peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "leave",
        "11111111-1111-4111-8111-111111111111"},
       {},
       {{"--help", kFlag}, {"--secret-file", kReadPath}}},
      {"bootstrapctl_refill",
       "peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "refill"},
       {"alice", "127.0.0.1", "7001"},
       ctl_join},
      {"bootstrapctl_renew",
       "peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "renew",
        "11111111-1111-4111-8111-111111111111"},
       {},
       {{"--help", kFlag},
        {"--ttl", Numbers({"0", "-1", "99999999"})},
        {"--secret-file", kReadPath}}},
      {"bootstrapctl_config",
       "peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "config"},
       {},
       {{"--help", kFlag},
        {"--max-peers", Numbers({"0", "-1", "99999"})},
        {"--min-refill-candidates", Numbers({"-1", "99999"})}}},
      {"sim",
       "peerlab-sim",
       {"-n", "3", "-d", "1", "-q"},
       {},
       {{"--help", kFlag},
        {"--nodes", Numbers({"0", "-1", "100001"})},
        {"--profile", {"", "fast"}},
        {"--seed", kUnsigned},
        {"--loss", Numbers({"-0.1", "1", "2"})},
        {"--latency-ms", Numbers({"-1", "99999999"})},
        {"--scenario", {"", "explode"}},
        {"--crash", Numbers({"0", "-1", "100000"})},
        {"--partition-fraction", Numbers({"0", "-1", "1"})},
        {"--partition-for", Numbers({"-1"})},
        {"--slow", Numbers({"-1", "100000"})},
        {"--slow-lag", Numbers({"-1", "99999"})},
        {"--flip-members", Numbers({"-1", "100000"})},
        {"--flip-on", Numbers({"0", "-1"})},
        {"--flip-off", Numbers({"0", "-1"})},
        {"--egress-share", Numbers({"0", "-1", "1"})},
        {"--egress-loss", Numbers({"0", "-1", "2"})},
        {"--restart-window", Numbers({"-1"})},
        {"--restart-downtime", Numbers({"-1", "99999"})},
        {"--restart-grace", Numbers({"-1", "99999"})},
        {"--no-lifeguard", kFlag},
        {"--baseline", {"", "etcd"}},
        {"--settle", Numbers({"-1"})},
        {"--duration", Numbers({"0", "-1"})},
        {"--join-window", Numbers({"-1"})},
        {"--start", {"", "warm"}},
        {"--csv", kWritePath},
        {"--timeline", kWritePath},
        {"--plot", kWritePath},
        {"--timeline-every", Numbers({"0", "-1"})},
        {"--progress-every", Numbers({"0", "-1"})},
        {"--quiet", kFlag},
        {"--ignore-memory-estimate", kFlag},
        {"--log-level", kLogLevel}}},
      {"test_run",
       "peerlab-test",
       {"run"},
       {ScriptPath()},
       With({{"--help", kFlag},
             {"--coordinator", kConnectAddress},
             {"--report-dir", kWriteDir},
             {"--timeout", Numbers({"-1", "99999999"})},
             {"--quiet-ms", Numbers({"-1", "99999999"})},
             {"--step-timeout", Numbers({"0", "-1"})},
             {"--peer-timeout", Numbers({"0", "-1"})},
             {"--fail-fast", kFlag},
             {"--repeat", Numbers({"0", "-1"})},
             {"--seed", kUnsigned},
             {"--bin-dir", {"", "/nonexistent-dir"}},
             {"--lab", {"", "cloud"}},
             {"--count-from", {"", "peer", "run-start "}},
             {"--lab-tool", kReadPath},
             {"--peer-log-level", kLogLevel},
             {"--peer-arg", kNonEmpty},
             {"--param", {"", "n", "=1", "1n=2", "a-b=3", "n=a\tb"}},
             {"--token-file", kReadPath},
             {"--verbose", kFlag}},
            Tls())},
      {"test_peers",
       "peerlab-test",
       {"peers"},
       {},
       With({{"--help", kFlag},
             {"--coordinator", kConnectAddress},
             {"--token-file", kReadPath}},
            Tls())},
      {"bootstrap_load",
       "bootstrap_load",
       {},
       {},
       {{"--help", kFlag},
        {"--server", kConnectAddress},
        {"--store", {"", "memory", "mysql://x"}},
        {"--postgres", kFlag},
        {"--replicas", Numbers({"0", "-1", "65"})},
        {"--server-binary", kReadPath},
        {"--max-peers", Numbers({"0", "-1", "99999"})},
        {"--clients", Numbers({"0", "-1"})},
        {"--seconds", Numbers({"0", "-1"})},
        {"--warmup", Numbers({"-1"})},
        {"--mode", {"", "fibers"}},
        {"--list-peers", Numbers({"-1", "99999"})},
        {"--deadline", Numbers({"0", "-1"})},
        {"--start-timeout", Numbers({"0", "-1"})},
        {"--json", kWritePath}}},
      {"chat_bench",
       "chat_bench",
       {},
       {},
       {{"--help", kFlag},
        {"--peers", Numbers({"0", "1", "-1", "51"})},
        {"--count", Numbers({"0", "-1"})},
        {"--latency-count", Numbers({"0", "-1"})},
        {"--bytes", Numbers({"0", "-1", "99999999"})},
        {"--window", Numbers({"0", "-1"})},
        {"--json", kWritePath}}},
      {"bench_adversary",
       "bench_adversary",
       {},
       {},
       {{"--help", kFlag},
        {"--members", Numbers({"0", "2", "-1", "2001"})},
        {"--seed", kUnsigned},
        {"--periods", Numbers({"0", "-1", "3601"})},
        {"--per-period", Numbers({"0", "-1", "10001"})},
        {"--mode", {"", "closed", "open,"}},
        {"--attack", {"", "nuke", "mixed,"}},
        {"--profile", {"", "fast"}},
        {"--log-level", kLogLevel}}},
      {"chat_pong_flood",
       "chat_pong_flood",
       {},
       {},
       {{"--help", kFlag},
        {"--target", kConnectAddress},
        {"--pid", Numbers({"0", "-1", "99999999"})},
        {"--seconds", Numbers({"0", "-1", "99999"})}}},
      {"membership_compare",
       "membership_compare",
       {},
       {},
       {{"--help", kFlag},
        {"--nodes", Numbers({"0", "1", "-1", "10001"})},
        {"--profile", {"", "fast"}},
        {"--peer-bin", kReadPath},
        {"--serf-bin", kNonEmpty},
        {"--systems", {"", "consul"}},
        {"--timeout", Numbers({"0", "-1"})},
        {"--steady", Numbers({"0", "-1"})},
        {"--poll-ms", Numbers({"0", "-1"})},
        {"--json", kWritePath},
        {"--log-dir", kWriteDir},
        {"--peer-log-level", kLogLevel},
        {"--peer-set", kNonEmpty},
        {"--repeat", Numbers({"0", "-1"})}}},
      {"cluster_compare",
       "cluster_compare",
       {},
       {},
       {{"--help", kFlag},
        {"--nodes", Numbers({"0", "1", "-1", "1001"})},
        {"--profile", {"", "fast"}},
        {"--peer-bin", kReadPath},
        {"--serf-bin", kNonEmpty},
        {"--systems", {"", "consul"}},
        {"--repeat", Numbers({"0", "-1"})},
        {"--events", Numbers({"-1", "1001"})},
        {"--queries", Numbers({"-1", "1001"})},
        {"--loss-queries", Numbers({"-1", "10001"})},
        {"--loss", Numbers({"-1", "101"})},
        {"--loss-packets", {"", "tcp"}},
        {"--relay", Numbers({"-1", "6"})},
        {"--no-netns", kFlag},
        {"--peer-set", kNonEmpty},
        {"--timeout", Numbers({"0", "-1"})},
        {"--json", kWritePath},
        {"--log-dir", kWriteDir},
        {"--peer-log-level", kLogLevel}}},
  };
}

// Positional arguments outside their domain, and options that need each
// other given alone: whole command lines.
std::vector<std::pair<std::string, std::vector<std::string>>> Positionals() {
  return {
      {"peerlab-peer", {"", "--serve", "--no-init"}},
      {"peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "join", "alice", "127.0.0.1", "0"}},
      {"peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "join", "alice", "127.0.0.1", "70000"}},
      {"peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "join", "", "127.0.0.1", "7001"}},
      {"peerlab-bootstrapctl", {"--server", "127.0.0.1:1", "leave", ""}},
      {"peerlab-test", {"run", "/nonexistent-dir/x.cmd"}},
      {"peerlab-control", {"", "echo"}},
      {"peerlab-control", {"127.0.0.1:0", "echo"}},
      {"peerlab-control", {"127.0.0.1:1"}},
      {"peerlab-health", {}},
      {"peerlab-health", {""}},
      {"peerlab-health", {"127.0.0.1:0"}},
      {"peerlab-ctl", {}},
      {"peerlab-ctl", {"explode"}},
      {"peerlab-ctl", {"event", ""}},
      {"peerlab-ctl", {"rtt", "a", "b", "c"}},
      {"peerlab-ctl", {"force-leave", ""}},
      {"peerlab-ctl", {"keys"}},
      {"peerlab-ctl", {"keys", "--list", "--use", "x"}},
      {"peerlab-ctl", {"tags", "--remove", "a=b"}},
      {"peerlab-test", {"run", "/"}},
      // Options that need each other.
      {"peerlab-bootstrap",
       {"--store", "memory:", "--listen", "127.0.0.1:0",
        "--tls-require-client-cert"}},
      {"peerlab-bootstrap",
       {"--store", "memory:", "--listen", "127.0.0.1:0", "--tls-cert",
        "/etc/hostname"}},
      {"peerlab-coordinator",
       {"--listen", "127.0.0.1:0", "--tls-require-client-cert"}},
      {"peerlab-peer",
       {"alice", "--serve", "--no-init", "--tls-require-client-cert"}},
      {"peerlab-peer",
       {"alice", "--serve", "--no-init", "--control-open-loopback",
        "--control-token-file", "/etc/hostname"}},
      {"peerlab-bootstrapctl",
       {"--server", "127.0.0.1:1", "--tls-require-client-cert", "ping"}},
  };
}

class OptionsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bin = BinDir();
    ASSERT_TRUE(bin.ok()) << bin.status();
    bin_ = *bin;
    auto dir = TempDir::Create("options-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    ASSERT_EQ(::mkdir(dir_->File("home").c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(dir_->File("cwd").c_str(), 0700), 0);
  }

  // Names in the run directory (it must stay empty).
  std::vector<std::string> Leftovers() {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir_->File("cwd").c_str());
    if (d == nullptr) return {"<cwd missing>"};
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    return names;
  }

  // Empties the run directory (after a failure, so the next run is judged
  // on its own).
  void Clean() {
    for (const std::string& name : Leftovers()) {
      std::system(("rm -rf '" + dir_->File("cwd") + "/" + name + "'").c_str());
    }
  }

  // Runs argv (program relative to the bin dir) in the run directory.
  struct Run {
    bool finished = false;
    ExitStatus status;
    absl::Duration took;
    std::string out, err;
  };
  Run Start(const std::string& program, std::vector<std::string> args,
            absl::Duration timeout, const std::string& bootstrap_env = "") {
    Run run;
    const std::string out = dir_->File("out"), err = dir_->File("err");
    args.insert(args.begin(), bin_ + "/" + program);
    // The child runs in the run directory through a shell-free chdir: the
    // helper has no cwd option, so use env PWD-independent /usr/bin/env -C.
    args.insert(args.begin(), {"/usr/bin/env", "-C", dir_->File("cwd")});
    const absl::Time start = absl::Now();
    auto process =
        Subprocess::Start({.argv = args,
                           .env = {{"HOME", dir_->File("home")},
                                   {"BOOTSTRAP_DATA_SERVER", bootstrap_env}},
                           .stdout_path = out,
                           .stderr_path = err});
    if (!process.ok()) {
      run.err = std::string(process.status().message());
      return run;
    }
    auto status = (*process)->Wait(timeout);
    run.took = absl::Now() - start;
    if (status.ok()) {
      run.finished = true;
      run.status = *status;
    } else {
      (*process)->Kill().IgnoreError();
    }
    run.out = (*process)->ReadStdout();
    run.err = (*process)->ReadStderr();
    return run;
  }

  // The long options --help lists (the first column of lines "  -x,--yy").
  std::set<std::string> ListedOptions(const Binary& b) {
    std::vector<std::string> args = b.prefix;
    args.push_back("--help");
    Run help = Start(b.program, args, absl::Seconds(10));
    EXPECT_TRUE(help.finished && help.status.success())
        << b.name << ": " << help.status.ToString() << help.err;
    std::set<std::string> options;
    for (absl::string_view line : absl::StrSplit(help.out, '\n')) {
      if (!absl::ConsumePrefix(&line, "  ") || !absl::StartsWith(line, "-")) {
        continue;
      }
      absl::string_view names = line.substr(0, line.find(' '));
      for (absl::string_view name : absl::StrSplit(names, ',')) {
        if (absl::StartsWith(name, "-")) options.insert(std::string(name));
        if (absl::StartsWith(name, "--")) options.insert(std::string(name));
      }
    }
    // Only long names: "-n" is the same option as "--nodes".
    std::set<std::string> longs;
    for (const std::string& o : options) {
      if (absl::StartsWith(o, "--")) longs.insert(o);
    }
    return longs;
  }

  std::string bin_;
  std::unique_ptr<TempDir> dir_;
};

// Bench tools are built only with PEERLAB_BUILD_BENCH.
bool Missing(const std::string& bin, const Binary& b) {
  struct stat st;
  const bool bench = b.program.find("peerlab-") != 0;
  return bench && ::stat((bin + "/" + b.program).c_str(), &st) != 0;
}

TEST_F(OptionsE2eTest, EveryListedOptionHasADomain) {
  for (const Binary& b : Binaries()) {
    if (Missing(bin_, b)) continue;
    std::set<std::string> listed = ListedOptions(b);
    EXPECT_FALSE(listed.empty()) << b.name;
    for (const std::string& option : listed) {
      EXPECT_TRUE(b.domains.count(option))
          << b.name << " lists " << option
          << " in --help, but this test has no domain for it: declare one "
             "(a CLI11 check) and add its bad values to Binaries()";
    }
    for (const auto& [option, values] : b.domains) {
      EXPECT_TRUE(listed.count(option))
          << b.name << ": " << option << " is not in --help any more";
    }
  }
}

TEST_F(OptionsE2eTest, ValuesOutsideTheDomainExitTwoAtOnceAndLeaveNothing) {
  int runs = 0;
  for (const Binary& b : Binaries()) {
    if (Missing(bin_, b)) continue;
    for (const auto& [option, values] : b.domains) {
      for (const std::string& value : values) {
        std::vector<std::string> args = b.prefix;
        args.push_back(option);
        args.push_back(value);
        args.insert(args.end(), b.suffix.begin(), b.suffix.end());
        const std::string line = absl::StrCat(
            b.program, " ", absl::StrJoin(args, " "), " (value '", value, "')");
        Run run = Start(b.program, args, kRefusalBound);
        ++runs;
        ASSERT_TRUE(run.finished)
            << line << ": still running after " << kRefusalBound
            << " (the value was accepted)\n"
            << run.err;
        EXPECT_TRUE(run.status.exited && run.status.code == 2)
            << line << ": " << run.status.ToString() << "\n"
            << run.err;
        const std::string first = run.err.substr(0, run.err.find('\n'));
        EXPECT_THAT(first, ::testing::HasSubstr(option.substr(2)))
            << line << ": the first line of stderr should name the option";
        EXPECT_THAT(Leftovers(), ::testing::IsEmpty()) << line;
        Clean();
        struct stat st;
        EXPECT_NE(::stat("/nonexistent-dir", &st), 0) << line;
      }
    }
  }
  std::cout << runs << " runs\n";
}

TEST_F(OptionsE2eTest, PositionalsAndLoneCompanionOptionsExitTwo) {
  for (const auto& [program, args] : Positionals()) {
    Run run = Start(program, args, kRefusalBound);
    const std::string line =
        absl::StrCat(program, " ", absl::StrJoin(args, " "));
    ASSERT_TRUE(run.finished)
        << line << ": still running after " << kRefusalBound;
    EXPECT_TRUE(run.status.exited && run.status.code == 2)
        << line << ": " << run.status.ToString() << "\n"
        << run.err;
    EXPECT_THAT(Leftovers(), ::testing::IsEmpty()) << line;
    Clean();
  }
}

TEST_F(OptionsE2eTest, AnAddressFromTheEnvironmentIsCheckedLikeTheFlag) {
  for (const auto& [program, args] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"peerlab-peer", {"alice", "--serve", "--no-init"}},
           {"peerlab-bootstrapctl", {"ping"}}}) {
    Run run = Start(program, args, kRefusalBound, "127.0.0.1");
    ASSERT_TRUE(run.finished)
        << program << ": still running after " << kRefusalBound;
    EXPECT_TRUE(run.status.exited && run.status.code == 2)
        << program << ": " << run.status.ToString() << "\n"
        << run.err;
    EXPECT_THAT(run.err, ::testing::HasSubstr("BOOTSTRAP_DATA_SERVER"));
    EXPECT_THAT(run.err, ::testing::HasSubstr("no port"));
  }
}

}  // namespace
}  // namespace peerlab::testing
