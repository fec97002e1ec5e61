// bootstrap_load: concurrent clients against a real peerlab-bootstrap.
//
// For each client count (--clients, default 1,16,64) it runs two phases:
//   list    every client calls List in a closed loop;
//   mutate  every client joins its own peer (its own UUID) and then leaves
//           it, in a loop: each call is one durable mutation.
// Each phase has a warm-up (--warmup seconds, not counted) and then a
// measured window (--seconds). A call counts when it completes inside the
// window; its latency is taken around the call with steady_clock. Per phase
// it reports calls/s, p50 and p99 latency (µs) and errors (failed calls and
// calls whose outcome was not the expected one, e.g. a Join into a full
// list), and the CPU the server and the benchmark used during the window, in
// cores (the server's only when the benchmark started it). A progress line
// goes to stderr every second; the table goes to stdout and, with --json
// FILE, to a JSON file.
//
// A client is one gRPC channel of its own (its own TCP connection: the
// channels do not share subchannels) with one call in flight at a time.
// --mode threads (default): one OS thread per client issuing blocking
// calls. --mode callback: the callback API, each client re-issuing its next
// call from the completion of the previous one (no thread per client).
//
// By default the benchmark starts the server itself, from the directory of
// its own binary, on 127.0.0.1 port 0 with a file store in a fresh temporary
// directory, and stops it (SIGTERM) at the end. --store picks another store
// (e.g. postgres://...); --postgres starts a private PostgreSQL 15 for the
// run (initdb in a temporary folder, as the tests do) and uses it.
// --replicas N starts N servers on the same store (a shared database) and
// spreads the clients over them round-robin. --server ADDR uses a running
// server instead; the benchmark then only adds and removes its own peers.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "proto/bootstrap/v1/bootstrap.grpc.pb.h"
#include "base/command_line.h"
#include "base/option_checks.h"
#include "base/testing/postgres.h"
#include "base/uuid.h"

extern char** environ;

namespace peerlab::bench {
namespace {

namespace pb = ::bootstrap::v1;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// How often the progress line is printed.
constexpr std::chrono::milliseconds kProgressInterval(1000);
// How often a child process or a ready file is looked at while waiting.
constexpr std::chrono::milliseconds kPollInterval(10);

enum class Op { kList, kMutate };

const char* OpName(Op op) { return op == Op::kList ? "list" : "mutate"; }

std::chrono::nanoseconds Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(s));
}

// A gRPC deadline `d` from now (gRPC takes system_clock time points).
std::chrono::system_clock::time_point DeadlineIn(std::chrono::nanoseconds d) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
}

// The measured window of a phase: calls that complete in [start, end) count;
// no call is started at or after `end`.
struct Window {
  TimePoint start;
  TimePoint end;
};

// ---------------------------------------------------------------------------
// The server under test, when the benchmark starts it.

// A peerlab-bootstrap child process. Stops it (SIGTERM, then SIGKILL after
// the timeout) when destroyed. Not thread-safe.
class ServerProcess {
 public:
  // Spawns `binary` with `args` plus `--ready-file` and waits up to
  // `timeout` for it to write its bound address there.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& binary, std::vector<std::string> args,
      const std::string& ready_file, std::chrono::nanoseconds timeout) {
    args.insert(args.begin(), binary);
    args.push_back("--ready-file");
    args.push_back(ready_file);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv.data(),
                           environ);
    if (rc != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot start ", binary, ": ", std::strerror(rc),
          " (build target peerlab-bootstrap, or pass --server ADDR)"));
    }
    std::unique_ptr<ServerProcess> server(new ServerProcess(pid));
    TimePoint deadline = SteadyClock::now() + timeout;
    for (;;) {
      std::ifstream in(ready_file);
      std::string line;
      if (in && std::getline(in, line) && !in.eof() && !line.empty()) {
        server->address_ = line;
        return server;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        server->pid_ = 0;
        return absl::FailedPreconditionError(
            absl::StrCat(binary, " exited before serving (status ", status,
                         "); see its messages above"));
      }
      if (SteadyClock::now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(binary, " did not write ", ready_file, " in time"));
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  ~ServerProcess() { (void)Stop(std::chrono::seconds(10)); }

  // Sends SIGTERM and waits up to `timeout` for a clean exit; kills it
  // otherwise. OK only when the server exited with status 0.
  absl::Status Stop(std::chrono::nanoseconds timeout) {
    if (pid_ == 0) return absl::OkStatus();
    ::kill(pid_, SIGTERM);
    TimePoint deadline = SteadyClock::now() + timeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (SteadyClock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = 0;
        return absl::DeadlineExceededError("server did not stop; killed");
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    pid_ = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(
          absl::StrCat("server ended with wait status ", status));
    }
    return absl::OkStatus();
  }

  const std::string& address() const { return address_; }
  // 0 once stopped.
  pid_t pid() const { return pid_; }

 private:
  explicit ServerProcess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  std::string address_;
};

