// The membership and broadcast command groups of the original, on the
// SWIM/Lifeguard library (peer/membership):
//
//   memberlistconfigure [KEY VALUE]...  show or change membership settings
//                                       (profile, bind_port, probe_interval,…)
//   memberlistcreate                    creates the node (socket, transport)
//   memberliststart                     starts probing and gossip
//   memberlistjoin [ADDR...]            joins members (default: the bootstrap
//                                       peers)
//   memberlistleave [SECONDS]           leaves, waiting for the news to spread
//   memberlistupdate [SECONDS]          re-announces this node (new
//                                       incarnation), waiting as above
//   memberlistshutdown                  stops the node without leaving
//   memberlistshutdowntransport         stops the node's network only
//   memberlistdelete                    forgets the node (after shutdown)
//   memberlist / showmemberlist         members (alive, suspect) / all of them
//   localnode, memberlisthealthscore, showconfig
//   broadcastadd KEY VALUE, broadcastdel KEY..., broadcastlist
//   keys list|install|use|remove|generate   gossip encryption keys
//                                       (keys_commands.h; memberlist.keyfile)
//
// The protocol runs on its own EventLoop thread; commands post to it and
// wait. Membership events are written to logView and handed to listeners
// (the chat).
#ifndef PEERLAB_PEER_APP_MEMBERSHIP_COMMANDS_H_
#define PEERLAB_PEER_APP_MEMBERSHIP_COMMANDS_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "peer/cli/config.h"
#include "peer/cli/registry.h"
#include "peer/cli/view.h"
#include "peer/identity/node_key.h"
#include "peer/membership/kv_store.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/real/membership_stream_service.h"
#include "peer/membership/real/node_parts.h"
#include "peer/membership/real/udp_grpc_transport.h"
#include "peer/runtime/event_loop.h"

namespace peerlab::peer {

class MembershipCommands : public membership::EventListener {
 public:
  struct Env {
    std::string name;  // node name
    std::string bind;  // address of the UDP socket
    // This peer's gRPC server address, as others reach it (known once the
    // server runs; asked at memberlistcreate).
    std::function<std::string()> grpc_address;
    // Takes the UDP socket the peer reserved at start (once; -1 after).
    std::function<int()> take_reserved_socket;
    membership::MembershipStreamService* service;  // on the gRPC server
    cli::ViewHub* views;
    // The gossip addresses of the bootstrap peers (for memberlistjoin
    // without arguments), fetched when needed.
    std::function<absl::StatusOr<std::vector<std::string>>()> bootstrap_addrs;
    // Credentials of the gRPC channels to other nodes; nullptr: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    // The directory keeping the node's restart generation
    // (<state_dir>/nodes/<name>/generation, identity::NextGeneration);
    // empty: the start time is the generation.
    std::string state_dir;
    // The node's own key: it signs the node's claims about itself.
    std::shared_ptr<const identity::NodeKey> node_key;
    // --insecure-gossip: with no memberlist.keyfile, gossip in the clear
    // (with a warning) instead of the per-user group key
    // (membership::UserKeyFilePath()).
    bool insecure_gossip = false;
    // --group-label: the initial value of memberlist.label.
    std::string group_label;
  };

  explicit MembershipCommands(Env env);
  ~MembershipCommands() override;

  // Registers the commands and the "memberlist.*" config keys.
  absl::Status Register(cli::Registry& registry, cli::ConfigRegistry& config);

