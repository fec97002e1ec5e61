// ChatCommands: the chat command group and the chat.* settings, acting
// on the chat that ChatHost (chat_host.h) runs.
//
//   chatstart              announces this peer's chat address in its
//                          membership metadata and starts sending and
//                          accepting messages
//   chatstop               withdraws the address, gives up pending messages,
//                          refuses incoming ones
//   chatleave              tells every chat member "<left> NAME is leaving"
//                          and waits for their acks (chat.leave_timeout)
//   chatmembers            the chat members: alive members with a chat
//                          address, with the state of the stream to each
//   chatping MEMBER        a round trip over the chat stream to MEMBER (the
//                          one messages use; opened if needed)
//   chatmemberping MEMBER  what the membership says of MEMBER (state, chat
//                          address), and a round trip on a NEW stream to that
//                          announced address: tells a dead member from a
//                          broken chat link
//   msg [--all] TEXT       sends TEXT to every chat member; returns once
//                          the members that answer have it (naming those
//                          still pending, retried in the background);
//                          fails when nobody got it (--all: when anybody
//                          did not)
//   chatstats [reset]      counters, delivery latency (p50/p99/max), and
//                          the incoming streams authenticated and refused
//                          by kind (chat_auth.h)
//   chatflood COUNT [BYTES] [WINDOW]
//                          development: sends COUNT messages as fast as
//                          WINDOW unacked messages allow; prints the rate
//
// The settings live here (guarded by the config registry's lock) and reach
// the host through ChatHost::SetSettingsSource.
#ifndef PEERLAB_PEER_CHAT_CHAT_COMMANDS_H_
#define PEERLAB_PEER_CHAT_CHAT_COMMANDS_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "peer/chat/chat_host.h"
#include "peer/cli/config.h"
#include "peer/cli/registry.h"

namespace peerlab::chat {

class ChatCommands {
 public:
  // What the membership says of one member (chatmemberping).
  struct MemberView {
    std::string state;         // "alive", "suspect", …
    std::string chat_address;  // "" when it announces none
  };

  struct Env {
    // This peer's chat address as others reach it (chatstart prints it).
    std::function<std::string()> address;
    // The membership's view of `name`; NotFound when unknown.
    std::function<absl::StatusOr<MemberView>(const std::string& name)>
        member_view;
  };

  // `host` must outlive this object.
  ChatCommands(ChatHost* host, Env env);
  ~ChatCommands();

  // Registers the commands and the "chat.*" config keys, and makes them the
  // host's settings. `registry` and `config` must outlive this object.
  absl::Status Register(cli::Registry& registry, cli::ConfigRegistry& config);

 private:
  ChatHost* const host_;
  const Env env_;
  cli::ConfigRegistry* config_ = nullptr;
  ChatSettings settings_;  // guarded by the config registry's lock
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_CHAT_COMMANDS_H_
