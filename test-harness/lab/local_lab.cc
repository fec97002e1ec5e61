#include "test-harness/lab/local_lab.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/control_token.h"
#include "base/state_dir.h"
#include "base/uuid.h"
#include "test-harness/coordinator/lab_auth.h"

namespace peerlab::harness {
namespace {

// Reads the first line of `path` once it is complete; "" while it is not.
std::string ReadyLine(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.empty() || s.back() != '\n') return "";
  return std::string(absl::StripAsciiWhitespace(s));
}

std::string Tail(const std::string& path, size_t max = 800) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max) s = "..." + s.substr(s.size() - max);
  return s;
}

}  // namespace

std::string OwnBinDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : exe.parent_path().string();
}

absl::StatusOr<std::unique_ptr<LocalLab>> LocalLab::Start(
    Options options, const std::vector<std::string>& peers) {
  if (options.lab_tool.empty())
    options.lab_tool = options.bin_dir + "/peerlab-lab";
  std::unique_ptr<LocalLab> lab(new LocalLab(std::move(options)));
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl =
      absl::StrCat(tmpdir && *tmpdir ? tmpdir : "/tmp", "/peerlab-lab-XXXXXX");
  if (!::mkdtemp(tmpl.data())) {
    return absl::UnavailableError(absl::StrCat("mkdtemp ", tmpl, " failed"));
  }
  lab->tmp_ = tmpl;
  lab->logs_ = lab->options_.dir + "/logs";
  std::error_code ec;
  std::filesystem::create_directories(lab->logs_, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", lab->logs_, ": ", ec.message()));
  }
  const std::string& bin = lab->options_.bin_dir;
  // One control token for the run (base/control_token.h): every
  // peer gets --control-token-file, so local control needs a token on
  // loopback too and nothing is set up by hand. (The coordinator needs none:
  // it reaches each peer with its registration's session token.)
  lab->token_file_ = lab->tmp_ + "/control.token";
  if (auto token = ReadOrCreateControlTokenFile(lab->token_file_);
      !token.ok()) {
    return token.status();
  }
  // The lab token: made first when missing, so that the coordinator and
  // the peers read the same file.
  lab->lab_token_file_ = lab->options_.token_file;
  if (lab->lab_token_file_.empty()) {
    auto path = DefaultLabTokenPath();
    if (!path.ok()) return path.status();
    lab->lab_token_file_ = *path;
  }
  if (auto token = LoadLabToken(lab->options_.token_file, "the lab token");
      !token.ok()) {
    return token.status();
  }
  if (lab->options_.netns) {
    if (auto s = lab->SetUpNetns(lab->options_.netns_peers.empty()
                                     ? peers
                                     : lab->options_.netns_peers);
        !s.ok()) {
      return s;
    }
  }
  const std::string host = lab->host_;
  // Both servers start at once; each is waited for in turn.
  const std::vector<std::string>& tls = lab->options_.tls_args;
  // The bootstrap admin token: the service lets only an entry's owner or
  // the admin change it, and the peers' upkeep removes departed peers'
  // entries. Handed to the lab's own peers
  // ($PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE).
  lab->bootstrap_token_file_ = lab->tmp_ + "/bootstrap-admin.token";
  if (auto token = ReadOrCreateSecretFile(
          lab->bootstrap_token_file_, 4096,
          [] { return absl::StrCat(NewUuid(), NewUuid(), "\n"); },
          "bootstrap admin token");
      !token.ok()) {
    return token.status();
  }
  std::vector<std::string> bootstrap_argv = {
      bin + "/peerlab-bootstrap",
      "--listen",
      host + ":0",
      "--store",
      "file:" + lab->tmp_ + "/bootstrap.json",
      "--log-file",
      lab->logs_ + "/bootstrap.log",
      "--admin-token-file",
      lab->bootstrap_token_file_};
  bootstrap_argv.insert(bootstrap_argv.end(), tls.begin(), tls.end());
  auto bootstrap = lab->StartServer("bootstrap", std::move(bootstrap_argv),
                                    &lab->bootstrap_process_);
  if (!bootstrap.ok()) return bootstrap.status();
  std::vector<std::string> coordinator_argv = {bin + "/peerlab-coordinator",
                                               "--listen",
                                               host + ":0",
                                               "--log-file",
                                               lab->logs_ + "/coordinator.log",
                                               "--token-file",
                                               lab->lab_token_file_};
  coordinator_argv.insert(coordinator_argv.end(), tls.begin(), tls.end());
  auto coordinator = lab->StartServer(
      "coordinator", std::move(coordinator_argv), &lab->coordinator_process_);
  if (!coordinator.ok()) return coordinator.status();

  const absl::Time deadline = absl::Now() + lab->options_.start_timeout;
  for (auto [process, name, address] :
       {std::tuple{lab->bootstrap_process_.get(), "bootstrap",
                   &lab->bootstrap_},
        std::tuple{lab->coordinator_process_.get(), "coordinator",
                   &lab->coordinator_}}) {
    const std::string ready = absl::StrCat(lab->tmp_, "/", name, ".ready");
    // The servers write their address once serving; a file cannot be
    // waited on, so look every few milliseconds (start-up only).
    while ((*address = ReadyLine(ready)).empty()) {
      if (process->exited()) {
        return absl::UnavailableError(absl::StrCat(
            "the ", name, " server ended at start (", process->ExitString(),
            "): ", Tail(process->options().output_path)));
      }
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("the ", name, " server did not start within ",
                         absl::FormatDuration(lab->options_.start_timeout)));
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  }
  for (const std::string& peer : peers) {
    if (auto s = lab->StartPeer(peer); !s.ok()) return s;
  }
  return lab;
}

