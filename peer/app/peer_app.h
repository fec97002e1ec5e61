// PeerApp: one running peer, and the one composition root of its parts.
// It builds the hosts (the running components, each on its own loop:
// MembershipHost, chat::ChatHost, LifecycleHost), the registrations of
// their commands and settings beside them (MembershipCommands,
// chat::ChatCommands, RegisterLifecycleCommands, BootstrapCommands on a
// BootstrapHost, the builtins), and the transports they run on (PeerTransports:
// UDP and gRPC with EventLoop threads for Create; simulated ones for
// CreateInProcess). It owns the views, the command registry and its config, and
// the peer's gRPC server (remote control, the membership and chat endpoints).
// main() builds one and feeds it command lines from flags, scripts, the prompt
// or standard input.
#ifndef PEERLAB_PEER_APP_PEER_APP_H_
#define PEERLAB_PEER_APP_PEER_APP_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/cancellation.h"
#include "base/grpc_server.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "peer/app/membership_host.h"
#include "peer/app/peer_options.h"
#include "peer/chat/chat_transport.h"
#include "peer/cli/builtins.h"
#include "peer/cli/config.h"
#include "peer/cli/registry.h"
#include "peer/cli/view.h"
#include "peer/identity/node_key.h"
#include "peer/runtime/fault_plan.h"
#include "peer/runtime/host_loop.h"
#include "services/bootstrap/client/bootstrap_client.h"

namespace peerlab::chat {
class ChatCommands;
class ChatGrpcService;
class ChatHost;
}  // namespace peerlab::chat

namespace peerlab::agent {
class AgentGrpcService;
}  // namespace peerlab::agent

namespace peerlab::peer {

class BootstrapCommands;
class BootstrapHost;
class MembershipCommands;
class MemberEventRecorder;
class HandlerHost;
class UserEventViewWriter;
class ControlService;
class LifecycleHost;
class ChatServiceHandler;
class PeerAgent;

// What the parts of a peer run on: everything that touches a socket, a
// thread or the clock. PeerApp::Create makes the real ones; the in-process
// test of the whole peer (peer_sim_test.cc) makes simulated ones and hands
// them to CreateInProcess.
struct PeerTransports {
  // The loops of the membership, the chat and the lifecycle's background
  // work.
  std::unique_ptr<runtime::HostLoop> membership_loop;
  std::unique_ptr<runtime::HostLoop> chat_loop;
  std::unique_ptr<runtime::HostLoop> lifecycle_loop;
  // Makes each membership node.
  NodeFactory node_factory;
  // The chat's outgoing streams (messages; chatmemberping's new streams).
  // What arrives is handed to chat::ChatHost::OnIncoming.
  std::unique_ptr<chat::ChatTransport> chat_transport;
  std::unique_ptr<chat::ChatTransport> chat_probe_transport;
  std::unique_ptr<bootstrap::BootstrapApi> bootstrap;
  // This peer's chat address as others reach it.
  std::function<std::string()> chat_address;
  // The gossip port this peer announces in the bootstrap list.
  int gossip_port = 0;
  // This node's key; null: loaded from (or made in) the state directory.
  std::shared_ptr<const identity::NodeKey> node_key;
  // This process's start (the bootstrap entry's started_at); InfinitePast:
  // now.
  absl::Time started_at = absl::InfinitePast();
  // This process's bootstrap id and chat session; empty: a random UUID.
  std::string id;
  // The fault plan the transports above obey (the node factory's and the
  // chat's); with one, the peer has the `faults` command
  // (faults_commands.h). nullptr: no faults.
  std::shared_ptr<runtime::FaultPlan> faults;
};

class PeerApp {
 public:
  // Sets up everything and starts the gRPC server. Errors: a bad option
  // (InvalidArgument), a port in use (Unavailable), a config file that does
  // not load.
  static absl::StatusOr<std::unique_ptr<PeerApp>> Create(PeerOptions options);
  // The same parts on `transports`, without the gRPC server, the reserved
  // gossip socket or the config file: the whole peer in one process, e.g.
  // on the simulator. options.name is required; the TLS, port and control
  // options are ignored.
  static absl::StatusOr<std::unique_ptr<PeerApp>> CreateInProcess(
      PeerOptions options, PeerTransports transports);
  // Stops the gRPC server and every component.
  ~PeerApp();

  const PeerOptions& options() const { return options_; }
  const std::string& name() const { return options_.name; }
  // This process's identity in the bootstrap list (a random UUID).
  const std::string& id() const { return id_; }
  absl::Time started_at() const { return started_at_; }
  // This node's own Ed25519 key (its signer; the public key is pinned to
  // its name by the other members). Set by Create; thread-safe.
  std::shared_ptr<const identity::NodeKey> node_key() const {
    return node_key_;
  }
  // The PeerControl service (null before Start). Owned by this object.
  ControlService* control_service() { return control_service_; }
  // "host:port" of the gRPC server (remote control).
  const std::string& control_address() const { return control_address_; }
  int gossip_port() const { return gossip_port_; }
  // Credentials of every client channel the peer opens (from --tls-*;
  // plaintext without them).
  const std::shared_ptr<grpc::ChannelCredentials>& channel_credentials() const {
    return channel_credentials_;
  }

