// ControlService: peer.v1.PeerControl, the remote face of a peer's command
// line (proto/peer/v1/control.proto). Execute runs a line through the same
// registry as the prompt and scripts, so every command is remote-callable
// with no extra code; WatchViews streams view lines to a remote watcher.
//
// Commands may block (`sleep`, `shell`), so none runs on a gRPC callback
// thread: each Execute gets a thread of its own, at most
// Options::max_running_commands at once. Each WatchViews stream has a thread
// that drains its cli::ViewQueue, so a slow watcher never holds up the views'
// writers; it loses lines instead, and is told how many.
#ifndef PEERLAB_PEER_CONTROL_CONTROL_SERVICE_H_
#define PEERLAB_PEER_CONTROL_CONTROL_SERVICE_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "base/grpc_stream_writer.h"
#include "peer/cli/registry.h"
#include "peer/cli/view.h"
#include "proto/peer/v1/control.grpc.pb.h"

namespace peerlab::peer {

class WatchViewsReactor;

class ControlService final : public ::peer::v1::PeerControl::CallbackService {
 public:
  struct Options {
    // When not empty, every call must carry metadata
    // "authorization: Bearer TOKEN"; others get UNAUTHENTICATED.
    std::string token;
    // Where a caller finds the token, named in the UNAUTHENTICATED answer,
    // e.g. "the file /home/u/.local/state/peerlab/nodes/alice/control.token
    // (readable by the peer's user only)". Not secret.
    std::string token_hint;
    // Execute calls running at once; more are answered RESOURCE_EXHAUSTED.
    int max_running_commands = 16;
    // WatchViews streams open at once; more are answered RESOURCE_EXHAUSTED.
    int max_watchers = 64;
    // Lines a watcher may fall behind before the oldest are dropped.
    size_t watch_queue_capacity = 4096;
    // Whether a call accepted through SetAlsoAccept (the harness
    // coordinator's session token, not the owner's token) may run the
    // commands that start programs (`shell`, `execute`). Called for each
    // such call, on gRPC threads: must be thread-safe. Empty: never.
    std::function<bool()> lab_may_run_programs;
    // The same for `faults` (the peer's network faults): its own
    // permission (`lab.allow_faults`), never implied by the one above.
    // Empty: never.
    std::function<bool()> lab_may_inject_faults;
  };

  // `registry` and `hub` must outlive this object.
  ControlService(cli::Registry* registry, cli::ViewHub* hub, Options options);
  // Ends the streams (Shutdown) and joins every thread, so it waits for the
  // commands still running. REQUIRES: the grpc::Server serving this service
  // has shut down (no call can start any more).
  ~ControlService() override;

  // Ends every WatchViews stream with OK (a watcher that does not read is
  // cancelled after a short grace period) and answers later calls
  // UNAVAILABLE. Commands already running finish and answer normally. Call
  // before grpc::Server::Shutdown, so that the server does not wait for the
  // streams until its deadline. Thread-safe; idempotent.
  void Shutdown();

  // Also takes calls whose bearer token `accept` returns true for (the
  // harness coordinator's session token of this peer's current
  // registration, peer/app/harness_link.h), besides Options::token.
  // `accept` runs on gRPC threads: it must be thread-safe. Thread-safe.
  void SetAlsoAccept(std::function<bool(absl::string_view)> accept);

  // Runs `request->line()` as a remote call (cli::Call::remote is true, so
  // e.g. `shell` obeys shell.allow_remote). A call made with the lab's
  // session token runs `shell` or `execute` only when
  // Options::lab_may_run_programs says so, and `faults` only when
  // Options::lab_may_inject_faults does (PERMISSION_DENIED in the response
  // otherwise). A failing command is no RPC
  // error: the RPC is OK and the response carries the code and message;
  // like at the prompt, "error: MESSAGE" is also written to outputView.
  grpc::ServerUnaryReactor* Execute(
      grpc::CallbackServerContext* context,
      const ::peer::v1::ExecuteRequest* request,
      ::peer::v1::ExecuteResponse* response) override;

  // Streams the lines of the requested views (all when none are named):
  // first, when asked, the lines the views still hold, merged in seq order;
  // then every new line, lines that arrived together in one message. Ends
  // when the client cancels or on Shutdown().
  grpc::ServerWriteReactor<::peer::v1::WatchViewsResponse>* WatchViews(
      grpc::CallbackServerContext* context,
      const ::peer::v1::WatchViewsRequest* request) override;

  // OK when the call carries the token (or none is required), else
  // UNAUTHENTICATED saying where the token is. `*by_lab` (when not null)
  // tells whether it was the SetAlsoAccept token. Every service on the
  // peer's port that PeerControl's rules govern uses it (peer.v1.Agent).
  // Thread-safe.
  grpc::Status CheckToken(const grpc::CallbackServerContext& context,
                          bool* by_lab = nullptr) const;

 private:
  friend class WatchViewsReactor;

  // OK unless `line` runs `shell` or `execute` and lab_may_run_programs
  // does not allow it, or `faults` and lab_may_inject_faults does not
  // (PermissionDenied, logged).
  absl::Status CheckLabMayRun(absl::string_view line) const;
  // Called by a watch stream's thread once its stream is done.
  void ForgetWatcher(WatchViewsReactor* reactor);

  cli::Registry* const registry_;
  cli::ViewHub* const hub_;
  const Options options_;
  mutable std::mutex also_accept_mu_;
  std::function<bool(absl::string_view)> also_accept_;  // guarded

  // Guards the admission state and the set of open streams.
  std::mutex mu_;
  bool ending_ = false;
  int running_commands_ = 0;
  std::set<WatchViewsReactor*> watchers_;

  // The threads of Execute calls and WatchViews streams; the destructor
  // joins them.
  ServiceThreads threads_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_CONTROL_CONTROL_SERVICE_H_
