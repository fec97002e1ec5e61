// Everything `peerlab-peer` is told on its command line.
#ifndef PEERLAB_PEER_APP_PEER_OPTIONS_H_
#define PEERLAB_PEER_APP_PEER_OPTIONS_H_

#include <string>
#include <vector>

#include "base/tls.h"

namespace peerlab::peer {

// The longest --advertise-host: "HOST:PORT" must fit the answer to a
// membership resolve datagram (peer/membership/real/resolve_datagram.h:
// 64 bytes less its 10-byte header, less ":65535").
inline constexpr size_t kMaxAdvertiseHost = 48;

struct PeerOptions {
  std::string name;       // membership node name, e.g. "alice"
  std::string bootstrap;  // empty: $BOOTSTRAP_DATA_SERVER, then 127.0.0.1:8080
  std::string bind = "127.0.0.1";  // address for the gossip and gRPC ports
  // The host others dial for the gRPC port (chat, membership's reliable
  // path, remote control; the control address registered with the
  // coordinator): a DNS name naming this peer (e.g. a StatefulSet pod's
  // "peer-0.peers"), so TLS certificates can name it. Empty: `bind`.
  // UDP gossip always uses `bind`.
  std::string advertise_host;
  int gossip_port = 0;  // 0: pick a free one
  int grpc_port = 0;    // 0: pick a free one
  std::string log_file;
  std::string log_level = "info";
  std::string config_file;         // loaded at start when set
  std::string control_token_file;  // required when bind is not loopback
  std::string history_file;        // empty: ~/.peerlab_history
  std::string ready_file;          // gets "CONTROL_ADDR" once serving
  // Where the node's own key and restart generation live
  // (<state_dir>/nodes/<name>/); empty: UserStateDir().
  std::string state_dir;
  bool no_init = false;
  bool serve = false;  // no stdin: run until exit/quit/signal
  bool test = false;
  std::string coordinator;
  // The harness's lab token (with coordinator); empty: the default file
  // (test-harness/coordinator/lab_auth.h).
  std::string token_file;
  std::vector<std::string> exec;  // --exec lines, in order
  std::string script;             // --script FILE
  // --insecure-gossip: membership gossip unencrypted when no
  // memberlist.keyfile is set (otherwise the per-user group key).
  bool insecure_gossip = false;
  // --group-label: memberlist.label's initial value (empty: none).
  std::string group_label;
  // --event-handler [FILTER=]PROGRAM, in order (handler_host.h).
  std::vector<std::string> event_handlers;
  // --tls-*: the gRPC server and every client (bootstrap, chat,
  // membership, coordinator) use them.
  TlsOptions tls;
  // No token on loopback (the old default); refused with a non-loopback
  // bind. Without it and without control_token_file, peerlab-peer makes a
  // token file of its own (base/control_token.h).
  bool control_open_loopback = false;
  // A token held in memory only (peerlab-peer sets it when no token file
  // could be made): calls must carry it; nobody is told it. Wins over
  // control_token_file.
  std::string control_token;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_PEER_OPTIONS_H_