absl::StatusOr<std::string> LocalLab::StartServer(
    const std::string& name, std::vector<std::string> argv,
    std::unique_ptr<ChildProcess>* out) {
  argv.push_back("--ready-file");
  argv.push_back(absl::StrCat(tmp_, "/", name, ".ready"));
  auto process = ChildProcess::Start(
      {.argv = std::move(argv),
       .env = {{"PEERLAB_SEED", std::to_string(options_.seed)}},
       .output_path = absl::StrCat(logs_, "/", name, ".out")});
  if (!process.ok()) return process.status();
  *out = *std::move(process);
  return std::string();
}

absl::Status LocalLab::StartPeer(const std::string& name) {
  int start = ++starts_[name];
  std::string stem = start == 1 ? absl::StrCat(logs_, "/", name)
                                : absl::StrCat(logs_, "/", name, ".", start);
  std::vector<std::string> argv = {
      options_.bin_dir + "/peerlab-peer", name, "--test", "--coordinator",
      coordinator_, "--bootstrap", bootstrap_, "--log-file", stem + ".log",
      "--log-level", options_.peer_log_level, "--history-file",
      tmp_ + "/history-" + name, "--token-file", lab_token_file_,
      // The lab owns these peers: its scripts
      // may run shell steps on them, and inject network faults (faults:
      // partition, heal, netem and oneway in the local lab).
      "--exec", "set lab.allow_programs true", "--exec",
      "set lab.allow_faults true"};
  if (options_.netns) {
    // The lab tool execs `ip netns exec`, which execs the peer: the pid
    // stays the peer's (signals and PDEATHSIG reach it).
    argv.insert(argv.begin(), {options_.lab_tool, "exec", name});
    const std::string address =
        addresses_.count(name) ? addresses_.at(name) : std::string();
    if (address.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("peer ", name, " has no namespace in the netns lab"));
    }
    argv.insert(argv.end(), {"--bind", address});
  }
  argv.insert(argv.end(), {"--control-token-file", token_file_});
  argv.insert(argv.end(), options_.tls_args.begin(), options_.tls_args.end());
  argv.insert(argv.end(), options_.peer_args.begin(), options_.peer_args.end());
  auto process = ChildProcess::Start(
      {.argv = std::move(argv),
       .env = {{"PEERLAB_SEED", std::to_string(options_.seed)},
               {"PEERLAB_BOOTSTRAP_ADMIN_TOKEN_FILE", bootstrap_token_file_}},
       .output_path = stem + ".out",
       .on_exit = [this, name](pid_t pid, const std::string& how) {
         // Runs on the watcher thread; the lab outlives it.
         std::lock_guard<std::mutex> lock(mu_);
         if (stopping_ || expected_exits_.count(pid)) return;
         if (options_.on_unexpected_exit)
           options_.on_unexpected_exit(name, how);
       }});
  if (!process.ok()) return process.status();
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = peers_[name];
  if (slot) ended_.push_back(std::move(slot));
  slot = *std::move(process);
  return absl::OkStatus();
}

absl::Status LocalLab::SetUpNetns(const std::vector<std::string>& peers) {
  if (::access(options_.lab_tool.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--lab netns: no lab tool at ", options_.lab_tool));
  }
  if (::geteuid() != 0) {
    return absl::FailedPreconditionError(
        "--lab netns needs root (network namespaces)");
  }
  if (auto s = RunLabTool({"check"}); !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("--lab netns: namespaces unavailable: ", s.message()));
  }
  // Leftovers of a crashed run would hold the names and addresses.
  if (auto s = RunLabTool({"down"}); !s.ok()) return s;
  netns_up_ = true;
  std::vector<std::string> up = {"up"};
  up.insert(up.end(), peers.begin(), peers.end());
  if (auto s = RunLabTool(up); !s.ok()) return s;
  // Addresses in order: .2, .3, ... (peerlab-lab up).
  for (size_t i = 0; i < peers.size(); ++i) {
    addresses_[peers[i]] = absl::StrCat("10.77.0.", i + 2);
  }
  host_ = "10.77.0.1";
  return absl::OkStatus();
}

