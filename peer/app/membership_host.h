// MembershipHost: the peer's running membership node, on a HostLoop
// (runtime/host_loop.h: an EventLoop thread in the peer, a node of the
// simulator in peer/app/peer_sim_test.cc). It owns the node (made by a
// NodeFactory: real sockets in the peer, SimNetwork in tests), the
// metadata fields the node announces, and the membership event listeners
// (the lifecycle). No command line here: membership_commands.h registers
// the memberlist* / broadcast* / keys commands and the memberlist.*
// settings against this class, and hands the settings in through
// SetSettingsSource.
//
// Thread safety: every public method is thread-safe (a ThreadHostLoop) and
// the blocking ones wait for the loop; events reach listeners on the loop.
#ifndef PEERLAB_PEER_APP_MEMBERSHIP_HOST_H_
#define PEERLAB_PEER_APP_MEMBERSHIP_HOST_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/cluster/queries.h"
#include "peer/cluster/tags.h"
#include "peer/cluster/user_event.h"
#include "peer/cluster/user_events.h"
#include "peer/identity/node_key.h"
#include "peer/membership/config.h"
#include "peer/membership/kv_store.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/real/membership_stream_service.h"
#include "peer/membership/real/node_parts.h"
#include "peer/membership/transport.h"
#include "peer/runtime/fault_plan.h"
#include "peer/runtime/host_loop.h"
#include "peer/runtime/logger.h"

