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
//   stats [PREFIX]                      protocol statistics (stats_snapshot.h)
//   rtt A [B]                           estimated round trip (coordinate.h)
//   broadcastadd KEY VALUE, broadcastdel KEY..., broadcastlist
//   (tags and event: cluster_commands.h; their event.* settings and
//   memberlist.max_meta_bytes are here)
//   keys list|install|use|remove|generate   gossip encryption keys
//                                       (keys_commands.h; memberlist.keyfile)
//
// The registration only: the node runs in MembershipHost
// (membership_host.h), and these commands and settings act on it. The
// memberlist.* settings live here (guarded by the config registry's lock)
// and reach the host through MembershipHost::SetSettingsSource.
#ifndef PEERLAB_PEER_APP_MEMBERSHIP_COMMANDS_H_
#define PEERLAB_PEER_APP_MEMBERSHIP_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "peer/app/membership_host.h"
#include "peer/cli/config.h"
#include "peer/cli/registry.h"

namespace peerlab::peer {

class MembershipCommands {
 public:
  struct Env {
    // The gossip addresses of the bootstrap peers (for memberlistjoin
    // without arguments), fetched when needed.
    std::function<absl::StatusOr<std::vector<std::string>>()> bootstrap_addrs;
    // --group-label: the initial value of memberlist.label.
    std::string group_label;
  };

  // `host` must outlive this object.
  MembershipCommands(MembershipHost* host, Env env);
  ~MembershipCommands();

  // Registers the commands and the "memberlist.*" config keys, and makes
  // them the host's settings. `registry` and `config` must outlive this.
  absl::Status Register(cli::Registry& registry, cli::ConfigRegistry& config);

 private:
  absl::Status ApplyProfile(const std::string& profile);
  // A snapshot of the settings (takes the config lock).
  MembershipSettings Settings() const;

  MembershipHost* const host_;
  const Env env_;
  cli::ConfigRegistry* config_ = nullptr;

  // Settings (guarded by the config registry's lock).
  membership::Config settings_;
  std::string profile_ = "local";
  int64_t bind_port_ = 0;  // 0: the reserved port, or a free one
  bool grpc_only_ = false;
  // Gossip encryption key file (empty: the per-user group key file, or off
  // with --insecure-gossip); read at memberlistcreate and rewritten after
  // each key operation.
  std::string keyfile_;
  std::string label_;  // memberlist.label
  int64_t indirect_checks_, suspicion_mult_, suspicion_max_timeout_mult_,
      suspicion_confirmations_, retransmit_mult_, gossip_nodes_, packet_size_,
      awareness_max_, max_members_, max_meta_bytes_, max_queued_alives_;
  // event.* (cluster::UserEventsOptions).
  int64_t event_max_bytes_ = 64 << 10, event_buffer_ = 64;
  // memberlist.vivaldi_* integers (Config::coordinate; its doubles are
  // set in settings_ directly).
  int64_t vivaldi_dimensionality_ = 8, vivaldi_adjustment_window_ = 20,
          vivaldi_latency_filter_ = 3;
  // query.* (cluster::Queries::Options).
  int64_t query_max_payload_bytes_ = 64 << 10;
  int64_t query_max_response_bytes_ = 512 << 10;
  absl::Duration event_order_delay_ = absl::Seconds(1),
                 event_coalesce_period_ = absl::Seconds(3),
                 event_quiescent_period_ = absl::Seconds(1);
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_MEMBERSHIP_COMMANDS_H_