  cli::Registry& registry() { return registry_; }
  cli::ConfigRegistry& config() { return config_; }
  cli::ViewHub& views() { return views_; }
  bootstrap::BootstrapApi& bootstrap_client() { return *bootstrap_client_; }
  BootstrapHost& bootstrap() { return *bootstrap_; }
  MembershipHost& membership() { return *membership_; }
  chat::ChatHost& chat() { return *chat_; }
  // The peer's network faults (the `faults` command); null without.
  const std::shared_ptr<runtime::FaultPlan>& faults() const { return faults_; }
  LifecycleHost& lifecycle() { return *lifecycle_; }
  // The event handlers (--event-handler, `handler`; handler_host.h).
  HandlerHost& handlers() { return *handlers_; }
  // The agent layer (peer.v1.Agent, docs/agent.md).
  PeerAgent& agent() { return *agent_; }

  // Cancels the commands running now and later (sleep, shell: they return
  // Cancelled naming `reason`), wherever they came from (prompt, script,
  // PeerControl). The first step of every way out. Thread-safe; does not
  // block; idempotent.
  void CancelCommands(const std::string& reason);

  // The one way out, whatever ended the program (end of input, Ctrl-D,
  // exit, quit, a signal): CancelCommands(reason), then the clean leave of
  // the group, the chat and the bootstrap list (LifecycleHost::Leave: once; a
  // no-op after quit), within a bounded time (about 10 s at worst). Does
  // not RequestExit. Thread-safe; blocks until done.
  void Shutdown(const std::string& reason);

  // Asks the program to end with `code` (the `exit` command, quit,
  // signals); the first code asked for stays. Thread-safe; wakes
  // WaitForExit.
  void RequestExit(int code);
  // `f` is called (on the requesting thread, after WaitForExit is woken)
  // each time RequestExit is: main wakes the terminal with it, so that a
  // remote `exit` also ends a peer blocked reading its input. Set it before
  // commands run; `f` must be thread-safe and must not block.
  void SetExitListener(std::function<void()> f) {
    exit_listener_ = std::move(f);
  }
  bool exit_requested() const { return exit_requested_; }
  int exit_code() const { return exit_code_; }
  // Blocks until RequestExit.
  void WaitForExit();

 private:
  explicit PeerApp(PeerOptions options);
  absl::Status Start();
  // Builds the hosts on `transports` and registers the commands (the
  // builtins first).
  absl::Status Compose(PeerTransports transports);
  // With a plan: the `faults` command and the lab.allow_faults setting.
  absl::Status RegisterFaults(std::shared_ptr<runtime::FaultPlan> plan);
  absl::Status ReserveGossipPort();
  absl::Status StartGrpcServer();
  // Refuses a non-loopback --bind without --control-token-file; returns the
  // token ("" when none is required).
  absl::StatusOr<std::string> ControlToken() const;
  // The state directory (--state-dir, else UserStateDir(); "" when none is
  // usable, with a warning) and this node's own key from it (a fresh one
  // for this run only when it cannot be kept, with a warning).
  void LoadIdentity();

  PeerOptions options_;
  // Cancelled on the way out; commands wait on it. Declared first: it
  // outlives every command.
  Cancellation shutdown_;
  std::shared_ptr<grpc::ServerCredentials> server_credentials_;
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials_;
  std::string id_;         // set before Compose
  absl::Time started_at_;  // set before Compose
  std::string state_dir_;  // see LoadIdentity
  std::shared_ptr<const identity::NodeKey> node_key_;
  cli::ViewHub views_;
  cli::Registry registry_;
  cli::ConfigRegistry config_;
  cli::BuiltinSettings builtin_settings_;
  std::unique_ptr<bootstrap::BootstrapApi> bootstrap_client_;
  std::unique_ptr<BootstrapHost> bootstrap_;
  std::unique_ptr<BootstrapCommands> bootstrap_commands_;
  std::vector<std::unique_ptr<grpc::Service>> grpc_services_;
  membership::MembershipStreamService* stream_service_ =
      nullptr;  // owned by grpc_services_
  // Membership events as typed records on the views (member_events.h);
  // declared before membership_, which calls it.
  std::unique_ptr<MemberEventRecorder> member_events_;
  std::unique_ptr<HandlerHost> handlers_;
  // The agent (peer_agent.h); declared before membership_, which calls its
  // event listener, and closed before membership_ goes.
  std::unique_ptr<PeerAgent> agent_;
  agent::AgentGrpcService* agent_grpc_ = nullptr;  // owned by grpc_services_
  std::unique_ptr<UserEventViewWriter> user_event_view_;  // eventsView
  // The hosts, and the registrations of their commands and settings.
  std::unique_ptr<MembershipHost> membership_;
  std::unique_ptr<MembershipCommands> membership_commands_;
  chat::ChatGrpcService* chat_service_ = nullptr;  // owned by grpc_services_
  // Hands what the chat service receives to chat_ (set while chat_ lives).
  std::unique_ptr<ChatServiceHandler> chat_handler_;
  std::unique_ptr<chat::ChatHost> chat_;
  std::shared_ptr<runtime::FaultPlan> faults_;  // PeerTransports::faults
  // "lab.allow_faults": whether the harness coordinator may run `faults`
  // (on by default for --test peers). Guarded by config_'s lock.
  bool allow_lab_faults_ = false;
  std::unique_ptr<chat::ChatCommands> chat_commands_;
  std::unique_ptr<LifecycleHost> lifecycle_;
  ControlService* control_service_ = nullptr;  // owned by grpc_services_
  std::unique_ptr<GrpcServer> grpc_server_;
  std::string control_address_;
  int gossip_fd_ =
      -1;  // UDP socket holding the gossip port until membership takes it
  int gossip_port_ = 0;

  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  std::atomic<bool> exit_requested_{false};
  std::atomic<int> exit_code_{0};
  std::function<void()> exit_listener_;  // set before commands run
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_PEER_APP_H_
