// ChatHost: the running chat of one peer: the protocol (ChatCore) on a
// HostLoop (runtime/host_loop.h: an EventLoop thread "chat" in the peer, a
// node of the simulator in tests), its outgoing transports, and what
// arrives on the streams other peers open (OnIncoming). No command line
// and no gRPC here: chat_commands.h registers the chat commands and the
// chat.* settings against this class; the peer plugs the gRPC transport
// and service in (peer/app/peer_app.cc), the simulator an in-memory one.
//
// Typed lines that are not commands become messages while the chat runs
// (SendLine, installed by the app as the registry's fallback).
//
// Threads: commands call in and wait for the loop; transports and
// membership events only post. Thread-safe (with a ThreadHostLoop).
#ifndef PEERLAB_PEER_CHAT_CHAT_HOST_H_
#define PEERLAB_PEER_CHAT_CHAT_HOST_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peer/chat/chat_auth.h"
#include "peer/chat/chat_core.h"
#include "peer/chat/chat_transport.h"
#include "peer/runtime/host_loop.h"

namespace peerlab::chat {

// Where the host's operations print their lines (a command's output, the
// log): one line a call.
using Lines = std::function<void(const std::string& line)>;

// The chat.* settings (chat_commands.h keeps them).
struct ChatSettings {
  absl::Duration delivery_timeout = absl::Seconds(10);
  absl::Duration ack_timeout = absl::Seconds(3);
  absl::Duration leave_timeout = absl::Seconds(3);
  absl::Duration ping_timeout = absl::Seconds(5);
};

class ChatHost {
 public:
  struct Env {
    std::string name;     // this peer's membership name
    std::string session;  // random per process
    // Writes one line to messagesView.
    ChatCore::ShowFn show;
    // This peer's chat address as others reach it.
    std::function<std::string()> address;
    // Puts `address` in the membership metadata ("" withdraws it). Must not
    // block for long.
    std::function<void(const std::string& address)> announce;
    // The membership's live members that announce a chat address (name ->
    // address); empty without a membership.
    std::function<std::map<std::string, std::string>()> members;
    // Signs this peer's hellos and checks those of incoming streams
    // (chat_auth.h). Without one every incoming stream is refused.
    std::shared_ptr<const SenderAuthenticator> authenticator;
    // The group label (the membership's), checked on every stream (unset
    // or "": none). Thread-safe, never blocks.
    std::function<std::string()> group;
  };

  // Owns `loop` and the transports: `transport` carries the messages,
  // `probe_transport` the new streams of ProbeNewStream (chatmemberping).
  ChatHost(Env env, std::unique_ptr<runtime::HostLoop> loop,
           std::unique_ptr<ChatTransport> transport,
           std::unique_ptr<ChatTransport> probe_transport);
  // Closes every stream, stops the loop. Detach the receiving end
  // (whatever calls OnIncoming) first.
  ~ChatHost();

  // Where the operations read chat.* (chat_commands.h). Unset: defaults.
  // Set it before any other call; must not block on this host.
  void SetSettingsSource(std::function<ChatSettings()> source);
  ChatSettings Settings() const;

  // The operations, for the commands, init and quit. Each blocks until
  // done.
  absl::Status Start();
  // Start, with the messages sent from now on kept back until EndJoining
  // (ChatCore::HoldSends): init starts the chat before it joins the group,
  // and a message sent meanwhile must go to the members the join brings.
  absl::Status StartJoining();
  // The join is over (joined, alone, or failed): the kept-back messages go
  // to the members known now. No-op when nothing is held.
  void EndJoining();
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
  // background); Unavailable only when no member got it. Lines to `say`.
  absl::Status AnnounceJoined(const Lines& say);
  absl::Status AnnounceLeaving(const Lines& say);
  // A message from a typed line; Unavailable naming the members that did
  // not get it.
  absl::Status SendLine(absl::string_view line, const Lines& say);
  // The status of a send for a command: OK when some member got it (and,
  // with `all`, every member); prints the pending and undelivered ones.
  static absl::Status ReportSent(const absl::StatusOr<SendResult>& result,
                                 const Lines& say, bool quiet, bool all);

  // Membership events; any thread, never block.
  // `name` is alive with chat address `address` ("": it has none).
  void MemberUp(const std::string& name, const std::string& address);
  void MemberDown(const std::string& name, ChatCore::Departure how);

  // An envelope on a stream another peer opened (the receiving end of the
  // transport: ChatGrpcService's handler, the simulator). Any thread;
  // never blocks. Beyond kMaxIncomingQueued envelopes waiting for the loop,
  // the stream that sends one more is ended (counted, logged).
  void OnIncoming(const std::shared_ptr<ChatReply>& reply,
                  ::peer::v1::ChatEnvelope envelope);

  // Whether the chat runs, and its members (synced with the membership
  // first).
  std::pair<bool, std::vector<ChatCore::MemberInfo>> Members();
  // Counters (ChatCore::Stats, the view); that view starts anew after
  // reading when `reset`.
  ChatStats Stats(bool reset);
  // ChatCore::TotalStats: since start, never reset (the metrics export).
  ChatStats TotalStats();
  // A round trip over the chat stream to `member` (ChatCore::Ping).
  absl::StatusOr<absl::Duration> Ping(const std::string& member,
                                      absl::Duration timeout);
  // A ping on a new stream to `address` (opened with a hello for `member`).
  absl::StatusOr<absl::Duration> ProbeNewStream(const std::string& member,
                                                const std::string& address,
                                                absl::Duration timeout);
  // chatflood: COUNT messages of `bytes`, at most `window` unacked.
  struct FloodResult {
    absl::Duration elapsed;
    uint64_t delivered = 0, undelivered = 0;
  };
  absl::StatusOr<FloodResult> Flood(int64_t count, int64_t bytes,
                                    int64_t window);

  // Messages are one line and at most this long.
  static constexpr size_t kMaxText = 16 * 1024;
  static constexpr int kMaxIncomingQueued = 4096;

 private:
  // Runs `f` on the chat loop and waits.
  template <typename F>
  auto OnLoop(F f) -> decltype(f()) {
    return loop_->Call(std::move(f));
  }
  // The loop's clock (virtual time on a SimHostLoop): what chatmemberping
  // and chatflood time and date with.
  absl::Time Now();
  // Hands chat.delivery_timeout and chat.ack_timeout to the core.
  void ApplySettings();
  void Sync();
  absl::Status StartChat(bool joining);

  const Env env_;
  std::function<ChatSettings()> settings_source_;  // set before use

  std::atomic<int> incoming_queued_{0};
  std::atomic<uint64_t> incoming_refused_{0};
  std::atomic<uint64_t> probes_{0};  // chatmemberping hello nonces

  std::unique_ptr<runtime::HostLoop> loop_;
  std::unique_ptr<ChatTransport> transport_;
  std::unique_ptr<ChatTransport> probe_transport_;
  std::unique_ptr<ChatCore> core_;  // loop-owned
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_CHAT_HOST_H_