absl::Status LocalLab::RunLabTool(const std::vector<std::string>& args) {
  const std::string out = absl::StrCat(tmp_, "/lab-tool.", ++tool_runs_);
  std::vector<std::string> argv = {options_.lab_tool};
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = ChildProcess::Start({.argv = argv, .output_path = out});
  if (!process.ok()) return process.status();
  if (!(*process)->WaitExited(absl::Seconds(30))) {
    (*process)->Terminate(absl::Seconds(1));
    return absl::DeadlineExceededError(absl::StrCat(
        options_.lab_tool, " ", absl::StrJoin(args, " "), ": no end in 30 s"));
  }
  const std::string how = (*process)->ExitString();
  std::string output(absl::StripAsciiWhitespace(Tail(out)));
  std::error_code ec;
  std::filesystem::remove(out, ec);
  if (how != "exit code 0") {
    return absl::UnavailableError(absl::StrCat(
        "peerlab-lab ", absl::StrJoin(args, " "), " (", how, "): ", output));
  }
  return absl::OkStatus();
}

absl::Status LocalLab::Fault(const std::string& kind, const std::string& peer,
                             const std::vector<std::string>& args) {
  if (kind == "partition" || kind == "heal" || kind == "netem") {
    if (!options_.netns) {
      return absl::FailedPreconditionError(
          absl::StrCat(kind, " needs the netns lab (--lab netns)"));
    }
    std::vector<std::string> argv = {kind};
    if (!peer.empty()) argv.push_back(peer);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunLabTool(argv);
  }
  ChildProcess* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peers_.find(peer);
    if (it != peers_.end() && !it->second->exited()) p = it->second.get();
    if (p && (kind == "kill" || kind == "restart")) {
      expected_exits_.insert(p->pid());
    }
  }
  if (kind == "start") {
    if (p)
      return absl::FailedPreconditionError(absl::StrCat(
          "peer ", peer, " is running already (pid ", p->pid(), ")"));
    return StartPeer(peer);
  }
  if (!p && kind == "restart") {
    bool killed = false;  // started by this lab once, not running now
    {
      std::lock_guard<std::mutex> lock(mu_);
      killed = peers_.count(peer) > 0;
    }
    if (killed) return StartPeer(peer);  // a new process, as `start`
  }
  if (!p) {
    return absl::FailedPreconditionError(
        absl::StrCat("peer ", peer, " is not running in this lab"));
  }
  if (kind == "kill") {
    if (auto s = p->Signal(SIGKILL); !s.ok()) return s;
    if (!p->WaitExited(absl::Seconds(10))) {
      return absl::DeadlineExceededError("still running 10 s after SIGKILL");
    }
    return absl::OkStatus();
  }
  if (kind == "stop") {
    if (auto s = p->Signal(SIGSTOP); !s.ok()) return s;
    if (!p->WaitStopped(absl::Seconds(10))) {
      return absl::DeadlineExceededError("not stopped 10 s after SIGSTOP");
    }
    return absl::OkStatus();
  }
  if (kind == "cont") {
    if (auto s = p->Signal(SIGCONT); !s.ok()) return s;
    if (!p->WaitContinued(absl::Seconds(10))) {
      return absl::DeadlineExceededError("not running 10 s after SIGCONT");
    }
    return absl::OkStatus();
  }
  if (kind == "restart") {
    p->Terminate(absl::Seconds(3));
    return StartPeer(peer);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown fault \"", kind, "\""));
}

void LocalLab::Stop() {
  std::vector<ChildProcess*> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [name, p] : peers_) peers.push_back(p.get());
  }
  // SIGTERM to every peer at once. A peer's clean leave waits for the
  // others to hear it, but they are all leaving too: after a short grace
  // the rest get SIGKILL (the run is over; the logs are flushed per line).
  for (ChildProcess* p : peers) {
    if (!p->exited()) {
      ::kill(p->pid(), SIGTERM);
      ::kill(p->pid(), SIGCONT);
    }
  }
  const absl::Time deadline = absl::Now() + options_.peer_stop_grace;
  for (ChildProcess* p : peers) {
    p->WaitExited(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  }
  for (ChildProcess* p : peers) {
    if (!p->exited()) ::kill(p->pid(), SIGKILL);
  }
  for (ChildProcess* p : peers) p->WaitExited(absl::Seconds(10));
  for (ChildProcess* server :
       {coordinator_process_.get(), bootstrap_process_.get()}) {
    if (server && !server->exited()) ::kill(server->pid(), SIGTERM);
  }
  if (coordinator_process_) coordinator_process_->Terminate(absl::Seconds(3));
  if (bootstrap_process_) bootstrap_process_->Terminate(absl::Seconds(3));
  if (netns_up_) {
    if (auto s = RunLabTool({"down"}); !s.ok()) {
      std::cerr << "peerlab-test: " << s.message() << std::endl;
    }
  }
  if (!tmp_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }
}

LocalLab::~LocalLab() {
  Stop();
  // Destroying the processes joins their watcher threads, whose exit
  // callbacks take mu_: not under it.
  std::map<std::string, std::unique_ptr<ChildProcess>> peers;
  std::vector<std::unique_ptr<ChildProcess>> ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    peers.swap(peers_);
    ended.swap(ended_);
  }
}

}  // namespace peerlab::harness
