#include "peer/membership/node.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/grpc_server.h"
#include "base/state_dir.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "peer/identity/node_key.h"
#include "peer/membership/real/membership_stream_service.h"
#include "peer/membership/real/node_parts.h"
#include "peer/runtime/completion.h"
#include "peer/runtime/event_loop.h"
#include "peer/runtime/logger.h"

namespace peerlab::membership {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("NodeOptions.", field, ": ", why));
}

bool IsIpv4(const std::string& address) {
  in_addr a;
  return ::inet_pton(AF_INET, address.c_str(), &a) == 1;
}

absl::Status CheckName(const std::string& name) {
  if (name.empty()) return Invalid("name", "a node needs a name");
  if (name.size() > kMaxNameBytes) {
    return Invalid(
        "name", absl::StrCat(name.size(), " bytes, at most ", kMaxNameBytes));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return Invalid("name", "no control characters (newline, tab, escape)");
    }
    if (c == '/') return Invalid("name", "no '/' (it names a directory)");
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return Invalid("name", "may not start or end with a space");
  }
  if (name == "." || name == "..") {
    return Invalid("name", "\".\" and \"..\" are not names");
  }
  return absl::OkStatus();
}

// The options alone (no file or socket): InvalidArgument naming the field.
absl::StatusOr<Config> CheckOptions(const NodeOptions& o) {
  if (auto s = CheckName(o.name); !s.ok()) return s;
  if (!IsIpv4(o.bind_address)) {
    return Invalid("bind_address",
                   absl::StrCat("\"", o.bind_address,
                                "\" is not an IPv4 address (e.g. 127.0.0.1)"));
  }
  if (!o.advertise_address.empty() &&
      (!IsIpv4(o.advertise_address) || o.advertise_address == "0.0.0.0")) {
    return Invalid("advertise_address",
                   absl::StrCat("\"", o.advertise_address,
                                "\" is not an IPv4 address others can reach"));
  }
  if (o.advertise_address.empty() && o.bind_address == "0.0.0.0") {
    return Invalid("bind_address",
                   "0.0.0.0 needs an advertise_address (the address others "
                   "reach this node at)");
  }
  if (!o.channels.empty() && o.delegate != nullptr) {
    return Invalid("channels",
                   "channels need the node's channel mux: give no delegate");
  }
  for (const auto& [channel, component] : o.channels) {
    if (channel == 0) {
      return Invalid("channels",
                     "channel 0 is the node's key/value store: take 3..255");
    }
    if (component == nullptr) {
      return Invalid("channels", absl::StrCat("channel ", channel,
                                              ": no component (nullptr)"));
    }
  }
  if (o.gossip_port < 0 || o.gossip_port > 65535) {
    return Invalid("gossip_port",
                   absl::StrCat(o.gossip_port, " is not in 0..65535"));
  }
  if (o.grpc_port < 0 || o.grpc_port > 65535) {
    return Invalid("grpc_port",
                   absl::StrCat(o.grpc_port, " is not in 0..65535"));
  }
  if (o.grpc_only && o.gossip_port != 0) {
    return Invalid("gossip_port", "grpc_only opens no UDP socket: leave it 0");
  }
  if (o.insecure_gossip && !o.keyring_file.empty()) {
    return Invalid("insecure_gossip",
                   "a keyring_file is given too: choose one (a key file, or "
                   "gossip in the clear)");
  }
  Config config;
  if (auto s = Config::FromProfile(o.profile, &config); !s.ok()) {
    return Invalid("profile", absl::StrCat("\"", o.profile,
                                           "\" is not lan, wan or local"));
  }
  config.label = o.group_label;
  config.logger = o.logger;
  if (o.configure) o.configure(config);
  config.name = o.name;
  if (auto s = config.Validate(); !s.ok()) {
    // The label is ours; the rest came from `configure`.
    const bool label = absl::StartsWith(s.message(), "label");
    return Invalid(label ? "group_label" : "configure", s.message());
  }
  if (static_cast<int>(o.metadata.size()) > config.max_meta_bytes) {
    return Invalid("metadata",
                   absl::StrCat(o.metadata.size(), " bytes, at most ",
                                config.max_meta_bytes));
  }
  return config;
}