namespace peerlab::peer {

// The membership settings read at each Create (memberlist.* in the peer).
struct MembershipSettings {
  // The protocol's settings (name ignored: the host's; label:
  // memberlist.label).
  membership::Config config = membership::Config::Local();
  std::string profile = "local";  // for the log line
  int bind_port = 0;              // 0: the reserved port, or a free one
  bool grpc_only = false;         // datagrams over gRPC too
  // Gossip key file (empty: the per-user group key, or none with
  // Env::insecure_gossip).
  std::string keyfile;
  // User events (event.* settings); node is set by the host.
  cluster::UserEventsOptions user_events;
  // Queries (query.* settings: payload and response limits).
  cluster::Queries::Options queries;
};

// A node as the host runs it: its transport, key/value store (may be null)
// and Memberlist, owned by `owner` (destroying it shuts the node down).
struct HostedNode {
  std::shared_ptr<void> owner;
  membership::Transport* transport = nullptr;
  membership::KvStore* kv = nullptr;
  membership::Memberlist* node = nullptr;
  cluster::UserEvents* events = nullptr;  // may be null
  cluster::Queries* queries = nullptr;    // may be null
};

// What a NodeFactory is asked for.
struct NodeSpec {
  membership::Config config;  // validated; name set
  std::string profile;
  int bind_port = 0;
  bool grpc_only = false;
  membership::GossipKey key;
  membership::EventListener* events = nullptr;  // the host
  // User events: the component's options and its listener (the host).
  cluster::UserEventsOptions user_events;
  cluster::UserEventListener* user_event_listener = nullptr;
  cluster::Queries::Options queries;  // query.* settings
};

// Makes a node on `scheduler` (runs as its task). Not started.
using NodeFactory = std::function<absl::StatusOr<HostedNode>(
    runtime::Scheduler* scheduler, NodeSpec spec)>;

// The factory of the real peer: membership::MakeNodeParts on UDP and gRPC.
struct RealNodeEnv {
  std::string bind;  // address of the UDP socket
  // This peer's gRPC server address, as others reach it (asked at create).
  std::function<std::string()> grpc_address;
  // Takes the UDP socket the peer reserved at start (once; -1 after).
  std::function<int()> take_reserved_socket;
  membership::MembershipStreamService* service = nullptr;  // gRPC server's
  // Credentials of the gRPC channels to other nodes; nullptr: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Keeps the node's restart generation (identity::NextGeneration); empty:
  // the start time.
  std::string state_dir;
  std::shared_ptr<const identity::NodeKey> node_key;
  // The peer's fault plan (the `faults` command), obeyed by every node's
  // transport for what it sends; nullptr: none.
  std::shared_ptr<runtime::FaultPlan> faults;
};
NodeFactory RealNodeFactory(RealNodeEnv env);

// The cluster layer's components of a node made from `mux` on `scheduler`
// (the user events on kUserEventChannel), registered on the mux and owned
// by the result. REQUIRES: on the scheduler, before the node starts; the
// result outlives the node's Memberlist.
struct ClusterParts {
  std::unique_ptr<cluster::UserEvents> events;
  std::unique_ptr<cluster::Queries> queries;  // Attach()ed by the host
};
// `max_broadcast` gives the node's Memberlist::MaxBroadcastBytes().
std::unique_ptr<ClusterParts> MakeClusterParts(
    runtime::Scheduler* scheduler, membership::DelegateMux& mux,
    std::function<int()> max_broadcast, const NodeSpec& spec,
    runtime::Logger* logger);

class MembershipHost : public membership::EventListener,
                       public cluster::UserEventListener {
 public:
  struct Env {
    std::string name;  // node name
    // --insecure-gossip: with no key file, gossip in the clear (with a
    // warning) instead of the per-user group key.
    bool insecure_gossip = false;
    // --group-label: the label while no settings source is set.
    std::string group_label;
    // The node's own key (its signer); shared with the chat.
    std::shared_ptr<const identity::NodeKey> node_key;
    // Where the node logs (membership::Config::logger; not owned, must
    // outlive the host). The peer gives its SpdlogLogger (base/logging.h),
    // so protocol lines reach logView and --log-file. nullptr:
    // runtime::DefaultLogger().
    runtime::Logger* logger = nullptr;
  };

  // `loop` is owned; `factory` makes each node.
  MembershipHost(Env env, std::unique_ptr<runtime::HostLoop> loop,
                 NodeFactory factory);
  // Destroys the node on the loop, then stops the loop.
  ~MembershipHost() override;

  // Where Create reads its settings (membership_commands.h: under the
  // config lock). Unset: the local profile with Env::group_label. Set it
  // before any other call; thread-safe, must not block on this host.
  void SetSettingsSource(std::function<MembershipSettings()> source);

  // The operations, for the commands, init/quit and the chat. Each is
  // thread-safe and blocks until done.
  absl::Status Create();
  absl::Status Start();
  absl::StatusOr<int> Join(std::vector<std::string> addrs);
  // As Join, with the addresses not reached and why.
  absl::StatusOr<membership::Memberlist::JoinReport> JoinWithReport(
      std::vector<std::string> addrs);
  absl::Status Leave(absl::Duration timeout);
  absl::Status Shutdown();
  // Stops the node's network only (it goes deaf and mute).
  absl::Status ShutdownTransport();
  // Shuts the node down and forgets it (FailedPrecondition without one).
  absl::Status Delete();
  absl::Status SetMeta(const std::string& meta, absl::Duration timeout);
  // Sets one field of this node's metadata (member_meta.h; "" removes it).
  // Kept across delete/create: announced at Start and, while the node
  // runs, spread at once. Does not block on the network.
  void SetLocalMetaField(const std::string& key, const std::string& value);
  // The metadata the fields make now (tags included).
  std::string LocalMeta() const;
  // Tags (peer/cluster/tags.h): sets `set` and removes `del` in this
  // node's tags, kept across delete/create like the fields. With a started
  // node, spreads them at once (an update event on every member) and
  // waits until the update went out or `timeout`. InvalidArgument (nothing
  // changed) for a bad key or value, or when the metadata would pass
  // memberlist.max_meta_bytes ("... N bytes, at most M"); NotFound for a
  // key to delete that is not set, unless `missing` is kIgnore (removal is
  // then idempotent: a key another caller removed first is no error).
  enum class MissingTags { kRefuse, kIgnore };
  absl::Status UpdateTags(const cluster::Tags& set,
                          const std::vector<std::string>& del,
                          absl::Duration timeout,
                          MissingTags missing = MissingTags::kRefuse);
  cluster::Tags LocalTags() const;
  // Sends a user event (cluster::UserEvents::Send): its Lamport time.
  absl::StatusOr<uint64_t> SendUserEvent(const std::string& name,
                                         const std::string& payload,
                                         bool coalesce);
  // Runs `f(events)` on the loop with the node's user events;
  // FailedPrecondition without a started node.
  template <typename F>
  auto WithUserEvents(F f) -> decltype(f(std::declval<cluster::UserEvents&>()));
  // Gets every user event this node delivers, on the loop (must not
  // block). Not owned; must outlive the host.
  void AddUserEventListener(cluster::UserEventListener* listener);
  // Queries (peer/cluster/queries.h). Each blocks until the query ended
  // (its timeout, or every matched member answered); `answers` gets each
  // ack and response as it came. FailedPrecondition without a started
  // node; the query's own refusals (InvalidArgument, ResourceExhausted).
  absl::StatusOr<cluster::QueryResult> RunQuery(
      cluster::QueryParams params, std::vector<cluster::QueryAnswer>* answers);
  // Starts a query (the reachability query when params.name is
  // cluster::kReachabilityQuery) and returns at once with its handle for
  // FinishQuery. `on_answer` gets each ack and response as the cluster
  // layer takes it, `done` the result at the end (its timeout, every
  // matched member answered, FinishQuery); both run on the loop and must
  // not block. The refusals come back here and then neither is called:
  // FailedPrecondition without a started node, the cluster layer's
  // InvalidArgument (name, filters, sizes: Queries::Check) and
  // ResourceExhausted. When the node is deleted first (memberlistdelete,
  // the peer's end) neither is called again: both functions are destroyed
  // uncalled, on the loop or with the host.
  absl::StatusOr<uint64_t> StartQuery(
      cluster::QueryParams params, cluster::Queries::OnAnswer on_answer,
      std::function<void(cluster::QueryResult)> done);
  // Ends the query of `handle` now: its `done` runs with what came so far.
  // Nothing when it is over or its node is gone. Waits for the loop only.
  void FinishQuery(uint64_t handle);
  // Serf's reachability: a query every member acks (zero timeout: the
  // default).
  absl::StatusOr<cluster::QueryResult> Reachability(absl::Duration timeout);
  // Serf's force-leave (Memberlist::ForceLeave).
  absl::Status ForceLeave(const std::string& name, bool prune);
  // Who answers the queries this node matches (not owned; must outlive
  // the host; nullptr: nobody, acks only): the event handlers'
  // query:NAME programs. Applies to the running node and later ones.
  // Thread-safe.
  void SetQueryResponder(cluster::QueryResponder* responder);
  bool running() const;
  // Members alive or suspect (the local node included), or empty when
  // there is no started node.
  std::vector<membership::Member> Members();
  std::string LocalAddress();
  // The public key pinned to member `name` (this node's own for its
  // name), or nullopt when there is no node or no such member.
  std::optional<identity::PublicKey> PinnedKeyOf(const std::string& name);
  std::shared_ptr<const identity::NodeKey> node_key() const {
    return env_.node_key;
  }
  // The group label of the node created last, or the configured one when
  // none was created; empty for none. Never blocks on the loop.
  std::string GroupLabel() const;
  // A key operation across the cluster (Memberlist::KeyOperation).
  absl::StatusOr<membership::KeyOpResult> KeyOperation(membership::KeyOp op,
                                                       std::string key,
                                                       absl::Duration timeout);

  // Runs `f(node)` on the loop and returns its result; FailedPrecondition
  // ("no membership node: run memberlistcreate first") without a node. `f`
  // returns absl::Status or absl::StatusOr<T>.
  template <typename F>
  auto WithNode(F f) -> decltype(f(std::declval<membership::Memberlist&>()));
  // Runs `f(kv)` on the loop with the node's key/value store (of a started
  // node when `started`); FailedPrecondition(`error`) otherwise.
  template <typename F>
  auto WithKv(F f, bool started, const std::string& error)
      -> decltype(f(std::declval<membership::KvStore&>()));

  // Called on the loop for every event; must not block.
  void AddListener(membership::EventListener* listener);

  // EventListener: logs each event and forwards it.
  void OnJoin(const membership::Member& m) override;
  void OnLeave(const membership::Member& m) override;
  void OnUpdate(const membership::Member& m) override;
  void OnSuspect(const membership::Member& m) override;
  void OnAlive(const membership::Member& m) override;
  // UserEventListener: logs the event and forwards it.
  void OnUserEvent(const cluster::UserEvent& e) override;

 private:
  // On the loop, with a node: shuts it down and forgets it.
  void DeleteNode();
  MembershipSettings Settings() const;
  // Calls `event` on every listener (under mu_), before the caller logs.
  void Notify(
      void (membership::EventListener::*event)(const membership::Member&),
      const membership::Member& m);

  const Env env_;
  const NodeFactory factory_;
  std::unique_ptr<runtime::HostLoop> loop_;
  std::function<MembershipSettings()> settings_source_;  // set before use

  // Loop-owned: the node made by Create, empty without one.
  HostedNode node_;
  bool node_exists_ = false;  // mirrors node_ for other threads (under mu_)

  mutable std::mutex mu_;
  std::vector<membership::EventListener*> listeners_;
  std::map<std::string, std::string> meta_fields_;  // guarded by mu_
  cluster::Tags tags_;                              // guarded by mu_
  std::vector<cluster::UserEventListener*> user_event_listeners_;  // mu_
  cluster::QueryResponder* query_responder_ = nullptr;             // loop-owned
  // Queries started by StartQuery on the node now: handle -> the cluster
  // layer's id. Loop-owned; cleared with the node.
  std::map<uint64_t, uint64_t> queries_;
  uint64_t next_query_handle_ = 0;  // loop-owned
  std::string node_label_;          // guarded by mu_
  bool node_created_ = false;       // guarded by mu_
};

// Implementation of the templates.

template <typename F>
auto MembershipHost::WithNode(F f)
    -> decltype(f(std::declval<membership::Memberlist&>())) {
  using R = decltype(f(std::declval<membership::Memberlist&>()));
  return loop_->Call([&]() -> R {
    if (!node_.node) {
      return absl::FailedPreconditionError(
          "no membership node: run memberlistcreate first");
    }
    return f(*node_.node);
  });
}

template <typename F>
auto MembershipHost::WithKv(F f, bool started, const std::string& error)
    -> decltype(f(std::declval<membership::KvStore&>())) {
  using R = decltype(f(std::declval<membership::KvStore&>()));
  return loop_->Call([&]() -> R {
    if (!node_.kv || (started && (!node_.node || !node_.node->started()))) {
      return absl::FailedPreconditionError(error);
    }
    return f(*node_.kv);
  });
}

template <typename F>
auto MembershipHost::WithUserEvents(F f)
    -> decltype(f(std::declval<cluster::UserEvents&>())) {
  using R = decltype(f(std::declval<cluster::UserEvents&>()));
  return loop_->Call([&]() -> R {
    if (!node_.node || !node_.node->started()) {
      return absl::FailedPreconditionError(
          "membership is not running (memberlistcreate, memberliststart)");
    }
    if (!node_.events) {
      return absl::FailedPreconditionError("this node has no user events");
    }
    return f(*node_.events);
  });
}

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_MEMBERSHIP_HOST_H_
