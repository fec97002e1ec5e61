// The one construction of a membership node on real sockets: the gossip
// key, the UdpGrpcTransport, the Memberlist and its user-data delegate, put
// together the same way for the embedding API (peer/membership/node.h,
// Node) and for the peer (peer/app/membership_host.h, RealNodeFactory).
// Internal: not an installed header.
#ifndef PEERLAB_PEER_MEMBERSHIP_REAL_NODE_PARTS_H_
#define PEERLAB_PEER_MEMBERSHIP_REAL_NODE_PARTS_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/identity/node_key.h"
#include "peer/membership/config.h"
#include "peer/membership/delegate_mux.h"
#include "peer/membership/keyring.h"
#include "peer/membership/kv_store.h"
#include "peer/membership/member.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/real/udp_grpc_transport.h"
#include "peer/runtime/logger.h"
#include "peer/runtime/scheduler.h"

namespace peerlab::membership {

// The gossip key a node is to use.
struct GossipKey {
  std::optional<Keyring> keyring;  // nullopt: insecure gossip (opted out)
  std::string file;    // the key file, rewritten after key operations
  std::string source;  // for log lines: the file, or "the per-user group key"
};

// Names of the settings, for error messages ("memberlist.keyfile" and
// "--insecure-gossip" in the peer; NodeOptions fields in the library).
struct GossipKeyNames {
  std::string keyfile = "memberlist.keyfile";
  std::string insecure = "--insecure-gossip";
};

// Secure with no set-up (docs/security.md): `keyfile` when given (loaded;
// a warning when others may read or write it); else nothing when
// `insecure` (with a warning naming `node_name`); else the per-user group
// key UserKeyFilePath(), created 0600 on first use. Errors name the
// setting and how to get past them. Warnings go to `logger` (nullptr:
// runtime::DefaultLogger()). Blocking file I/O: call it off the loop.
absl::StatusOr<GossipKey> LoadGossipKey(const std::string& keyfile,
                                        bool insecure,
                                        absl::string_view node_name,
                                        const GossipKeyNames& names = {},
                                        runtime::Logger* logger = nullptr);

// What a node is made of.
struct NodePartsOptions {
  // The protocol's settings; config.name is the node's name. Validated
  // here. config.generation 0 and a `state_dir`: the name's next restart
  // generation from it (identity::NextGeneration; with a warning and the
  // start time when it cannot be kept). config.logger is where the node,
  // its transport (unless transport.logger is set) and its key/value store
  // log.
  Config config;
  std::string state_dir;
  std::string profile;  // for the log line only
  UdpGrpcTransport::Options transport;
  // Events of other members (not owned; must outlive the parts).
  EventListener* events = nullptr;
  // User data (not owned; must outlive the parts): takes every broadcast
  // and the whole push/pull user state, raw. nullptr: the node gets a
  // DelegateMux with a KvStore (the replicated key/value map of the peer's
  // broadcastadd) on kKvChannel and `channels` on theirs.
  Delegate* delegate = nullptr;
  // More user-data components on the mux (not owned; must outlive the
  // parts), by channel; not kKvChannel. They send with
  // NodeParts::mux->SenderFor(channel); more can be registered on the mux
  // later (on the scheduler). Only without `delegate`.
  std::map<uint8_t, Delegate*> channels;
  GossipKey key;
  // The node's own key; nullptr: a fresh key at Start.
  std::shared_ptr<const identity::NodeKey> node_key;
};

// A node made by MakeNodeParts: its transport, its channel mux and
// key/value store (when no delegate was given) and the Memberlist, not
// started. Destroying it
// shuts the node down and destroys the three in the right order.
// REQUIRES: destroyed on the scheduler's thread (a task) or after the
// scheduler stopped, as UdpGrpcTransport requires.
struct NodeParts {
  ~NodeParts();
  std::unique_ptr<UdpGrpcTransport> transport;
  std::unique_ptr<DelegateMux> mux;  // null with a delegate
  std::unique_ptr<KvStore> kv;       // null with a delegate
  std::unique_ptr<Memberlist> node;
};

// Builds a node on `scheduler` (not owned; must outlive the parts): opens
// the transport, makes the Memberlist with a random seed, sets its node key
// and keyring (and a listener that saves the keyring to key.file after each
// key operation), and logs "membership node N created on ADDR". Does not
// Start it. REQUIRES: runs as a task of `scheduler` (or before it runs
// anything else). Errors: the config's (InvalidArgument), `channels` with a
// delegate or on kKvChannel (InvalidArgument), the transport's
// (InvalidArgument, Unavailable naming the address).
absl::StatusOr<std::unique_ptr<NodeParts>> MakeNodeParts(
    runtime::Scheduler* scheduler, NodePartsOptions options);

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_REAL_NODE_PARTS_H_