// The state directory to keep the node's key and generation in: `dir`
// (created 0700 when missing), else the per-user one. An explicit `dir`
// that cannot be used is an error; the default one falls back to "" (a
// key for this run only) with a warning.
absl::StatusOr<std::string> StateDir(const std::string& dir,
                                     const runtime::ComponentLog& log) {
  if (!dir.empty()) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("NodeOptions.state_dir ", dir));
    }
    return dir;
  }
  auto user = UserStateDir();
  if (!user.ok()) {
    log.Warn("no state directory: ", user.status().message(),
             "; the node key lasts this run only and the restart generation "
             "is the start time");
    return std::string();
  }
  return *user;
}

}  // namespace

class Node::Impl : public EventListener {
 public:
  explicit Impl(NodeOptions options)
      : options_(std::move(options)), log_(options_.logger, "membership") {}
  ~Impl() override { Shutdown(); }

  absl::Status Start(Config config) {
    auto key = LoadGossipKey(options_.keyring_file, options_.insecure_gossip,
                             options_.name,
                             {.keyfile = "NodeOptions.keyring_file",
                              .insecure = "NodeOptions.insecure_gossip"},
                             options_.logger);
    if (!key.ok()) return key.status();
    auto state_dir = StateDir(options_.state_dir, log_);
    if (!state_dir.ok()) return state_dir.status();
    std::shared_ptr<const identity::NodeKey> node_key;
    if (!state_dir->empty()) {
      auto loaded = identity::NodeKey::LoadOrCreate(*state_dir, options_.name);
      if (!loaded.ok()) {
        if (!options_.state_dir.empty()) {
          return absl::Status(loaded.status().code(),
                              absl::StrCat("NodeOptions.state_dir: ",
                                           loaded.status().message()));
        }
        log_.Warn("node key not kept: ", loaded.status().message(),
                  "; using a new key for this run");
        state_dir->clear();
      } else {
        node_key =
            std::make_shared<const identity::NodeKey>(*std::move(loaded));
      }
    }

    const std::string host = options_.advertise_address.empty()
                                 ? options_.bind_address
                                 : options_.advertise_address;
    loop_ = std::make_unique<runtime::EventLoop>(
        absl::StrCat("mbr-", options_.name));
    service_ = std::make_unique<MembershipStreamService>();
    auto server = GrpcServer::Start(
        {.listen = absl::StrCat(options_.bind_address, ":", options_.grpc_port),
         .what = "NodeOptions.grpc_port",
         .credentials = grpc::InsecureServerCredentials(),
         .configure =
             [this](grpc::ServerBuilder& builder) {
               builder.RegisterService(service_.get());
             },
         .logger = options_.logger});
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    grpc_address_ = absl::StrCat(host, ":", server_->port());

    NodePartsOptions parts;
    parts.config = std::move(config);
    parts.state_dir = *state_dir;
    parts.profile = options_.profile;
    parts.events = this;
    parts.delegate = options_.delegate;
    parts.channels = options_.channels;
    parts.key = *std::move(key);
    parts.node_key = std::move(node_key);
    UdpGrpcTransport::Options& t = parts.transport;
    t.mode = options_.grpc_only ? UdpGrpcTransport::Mode::kGrpcOnly
                                : UdpGrpcTransport::Mode::kUdp;
    t.udp_bind_host = options_.bind_address;
    t.udp_port = options_.gossip_port;
    t.advertise_host = options_.advertise_address;
    t.grpc_address = grpc_address_;
    t.service = service_.get();
    t.credentials = grpc::InsecureChannelCredentials();
    t.thread_name = absl::StrCat("mbr-udp-", options_.name);
    return loop_->Call([&]() -> absl::Status {
      auto made = MakeNodeParts(loop_.get(), std::move(parts));
      if (!made.ok()) {
        if (!options_.grpc_only &&
            absl::StartsWith(made.status().message(), "transport: bind")) {
          return absl::Status(
              made.status().code(),
              absl::StrCat("NodeOptions.gossip_port ", options_.gossip_port,
                           ": ", made.status().message()));
        }
        return made.status();
      }
      parts_ = *std::move(made);
      if (auto s = parts_->node->Start(options_.metadata); !s.ok()) return s;
      address_ = parts_->transport->LocalAddress();
      max_broadcast_ = parts_->node->MaxBroadcastBytes();
      return absl::OkStatus();
    });
  }