// ---------------------------------------------------------------------------
// Clients.

// What one client saw in one phase. Written by the client only; `calls` is
// also read by the progress reporter.
struct alignas(64) Tally {
  std::atomic<uint64_t> calls{0};     // completed calls, warm-up included
  std::atomic<uint64_t> errors{0};    // errors, warm-up included
  std::vector<int64_t> latencies_ns;  // calls completed in the window
  uint64_t window_errors = 0;         // errors completed in the window
  std::string first_error;
};

// One independent client: its own channel, one call in flight at a time.
// A client runs one phase at a time (RunBlocking or StartCallback); between
// phases the owner may read tally() and call Reset().
class Client {
 public:
  // `peer` is the peer this client joins and leaves in mutate phases.
  Client(std::shared_ptr<grpc::Channel> channel, pb::Peer peer,
         std::chrono::nanoseconds deadline)
      : channel_(std::move(channel)),
        stub_(pb::BootstrapData::NewStub(channel_)),
        deadline_(deadline) {
    *join_request_.mutable_peer() = std::move(peer);
    leave_request_.set_id(join_request_.peer().id());
    // The entry is this client's (entry ownership): its secret, chosen here
    // so every Join and Leave of the loop presents the same one.
    const std::string secret =
        absl::StrCat("bootstrap-load-secret-", join_request_.peer().id());
    join_request_.set_secret(secret);
    leave_request_.set_secret(secret);
  }

  // Starts a fresh tally for the next phase.
  void Reset() { tally_ = std::make_unique<Tally>(); }
  Tally& tally() { return *tally_; }
  grpc::Channel* channel() { return channel_.get(); }

  // True when the last Join succeeded and no Leave has succeeded since.
  bool joined() const { return joined_; }

  // Threads mode: blocking calls on the calling thread until the window
  // ends.
  void RunBlocking(Op op, const Window& window) {
    for (;;) {
      TimePoint start = SteadyClock::now();
      if (start >= window.end) return;
      grpc::ClientContext context;
      context.set_deadline(DeadlineIn(deadline_));
      Step step = NextStep(op);
      grpc::Status status;
      switch (step) {
        case Step::kList:
          status = stub_->List(&context, list_request_, &list_response_);
          break;
        case Step::kJoin:
          status = stub_->Join(&context, join_request_, &join_response_);
          break;
        case Step::kLeave:
          status = stub_->Leave(&context, leave_request_, &leave_response_);
          break;
      }
      Complete(step, status, start, window);
    }
  }

  // Callback mode: issues the first call and returns; each completion
  // issues the next call until the window ends, then runs `finished` (on a
  // gRPC thread). `window` must stay valid until then.
  void StartCallback(Op op, const Window* window,
                     std::function<void()> finished) {
    op_ = op;
    window_ = window;
    finished_ = std::move(finished);
    IssueAsync();
  }

