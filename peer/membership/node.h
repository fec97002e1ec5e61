// Node: the membership library with batteries included, what
// memberlist.Create is for Go. A Node runs one member of a SWIM/Lifeguard
// group on its own event-loop thread, UDP socket and gRPC server (the
// reliable path: joins, push/pull, fallback probes):
//
//   peerlab::membership::NodeOptions options;
//   options.name = "alice";
//   auto node = peerlab::membership::Node::Start(options);   // StatusOr
//   if (!node.ok()) return node.status();
//   (*node)->Join({"127.0.0.1:7946"});  // another node's Address()
//   for (const auto& m : (*node)->Members()) ...
//
// Secure with no set-up: with no keyring_file and no insecure_gossip, every
// Node (and every peerlab-peer) of one user on one machine seals its gossip
// with the per-user group key (<state dir>/gossip.keys, made 0600 on first
// use), so nodes of one user find each other and nobody else gets in. Nodes
// on other machines need the same key: give them the same keyring_file.
//
// Threads. A Node owns: one event-loop thread ("mbr-" and the name) that
// runs the protocol and every callback; one UDP receive thread (not with
// grpc_only); its gRPC server's threads and its accept thread. Every
// method of Node is thread-safe. The blocking ones (Join, UpdateMetadata,
// Leave, Shutdown, the destructor) wait for the loop.
//
// Callbacks (NodeOptions::on_* and the Delegate) run on the loop thread,
// one at a time, in the order the protocol saw the events. They must not
// block for long (the protocol waits for them: a callback that takes
// longer than the probe timeout makes other members suspect this node).
// From a callback, Members(), LocalMember(), Address(), GrpcAddress(),
// NumMembers() and Broadcast() may be called; Join, UpdateMetadata, Leave
// and Shutdown return FailedPrecondition (they would wait for the thread
// that runs them), and the Node must not be destroyed there.
//
// Logging: through NodeOptions::logger (a runtime::Logger; by default
// standard error at warning), so the library links no logging library.
//
// Limits: a name of 1..256 bytes without control characters; metadata of
// at most Config::max_meta_bytes (512 by default); a group label of at most 255
// bytes; at most Config::max_members members (4096 by default; newcomers past
// it are refused and counted); a broadcast payload of at most
// MaxBroadcastBytes() (it must fit one datagram).
//
// This header includes only abseil, the standard library and the public
// headers beside it (member.h, config.h), by relative path, so that it
// reads the same in the source tree (peer/membership/) and installed
// (<peerlab/membership/node.h>). The protocol's records stay in node.cc.
#ifndef PEERLAB_PEER_MEMBERSHIP_NODE_H_
#define PEERLAB_PEER_MEMBERSHIP_NODE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "config.h"  // NOLINT(build/include_subdir): see the file comment
#include "member.h"  // NOLINT(build/include_subdir)

namespace peerlab::membership {

struct NodeOptions {
  // Unique in the group: 1..256 bytes, no control characters, no '/', not
  // starting or ending with a space.
  std::string name;
  // The IPv4 address of the UDP socket and the gRPC server. Others reach
  // the node at advertise_address, or here when that is empty (then it
  // must not be 0.0.0.0).
  std::string bind_address = "127.0.0.1";
  std::string advertise_address;
  int gossip_port = 0;  // UDP; 0: a free port
  int grpc_port = 0;    // gRPC; 0: a free port
  // The timings of memberlist's DefaultLANConfig ("lan"),
  // DefaultWANConfig ("wan") or DefaultLocalConfig ("local").
  std::string profile = "lan";
  // Opaque bytes every member sees with this one (Member::meta); at most
  // Config::max_meta_bytes (512 by default). Changed later with UpdateMetadata.
  std::string metadata;
  // Gossip encryption key file: base64 keys (`openssl rand -base64 32`),
  // one a line, the first primary; mode 0600 advised (a warning
  // otherwise). Rewritten when a key operation changes the keyring. Empty:
  // the per-user group key (see the file comment).
  std::string keyring_file;
  // Gossip in the clear: anyone who reaches the ports can read the member
  // list and forge members. Only with no keyring_file; never implied.
  bool insecure_gossip = false;
  // memberlist's Label: only members with the same label are accepted, so
  // two groups on one network never merge. At most 255 bytes.
  std::string group_label;
  // Where the node's own Ed25519 key (which signs its claims about itself)
  // and its restart generation are kept: <state_dir>/nodes/<name>/.
  // Empty: the per-user state directory ($PEERLAB_STATE_DIR, else
  // $XDG_STATE_HOME/peerlab, else ~/.local/state/peerlab). When it cannot
  // be used, the node runs with a key for this run only (a warning).
  std::string state_dir;
  // Datagrams over gRPC too (networks that block UDP): no UDP socket, and
  // Address() is the gRPC address.
  bool grpc_only = false;

  // Events about other members. Run on the node's loop thread (see the
  // file comment). Any may be empty.
  std::function<void(const Member&)> on_join;
  // member.state says whether it left (kLeft) or failed (kDead).
  std::function<void(const Member&)> on_leave;
  std::function<void(const Member&)> on_update;   // its metadata changed
  std::function<void(const Member&)> on_suspect;  // not answering probes
  std::function<void(const Member&)> on_alive;    // a suspect refuted

  // User data carried by the protocol (not owned; must outlive the Node):
  // broadcasts (Node::Broadcast elsewhere arrive in OnUserMessage) and
  // state exchanged in push/pulls (LocalState, MergeRemoteState). Its
  // methods run on the loop thread. nullptr: none.
  Delegate* delegate = nullptr;