  void Shutdown() {
    if (loop_ && loop_->InLoopThread()) {
      log_.Error("membership node ", options_.name,
                 ": Shutdown called from a Node callback: ignored (it would "
                 "wait for the thread that runs it)");
      return;
    }
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (loop_) {
      // Stops the protocol and the transport (which detaches from the
      // service); pending Join/Leave/UpdateMetadata callbacks are dropped,
      // which wakes their waiters.
      loop_->Call([this] { parts_.reset(); });
      loop_->Stop();
    }
    if (server_) server_->Shutdown(absl::Now() + absl::Seconds(1));
  }

  // A FailedPrecondition for blocking calls from a callback.
  absl::Status NotFromCallback(absl::string_view what) const {
    if (loop_->InLoopThread()) {
      return absl::FailedPreconditionError(absl::StrCat(
          what,
          " called from a Node callback: it would wait for the thread "
          "that runs the callback; call it from another thread"));
    }
    return absl::OkStatus();
  }

  static absl::Status ShutDown() {
    return absl::FailedPreconditionError("the node was shut down");
  }

  // What a blocking call returns: the loop's answer, or ShutDown() when the
  // node shut down under the call (its callback was dropped unanswered).
  template <typename T>
  static typename runtime::Completion<T>::Result Finished(
      runtime::Completion<T>& done) {
    auto result = done.Wait();
    if (!done.completed() && done.dropped()) return ShutDown();
    return result;
  }

  // EventListener: to the options' callbacks, on the loop thread.
  void OnJoin(const Member& m) override { Fire(options_.on_join, m); }
  void OnLeave(const Member& m) override { Fire(options_.on_leave, m); }
  void OnUpdate(const Member& m) override { Fire(options_.on_update, m); }
  void OnSuspect(const Member& m) override { Fire(options_.on_suspect, m); }
  void OnAlive(const Member& m) override { Fire(options_.on_alive, m); }

  const NodeOptions options_;
  const runtime::ComponentLog log_;  // options_.logger, "membership"
  // Fixed once Start returned.
  std::string address_;
  std::string grpc_address_;
  int max_broadcast_ = 0;
  // Destroyed in reverse: parts (on the loop, by Shutdown), the server,
  // the service (no sink attached by then), the loop (stopped).
  std::unique_ptr<runtime::EventLoop> loop_;
  std::unique_ptr<MembershipStreamService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<NodeParts> parts_;  // loop-owned; null after Shutdown