  // Joins this client's peer now, waiting for the server to be ready (set
  // up, not measured).
  absl::Status JoinNow() {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(deadline_));
    context.set_wait_for_ready(true);
    grpc::Status status = stub_->Join(&context, join_request_, &join_response_);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "join ", join_request_.peer().name(), ": ", status.error_message()));
    }
    if (!join_response_.joined()) {
      return absl::FailedPreconditionError(
          absl::StrCat("join ", join_request_.peer().name(),
                       ": the list is full (max_peers too low)"));
    }
    joined_ = true;
    return absl::OkStatus();
  }

  // Leaves this client's peer if it is joined (cleanup, not measured).
  absl::Status LeaveNow() {
    if (!joined_) return absl::OkStatus();
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(deadline_));
    grpc::Status status =
        stub_->Leave(&context, leave_request_, &leave_response_);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("leave ", leave_request_.id(),
                                                 ": ", status.error_message()));
    }
    joined_ = false;
    if (!leave_response_.removed()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "leave ", leave_request_.id(), ": the peer was not in the list"));
    }
    return absl::OkStatus();
  }

 private:
  enum class Step { kList, kJoin, kLeave };

  Step NextStep(Op op) const {
    if (op == Op::kList) return Step::kList;
    return joined_ ? Step::kLeave : Step::kJoin;
  }

  void IssueAsync() {
    TimePoint start = SteadyClock::now();
    if (start >= window_->end) {
      finished_();
      return;
    }
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(DeadlineIn(deadline_));
    Step step = NextStep(op_);
    auto done = [this, step, start](grpc::Status status) {
      Complete(step, status, start, *window_);
      IssueAsync();
    };
    switch (step) {
      case Step::kList:
        stub_->async()->List(context_.get(), &list_request_, &list_response_,
                             std::move(done));
        break;
      case Step::kJoin:
        stub_->async()->Join(context_.get(), &join_request_, &join_response_,
                             std::move(done));
        break;
      case Step::kLeave:
        stub_->async()->Leave(context_.get(), &leave_request_, &leave_response_,
                              std::move(done));
        break;
    }
  }

  // Checks the outcome of a call, updates joined_, and records it.
  void Complete(Step step, const grpc::Status& status, TimePoint start,
                const Window& window) {
    TimePoint end = SteadyClock::now();
    std::string error;
    if (!status.ok()) {
      error = absl::StrCat("code ", status.error_code(), ": ",
                           status.error_message());
    } else if (step == Step::kJoin) {
      if (join_response_.joined()) {
        joined_ = true;
      } else {
        error = "join: list full (is max_peers below the client count?)";
      }
    } else if (step == Step::kLeave) {
      joined_ = false;
      if (!leave_response_.removed()) error = "leave: peer was not in the list";
    }
    Tally& t = *tally_;
    bool in_window = end >= window.start && end < window.end;
    if (!error.empty()) {
      t.errors.fetch_add(1, std::memory_order_relaxed);
      if (in_window) ++t.window_errors;
      if (t.first_error.empty()) t.first_error = std::move(error);
    } else if (in_window) {
      t.latencies_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(end - start)
              .count());
    }
    t.calls.fetch_add(1, std::memory_order_relaxed);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::BootstrapData::Stub> stub_;
  const std::chrono::nanoseconds deadline_;
  std::unique_ptr<Tally> tally_ = std::make_unique<Tally>();
  bool joined_ = false;

  pb::ListRequest list_request_;
  pb::ListResponse list_response_;
  pb::JoinRequest join_request_;
  pb::JoinResponse join_response_;
  pb::LeaveRequest leave_request_;
  pb::LeaveResponse leave_response_;

  // Callback mode only.
  Op op_ = Op::kList;
  const Window* window_ = nullptr;
  std::function<void()> finished_;
  std::unique_ptr<grpc::ClientContext> context_;
};

// A channel of its own: the unique argument and the local subchannel pool
// keep gRPC from sharing one connection between clients.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                          int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("peerlab.bench.client", index);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

pb::Peer BenchPeer(const std::string& name, int index) {
  pb::Peer peer;
  peer.set_id(NewUuid());
  peer.set_name(name);
  peer.set_host("127.0.0.1");
  peer.set_port(1 + index % 65535);
  peer.set_protocol(pb::PROTOCOL_TCP);
  peer.set_status("bench");
  return peer;
}

// ---------------------------------------------------------------------------
// Phases.

struct Options {
  std::vector<std::string> addresses;  // clients use them round-robin
  std::vector<int> clients;
  double seconds = 0;
  double warmup = 0;
  std::string mode;
  std::chrono::nanoseconds deadline{};
  std::vector<pid_t> server_pids;  // empty: not started by us, CPU unknown
};

struct PhaseResult {
  Op op;
  int clients = 0;
  double seconds = 0;
  uint64_t calls = 0;
  double calls_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  uint64_t errors = 0;
  // CPU used during the window, in cores (CPU seconds per second); the
  // server's is negative when unknown.
  double server_cores = -1;
  double client_cores = 0;
};

// CPU seconds used so far by this process (all threads), and by the
// `pids` together (negative if none or unreadable).
struct CpuSample {
  TimePoint at;
  double self = 0;
  double server = -1;
};

