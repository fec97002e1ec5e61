// ChatCommands: the chat of one peer and its command group.
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
// Typed lines that are not commands become messages while the chat runs
// (SendLine, installed by the app as the registry's fallback).
//
// Threads: the protocol (ChatCore) runs on its own EventLoop ("chat").
// Commands post to it and wait; gRPC threads and membership events only
// post. Thread-safe.
#ifndef PEERLAB_PEER_CHAT_CHAT_COMMANDS_H_
#define PEERLAB_PEER_CHAT_CHAT_COMMANDS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/chat/chat_core.h"
#include "peer/chat/grpc_chat.h"
#include "peer/cli/config.h"
#include "peer/cli/registry.h"
#include "peer/cli/view.h"
#include "peer/runtime/event_loop.h"

namespace peerlab::chat {

class ChatCommands : private ChatGrpcService::Handler {
 public:
  // What the membership says of one member (chatmemberping).
  struct MemberView {
    std::string state;         // "alive", "suspect", …
    std::string chat_address;  // "" when it announces none
  };

  struct Env {
    std::string name;     // this peer's membership name
    std::string session;  // random per process
    cli::ViewHub* views = nullptr;
    // The service on this peer's gRPC server; the chat attaches to it for
    // its lifetime. Must outlive this object.
    ChatGrpcService* service = nullptr;
    // This peer's chat address as others reach it (the gRPC server's).
    std::function<std::string()> address;
    // Puts `address` in the membership metadata ("" withdraws it). Must not
    // block for long.
    std::function<void(const std::string& address)> announce;
    // The membership's live members that announce a chat address (name ->
    // address); empty without a membership.
    std::function<std::map<std::string, std::string>()> members;
    // The membership's view of `name`; NotFound when unknown.
    std::function<absl::StatusOr<MemberView>(const std::string& name)>
        member_view;
    // Credentials of the channels to other peers' chats (see
    // base/tls.h); nullptr: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    // Signs this peer's hellos and checks those of incoming streams
    // (chat_auth.h): the node key and the keys the membership pinned.
    // Without one every incoming stream is refused.
    std::shared_ptr<const SenderAuthenticator> authenticator;
    // The group label (the membership's), checked on every stream (unset
    // or "": none). Thread-safe, never blocks.
    std::function<std::string()> group;
  };

  explicit ChatCommands(Env env);
  // Detaches from the service, closes every stream, stops the loop.
  ~ChatCommands() override;

  // Registers the commands and the "chat.*" config keys.
  absl::Status Register(cli::Registry& registry, cli::ConfigRegistry& config);

  // The operations behind the commands, for init and quit. Each blocks
  // until done.
  absl::Status Start();
  absl::Status Stop();
  bool running();
  // Sends and waits for the result (ChatCore::Send): every member has it or
  // was given up on (after `timeout`; default chat.delivery_timeout), or,
  // unless `all`, the members that answer have it and the rest are pending.
  absl::StatusOr<SendResult> Send(
      ::peer::v1::ChatKind kind, std::string text,
      absl::Duration timeout = absl::InfiniteDuration(), bool all = false);
  // "<joined> NAME has joined" / "<left> NAME is leaving" to every member
  // (leaving waits at most chat.leave_timeout). Like msg, they return once
  // the members that answer have it (the others retried in the
  // background); Unavailable only when no member got it.
  absl::Status AnnounceJoined(cli::Output& out);
  absl::Status AnnounceLeaving(cli::Output& out);
  // A message from a typed line; Unavailable naming the members that did
  // not get it.
  absl::Status SendLine(absl::string_view line, cli::Output& out);

  // Membership events; any thread, never block.
  // `name` is alive with chat address `address` ("": it has none).
  void MemberUp(const std::string& name, const std::string& address);
  void MemberDown(const std::string& name, ChatCore::Departure how);

 private:
  void OnIncoming(const std::shared_ptr<ChatReply>& reply,
                  ::peer::v1::ChatEnvelope envelope) override;
  // Runs `f` on the chat loop and waits.
  template <typename F>
  auto OnLoop(F f) -> decltype(f());
  // The status of a send for a command: OK when some member got it (and,
  // with `all`, every member); prints the pending and undelivered ones.
  absl::Status CheckSent(const absl::StatusOr<SendResult>& result,
                         cli::Output& out, bool quiet, bool all);
  // A ping on a new stream (opened with a hello for `member`).
  absl::StatusOr<absl::Duration> ProbeNewStream(const std::string& member,
                                                const std::string& address,
                                                absl::Duration timeout);
  void Sync();

  Env env_;
  cli::ConfigRegistry* config_ = nullptr;
  // Settings, guarded by the config registry's lock.
  absl::Duration delivery_timeout_ = absl::Seconds(10);
  absl::Duration ack_timeout_ = absl::Seconds(3);
  absl::Duration leave_timeout_ = absl::Seconds(3);
  absl::Duration ping_timeout_ = absl::Seconds(5);

  // Incoming envelopes posted to the loop and not yet handled; beyond
  // kMaxIncomingQueued the stream that sends one more is ended (counted in
  // incoming_refused_, logged).
  static constexpr int kMaxIncomingQueued = 4096;
  std::atomic<int> incoming_queued_{0};
  std::atomic<uint64_t> incoming_refused_{0};
  std::atomic<uint64_t> probes_{0};  // chatmemberping hello nonces

  std::unique_ptr<runtime::EventLoop> loop_;
  std::unique_ptr<GrpcChatTransport> transport_;
  std::unique_ptr<GrpcChatTransport> probe_transport_;  // chatmemberping
  std::unique_ptr<ChatCore> core_;                      // loop-owned
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_CHAT_COMMANDS_H_
