#include "peer/app/peer_app.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_server.h"
#include "base/logging.h"
#include "base/state_dir.h"
#include "base/tls.h"
#include "base/token_file.h"
#include "base/uuid.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "peer/agent/agent_grpc.h"
#include "peer/app/bootstrap_commands.h"
#include "peer/app/chat_identity.h"
#include "peer/app/cluster_commands.h"
#include "peer/app/faults_commands.h"
#include "peer/app/handler_host.h"
#include "peer/app/lifecycle_commands.h"
#include "peer/app/lifecycle_host.h"
#include "peer/app/member_events.h"
#include "peer/app/member_meta.h"
#include "peer/app/membership_commands.h"
#include "peer/app/membership_host.h"
#include "peer/app/peer_agent.h"
#include "peer/app/query_commands.h"
#include "peer/chat/chat_commands.h"
#include "peer/chat/chat_faults.h"
#include "peer/chat/chat_host.h"
#include "peer/chat/grpc_chat.h"
#include "peer/cli/session.h"
#include "peer/cli/spdlog_log_control.h"
#include "peer/control/control_service.h"
#include "peer/identity/node_key.h"
#include "peer/membership/real/membership_stream_service.h"

namespace peerlab::peer {

// What the peer's chat service receives goes to the chat host.
class ChatServiceHandler final : public chat::ChatGrpcService::Handler {
 public:
  explicit ChatServiceHandler(chat::ChatHost* host) : host_(host) {}
  void OnIncoming(const std::shared_ptr<chat::ChatReply>& reply,
                  ::peer::v1::ChatEnvelope envelope) override {
    host_->OnIncoming(reply, std::move(envelope));
  }