  // The operations behind the commands, for init/quit and the chat. Each
  // is thread-safe and blocks until done.
  absl::Status Create();
  absl::Status Start();
  absl::StatusOr<int> Join(std::vector<std::string> addrs);
  // As Join, with the addresses not reached and why.
  absl::StatusOr<membership::Memberlist::JoinReport> JoinWithReport(
      std::vector<std::string> addrs);
  absl::Status Leave(absl::Duration timeout);
  absl::Status Shutdown();
  absl::Status SetMeta(const std::string& meta, absl::Duration timeout);
  // Sets one field of this node's metadata (member_meta.h; "" removes it).
  // The fields are kept across memberlistdelete/create: they are announced
  // at Start and, while the node runs, spread at once (a new incarnation,
  // without waiting). Thread-safe; does not block on the network.
  void SetLocalMetaField(const std::string& key, const std::string& value);
  // The metadata the fields make now.
  std::string LocalMeta() const;
  bool running() const;
  // Members alive or suspect (the local node included), or empty when there
  // is no node.
  std::vector<membership::Member> Members();
  std::string LocalAddress();
  // The public key pinned to member `name` (this node's own for its
  // name), or nullopt when there is no node or no such member. A sender
  // that proves it holds the key is that member (chat authentication).
  // Thread-safe; runs on the membership loop.
  std::optional<identity::PublicKey> PinnedKeyOf(const std::string& name);
  // This node's own key (its signer), shared with the chat. Thread-safe.
  std::shared_ptr<const identity::NodeKey> node_key() const {
    return env_.node_key;
  }
  // The group label (memberlist.label, membership::Config::label) of the
  // node created last, or the configured one when no node was created;
  // empty for none. For other services of the peer (the chat) to check
  // theirs against. Thread-safe; never blocks on the membership loop.
  std::string GroupLabel() const;
  // Gossip encryption: a key operation across the cluster (see
  // membership::Memberlist::KeyOperation), blocking until it ends.
  absl::StatusOr<membership::KeyOpResult> KeyOperation(membership::KeyOp op,
                                                       std::string key,
                                                       absl::Duration timeout);

  // Called on the membership thread for every event; must not block.
  void AddListener(membership::EventListener* listener);

  // EventListener: logs each event and forwards it.
  void OnJoin(const membership::Member& m) override;
  void OnLeave(const membership::Member& m) override;
  void OnUpdate(const membership::Member& m) override;
  void OnSuspect(const membership::Member& m) override;
  void OnAlive(const membership::Member& m) override;

 private:
  // Runs `f` on the loop with the node; FailedPrecondition if none.
  template <typename F>
  auto WithNode(F f) -> decltype(f(std::declval<membership::Memberlist&>()));
  absl::Status ApplyProfile(const std::string& profile);
  // On the loop, with a node: shuts it down and forgets it, its key-value
  // store and its transport.
  void DeleteNode();

  Env env_;
  cli::ConfigRegistry* config_ = nullptr;
  std::unique_ptr<runtime::EventLoop> loop_;

  // Settings (guarded by the config registry's lock).
  membership::Config settings_;
  std::string profile_ = "local";
  int64_t bind_port_ = 0;  // 0: the reserved port, or a free one
  bool grpc_only_ = false;
  // Gossip encryption key file (empty: the per-user group key file, or off
  // with Env::insecure_gossip); read at memberlistcreate and rewritten after
  // each key operation.
  std::string keyfile_;
  // memberlist.label (config lock); the running node's copy under mu_.
  std::string label_;
  int64_t indirect_checks_, suspicion_mult_, suspicion_max_timeout_mult_,
      retransmit_mult_, gossip_nodes_, packet_size_, awareness_max_,
      max_members_;

  // Loop-owned: created by Create (membership::MakeNodeParts, as the
  // embedding API's Node does), destroyed by Delete. The three pointers
  // are parts_'s, or null without a node.
  std::unique_ptr<membership::NodeParts> parts_;
  membership::UdpGrpcTransport* transport_ = nullptr;
  membership::KvStore* kv_ = nullptr;
  membership::Memberlist* node_ = nullptr;
  bool node_exists_ = false;  // mirrors node_ for other threads (under mu_)

  mutable std::mutex mu_;
  std::vector<membership::EventListener*> listeners_;
  std::map<std::string, std::string> meta_fields_;  // guarded by mu_
  std::string node_label_;                          // guarded by mu_
  bool node_created_ = false;                       // guarded by mu_
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_MEMBERSHIP_COMMANDS_H_
