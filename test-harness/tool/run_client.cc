#include "test-harness/tool/run_client.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "test-harness/coordinator/lab_auth.h"
#include "test-harness/coordinator/run.h"
#include "test-harness/report/report.h"

namespace peerlab::harness {
namespace {

// The largest run event or summary this client takes.
constexpr int kMaxEventBytes = 64 << 20;

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

int ExitCodeFor(::harness::v1::RunState state) {
  switch (state) {
    case ::harness::v1::RUN_STATE_PASSED:
      return 0;
    case ::harness::v1::RUN_STATE_FAILED:
      return 1;
    default:
      return 2;
  }
}

}  // namespace

std::string NewReportDir(const std::string& root, const std::string& prefix) {
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string dir = absl::StrCat(root, "/", prefix, NewRunId());
    // False when it exists already: then another id.
    if (std::filesystem::create_directory(dir, ec)) return dir;
    if (ec) return "";
  }
  return "";
}

void RunClient::Print(const std::string& line) {
  std::lock_guard<std::mutex> lock(out_mu_);
  *out_ << line << std::endl;
}

void RunClient::Interrupt(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (interrupted_) return;
    interrupted_ = true;
    interrupt_reason_ = reason;
  }
  Print(absl::StrCat("--      ", reason, ": cancelling the run"));
  CancelOnCoordinator(reason);
  // Should the coordinator not finish the run, stop watching it.
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_until(lock, In(absl::Seconds(5)),
                      [this] { return run_finished_ || !run_started_; })) {
    if (watch_context_) watch_context_->TryCancel();
  }
}

void RunClient::CancelOnCoordinator(const std::string& reason) {
  std::string id;
  ::harness::v1::Coordinator::Stub* stub = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!run_started_ || run_finished_) return;
    id = run_id_;
    stub = stub_.get();
  }
  grpc::ClientContext context;
  AddBearer(&context, token_);
  context.set_deadline(In(absl::Seconds(3)));
  ::harness::v1::CancelRunRequest request;
  request.set_run_id(id);
  request.set_reason(reason);
  ::harness::v1::CancelRunResponse response;
  grpc::Status s = stub->CancelRun(&context, request, &response);
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (watch_context_) watch_context_->TryCancel();
  }
}

void RunClient::OnPeerExit(const std::string& name, const std::string& how,
                           const std::string& log_stem) {
  std::string reason = absl::StrCat("peer ", name, " exited: ", how, " (see ",
                                    log_stem, ".out)");
  Print(absl::StrCat("--      ", reason));
  bool cancel = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (steps_begun_) return;  // the run sees the death itself
    if (early_exit_.empty()) early_exit_ = reason;
    cancel = run_started_;
  }
  // A peer that ends before the steps begin would make the run wait for its
  // registration until the timeout.
  if (cancel) CancelOnCoordinator(absl::StrCat("lab start failed: ", reason));
}

