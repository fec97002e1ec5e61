// Helpers for end-to-end tests that drive real peerlab-peer processes
// through peer.v1.PeerControl: starting a peer and waiting until it serves,
// running a command line with a deadline, and reading a WatchViews stream
// on a thread of its own.
//
// Test-only code (library target peerlab_peer_testing). Every wait polls or
// blocks on a condition until a deadline; nothing sleeps for a fixed time.
#ifndef PEERLAB_BASE_TESTING_PEER_PROCESS_H_
#define PEERLAB_BASE_TESTING_PEER_PROCESS_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/peer/v1/control.grpc.pb.h"
#include "base/testing/subprocess.h"

namespace peerlab::testing {

// The control token of this test process: a file (mode 0600, in a
// temporary directory removed at exit) that every peer started through
// PeerProcessOptions gets as $PEERLAB_CONTROL_TOKEN_FILE, and that
// NewPeerChannel sends. A test that wants a peer's own default (a token
// file of its own) sets PEERLAB_CONTROL_TOKEN_FILE to "" in the options.
const std::string& TestControlTokenFile();
const std::string& TestControlToken();

// A client channel to `address` with a subchannel pool of its own (so that
// channels to restarted peers never share a stale connection); every call
// carries TestControlToken() (a call's own "authorization" metadata wins).
std::shared_ptr<grpc::Channel> NewPeerChannel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials());

// The options that start `$PEERLAB_BIN_DIR/peerlab-peer NAME
// --ready-file DIR/NAME.ready --log-file DIR/NAME.log ARGS...` with stdout
// and stderr in DIR/NAME.stdout and DIR/NAME.stderr and HOME=DIR (so the
// peer's own files, history and saved config, stay in the test directory)
// and PEERLAB_CONTROL_TOKEN_FILE=TestControlTokenFile().
// `bin_dir` is BinDir().
Subprocess::Options PeerProcessOptions(const std::string& bin_dir,
                                       const std::string& dir,
                                       const std::string& name,
                                       const std::vector<std::string>& args);

// A running peerlab-peer.
struct PeerProcess {
  std::unique_ptr<Subprocess> process;
  // The PeerControl address the peer wrote to its ready file, e.g.
  // "127.0.0.1:PORT".
  std::string address;
};

// Starts the peer of PeerProcessOptions(BinDir(), dir, name, args) (ARGS
// should include --serve, or no ready file is written) and waits up to
// `timeout` until it serves. Fails with the reason (quoting the peer's
// stderr) when it cannot start or exits first.
absl::StatusOr<PeerProcess> StartPeerProcess(
    const std::string& dir, const std::string& name,
    const std::vector<std::string>& args,
    absl::Duration timeout = absl::Seconds(30));

// Runs `line` on the peer behind `stub` (PeerControl.Execute) with an RPC
// deadline of `timeout`; a non-empty `token` is sent as
// "authorization: Bearer TOKEN". Returns the RPC's status; the command's
// own outcome is in `response`.
grpc::Status ExecuteLine(::peer::v1::PeerControl::Stub& stub,
                         const std::string& line,
                         ::peer::v1::ExecuteResponse* response,
                         absl::Duration timeout, const std::string& token = "");

// ExecuteLine, with an RPC error folded into the response: its code becomes
// the response's code and "RPC: " + its message the response's message.
::peer::v1::ExecuteResponse ExecuteOrError(::peer::v1::PeerControl::Stub& stub,
                                           const std::string& line,
                                           absl::Duration timeout);

// The texts of the response's output lines, in order.
std::vector<std::string> OutputTexts(const ::peer::v1::ExecuteResponse& r);

// A PeerControl.WatchViews stream read on a thread of its own; the lines it
// delivers are collected until the stream ends or the watcher is destroyed
// (which cancels the stream and joins the thread).
//
// Thread safety: all methods may be called from any thread.
class ViewWatcher {
 public:
  // Opens the stream on `stub`, which must outlive the watcher.
  ViewWatcher(::peer::v1::PeerControl::Stub* stub,
              const ::peer::v1::WatchViewsRequest& request);
  ViewWatcher(const ViewWatcher&) = delete;
  ViewWatcher& operator=(const ViewWatcher&) = delete;
  ~ViewWatcher();

  // Every line received so far.
  std::vector<::peer::v1::ViewLine> lines();

  // Waits up to `timeout` until `pred(lines so far)` holds; false if it
  // still does not then. `pred` runs under the watcher's lock and must not
  // call back into the watcher.
  bool WaitUntil(
      const std::function<bool(const std::vector<::peer::v1::ViewLine>&)>& pred,
      absl::Duration timeout);

  // The stream's final status once it ended within `timeout`; nullopt if it
  // is still open then.
  std::optional<grpc::Status> WaitForEnd(absl::Duration timeout);

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<::peer::v1::WatchViewsResponse>> reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<::peer::v1::ViewLine> lines_;  // guarded by mu_
  bool finished_ = false;                    // guarded by mu_
  grpc::Status status_;                      // guarded by mu_
  std::thread thread_;
};

}  // namespace peerlab::testing

#endif  // PEERLAB_BASE_TESTING_PEER_PROCESS_H_