  // The embedder's own user-data components on channels of the node's
  // DelegateMux (delegate_mux.h), by channel: each gets the broadcasts
  // sent on its channel (BroadcastOn, from any member), its slice of every
  // push/pull state (LocalState, MergeRemoteState) and the direct
  // messages sent to it (SendDirect; OnDirectMessage's status is the
  // sender's answer). Ownership: not owned; each must outlive the Node.
  // Threads: its methods run on the loop thread (see the file comment).
  // Channel 0 is the node's key/value store (kKvChannel), and 1 and 2 are
  // the cluster layer's (user events, queries) where it runs: take 3..255.
  // REQUIRES: no `delegate` (a delegate takes all user data raw) and no
  // channel 0; Start refuses either (InvalidArgument naming the field).
  std::map<uint8_t, Delegate*> channels;

  // Changes any protocol setting after the profile's (and the label) are
  // applied, e.g. [](Config& c) { c.probe_interval = absl::Seconds(2); }.
  // name is set afterwards. Runs once, in Start, on the caller's thread.
  std::function<void(Config&)> configure;

  // Where the node logs (<peerlab/runtime/logger.h>): a Logger of the
  // program's (not owned; must outlive the Node), runtime::NullLogger()
  // for silence, or nullptr: runtime::DefaultLogger(), standard error at
  // warning. Called from the loop thread, the receive thread, the gRPC
  // server's accept thread and the caller's; records are dated by the
  // loop's clock. Config::logger, when `configure` sets it, wins for the
  // protocol's lines.
  runtime::Logger* logger = nullptr;
};

class Node {
 public:
  // Checks `options` (InvalidArgument naming the field), opens the UDP
  // socket and the gRPC server (an error naming the port and the reason,
  // e.g. "address already in use"), loads or creates the gossip key and
  // the node key, and starts the protocol: the node is a group of one,
  // ready to Join or be joined.
  static absl::StatusOr<std::unique_ptr<Node>> Start(NodeOptions options);

  // Shutdown(). REQUIRES: not on the node's loop thread (a callback).
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const;
  // "host:port" others Join: the gossip (UDP) address, or the gRPC address
  // with grpc_only. Stays valid after Shutdown.
  std::string Address() const;
  // "host:port" of the node's gRPC server (the reliable path).
  std::string GrpcAddress() const;

  // Exchanges state with each address (another node's Address()); returns
  // how many answered. Unavailable naming each failure when none did;
  // AlreadyExists when a live member holds this node's name;
  // FailedPrecondition after Leave or Shutdown. The addresses are tried at
  // once; blocks for at most about Config::reliable_timeout (10 s with
  // "lan", 1 s with "local").
  absl::StatusOr<int> Join(const std::vector<std::string>& addresses);

  // Members alive or suspect, this node included, sorted by name; empty
  // after Shutdown.
  std::vector<Member> Members() const;
  int NumMembers() const;
  // This node as the others see it.
  Member LocalMember() const;

  // Replaces this node's metadata and spreads it (a new incarnation);
  // returns once the update has been sent its last time, or
  // DeadlineExceeded after `timeout` (it still spreads). InvalidArgument
  // past Config::max_meta_bytes.
  absl::Status UpdateMetadata(std::string metadata, absl::Duration timeout);

  // Broadcasts that this node leaves and waits until the news went out, or
  // `timeout` (DeadlineExceeded; it still spreads). Others see the node
  // left (on_leave with kLeft). The node then answers probes but takes no
  // part: Shutdown it. OK when it left already.
  absl::Status Leave(absl::Duration timeout);

  // Queues a user broadcast, piggybacked on the protocol's datagrams to
  // every member's Delegate::OnUserMessage. A non-empty `key` replaces a
  // broadcast with that key still queued. InvalidArgument past
  // MaxBroadcastBytes(); FailedPrecondition after Shutdown.
  absl::Status Broadcast(std::string payload, std::string key = "");
  // The largest broadcast payload: what fits one datagram beside this
  // node's header and seal (about 1.3 KB with the default
  // packet_size of 1400).
  int MaxBroadcastBytes() const;

  // Queues a broadcast for the component on `channel` (NodeOptions::
  // channels) of every member, this one excepted. A non-empty `key`
  // replaces a broadcast with that key still queued on that channel.
  // InvalidArgument past MaxBroadcastBytes() - 1 (the channel byte);
  // FailedPrecondition with a NodeOptions::delegate (no channels then) or
  // after Shutdown.
  absl::Status BroadcastOn(uint8_t channel, std::string payload,
                           std::string key = "");
  // Sends `payload` to the component on `channel` of member `to` on the
  // reliable path (sealed, the sender proven to the receiver: its
  // DirectMessage::from), and waits for its answer: the status its
  // OnDirectMessage returned, or the call's (NotFound: no live member of
  // that name; DeadlineExceeded after `timeout`, zero for
  // Config::reliable_timeout; InvalidArgument past
  // Config::max_user_message_bytes, 1 MiB by default). FailedPrecondition
  // from a callback or after Shutdown.
  absl::Status SendDirect(const std::string& to, uint8_t channel,
                          std::string payload,
                          absl::Duration timeout = absl::ZeroDuration());

  // Stops the protocol without leaving (others see the node fail; call
  // Leave first for a clean exit), closes the socket and the gRPC server
  // and joins the threads. Idempotent. From a callback: does nothing
  // (logged); see the file comment.
  void Shutdown();

 private:
  class Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_NODE_H_