absl::Status RunClient::SignalRemote(const std::string& peer, int signal) {
  grpc::ClientContext context;
  AddBearer(&context, token_);
  context.set_deadline(In(absl::Seconds(5)));
  ::harness::v1::ListPeersResponse peers;
  grpc::Status s =
      stub_->ListPeers(&context, ::harness::v1::ListPeersRequest(), &peers);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("ListPeers: ", s.error_message()));
  }
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  for (const auto& p : peers.peers()) {
    if (p.name() != peer) continue;
    if (p.host() != host) {
      return absl::FailedPreconditionError(absl::StrCat(
          "peer ", peer, " runs on host ", p.host(),
          "; this client can signal processes on ", host, " only"));
    }
    if (p.pid() <= 0 || ::kill(static_cast<pid_t>(p.pid()), signal) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot signal pid ", p.pid(), " of peer ", peer));
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(
      absl::StrCat("peer ", peer, " is not registered with the coordinator"));
}

absl::Status RunClient::CarryOut(const RunRequest& request,
                                 const ::harness::v1::FaultRequest& fault) {
  if (lab_) {
    return lab_->Fault(fault.kind(), fault.peer(),
                       {fault.args().begin(), fault.args().end()});
  }
  (void)request;
  if (fault.kind() == "kill") return SignalRemote(fault.peer(), SIGKILL);
  if (fault.kind() == "stop") return SignalRemote(fault.peer(), SIGSTOP);
  if (fault.kind() == "cont") return SignalRemote(fault.peer(), SIGCONT);
  return absl::FailedPreconditionError(absl::StrCat(
      fault.kind(),
      " starts a process: it needs the local lab (peerlab-test without "
      "--coordinator)"));
}

RunOutcome RunClient::Run(const RunRequest& request) {
  RunOutcome outcome;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (interrupted_) {
      outcome.error = interrupt_reason_;
      return outcome;
    }
    run_started_ = steps_begun_ = run_finished_ = false;
    early_exit_.clear();
    // A folder of its own: no report overwrites another's.
    const std::string dir = NewReportDir(request.report_root, "");
    run_id_ = dir.empty() ? NewRunId()
                          : std::filesystem::path(dir).filename().string();
  }
  const std::string script_name =
      std::filesystem::path(request.script_path).filename().string();
  outcome.report_dir = request.report_root + "/" + run_id_;
  size_t filters = 0;
  for (const Step& step : request.script.steps) {
    filters += step.kind == StepKind::kFilter;
  }
  Print(absl::StrCat("run ", run_id_, ": ", request.script_path, " (",
                     request.script.steps.size() - filters, " steps, ",
                     request.script.peers.size(), " peers, ", filters,
                     " filters, seed ", request.options.seed(), ")"));

  auto credentials = MakeChannelCredentials(request.tls);
  if (!credentials.ok()) {
    outcome.error = std::string(credentials.status().message());
    return outcome;
  }
  auto token = LoadLabToken(request.token_file, "--token-file");
  if (!token.ok()) {
    outcome.error = std::string(token.status().message());
    return outcome;
  }
  token_ = *std::move(token);
  std::unique_ptr<LocalLab> lab;
  std::string coordinator = request.coordinator;
  if (coordinator.empty()) {
    const std::string logs = outcome.report_dir + "/logs";
    auto started = LocalLab::Start(
        {.bin_dir = request.bin_dir,
         .dir = outcome.report_dir,
         .seed = request.options.seed(),
         .peer_log_level = request.peer_log_level,
         .peer_args = request.peer_args,
         .tls_args = TlsFlags(request.tls),
         .token_file = request.token_file,
         .netns = request.options.lab() == "netns",
         .lab_tool = request.lab_tool,
         .netns_peers = request.script.peers,
         .on_unexpected_exit =
             [this, logs](const std::string& name, const std::string& how) {
               OnPeerExit(name, how, logs + "/" + name);
             }},
        request.script.InitialPeers());
    if (!started.ok()) {
      outcome.error =
          absl::StrCat("cannot start the lab: ", started.status().message());
      return outcome;
    }
    lab = *std::move(started);
    coordinator = lab->coordinator_address();
    if (request.verbose) {
      Print(absl::StrCat("--      lab: bootstrap ", lab->bootstrap_address(),
                         ", coordinator ", coordinator, ", logs in ",
                         outcome.report_dir, "/logs"));
    }
  }
  // A channel of its own connection (not the process-wide subchannel pool),
  // so that dropping it closes the connection: a coordinator that stops
  // waits for its clients' connections to go.
  grpc::ChannelArguments channel_args;
  channel_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // A run's summary may exceed gRPC's default 4 MiB: the script alone may
  // be 4 MiB (kMaxScriptFileBytes), and the coordinator bounds the rest
  // (outputs, texts, timeline) well below this.
  channel_args.SetMaxReceiveMessageSize(kMaxEventBytes);
  auto channel =
      grpc::CreateCustomChannel(coordinator, *credentials, channel_args);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stub_ = ::harness::v1::Coordinator::NewStub(channel);
    lab_ = lab.get();
  }
  auto finish_lab = [&] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      lab_ = nullptr;
    }
    if (lab) lab->Stop();
  };

  // The token goes only to a coordinator that proves it holds it.
  if (absl::Status s = ChallengeCoordinator(stub_.get(), token_,
                                            absl::Now() + absl::Seconds(10),
                                            /*wait_for_ready=*/true);
      !s.ok()) {
    outcome.error = absl::StrCat("the coordinator at ", coordinator,
                                 " did not start the run: ", s.message());
    finish_lab();
    return outcome;
  }
  ::harness::v1::StartRunRequest start;
  start.set_script_name(script_name);
  start.set_script_text(request.script_text);
  *start.mutable_options() = request.options;
  start.mutable_options()->set_client_faults(true);
  start.set_run_id(run_id_);
  {
    grpc::ClientContext context;
    AddBearer(&context, token_);
    context.set_deadline(In(absl::Seconds(10)));
    context.set_wait_for_ready(true);
    ::harness::v1::StartRunResponse response;
    grpc::Status s = stub_->StartRun(&context, start, &response);
    if (!s.ok()) {
      outcome.error =
          absl::StrCat("the coordinator at ", coordinator,
                       " did not start the run: ", s.error_message());
      finish_lab();
      return outcome;
    }
  }
  std::string early;
  {
    std::lock_guard<std::mutex> lock(mu_);
    run_started_ = true;
    early = early_exit_;
  }
  if (!early.empty()) CancelOnCoordinator("lab start failed: " + early);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (interrupted_) early = interrupt_reason_;
  }
  if (!early.empty()) CancelOnCoordinator(early);

  // The call lives in `watch` (which holds the channel) until the block
  // ends.
  auto watch = std::make_unique<grpc::ClientContext>();
  AddBearer(watch.get(), token_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    watch_context_ = watch.get();
  }
  ::harness::v1::WatchRunRequest watch_request;
  watch_request.set_run_id(run_id_);
  auto reader = stub_->WatchRun(watch.get(), watch_request);
  ::harness::v1::RunEvent event;
  while (reader->Read(&event)) {
    if (event.has_step_started() || event.has_step_finished()) {
      std::lock_guard<std::mutex> lock(mu_);
      steps_begun_ = true;
    }
    if (event.has_fault_request()) {
      const auto& f = event.fault_request();
      absl::Status s = CarryOut(request, f);
      grpc::ClientContext context;
      AddBearer(&context, token_);
      context.set_deadline(In(absl::Seconds(10)));
      ::harness::v1::ResolveFaultRequest resolve;
      resolve.set_run_id(run_id_);
      resolve.set_fault_id(f.fault_id());
      resolve.set_ok(s.ok());
      resolve.set_message(std::string(s.message()));
      ::harness::v1::ResolveFaultResponse ignored;
      (void)stub_->ResolveFault(&context, resolve, &ignored);
      continue;
    }
    if (event.has_notice() && !request.verbose &&
        !absl::StrContains(event.notice(), "DIED")) {
      continue;
    }
    if (event.has_finished()) {
      outcome.summary = event.finished();
      outcome.have_summary = true;
      break;
    }
    std::string line = FormatEvent(event);
    if (!line.empty()) Print(line);
  }
  watch->TryCancel();
  grpc::Status watch_status = reader->Finish();
  reader.reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    watch_context_ = nullptr;
    run_finished_ = true;
  }
  watch.reset();
  cv_.notify_all();
  if (!outcome.have_summary) {
    // The stream ended early (coordinator gone, or the watch abandoned):
    // take what the coordinator still has.
    grpc::ClientContext context;
    AddBearer(&context, token_);
    context.set_deadline(In(absl::Seconds(3)));
    ::harness::v1::GetSummaryRequest get;
    get.set_run_id(run_id_);
    if (stub_->GetSummary(&context, get, &outcome.summary).ok()) {
      outcome.have_summary = true;
    }
  }
  {
    // Close the connection before the coordinator stops.
    std::lock_guard<std::mutex> lock(mu_);
    stub_.reset();
  }
  channel.reset();
  if (!outcome.have_summary) {
    finish_lab();
    outcome.error = absl::StrCat(
        "lost the coordinator at ", coordinator, " before the run ended",
        watch_status.ok() ? "" : " (" + watch_status.error_message() + ")");
    return outcome;
  }
  // A run that never reached its end cannot pass.
  if (outcome.summary.state() != ::harness::v1::RUN_STATE_PASSED &&
      outcome.summary.state() != ::harness::v1::RUN_STATE_FAILED &&
      outcome.summary.state() != ::harness::v1::RUN_STATE_ERROR &&
      outcome.summary.state() != ::harness::v1::RUN_STATE_CANCELLED) {
    outcome.summary.set_state(::harness::v1::RUN_STATE_CANCELLED);
    outcome.summary.set_verdict("the run did not finish");
  }
  outcome.exit_code = ExitCodeFor(outcome.summary.state());
  if (absl::Status s = WriteReport(outcome.report_dir, outcome.summary);
      !s.ok()) {
    Print(absl::StrCat("warning: report not written: ", s.message()));
  }
  Print("");
  Print(SummaryTable(outcome.summary));
  Print(absl::StrCat("report: ", outcome.report_dir, "/ (timeline.html, ",
                     "summary.json, junit.xml, logs/)"));
  // The verdict is out; the lab's processes write the last of their logs
  // as they stop.
  finish_lab();
  return outcome;
}

}  // namespace peerlab::harness