 private:
  chat::ChatHost* const host_;
};

absl::StatusOr<std::unique_ptr<PeerApp>> PeerApp::Create(PeerOptions options) {
  if (options.name.empty()) {
    return absl::InvalidArgumentError("NAME: a peer needs a name");
  }
  std::unique_ptr<PeerApp> app(new PeerApp(std::move(options)));
  if (auto s = app->Start(); !s.ok()) return s;
  return app;
}

absl::StatusOr<std::unique_ptr<PeerApp>> PeerApp::CreateInProcess(
    PeerOptions options, PeerTransports transports) {
  if (options.name.empty()) {
    return absl::InvalidArgumentError("NAME: a peer needs a name");
  }
  std::unique_ptr<PeerApp> app(new PeerApp(std::move(options)));
  if (auto s = app->Compose(std::move(transports)); !s.ok()) return s;
  return app;
}

PeerApp::PeerApp(PeerOptions options)
    : options_(std::move(options)), id_(NewUuid()), started_at_(absl::Now()) {}

PeerApp::~PeerApp() {
  // Commands still running (remote ones) end now rather than hold us up.
  shutdown_.Cancel("the peer is ending");
  // Ends the WatchViews and chat streams, which the server would wait for.
  if (control_service_) control_service_->Shutdown();
  // Ends the agent's streams and waits for its calls into the hosts.
  if (agent_grpc_) agent_grpc_->Shutdown();
  if (agent_) agent_->Close();
  if (chat_service_) chat_service_->Shutdown();
  // No more background work; events still reach the chat until the
  // membership below is gone.
  if (lifecycle_) lifecycle_->Stop();
  // Handler programs end (killed) before the node their answers need.
  if (handlers_) handlers_->Stop();
  // Stops the protocol thread and detaches the transport from the server.
  membership_.reset();
  if (chat_service_) chat_service_->SetHandler(nullptr);
  chat_.reset();
  lifecycle_.reset();
  if (grpc_server_) {
    grpc_server_->Shutdown(absl::Now() + absl::Seconds(2));
  }
  if (gossip_fd_ >= 0) ::close(gossip_fd_);
}

namespace {
bool IsLoopback(const std::string& address);
}  // namespace

absl::Status PeerApp::Start() {
  absl::StatusOr<std::string> token = ControlToken();
  if (!token.ok()) return token.status();
  // After main blocked the signals: gRPC may start threads.
  auto server_credentials = MakeServerCredentials(options_.tls);
  if (!server_credentials.ok()) return server_credentials.status();
  server_credentials_ = *std::move(server_credentials);
  auto channel_credentials = MakeChannelCredentials(options_.tls);
  if (!channel_credentials.ok()) return channel_credentials.status();
  channel_credentials_ = *std::move(channel_credentials);
  if (auto s = ReserveGossipPort(); !s.ok()) return s;
  LoadIdentity();

  // The real transports: UDP and gRPC, each host on a thread of its own.
  // Both obey one fault plan (faults_commands.h: faults without root).
  PeerTransports t;
  t.faults = std::make_shared<runtime::FaultPlan>(runtime::FaultPlan::Options{
      .seed = FaultSeed(name()),
      .on_limit = [](const std::string& m) { spdlog::warn("{}", m); }});
  t.membership_loop = std::make_unique<runtime::ThreadHostLoop>("membership");
  t.chat_loop = std::make_unique<runtime::ThreadHostLoop>("chat");
  t.lifecycle_loop = std::make_unique<runtime::ThreadHostLoop>("lifecycle");
  auto stream_service = std::make_unique<membership::MembershipStreamService>();
  stream_service_ = stream_service.get();
  grpc_services_.push_back(std::move(stream_service));
  t.node_factory =
      RealNodeFactory({.bind = options_.bind,
                       .grpc_address = [this] { return control_address_; },
                       .take_reserved_socket =
                           [this] {
                             int fd = gossip_fd_;
                             gossip_fd_ = -1;
                             return fd;
                           },
                       .service = stream_service_,
                       .credentials = channel_credentials_,
                       .state_dir = state_dir_,
                       .node_key = node_key_,
                       .faults = t.faults});
  t.chat_transport = std::make_unique<chat::FaultyChatTransport>(
      std::make_unique<chat::GrpcChatTransport>(channel_credentials_), t.faults,
      &t.chat_loop->scheduler());
  t.chat_probe_transport =
      std::make_unique<chat::GrpcChatTransport>(channel_credentials_);
  t.bootstrap = std::make_unique<bootstrap::BootstrapClient>(
      bootstrap::BootstrapClient::Options{.address = options_.bootstrap,
                                          .credentials = channel_credentials_});
  t.chat_address = [this] { return control_address_; };
  t.gossip_port = gossip_port_;
  t.node_key = node_key_;
  t.started_at = started_at_;
  auto chat_service = std::make_unique<chat::ChatGrpcService>();
  chat_service_ = chat_service.get();
  grpc_services_.push_back(std::move(chat_service));
  if (auto s = Compose(std::move(t)); !s.ok()) return s;
  chat_service_->SetHandler(chat_handler_.get());

  if (!options_.config_file.empty()) {
    if (auto s = config_.LoadFile(options_.config_file); !s.ok()) return s;
  }
  auto control = std::make_unique<ControlService>(
      &registry_, &views_,
      ControlService::Options{
          .token = *token,
          // The path is no secret (the file is the owner's), but callers
          // beyond loopback need not learn it.
          .token_hint =
              !options_.control_token.empty()
                  ? "no file: the peer could not write one (see its log); "
                    "restart it with --control-token-file FILE"
              : IsLoopback(options_.bind)
                  ? options_.control_token_file
                  : "the file given to the peer's --control-token-file",
          .lab_may_run_programs =
              [this] {
                auto lock = config_.Lock();
                return builtin_settings_.allow_lab_programs;
              },
          .lab_may_inject_faults =
              [this] {
                auto lock = config_.Lock();
                return allow_lab_faults_;
              }});
  control_service_ = control.get();
  grpc_services_.push_back(std::move(control));
  // peer.v1.Agent: authorized exactly as PeerControl.
  auto agent_grpc = std::make_unique<agent::AgentGrpcService>(
      &agent_->service(),
      agent::AgentGrpcService::Options{
          .authorize = [control = control_service_](
                           const grpc::CallbackServerContext& context) {
            return control->CheckToken(context);
          }});
  agent_grpc_ = agent_grpc.get();
  grpc_services_.push_back(std::move(agent_grpc));
  if (auto s = StartGrpcServer(); !s.ok()) return s;
  if (auto* health = grpc_server_->server()->GetHealthCheckService()) {
    health->SetServingStatus(::peer::v1::PeerControl::service_full_name(),
                             true);
    health->SetServingStatus(::peer::v1::Agent::service_full_name(), true);
  }
  return absl::OkStatus();
}

absl::Status PeerApp::RegisterFaults(std::shared_ptr<runtime::FaultPlan> plan) {
  if (plan == nullptr) return absl::OkStatus();
  faults_ = plan;
  allow_lab_faults_ = options_.test;
  if (auto s = config_.AddBool(
          "lab.allow_faults",
          "whether the harness coordinator may run faults here (the owner's "
          "choice; on for --test peers and the peers of a local lab)",
          &allow_lab_faults_);
      !s.ok()) {
    return s;
  }
  return registry_.Register(FaultsCommand(
      {.plan = std::move(plan),
       .resolve = [this](const std::string& who)
           -> absl::StatusOr<std::vector<std::string>> {
         for (const auto& m : membership_->Members()) {
           if (m.name != who) continue;
           std::vector<std::string> out = {m.addr};
           std::string chat = MetaField(m.meta, kMetaChat);
           if (!chat.empty() && chat != m.addr) out.push_back(chat);
           return out;
         }
         return absl::NotFoundError("no such member in memberlist");
       },
       .self =
           [this] {
             std::string gossip = membership_->LocalAddress();
             if (gossip.empty()) {
               gossip = absl::StrCat(options_.bind, ":", gossip_port_);
             }
             return absl::StrCat("gossip=", gossip, " grpc=", control_address_);
           }}));
}

absl::Status PeerApp::Compose(PeerTransports t) {
  if (auto s = cli::RegisterBuiltins(
          {.registry = &registry_,
           .config = &config_,
           .views = &views_,
           .log_control = cli::DefaultSpdlogLogControl(),
           .request_exit = [this](int code) { RequestExit(code); },
           .default_config_file = absl::StrCat("peerlab-", name(), ".json"),
           .cancel = &shutdown_},
          &builtin_settings_);
      !s.ok()) {
    return s;
  }
  if (t.started_at != absl::InfinitePast()) started_at_ = t.started_at;
  if (!t.id.empty()) id_ = t.id;
  if (t.node_key) {
    node_key_ = t.node_key;
  } else if (!node_key_) {
    LoadIdentity();
  }
  bootstrap_client_ = std::move(t.bootstrap);
  bootstrap_ = std::make_unique<BootstrapHost>(
      bootstrap_client_.get(), SelfDescription{.id = id_,
                                               .name = name(),
                                               .host = options_.bind,
                                               .port = t.gossip_port,
                                               .started_at = started_at_});
  bootstrap_commands_ = std::make_unique<BootstrapCommands>(bootstrap_.get());
  if (auto s = bootstrap_commands_->Register(registry_, config_); !s.ok()) {
    return s;
  }

  // The membership: its host, and its commands and settings.
  membership_ = std::make_unique<MembershipHost>(
      MembershipHost::Env{.name = name(),
                          .insecure_gossip = options_.insecure_gossip,
                          .group_label = options_.group_label,
                          .node_key = node_key_,
                          .logger = DefaultSpdlogLogger()},
      std::move(t.membership_loop), std::move(t.node_factory));
  membership_commands_ = std::make_unique<MembershipCommands>(
      membership_.get(),
      MembershipCommands::Env{
          .bootstrap_addrs =
              [this]() -> absl::StatusOr<std::vector<std::string>> {
            auto doc = bootstrap_->Fetch();
            if (!doc.ok()) return doc.status();
            std::vector<std::string> addrs;
            for (const auto& p : doc->peers()) {
              if (p.id() != id_)
                addrs.push_back(absl::StrCat(p.host(), ":", p.port()));
            }
            return addrs;
          },
          .group_label = options_.group_label});
  if (auto s = membership_commands_->Register(registry_, config_); !s.ok()) {
    return s;
  }
  // query, reachability, forceleave (query_commands.h) on the host.
  {
    MembershipHost* host = membership_.get();
    for (cli::Command c :
         {QueryCommand([host](cluster::QueryParams p,
                              std::vector<cluster::QueryAnswer>*answers) {
            return host->RunQuery(std::move(p), answers);
          }),
          ReachabilityCommand([host](absl::Duration timeout) {
            return host->Reachability(timeout);
          }),
          ForceLeaveCommand([host](const std::string&name, bool prune) {
            return host->ForceLeave(name, prune);
          })}) {
      if (auto s = registry_.Register(std::move(c)); !s.ok()) return s;
    }
  }
  if (auto s = RegisterClusterCommands(membership_.get(), registry_); !s.ok()) {
    return s;
  }
  if (auto s = RegisterFaults(t.faults); !s.ok()) return s;
  // What others need to know of this peer for the bootstrap upkeep.
  membership_->SetLocalMetaField(kMetaId, id_);
  membership_->SetLocalMetaField(
      kMetaStarted, absl::StrCat(absl::ToUnixSeconds(started_at_)));

  // Chat sender authentication (issue 13, chat_identity.h): hellos signed
  // with the node key, checked against the keys the membership pinned.
  auto chat_identity = std::make_shared<ChatIdentity>(ChatIdentity::Env{
      .key = node_key_,
      .generation = [this]() -> uint64_t {
        for (const auto& m : membership_->Members()) {
          if (m.name == name()) return m.generation;
        }
        return 0;
      },
      .member_key =
          [this](const std::string& who) -> absl::StatusOr<MemberKey> {
        std::optional<identity::PublicKey> key = membership_->PinnedKeyOf(who);
        if (!key) {
          return absl::NotFoundError("the membership knows no such member");
        }
        MemberKey out{.public_key = key->bytes()};
        for (const auto& m : membership_->Members()) {
          if (m.name == who) out.generation = m.generation;
        }
        return out;
      }});

  // The chat: its host, and its commands and settings.
  chat_ = std::make_unique<chat::ChatHost>(
      chat::ChatHost::Env{
          .name = name(),
          .session = id_,
          .show =
              [hub = &views_](const std::string& line) {
                hub->Write(cli::kMessagesView, line);
              },
          .address = t.chat_address,
          .announce =
              [this](const std::string& address) {
                membership_->SetLocalMetaField(kMetaChat, address);
              },
          .members =
              [this] {
                std::map<std::string, std::string> out;
                for (const auto& m : membership_->Members()) {
                  std::string chat = MetaField(m.meta, kMetaChat);
                  if (m.name != name() && !chat.empty()) out[m.name] = chat;
                }
                return out;
              },
          .authenticator = chat_identity,
          // The membership's group label, checked in every chat hello too.
          .group = [this] { return membership_->GroupLabel(); }},
      std::move(t.chat_loop), std::move(t.chat_transport),
      std::move(t.chat_probe_transport));
  chat_handler_ = std::make_unique<ChatServiceHandler>(chat_.get());
  chat_commands_ = std::make_unique<chat::ChatCommands>(
      chat_.get(),
      chat::ChatCommands::Env{
          .address = t.chat_address,
          .member_view = [this](const std::string& who)
              -> absl::StatusOr<chat::ChatCommands::MemberView> {
            for (const auto& m : membership_->Members()) {
              if (m.name == who) {
                return chat::ChatCommands::MemberView{
                    .state = membership::StateName(m.state),
                    .chat_address = MetaField(m.meta, kMetaChat)};
              }
            }
            return absl::NotFoundError(absl::StrCat(
                who, " is not a member (alive or suspect): see memberlist"));
          }});
  if (auto s = chat_commands_->Register(registry_, config_); !s.ok()) return s;
  // A typed line that is not a command is a message, while the chat runs;
  // otherwise it stays an unknown command.
  registry_.SetFallback(
      [this](absl::string_view line,
             cli::Output& out) -> std::optional<absl::Status> {
        if (!chat_->running()) return std::nullopt;
        return chat_->SendLine(line,
                               [&out](const std::string& l) { out.Print(l); });
      });

  // The lifecycle: init, quit and the bootstrap upkeep.
  lifecycle_ = std::make_unique<LifecycleHost>(
      LifecycleHost::Env{
          .name = name(),
          .id = id_,
          .started_at = started_at_,
          .notify =
              [this](const std::string& line) {
                cli::ViewOutput(&views_).Print(line);
              },
          .bootstrap = bootstrap_.get(),
          .client = bootstrap_client_.get(),
          .membership = membership_.get(),
          .chat = chat_.get(),
          .request_exit = [this](int code) { RequestExit(code); }},
      std::move(t.lifecycle_loop));
  if (auto s = RegisterLifecycleCommands(lifecycle_.get(), registry_);
      !s.ok()) {
    return s;
  }
  membership_->AddListener(lifecycle_.get());
  member_events_ = std::make_unique<MemberEventRecorder>(&views_);
  membership_->AddListener(member_events_.get());

  // Event handlers: --event-handler and the `handler` command.
  handlers_ = std::make_unique<HandlerHost>(
      name(),
      handlers::HandlerRunner::Options{.logger = DefaultSpdlogLogger()});
  if (auto s = handlers_->AddAll(options_.event_handlers); !s.ok()) return s;
  if (auto s = registry_.Register(handlers_->Command()); !s.ok()) return s;
  membership_->AddListener(handlers_.get());
  // Queries this node matches are answered by query handlers.
  membership_->SetQueryResponder(handlers_.get());
  // User events reach user and user:NAME handlers.
  membership_->AddUserEventListener(handlers_.get());
  agent_ = std::make_unique<PeerAgent>(membership_.get(), &views_);
  user_event_view_ = std::make_unique<UserEventViewWriter>(&views_);
  membership_->AddUserEventListener(user_event_view_.get());
  return absl::OkStatus();
}

namespace {

// 127.0.0.0/8 or ::1.
bool IsLoopback(const std::string& address) {
  in_addr v4;
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (::inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

}  // namespace

void PeerApp::LoadIdentity() {
  absl::StatusOr<std::string> dir = options_.state_dir;
  if (options_.state_dir.empty()) {
    dir = UserStateDir();
  } else if (::mkdir(options_.state_dir.c_str(), 0700) != 0 &&
             errno != EEXIST) {
    dir = absl::ErrnoToStatus(errno,
                              absl::StrCat("--state-dir ", options_.state_dir));
  }
  if (dir.ok()) {
    state_dir_ = *dir;
    auto key = identity::NodeKey::LoadOrCreate(state_dir_, name());
    if (key.ok()) {
      node_key_ = std::make_shared<const identity::NodeKey>(*std::move(key));
      spdlog::debug("node key {} ({}/nodes/{}/node.key)",
                    node_key_->public_key().Fingerprint(), state_dir_, name());
      return;
    }
    spdlog::warn(
        "node key not kept: {}; using a new key for this run only (after a "
        "restart the group takes this peer for another node until the old "
        "one is declared dead)",
        key.status().message());
  } else {
    spdlog::warn(
        "no state directory: {}; the node key lasts this run only and the "
        "restart generation is the start time",
        dir.status().message());
  }
  auto key = identity::NodeKey::Generate();
  if (key.ok()) {
    node_key_ = std::make_shared<const identity::NodeKey>(*std::move(key));
  } else {
    spdlog::error("no node key: {}", key.status().message());
  }
}

absl::StatusOr<std::string> PeerApp::ControlToken() const {
  if (!options_.control_token.empty()) return options_.control_token;
  const std::string& file = options_.control_token_file;
  if (file.empty()) {
    if (IsLoopback(options_.bind)) return std::string();
    return absl::InvalidArgumentError(absl::StrCat(
        "--bind ", options_.bind,
        " is not a loopback address: remote control (which can run shell) "
        "would be open to the network; give --control-token-file FILE, or "
        "bind to 127.0.0.1"));
  }
  absl::StatusOr<std::string> token =
      ReadTokenFile(file, "--control-token-file");
  // Beyond loopback anyone who reaches the port may guess, at no cost.
  constexpr size_t kMinNetworkTokenBytes = 16;
  if (token.ok() && !IsLoopback(options_.bind) &&
      token->size() < kMinNetworkTokenBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--control-token-file ", file, ": the token is too short (",
        token->size(), " characters) for --bind ", options_.bind,
        ", which is not a loopback address; use at least ",
        kMinNetworkTokenBytes, ", e.g. openssl rand -hex 32 > ", file));
  }
  return token;
}

absl::Status PeerApp::ReserveGossipPort() {
  // The membership layer will own this socket; until then holding it keeps
  // the advertised port ours.
  gossip_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (gossip_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("socket: ", std::strerror(errno)));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options_.gossip_port));
  if (::inet_pton(AF_INET, options_.bind.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bind: \"", options_.bind, "\" is not an IPv4 address"));
  }
  if (::bind(gossip_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    return absl::UnavailableError(absl::StrCat(
        "--gossip-port ", options_.gossip_port, ": ", std::strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(gossip_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  gossip_port_ = ntohs(addr.sin_port);
  return absl::OkStatus();
}

absl::Status PeerApp::StartGrpcServer() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto started = GrpcServer::Start(
      {.listen = absl::StrCat(options_.bind, ":", options_.grpc_port),
       .what = "--grpc-port",
       .credentials = server_credentials_,
       .configure =
           [this](grpc::ServerBuilder& builder) {
             for (auto& service : grpc_services_) {
               builder.RegisterService(service.get());
             }
           },
       .logger = DefaultSpdlogLogger()});
  if (!started.ok()) return started.status();
  grpc_server_ = *std::move(started);
  control_address_ = absl::StrCat(
      options_.advertise_host.empty() ? options_.bind : options_.advertise_host,
      ":", grpc_server_->port());
  return absl::OkStatus();
}

void PeerApp::CancelCommands(const std::string& reason) {
  shutdown_.Cancel(reason);
}

void PeerApp::Shutdown(const std::string& reason) {
  CancelCommands(reason);
  lifecycle_->Leave(nullptr);
}

void PeerApp::RequestExit(int code) {
  {
    std::lock_guard<std::mutex> lock(exit_mu_);
    if (!exit_requested_) exit_code_ = code;
    exit_requested_ = true;
  }
  exit_cv_.notify_all();
  if (exit_listener_) exit_listener_();
}

void PeerApp::WaitForExit() {
  std::unique_lock<std::mutex> lock(exit_mu_);
  exit_cv_.wait(lock, [this] { return exit_requested_.load(); });
}

}  // namespace peerlab::peer
