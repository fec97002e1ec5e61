// RunClient: the client side of one run of peerlab-test. Starts a local lab
// (or uses a coordinator given with --coordinator), starts the run on the
// coordinator, prints a live line per step, fault and notable event,
// carries out the process faults the run asks for, then stops the lab and
// writes the report folder.
#ifndef PEERLAB_TEST_HARNESS_TOOL_RUN_CLIENT_H_
#define PEERLAB_TEST_HARNESS_TOOL_RUN_CLIENT_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "base/tls.h"
#include "grpcpp/grpcpp.h"
#include "proto/harness/v1/coordinator.grpc.pb.h"
#include "test-harness/lab/local_lab.h"
#include "test-harness/script/script.h"

namespace peerlab::harness {

// Creates a new folder ROOT/PREFIX+ID (ID from NewRunId: time and random
// hex) that did not exist before, so that no run's report overwrites
// another's: another ID when it did. Returns its path; "" when none could
// be made under ROOT.
std::string NewReportDir(const std::string& root, const std::string& prefix);

struct RunRequest {
  std::string script_path;  // as given; its base name names the script
  std::string script_text;
  Script script;            // parsed already
  std::string coordinator;  // empty: start a local lab
  std::string report_root;  // the run's folder is report_root/RUN_ID
  ::harness::v1::RunOptions options;
  std::string bin_dir;  // local lab: where the peerlab binaries are
  std::string peer_log_level = "info";
  std::vector<std::string> peer_args;
  std::string lab_tool;  // --lab netns: peerlab-lab ("": next to the binaries)
  bool verbose = false;  // also print registrations and other notices
  // --tls-*: the channel to the coordinator, and the flags given to every
  // process of a local lab.
  TlsOptions tls;
  // --token-file: the lab token ("": the default file, made when missing;
  // test-harness/coordinator/lab_auth.h). A local lab gets the same file.
  std::string token_file;
};

struct RunOutcome {
  // 0 passed, 1 a check failed, 2 the harness could not run the script.
  int exit_code = 2;
  bool have_summary = false;
  ::harness::v1::RunSummary summary;
  std::string report_dir;
  std::string error;  // when the harness could not run
};

// Thread safety: Run() on one thread (the main thread: the lab's processes
// are bound to it); Interrupt() from any thread.
class RunClient {
 public:
  explicit RunClient(std::ostream* out) : out_(out) {}

  RunOutcome Run(const RunRequest& request);

  // Cancels the run in progress (Ctrl-C): the coordinator ends it soon; if
  // it does not answer, the watch is abandoned. Later Run() calls return at
  // once with exit code 2.
  void Interrupt(const std::string& reason);

 private:
  void Print(const std::string& line);
  absl::Status CarryOut(const RunRequest& request,
                        const ::harness::v1::FaultRequest& fault);
  absl::Status SignalRemote(const std::string& peer, int signal);
  void OnPeerExit(const std::string& name, const std::string& how,
                  const std::string& log_stem);
  void CancelOnCoordinator(const std::string& reason);

  std::ostream* const out_;
  std::mutex out_mu_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool interrupted_ = false;
  std::string interrupt_reason_;
  bool run_started_ = false;   // StartRun succeeded
  bool steps_begun_ = false;   // a step event arrived
  bool run_finished_ = false;  // the finished event arrived
  std::string early_exit_;     // a peer ended before the steps began
  std::string run_id_;
  std::string token_;  // the lab token, sent on every call
  std::unique_ptr<::harness::v1::Coordinator::Stub> stub_;
  grpc::ClientContext* watch_context_ = nullptr;
  LocalLab* lab_ = nullptr;
};

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_TOOL_RUN_CLIENT_H_