 private:
  static void Fire(const std::function<void(const Member&)>& f,
                   const Member& m) {
    if (f) f(m);
  }

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

absl::StatusOr<std::unique_ptr<Node>> Node::Start(NodeOptions options) {
  auto config = CheckOptions(options);
  if (!config.ok()) return config.status();
  auto impl = std::make_unique<Impl>(std::move(options));
  if (auto s = impl->Start(*std::move(config)); !s.ok()) return s;
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() = default;

const std::string& Node::name() const { return impl_->options_.name; }
std::string Node::Address() const { return impl_->address_; }
std::string Node::GrpcAddress() const { return impl_->grpc_address_; }
int Node::MaxBroadcastBytes() const { return impl_->max_broadcast_; }

absl::StatusOr<int> Node::Join(const std::vector<std::string>& addresses) {
  if (auto s = impl_->NotFromCallback("Join"); !s.ok()) return s;
  if (addresses.empty()) {
    return absl::InvalidArgumentError("Join: no address given");
  }
  runtime::Completion<absl::StatusOr<int>> waiter("Join");
  absl::Status posted = impl_->loop_->Call([&]() -> absl::Status {
    if (!impl_->parts_) return Impl::ShutDown();
    impl_->parts_->node->Join(addresses, waiter.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return Impl::Finished(waiter);
}

std::vector<Member> Node::Members() const {
  return impl_->loop_->Call([&] {
    return impl_->parts_ ? impl_->parts_->node->Members()
                         : std::vector<Member>{};
  });
}

int Node::NumMembers() const {
  return impl_->loop_->Call(
      [&] { return impl_->parts_ ? impl_->parts_->node->NumAlive() : 0; });
}

Member Node::LocalMember() const {
  return impl_->loop_->Call([&] {
    if (impl_->parts_) return impl_->parts_->node->LocalNode();
    Member m;
    m.name = impl_->options_.name;
    m.addr = impl_->address_;
    m.state = MemberState::kDead;
    return m;
  });
}

absl::Status Node::UpdateMetadata(std::string metadata,
                                  absl::Duration timeout) {
  if (auto s = impl_->NotFromCallback("UpdateMetadata"); !s.ok()) return s;
  runtime::Completion<absl::Status> waiter("UpdateMetadata");
  absl::Status posted = impl_->loop_->Call([&]() -> absl::Status {
    if (!impl_->parts_) return Impl::ShutDown();
    impl_->parts_->node->UpdateMeta(std::move(metadata), timeout,
                                    waiter.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return Impl::Finished(waiter);
}

absl::Status Node::Leave(absl::Duration timeout) {
  if (auto s = impl_->NotFromCallback("Leave"); !s.ok()) return s;
  runtime::Completion<absl::Status> waiter("Leave");
  absl::Status posted = impl_->loop_->Call([&]() -> absl::Status {
    if (!impl_->parts_) return Impl::ShutDown();
    impl_->parts_->node->Leave(timeout, waiter.Callback());
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return Impl::Finished(waiter);
}

absl::Status Node::Broadcast(std::string payload, std::string key) {
  if (static_cast<int>(payload.size()) > impl_->max_broadcast_) {
    return absl::InvalidArgumentError(
        absl::StrCat("Broadcast: ", payload.size(), " bytes, at most ",
                     impl_->max_broadcast_, " (one datagram)"));
  }
  return impl_->loop_->Call([&]() -> absl::Status {
    if (!impl_->parts_) return Impl::ShutDown();
    impl_->parts_->node->Broadcast(std::move(payload), key);
    return absl::OkStatus();
  });
}

absl::Status Node::BroadcastOn(uint8_t channel, std::string payload,
                               std::string key) {
  if (static_cast<int>(payload.size()) > impl_->max_broadcast_ - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BroadcastOn: ", payload.size(), " bytes, at most ",
        impl_->max_broadcast_ - 1, " (one datagram, less the channel byte)"));
  }
  return impl_->loop_->Call([&]() -> absl::Status {
    if (!impl_->parts_) return Impl::ShutDown();
    if (!impl_->parts_->mux) {
      return absl::FailedPreconditionError(
          "BroadcastOn: this node has a delegate of its own, no channels");
    }
    impl_->parts_->mux->SenderFor(channel)(std::move(payload), key);
    return absl::OkStatus();
  });
}

absl::Status Node::SendDirect(const std::string& to, uint8_t channel,
                              std::string payload, absl::Duration timeout) {
  if (auto s = impl_->NotFromCallback("SendDirect"); !s.ok()) return s;
  runtime::Completion<absl::Status> waiter("SendDirect");
  absl::Status posted = impl_->loop_->Call([&]() -> absl::Status {
    if (!impl_->parts_) return Impl::ShutDown();
    impl_->parts_->node->SendUserMessage(to, channel, std::move(payload),
                                         waiter.Callback(), timeout);
    return absl::OkStatus();
  });
  if (!posted.ok()) return posted;
  return Impl::Finished(waiter);
}

void Node::Shutdown() { impl_->Shutdown(); }

}  // namespace peerlab::membership
