// LocalLab: a whole lab on this machine for one run — a bootstrap server on
// a temporary file store, a coordinator, and one `peerlab-peer NAME --test
// --coordinator ADDR --bootstrap ADDR` per peer, all on free loopback ports
// — and the process faults the harness asks of it (kill, stop, cont,
// restart, start). Logs go to DIR/logs/: NAME.log (the peer's --log-file)
// and NAME.out (its stdout and stderr); a restarted peer's files get .2,
// .3, … Every process dies with peerlab-test (ChildProcess).
//
// Thread safety: Start, Fault and Stop must be called from one thread, the
// one that lives as long as the lab (PR_SET_PDEATHSIG); the exit callback
// comes from other threads.
#ifndef PEERLAB_TEST_HARNESS_LAB_LOCAL_LAB_H_
#define PEERLAB_TEST_HARNESS_LAB_LOCAL_LAB_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "test-harness/lab/child_process.h"

namespace peerlab::harness {

class LocalLab {
 public:
  struct Options {
    std::string bin_dir;  // where peerlab-peer, -bootstrap, -coordinator are
    std::string dir;      // the run's report folder; logs go to dir/logs
    uint64_t seed = 0;    // given to every process as PEERLAB_SEED
    std::string peer_log_level = "info";
    std::vector<std::string> peer_args;  // extra peerlab-peer arguments
    // --tls-* flags for every process the lab starts (bootstrap,
    // coordinator, peers); empty: plaintext. See base/tls.h.
    std::vector<std::string> tls_args;
    // The lab token file given to the coordinator and every peer
    // (--token-file); empty: the default one
    // (test-harness/coordinator/lab_auth.h), made when missing.
    std::string token_file;
    absl::Duration start_timeout = absl::Seconds(15);
    // At Stop(): how long peers may take to leave cleanly after SIGTERM
    // before they get SIGKILL.
    absl::Duration peer_stop_grace = absl::Milliseconds(500);
    // The netns lab: every peer in its own network namespace plab-NAME
    // with its own address on the bridge plab-br0 (made by `lab_tool up`,
    // removed by `lab_tool down` at Stop and, for leftovers of a crashed
    // run, before the start); the servers bind on the bridge address
    // 10.77.0.1. Needs root. (Every lab's peers and coordinator share a
    // control token made for the run.)
    bool netns = false;
    std::string lab_tool;  // deploy/lab/peerlab-lab; "": bin_dir/peerlab-lab
    // netns lab: the peers that get a namespace (late joiners too); empty:
    // those Start() starts.
    std::vector<std::string> netns_peers;
    // A peer ended without a fault asking for it: (name, "exit code 1").
    // Called on a watcher thread.
    std::function<void(const std::string&, const std::string&)>
        on_unexpected_exit;
  };

  // Starts bootstrap and coordinator (waiting until both serve), then the
  // `peers` (not waiting for them: they register with the coordinator).
  static absl::StatusOr<std::unique_ptr<LocalLab>> Start(
      Options options, const std::vector<std::string>& peers);
  // Stop().
  ~LocalLab();

  const std::string& coordinator_address() const { return coordinator_; }
  const std::string& bootstrap_address() const { return bootstrap_; }

  // Carries out a process fault on `peer`: kill (SIGKILL, waits for the
  // exit), stop (SIGSTOP, waits until stopped), cont (SIGCONT, waits until
  // running), restart (SIGTERM, SIGKILL after 3 s, then a new process),
  // start (a new process; the peer must not be running).
  // In the netns lab also: partition (args: one "A,B" word per group),
  // heal, netem (args: tc netem arguments or "clear") through lab_tool.
  absl::Status Fault(const std::string& kind, const std::string& peer,
                     const std::vector<std::string>& args = {});

  // Stops every process: peers (SIGTERM, SIGKILL after
  // Options::peer_stop_grace), then the coordinator and the bootstrap
  // server; removes the temporary store. Idempotent.
  void Stop();

 private:
  explicit LocalLab(Options options) : options_(std::move(options)) {}
  absl::Status StartPeer(const std::string& name);
  // netns lab: runs `lab_tool ARGS...` and waits for it; its output is
  // the error when it fails.
  absl::Status RunLabTool(const std::vector<std::string>& args);
  absl::Status SetUpNetns(const std::vector<std::string>& peers);
  absl::StatusOr<std::string> StartServer(const std::string& name,
                                          std::vector<std::string> argv,
                                          std::unique_ptr<ChildProcess>* out);

  const Options options_;
  std::string tmp_;  // temporary folder: store and ready files
  std::string logs_;
  std::string bootstrap_, coordinator_;
  std::string host_ = "127.0.0.1";  // where the servers bind
  // The run's control token file (peers and coordinator): tmp_/control.token.
  std::string token_file_;
  std::string bootstrap_token_file_;  // the bootstrap admin token (0600)
  std::string lab_token_file_;  // --token-file of every process
  std::map<std::string, std::string> addresses_;  // netns lab: per peer
  bool netns_up_ = false;
  int tool_runs_ = 0;
  std::unique_ptr<ChildProcess> bootstrap_process_, coordinator_process_;
  std::map<std::string, std::unique_ptr<ChildProcess>> peers_;
  std::map<std::string, int> starts_;  // per peer, for log file names
  std::vector<std::unique_ptr<ChildProcess>> ended_;  // replaced processes

  std::mutex mu_;
  std::set<pid_t> expected_exits_;  // pids a fault or Stop() is ending
  bool stopping_ = false;
};

// The folder of the running program (/proc/self/exe), for finding the
// other peerlab binaries next to it.
std::string OwnBinDir();

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_LAB_LOCAL_LAB_H_
