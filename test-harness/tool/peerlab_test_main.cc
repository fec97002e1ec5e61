// peerlab-test: runs multi-peer test scripts and gives a verdict.
//
//   peerlab-test run SCRIPT...            a local lab per run (default)
//   peerlab-test run --coordinator ADDR SCRIPT...   peers registered there
//   peerlab-test peers --coordinator ADDR           who is registered
//
// Exit code: 0 every run passed, 1 a check failed, 2 the harness could not
// run (parse error, lab or coordinator trouble, interrupted).
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/bounded_file.h"
#include "base/command_line.h"
#include "base/option_checks.h"
#include "base/tls.h"
#include "proto/harness/v1/coordinator.grpc.pb.h"
#include "test-harness/coordinator/lab_auth.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/lab/local_lab.h"
#include "test-harness/report/combined.h"
#include "test-harness/report/report.h"
#include "test-harness/script/script.h"
#include "test-harness/tool/run_client.h"

namespace {

using peerlab::harness::RunClient;
using peerlab::harness::RunOutcome;
using peerlab::harness::RunRequest;

int ListPeers(const std::string& coordinator, const peerlab::TlsOptions& tls,
              const std::string& token_file) {
  auto credentials = peerlab::MakeChannelCredentials(tls);
  if (!credentials.ok()) {
    std::cerr << "peerlab-test: " << credentials.status().message() << "\n";
    return 2;
  }
  auto token = peerlab::harness::LoadLabToken(token_file, "--token-file");
  if (!token.ok()) {
    std::cerr << "peerlab-test: " << token.status().message() << "\n";
    return 2;
  }
  auto stub = ::harness::v1::Coordinator::NewStub(
      grpc::CreateChannel(coordinator, *credentials));
  // The token goes only to a coordinator that proves it holds it.
  if (absl::Status s = peerlab::harness::ChallengeCoordinator(
          stub.get(), *token, absl::Now() + absl::Seconds(5),
          /*wait_for_ready=*/false);
      !s.ok()) {
    std::cerr << "peerlab-test: " << coordinator << ": " << s.message() << "\n";
    return 2;
  }
  grpc::ClientContext context;
  peerlab::harness::AddBearer(&context, *token);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  ::harness::v1::ListPeersResponse response;
  grpc::Status s =
      stub->ListPeers(&context, ::harness::v1::ListPeersRequest(), &response);
  if (!s.ok()) {
    std::cerr << "peerlab-test: " << coordinator << ": " << s.error_message()
              << "\n";
    return 2;
  }
  for (const auto& p : response.peers()) {
    std::cout << p.name() << "\t" << (p.alive() ? "alive" : "gone") << "\t"
              << p.control_address() << "\tpid " << p.pid() << "@" << p.host()
              << "\tstart " << p.generation() << "\t"
              << (p.run_id().empty() ? "-" : p.run_id()) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals go to a thread of their own; block them before any thread
  // starts (children unblock them again).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "peerlab-test: runs multi-peer test scripts (one `PEER COMMAND` step "
      "per line; see docs/harness.md) and gives a verdict. Exit code 0: "
      "passed; 1: a check failed; 2: the harness could not run."};
  app.require_subcommand(1);
  CLI::App* run = app.add_subcommand("run", "run test scripts");
  std::vector<std::string> scripts;
  std::string coordinator;
  std::string report_root = "./peerlab-runs";
  double end_timeout = 10;
  int quiet_ms = 250;
  double step_timeout = 30;
  double peer_timeout = 15;
  bool fail_fast = false;
  int repeat = 1;
  uint64_t seed = 0;
  bool seed_given = false;
  std::string bin_dir = peerlab::harness::OwnBinDir();
  std::string lab = "local";
  std::string count_from = "run-start";
  std::string lab_tool;
  std::string peer_log_level = "info";
  std::vector<std::string> peer_args;
  bool verbose = false;
  // Read (and refused when missing, not a file or too large) with the
  // other checks of a script, below.
  run->add_option("SCRIPT", scripts, "test scripts (NAME.cmd)")->required();
  run->add_option(
         "--coordinator", coordinator,
         "drive the peers registered with this coordinator (HOST:PORT) "
         "instead of starting a local lab")
      ->check(peerlab::ConnectHostPort);
  run->add_option("--report-dir", report_root, "reports go to DIR/RUN_ID/")
      ->check(peerlab::WritableDirectory)
      ->capture_default_str();
  run->add_option("--timeout", end_timeout,
                  "seconds to wait, after the last step, for every filter "
                  "to hold (0 .. 86400)")
      ->check(peerlab::Range(0.0, 86400.0))
      ->capture_default_str();
  run->add_option("--quiet-ms", quiet_ms,
                  "the views must be quiet this long before the check (0 .. "
                  "600000)")
      ->check(peerlab::Range(0, 600000))
      ->capture_default_str();
  run->add_option("--step-timeout", step_timeout,
                  "seconds a single step may take (0.001 .. 86400)")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  run->add_option("--peer-timeout", peer_timeout,
                  "seconds to wait for peers to register (0.001 .. 86400)")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  run->add_flag("--fail-fast", fail_fast, "stop at the first failed step");
  run->add_option("--repeat", repeat,
                  "run each script N times and report flaky steps")
      ->check(peerlab::Range(1, 10000))
      ->capture_default_str();
  run->add_option_function<uint64_t>(
         "--seed",
         [&](const uint64_t& v) {
           seed = v;
           seed_given = true;
         },
         "fixes every random choice (default: a random one, printed)")
      ->check(peerlab::Unsigned64);
  run->add_option("--bin-dir", bin_dir,
                  "where peerlab-peer, peerlab-bootstrap and "
                  "peerlab-coordinator are")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  run->add_option("--lab", lab,
                  "local (processes on loopback) or netns (network "
                  "namespaces: partition, heal, netem)")
      ->check(CLI::IsMember({"local", "netns"}))
      ->capture_default_str();
  run->add_option("--count-from", count_from,
                  "which lines filters, expect and wait count: those since "
                  "the run started (run-start: a script runs again against "
                  "the same peers) or since each peer started (peer-start)")
      ->check(CLI::IsMember({"run-start", "peer-start"}))
      ->capture_default_str();
  run->add_option("--lab-tool", lab_tool,
                  "--lab netns: the peerlab-lab script (default: next to "
                  "the binaries, else deploy/lab/peerlab-lab)")
      ->check(peerlab::ReadableFile);
  run->add_option("--peer-log-level", peer_log_level, "the peers' log level")
      ->check(peerlab::LogLevel)
      ->capture_default_str();
  run->add_option("--peer-arg", peer_args,
                  "extra argument for every peerlab-peer (repeatable)")
      ->check(peerlab::NonEmpty)
      ->allow_extra_args(false);
  peerlab::TlsOptions tls;
  peerlab::AddTlsFlags(*run, &tls);
  const char* kTokenHelp =
      "the lab token (default: <state dir>/coordinator.token, made when "
      "missing; a local lab uses the same file)";
  std::string token_file;
  run->add_option("--token-file", token_file, kTokenHelp)
      ->check(peerlab::ReadableFile);
  std::vector<std::string> param_args;
  run->add_option("--param", param_args,
                  "NAME=VALUE: the script's ${NAME} (overrides its `param "
                  "NAME DEFAULT`; repeatable)")
      ->check(peerlab::NameValue)
      ->allow_extra_args(false);
  run->add_flag("-v,--verbose", verbose,
                "also print registrations and other notices");
  CLI::App* peers = app.add_subcommand(
      "peers", "list the peers registered with a coordinator");
  std::string peers_coordinator = "127.0.0.1:8081";
  peers
      ->add_option("--coordinator", peers_coordinator,
                   "coordinator address HOST:PORT")
      ->check(peerlab::ConnectHostPort)
      ->capture_default_str();
  peerlab::TlsOptions peers_tls;
  peerlab::AddTlsFlags(*peers, &peers_tls);
  std::string peers_token_file;
  peers->add_option("--token-file", peers_token_file, kTokenHelp)
      ->check(peerlab::ReadableFile);
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;

  if (peers->parsed()) {
    return ListPeers(peers_coordinator, peers_tls, peers_token_file);
  }

  if (lab == "netns" && !coordinator.empty()) {
    std::cerr << "peerlab-test: --lab netns starts its own lab: it cannot be "
                 "used with --coordinator\n";
    return 2;
  }
  // Read, parse and check every script first: any error runs nothing.
  // With --coordinator this client can signal processes but start none.
  peerlab::harness::ScriptContext context;
  {
    ::harness::v1::RunOptions lab_options;
    lab_options.set_lab(lab);
    lab_options.set_client_faults(true);
    context = peerlab::harness::ContextFor(lab_options);
    context.start_faults = coordinator.empty();
  }
  std::map<std::string, std::string> params;
  for (const std::string& a : param_args) {
    if (std::string e = peerlab::harness::ParseParamAssignment(a, &params);
        !e.empty()) {
      std::cerr << "peerlab-test: --param: " << e << "\n";
      return 2;
    }
  }
  std::vector<RunRequest> requests;
  bool parse_failed = false;
  for (const std::string& path : scripts) {
    absl::StatusOr<std::string> text =
        peerlab::ReadFileBounded(path, peerlab::kMaxScriptFileBytes, "script");
    if (!text.ok()) {
      std::cerr << "peerlab-test: " << text.status().message() << "\n";
      parse_failed = true;
      continue;
    }
    auto parsed = peerlab::harness::ParseScript(path, *text, params);
    if (parsed.ok()) {
      if (absl::Status s = peerlab::harness::CheckScript(*parsed, context);
          !s.ok()) {
        parsed = s;
      }
    }
    if (!parsed.ok()) {
      std::cerr << parsed.status().message() << "\n";
      parse_failed = true;
      continue;
    }
    RunRequest r;
    r.script_path = path;
    r.script_text = *std::move(text);
    r.script = *std::move(parsed);
    r.coordinator = coordinator;
    r.report_root = report_root;
    r.bin_dir = bin_dir;
    r.peer_log_level = peer_log_level;
    r.peer_args = peer_args;
    r.lab_tool = lab_tool;
    r.verbose = verbose;
    r.tls = tls;
    r.token_file = token_file;
    auto& o = r.options;
    o.set_fail_fast(fail_fast);
    o.set_end_timeout_ms(static_cast<int64_t>(end_timeout * 1000));
    o.set_quiet_ms(quiet_ms);
    o.set_step_timeout_ms(static_cast<int64_t>(step_timeout * 1000));
    o.set_peer_wait_timeout_ms(static_cast<int64_t>(peer_timeout * 1000));
    o.set_lab(lab);
    o.set_count_from(count_from);
    o.mutable_params()->insert(params.begin(), params.end());
    requests.push_back(std::move(r));
  }
  if (parse_failed) {
    std::cerr << "peerlab-test: nothing was run (errors above)\n";
    return 2;
  }
  if (!seed_given) seed = std::random_device{}();

  RunClient client(&std::cout);
  std::thread([&client, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    client.Interrupt(absl::StrCat("interrupted by ", strsignal(sig)));
    sigwait(&signals, &sig);
    // Second signal: leave at once; the lab dies with us (PDEATHSIG).
    _exit(2);
  }).detach();

  std::vector<peerlab::harness::ScriptRun> runs;
  for (RunRequest& r : requests) {
    std::vector<::harness::v1::RunSummary> summaries;
    for (int i = 0; i < repeat; ++i) {
      r.options.set_seed(seed + static_cast<uint64_t>(i));
      RunOutcome outcome = client.Run(r);
      if (!outcome.error.empty()) {
        std::cout << "peerlab-test: " << outcome.error << std::endl;
      }
      runs.push_back(
          {.script = r.script_path,
           .exit_code = outcome.exit_code,
           .have_summary = outcome.have_summary,
           .summary = outcome.summary,
           .error = outcome.error,
           .report_dir = outcome.have_summary ? outcome.report_dir : ""});
      if (outcome.have_summary) summaries.push_back(outcome.summary);
      if (outcome.exit_code == 2 && !outcome.have_summary) break;
    }
    if (repeat > 1) {
      int passed = 0;
      for (const auto& s : summaries) {
        passed += s.state() == ::harness::v1::RUN_STATE_PASSED;
      }
      std::string flaky = peerlab::harness::FlakyReport(summaries);
      std::cout << r.script_path << ": " << passed << " of " << repeat
                << " runs passed (seeds " << seed << ".." << seed + repeat - 1
                << ")\n"
                << (flaky.empty() ? "  no flaky steps\n" : flaky);
      std::ofstream(report_root + "/flaky.txt", std::ios::app)
          << r.script_path << ": " << passed << " of " << repeat
          << " runs passed\n"
          << flaky;
    }
  }
  const int worst = peerlab::harness::WorstExitCode(runs);
  if (requests.size() > 1) {
    // Several scripts: one combined summary, in a folder of its own.
    std::cout << "\n" << peerlab::harness::CombinedTable(runs);
    const std::string dir =
        peerlab::harness::NewReportDir(report_root, "combined-");
    if (dir.empty()) {
      std::cout << "warning: combined report not written: cannot create a "
                   "folder in "
                << report_root << "\n";
    } else {
      std::ofstream(dir + "/summary.json")
          << peerlab::harness::CombinedJson(runs);
      std::ofstream(dir + "/junit.xml")
          << peerlab::harness::CombinedJunitXml(runs);
      std::cout << "combined report: " << dir
                << "/ (summary.json, junit.xml)\n";
    }
  }
  return worst;
}