CpuSample SampleCpu(const std::vector<pid_t>& pids) {
  CpuSample sample;
  sample.at = SteadyClock::now();
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    sample.self = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                  usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  }
  for (pid_t pid : pids) {
    // /proc/PID/stat: fields 14 and 15, counted after the ")" that ends
    // the command name, are utime and stime in clock ticks.
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos) {
      std::istringstream fields(stat.substr(paren + 1));
      std::string field;
      double utime = -1, stime = -1;
      for (int i = 3; fields >> field && i <= 15; ++i) {
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
      }
      if (utime >= 0 && stime >= 0) {
        sample.server = std::max(0.0, sample.server) +
                        (utime + stime) / ::sysconf(_SC_CLK_TCK);
      }
    }
  }
  return sample;
}

// Nearest-rank percentile of `v` (reordered), in microseconds.
double PercentileUs(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * v.size()));
  size_t index = std::clamp<size_t>(rank, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + index, v.end());
  return v[index] / 1000.0;
}

// Runs one phase over `clients` and prints progress to stderr.
absl::StatusOr<PhaseResult> RunPhase(
    Op op, std::vector<std::unique_ptr<Client>>& clients,
    const Options& options) {
  const int n = static_cast<int>(clients.size());
  for (auto& c : clients) c->Reset();

  Window window;
  TimePoint began = SteadyClock::now();
  window.start = began + Seconds(options.warmup);
  window.end = window.start + Seconds(options.seconds);

  std::mutex mu;
  std::condition_variable cv;
  int running = n;
  auto finished = [&] {
    std::lock_guard<std::mutex> lock(mu);
    if (--running == 0) cv.notify_all();
  };

  std::vector<std::thread> threads;
  if (options.mode == "threads") {
    for (auto& c : clients) {
      Client* client = c.get();
      threads.emplace_back([client, op, &window, &finished] {
        client->RunBlocking(op, window);
        finished();
      });
    }
  } else {
    for (auto& c : clients) c->StartCallback(op, &window, finished);
  }

  // Progress, until every client has stopped, and CPU samples at both ends
  // of the window. A client stops at most one call deadline after the
  // window ends.
  TimePoint give_up = window.end + options.deadline + options.deadline;
  TimePoint next_progress = began + kProgressInterval;
  std::optional<CpuSample> cpu_start, cpu_end;
  bool stuck = false;
  {
    std::unique_lock<std::mutex> lock(mu);
    while (running > 0) {
      TimePoint wake = next_progress;
      if (!cpu_start) {
        wake = std::min(wake, window.start);
      } else if (!cpu_end) {
        wake = std::min(wake, window.end);
      }
      if (cv.wait_until(lock, wake, [&] { return running == 0; })) break;
      TimePoint now = SteadyClock::now();
      if (!cpu_start && now >= window.start) {
        cpu_start = SampleCpu(options.server_pids);
      }
      if (cpu_start && !cpu_end && now >= window.end) {
        cpu_end = SampleCpu(options.server_pids);
      }
      if (now < next_progress) continue;
      next_progress += kProgressInterval;
      uint64_t calls = 0, errors = 0;
      for (auto& c : clients) {
        calls += c->tally().calls.load(std::memory_order_relaxed);
        errors += c->tally().errors.load(std::memory_order_relaxed);
      }
      double elapsed = std::chrono::duration<double>(now - began).count();
      std::cerr << absl::StrFormat(
                       "[%s, %d clients] %.1f s of %.1f (%s), %d calls, %d "
                       "errors",
                       OpName(op), n, elapsed, options.warmup + options.seconds,
                       now < window.start ? "warm-up" : "measuring", calls,
                       errors)
                << std::endl;
      if (now > give_up) {
        stuck = true;
        break;
      }
    }
  }
  if (stuck) {
    // Clients still reference `window` and `finished`: do not unwind.
    std::cerr << "bootstrap_load: clients did not stop in time; aborting\n";
    std::_Exit(1);
  }
  if (!cpu_end) cpu_end = SampleCpu(options.server_pids);
  if (!cpu_start) cpu_start = cpu_end;  // no window at all
  for (auto& t : threads) t.join();

  PhaseResult result;
  double wall =
      std::chrono::duration<double>(cpu_end->at - cpu_start->at).count();
  if (wall > 0) {
    result.client_cores = (cpu_end->self - cpu_start->self) / wall;
    if (cpu_start->server >= 0 && cpu_end->server >= 0) {
      result.server_cores = (cpu_end->server - cpu_start->server) / wall;
    }
  }
  result.op = op;
  result.clients = n;
  result.seconds = options.seconds;
  std::vector<int64_t> latencies;
  std::set<std::string> first_errors;  // each distinct one printed once
  for (auto& c : clients) {
    Tally& t = c->tally();
    latencies.insert(latencies.end(), t.latencies_ns.begin(),
                     t.latencies_ns.end());
    result.errors += t.window_errors;
    if (!t.first_error.empty()) first_errors.insert(t.first_error);
  }
  for (const auto& e : first_errors) {
    std::cerr << "bootstrap_load: " << OpName(op) << ": " << e << "\n";
  }
  result.calls = latencies.size();
  result.calls_per_second = result.calls / options.seconds;
  result.p50_us = PercentileUs(latencies, 0.50);
  result.p99_us = PercentileUs(latencies, 0.99);

  // Leave the document as it was: no bench peer stays joined.
  for (auto& c : clients) {
    if (auto s = c->LeaveNow(); !s.ok()) return s;
  }
  return result;
}

// ---------------------------------------------------------------------------
// Machine facts and output.

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        size_t first = line.find_first_not_of(' ', colon + 1);
        return first == std::string::npos ? "" : line.substr(first);
      }
    }
  }
  return "unknown";
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The results as a fixed-width table. server_cpu and client_cpu are cores
// busy during the window ("-": the server was not started by us).
std::string Table(const std::vector<PhaseResult>& results) {
  std::string out =
      absl::StrFormat("%-7s %8s %10s %10s %10s %10s %7s %10s %10s\n", "phase",
                      "clients", "calls", "calls/s", "p50_us", "p99_us",
                      "errors", "server_cpu", "client_cpu");
  for (const auto& r : results) {
    std::string server_cpu =
        r.server_cores < 0 ? "-" : absl::StrFormat("%.2f", r.server_cores);
    absl::StrAppendFormat(
        &out, "%-7s %8d %10d %10.0f %10.1f %10.1f %7d %10s %10.2f\n",
        OpName(r.op), r.clients, r.calls, r.calls_per_second, r.p50_us,
        r.p99_us, r.errors, server_cpu, r.client_cores);
  }
  return out;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "bootstrap_load: List and Join/Leave throughput and latency of "
      "peerlab-bootstrap under 1..N concurrent clients."};
  Options options;
  std::string server_address;
  std::string store_spec;
  std::string server_binary;
  std::string json_file;
  uint32_t max_peers = 5000;
  int list_peers = 3;
  double deadline_s = 5;
  double start_timeout_s = 10;
  int replicas = 1;
  bool postgres = false;
  options.clients = {1, 16, 64};
  options.seconds = 5;
  options.warmup = 1;
  options.mode = "threads";
  auto* server_flag =
      app.add_option("--server", server_address,
                     "use the server at this address (HOST:PORT) instead of "
                     "starting one")
          ->check(peerlab::ConnectHostPort);
  app.add_option("--store", store_spec,
                 "store spec for the started server (default: "
                 "file:<temporary dir>/b.json; file:PATH, memory: or "
                 "postgres://...)")
      ->check(CLI::Validator(
          [](std::string& spec) -> std::string {
            return spec == "memory:" || spec.starts_with("file:") ||
                           spec.starts_with("postgres://") ||
                           spec.starts_with("postgresql://")
                       ? ""
                       : "'" + spec +
                             "' is not a store: file:PATH, memory: or "
                             "postgres://...";
          },
          "STORE", "store spec"))
      ->excludes(server_flag);
  app.add_flag("--postgres", postgres,
               "start a private PostgreSQL 15 for the run (initdb in a "
               "temporary folder) and use it as the store")
      ->excludes(server_flag);
  app.add_option("--replicas", replicas,
                 "servers to start on the same store (a shared database: "
                 "needs --postgres or --store postgres://...); clients are "
                 "spread over them round-robin")
      ->excludes(server_flag)
      ->check(peerlab::Range(1, 64))
      ->capture_default_str();
  app.add_option("--server-binary", server_binary,
                 "server to start (default: peerlab-bootstrap next to this "
                 "binary)")
      ->check(peerlab::ReadableFile)
      ->excludes(server_flag);
  app.add_option("--max-peers", max_peers,
                 "--max-peers of the started server (must exceed the "
                 "largest client count plus --list-peers)")
      ->excludes(server_flag)
      ->check(peerlab::Range(1u, 10000u))
      ->capture_default_str();
  app.add_option("--clients", options.clients,
                 "client counts, comma-separated (1 .. 10000)")
      ->delimiter(',')
      ->check(peerlab::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--seconds", options.seconds,
                 "measured seconds per phase (0.001 .. 86400)")
      ->check(peerlab::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--warmup", options.warmup,
                 "unmeasured seconds before each phase (0 .. 86400)")
      ->check(peerlab::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--mode", options.mode,
                 "threads: a thread per client, blocking calls; callback: "
                 "callback API, one call in flight per client")
      ->check(CLI::IsMember({"threads", "callback"}))
      ->capture_default_str();
  app.add_option("--list-peers", list_peers,
                 "peers in the document while the benchmark runs (joined "
                 "first, left at the end)")
      ->check(peerlab::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--deadline", deadline_s,
                 "per-call deadline, seconds (0.001 .. 3600)")
      ->check(peerlab::Range(0.001, 3600.0))
      ->capture_default_str();
  app.add_option("--start-timeout", start_timeout_s,
                 "how long the started server may take to serve, seconds "
                 "(0.001 .. 3600)")
      ->check(peerlab::Range(0.001, 3600.0))
      ->capture_default_str();
  app.add_option("--json", json_file, "also write the results to this file")
      ->check(peerlab::WritableFile);
  if (auto code = peerlab::ParseCommandLine(app, argc, argv)) return *code;
  options.deadline = Seconds(deadline_s);

  // The database, when asked for.
  std::unique_ptr<peerlab::testing::PostgresServer> database;
  if (postgres) {
    if (!store_spec.empty()) {
      std::cerr << "bootstrap_load: --postgres and --store exclude each "
                   "other\n";
      return 1;
    }
    auto started = peerlab::testing::PostgresServer::Start();
    if (!started.ok()) {
      std::cerr << "bootstrap_load: --postgres: " << started.status().message()
                << "\n";
      return 1;
    }
    database = *std::move(started);
    store_spec = database->uri();
  }
  if (replicas > 1 && !absl::StartsWith(store_spec, "postgres")) {
    std::cerr << "bootstrap_load: --replicas " << replicas
              << " needs a shared store: --postgres or --store "
                 "postgres://...\n";
    return 1;
  }

  // The servers.
  std::vector<std::unique_ptr<ServerProcess>> servers;
  std::filesystem::path temp_dir;
  std::string store_described = "external";
  if (server_address.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp",
                                       "/bootstrap-load-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "bootstrap_load: mkdtemp " << pattern << ": "
                << std::strerror(errno) << "\n";
      return 1;
    }
    temp_dir = pattern;
    if (server_binary.empty()) {
      server_binary =
          (std::filesystem::read_symlink("/proc/self/exe").parent_path() /
           "peerlab-bootstrap")
              .string();
    }
    if (store_spec.empty()) {
      store_spec = absl::StrCat("file:", (temp_dir / "b.json").string());
    }
    store_described = store_spec;
    for (int r = 0; r < replicas; ++r) {
      auto started = ServerProcess::Start(
          server_binary,
          {"--listen", "127.0.0.1:0", "--store", store_spec, "--log-level",
           "warn", "--max-peers", std::to_string(max_peers),
           // A load test, not a flood to refuse: no join rate limit.
           "--join-rate", "0"},
          (temp_dir / absl::StrCat("ready-", r)).string(),
          Seconds(start_timeout_s));
      if (!started.ok()) {
        std::cerr << "bootstrap_load: " << started.status().message() << "\n";
        servers.clear();
        std::filesystem::remove_all(temp_dir);
        return 1;
      }
      options.addresses.push_back((*started)->address());
      options.server_pids.push_back((*started)->pid());
      servers.push_back(*std::move(started));
    }
  } else {
    options.addresses.push_back(server_address);
  }
  const std::string all_addresses = absl::StrJoin(options.addresses, ",");

  const std::string cpu = CpuModel();
  const unsigned cores = std::thread::hardware_concurrency();
  const std::string date = NowUtc();
  std::cout << absl::StrFormat(
      "server %s (store %s), mode %s, %d peers listed, %.1f s per phase "
      "after %.1f s warm-up\nmachine: %u cores, %s, %s\n",
      all_addresses, store_described, options.mode, list_peers, options.seconds,
      options.warmup, cores, cpu, date);

  // The peers every List returns; they share one channel.
  auto seed_channel = NewChannel(options.addresses[0], -1);
  std::vector<std::unique_ptr<Client>> seeds;
  for (int i = 0; i < list_peers; ++i) {
    seeds.push_back(std::make_unique<Client>(
        seed_channel, BenchPeer(absl::StrCat("bench-list-", i), i),
        options.deadline));
  }
  absl::Status failure;
  for (auto& s : seeds) {
    failure = s->JoinNow();
    if (!failure.ok()) break;
  }

  std::vector<PhaseResult> results;
  for (int n : options.clients) {
    if (!failure.ok()) break;
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<Client>(
          NewChannel(options.addresses[i % options.addresses.size()], i),
          BenchPeer(absl::StrCat("bench-", i), i), options.deadline));
    }
    auto connect_deadline = DeadlineIn(options.deadline);
    for (auto& c : clients) {
      if (!c->channel()->WaitForConnected(connect_deadline)) {
        failure = absl::UnavailableError(
            absl::StrCat("cannot connect to ", all_addresses));
        break;
      }
    }
    for (Op op : {Op::kList, Op::kMutate}) {
      if (!failure.ok()) break;
      auto result = RunPhase(op, clients, options);
      if (!result.ok()) {
        failure = result.status();
        break;
      }
      std::cerr << absl::StrFormat(
          "[%s, %d clients] done: %.0f calls/s, p50 %.1f us, p99 %.1f us, "
          "%d errors\n",
          OpName(op), n, result->calls_per_second, result->p50_us,
          result->p99_us, result->errors);
      results.push_back(*result);
    }
  }
  for (auto& s : seeds) {
    if (auto st = s->LeaveNow(); !st.ok() && failure.ok()) failure = st;
  }

  if (!results.empty()) std::cout << Table(results);
  uint64_t errors = 0;
  for (const auto& r : results) errors += r.errors;

  if (!json_file.empty()) {
    nlohmann::json j;
    j["command"] = absl::StrJoin(argv, argv + argc, " ");
    j["server"] = all_addresses;
    j["replicas"] = options.addresses.size();
    j["store"] = store_described;
    j["mode"] = options.mode;
    j["list_peers"] = list_peers;
    j["seconds"] = options.seconds;
    j["warmup"] = options.warmup;
    j["machine"] = {{"cores", cores}, {"cpu", cpu}, {"date", date}};
    j["results"] = nlohmann::json::array();
    for (const auto& r : results) {
      j["results"].push_back(
          {{"phase", OpName(r.op)},
           {"clients", r.clients},
           {"seconds", r.seconds},
           {"calls", r.calls},
           {"calls_per_second", r.calls_per_second},
           {"p50_us", r.p50_us},
           {"p99_us", r.p99_us},
           {"errors", r.errors},
           {"server_cpu_cores", r.server_cores < 0
                                    ? nlohmann::json(nullptr)
                                    : nlohmann::json(r.server_cores)},
           {"client_cpu_cores", r.client_cores}});
    }
    std::ofstream out(json_file);
    out << j.dump(2) << "\n";
    if (!out) {
      std::cerr << "bootstrap_load: cannot write " << json_file << "\n";
      if (failure.ok()) failure = absl::UnavailableError("--json");
    }
  }

  for (auto& server : servers) {
    if (auto s = server->Stop(Seconds(start_timeout_s)); !s.ok()) {
      std::cerr << "bootstrap_load: stopping the server: " << s.message()
                << "\n";
      if (failure.ok()) failure = s;
    }
  }
  if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
  if (!failure.ok()) {
    std::cerr << "bootstrap_load: " << failure.message() << "\n";
    return 1;
  }
  if (errors > 0) {
    std::cerr << "bootstrap_load: " << errors << " calls failed\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace peerlab::bench

int main(int argc, char** argv) { return peerlab::bench::Main(argc, argv); }
