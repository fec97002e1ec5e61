// ChatCore: the chat's protocol, without threads or sockets of its own.
//
// Sending. Send() gives the message the next sequence number of this
// session and queues it on the link of every chat member. A link owns one
// outgoing stream (ChatTransport::Open), opened when there is something to
// send and then kept; queued messages are written in order, batched, at most
// `window` unacked at a time. The receiver's cumulative ack removes them.
// When the stream breaks (or stalls: no ack within `ack_timeout`), the link
// reopens it after a backoff that doubles up to `max_backoff` and resends
// every unacked message, oldest first. A message that has not been acked by
// a member within `delivery_timeout`, or whose member is removed (declared
// dead, left, stopped chatting), is given up for that member; once every
// member has acked or been given up on (or earlier: see Send), Send's
// `done` gets the SendResult, and a message given up on anywhere is also
// shown in messagesView as
// "<error> undelivered to NAME[, NAME]: TEXT (REASON)". Nothing is dropped
// silently.
//
// Receiving. OnIncoming() takes what arrives on streams other peers opened.
// A message is shown only if its seq is above the last one shown from its
// sender's session (so resent messages appear once, and in the sender's
// order); every batch is answered with one cumulative ack. Lines shown:
//   <NAME> TEXT                 a message
//   <joined> NAME has joined    a joined announcement
//   <left> NAME is leaving      a leaving announcement
//   <left> NAME has left        membership says NAME left, unannounced
//   <failed> NAME               membership declared NAME dead
//
// Senders are authenticated (issue 13, chat_auth.h). Every stream this
// core opens starts with a hello signed through Options::authenticator;
// a stream another peer opened is accepted only once its first write's
// hello checks out (HelloVerifier), and only as the member it proves to be:
// a message whose sender field names anyone else is refused. Refused
// streams are ended with UNAUTHENTICATED, counted per kind (ChatStats) and
// logged, rate-limited.
//
// Members come from outside (the membership): SetMember, RemoveMember,
// SyncMembers. While the peer is still joining its group (init: the chat
// starts before the join), HoldSends keeps new messages back until
// ReleaseSends, so that one sent then goes to every member the join brings,
// ahead of the later ones, and not to the few (or none) known before it.
//
// Thread safety: none. Every method must run as a task of `scheduler`
// (runtime::Scheduler: an EventLoop in the peer, a SimScheduler in tests);
// transport callbacks are posted to it.
#ifndef PEERLAB_PEER_CHAT_CHAT_CORE_H_
#define PEERLAB_PEER_CHAT_CHAT_CORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "peer/chat/chat_auth.h"
#include "peer/chat/chat_transport.h"
#include "peer/runtime/backoff.h"
#include "peer/runtime/scheduler.h"
#include "proto/peer/v1/chat.pb.h"

namespace peerlab::chat {

// What became of one message.
struct SendResult {
  uint64_t seq = 0;
  std::vector<std::string> delivered;  // members that acked it, sorted
  struct Undelivered {
    std::string member;
    std::string reason;  // "bob was declared dead", "no ack within 10s", …
  };
  std::vector<Undelivered> undelivered;
  // Members neither acked nor given up on when the result was reported
  // (early, see Send); still retried in the background. Sorted.
  std::vector<std::string> pending;
};

// Counters since start (TotalStats), or since the last ResetStats
// (Stats: the view `chatstats reset` resets).
struct ChatStats {
  uint64_t sent = 0;         // messages this peer sent (Send calls)
  uint64_t acked = 0;        // (message, member) pairs acked
  uint64_t undelivered = 0;  // (message, member) pairs given up on
  uint64_t received = 0;     // messages from others shown
  uint64_t duplicates = 0;   // messages from others dropped as seen
  uint64_t reconnects = 0;   // outgoing streams reopened after a break
  // Receiving: (sender, session) pairs remembered for dedup (at most
  // Options::max_senders), and how many were forgotten to stay in bound.
  uint64_t senders = 0;
  uint64_t senders_evicted = 0;
  // Delivery latency of the messages shown here: receive time minus the
  // sender's sent_at (meaningful when clocks agree, e.g. one host).
  absl::Duration latency_p50, latency_p99, latency_max;
  uint64_t latency_samples = 0;
  // Incoming streams whose hello checked out, and those refused, by kind
  // (chat_auth.h); hello nonces forgotten to stay within the bound.
  uint64_t streams_authenticated = 0;
  HelloVerifier::Counts streams_refused{};
  uint64_t hello_nonces_evicted = 0;
};

class ChatCore {
 public:
  struct Options {
    std::string name;     // this peer's membership name
    std::string session;  // random per process (NewUuid())
    // How long one member may take to ack a message, over every retry.
    absl::Duration delivery_timeout = absl::Seconds(10);
    // A stream with unacked messages and no ack for this long is broken.
    absl::Duration ack_timeout = absl::Seconds(3);
    // Reopening a broken stream: first wait, doubling up to the max.
    absl::Duration initial_backoff = absl::Milliseconds(50);
    absl::Duration max_backoff = absl::Seconds(2);
    size_t max_batch = 512;  // messages per envelope
    size_t window = 4096;    // messages written and unacked per stream
    size_t latency_samples = 1 << 20;  // kept for percentiles
    // (sender, session) pairs remembered for dedup; the least recently
    // heard is forgotten beyond this (counted, logged). A forgotten
    // sender's resent messages could show twice.
    size_t max_senders = 4096;
    // Signs this node's hellos and checks others'. Must outlive the core;
    // without one every incoming stream is refused and others refuse ours.
    const SenderAuthenticator* authenticator = nullptr;
    // The group label, in hellos and required of others' (unset or "":
    // none). Asked for every hello, so a label changed with the membership
    // applies at once. Thread-safe, never blocks.
    std::function<std::string()> group;
    // Hello times further than this from the receiver's clock are refused.
    absl::Duration hello_max_skew = absl::Minutes(2);
    // Hello nonces remembered against replays (for hello_max_skew).
    size_t max_hello_nonces = 4096;
    // Messages kept back while sends are held (HoldSends); Send refuses
    // more (ResourceExhausted, logged).
    size_t max_held = 4096;
  };
  // Writes one line to messagesView.
  using ShowFn = std::function<void(const std::string& line)>;
  using SendDone = std::function<void(absl::StatusOr<SendResult>)>;

  // `scheduler` and `transport` must outlive the core.
  ChatCore(Options options, runtime::Scheduler* scheduler,
           ChatTransport* transport, ShowFn show);
  // Closes every stream; pending sends are not completed. REQUIRES: as for
  // every method (or the scheduler has stopped).
  ~ChatCore();
  ChatCore(const ChatCore&) = delete;
  ChatCore& operator=(const ChatCore&) = delete;

  // Starts sending and accepting messages. Idempotent.
  void Start();
  // Gives up every pending message (reason `reason`), closes every stream,
  // and refuses incoming ones (UNAVAILABLE) until Start. Members are kept.
  void Stop(const std::string& reason);
  bool running() const { return running_; }

  // Keeps the messages of later Sends (all but the joined announcement,
  // which opens the conversation) back until ReleaseSends, or until
  // delivery_timeout has passed, whichever comes first. Each then gets its
  // sequence number and goes to the members of that moment, in the order
  // of the Sends; its delivery_timeout starts then. Stop gives them up.
  void HoldSends();
  void ReleaseSends();
  bool holding() const { return holding_; }

  // Options that may change while running (config keys).
  void SetDeliveryTimeout(absl::Duration d) { options_.delivery_timeout = d; }
  void SetAckTimeout(absl::Duration d) { options_.ack_timeout = d; }

  // `name` is a chat member reachable at `address`. A changed address
  // closes the old stream; unacked messages go to the new address.
  void SetMember(const std::string& name, const std::string& address);
  enum class Departure {
    kFailed,  // declared dead: "<failed> NAME"
    kLeft,    // left the group: "<left> NAME has left" unless announced
    kGone,    // stopped chatting, or forgotten: nothing shown
  };
  // `name` is no longer a chat member: its pending messages are given up.
  // No-op for a name that is not a member.
  void RemoveMember(const std::string& name, Departure how);
  // Makes the members exactly `members` (name -> address): the others are
  // removed as kGone.
  void SyncMembers(const std::map<std::string, std::string>& members);

  // Sends to every chat member. `done` runs once, as a task:
  // FailedPrecondition when not running, else the result
  //  - once every member has acked or been given up on, or
  //  - earlier, unless `all`: as soon as at least one member acked and each
  //    member still waiting either has not answered within ack_timeout of
  //    the send or has a broken stream (backing off). Those are listed in
  //    `pending` and retried in the background until they ack or are given
  //    up on; a give-up is then shown in messagesView ("<error> undelivered
  //    to ..."), as always.
  // So a member that crashed a moment ago delays nobody, and a message
  // that no member got is reported only when every member is resolved.
  // `timeout` replaces delivery_timeout for this message.
  void Send(::peer::v1::ChatKind kind, std::string text, SendDone done,
            absl::Duration timeout = absl::InfiniteDuration(),
            bool all = false);

  // A round trip over the stream to `member` (opened if needed). `done`
  // gets the time it took, NotFound for a non-member, DeadlineExceeded.
  void Ping(const std::string& member, absl::Duration timeout,
            std::function<void(absl::StatusOr<absl::Duration>)> done);

  // An envelope on a stream another peer opened; `reply` answers on it.
  // The first one on a stream must carry a hello that checks out, or the
  // stream is ended (UNAUTHENTICATED) and counted.
  void OnIncoming(const std::shared_ptr<ChatReply>& reply,
                  ::peer::v1::ChatEnvelope envelope);

  struct MemberInfo {
    std::string name;
    std::string address;
    bool stream_open = false;
    size_t pending = 0;  // messages not yet acked
    uint64_t reconnects = 0;
  };
  // Sorted by name.
  std::vector<MemberInfo> Members() const;
  // The view since the last ResetStats: each counter less its value at
  // the reset; latencies of the messages shown since; `senders` as now.
  ChatStats Stats() const;
  // Since start, never reset (what Prometheus exports: counters must not
  // go down); latencies as in Stats().
  ChatStats TotalStats() const;
  // Starts a new view (Stats); TotalStats goes on counting.
  void ResetStats();

 private:
  struct Delivery;
  struct Pending {
    std::shared_ptr<Delivery> delivery;
    absl::Time deadline;
  };
  struct Link {
    std::string name;
    std::string address;
    std::deque<Pending> queue;  // unacked, in seq order
    size_t written = 0;         // queue[0, written) went out on `stream`
    std::unique_ptr<ChatStream> stream;
    uint64_t generation = 0;  // of `stream`; stale callbacks are ignored
    int reopen_attempts = 0;  // since it last worked (runtime::Backoff)
    runtime::Scheduler::TimerId reopen_timer = 0;
    runtime::Scheduler::TimerId expiry_timer = 0;
    runtime::Scheduler::TimerId stall_timer = 0;
    uint64_t acks = 0;  // progress counter, for the stall check
    uint64_t reconnects = 0;
    bool broken = false;  // the last stream broke: reopen after backoff
  };
  struct PendingPing {
    std::string member;
    absl::Time sent;
    runtime::Scheduler::TimerId timer = 0;
    std::function<void(absl::StatusOr<absl::Duration>)> done;
  };
  using SenderKey = std::pair<std::string, std::string>;  // sender, session
  struct SenderState {
    uint64_t last_seq = 0;
    std::list<SenderKey>::iterator lru;  // its place in senders_lru_
  };
  // The state of (sender, session), made (and the least recently heard
  // forgotten, beyond max_senders) if needed.
  SenderState& Sender(const std::string& sender, const std::string& session);
  // Reports `d` before every member is resolved, when it may (see Send).
  void MaybeReportEarly(const std::shared_ptr<Delivery>& d);
  // True when the link to `member` is backing off after a broken stream.
  bool Unanswering(const std::string& member) const;
  void ArmEarly();

  // Gives `d` its sequence number and queues it on every link (Finish when
  // there is none); `timeout` as for Send.
  void Queue(const std::shared_ptr<Delivery>& d, absl::Duration timeout);
  // Writes what the window allows; opens the stream if needed.
  void Pump(Link& link);
  void OpenStream(Link& link);
  void CloseStream(Link& link, bool broken, const std::string& why);
  void OnStreamEnvelope(const std::string& name, uint64_t generation,
                        ::peer::v1::ChatEnvelope envelope);
  void OnStreamClosed(const std::string& name, uint64_t generation,
                      const absl::Status& status);
  void OnAck(Link& link, uint64_t seq);
  void ArmExpiry(Link& link);
  void Expire(const std::string& name);
  void ArmStall(Link& link);
  void Stall(const std::string& name, uint64_t acks_then);
  // Gives up queue entries of `link` (all of them) with `reason`.
  void GiveUpAll(Link& link, const std::string& reason);
  void Resolve(const std::shared_ptr<Delivery>& d, const std::string& member,
               const std::string* reason);
  void Finish(const std::shared_ptr<Delivery>& d);
  void ResetLinkTimers(Link& link);
  void Deliver(const std::string& sender, const ::peer::v1::ChatMessage& m);
  // The hello for a new stream to `receiver` (unsigned, logged, when this
  // node cannot sign: the receiver refuses it).
  ::peer::v1::ChatHello Hello(const std::string& receiver);
  // Checks the hello of a new incoming stream; false (the stream ended)
  // when refused.
  bool Authenticate(const std::shared_ptr<ChatReply>& reply,
                    const ::peer::v1::ChatEnvelope& envelope);
  // Runs `f` after `d`, unless the core is gone by then.
  runtime::Scheduler::TimerId AfterGuarded(absl::Duration d,
                                           std::function<void()> f);

  Options options_;
  runtime::Scheduler* const scheduler_;
  ChatTransport* const transport_;
  const ShowFn show_;
  bool running_ = false;
  bool destroying_ = false;  // ~ChatCore: `done` callbacks run inline
  uint64_t next_seq_ = 0;
  uint64_t next_generation_ = 0;
  uint64_t next_nonce_ = 0;
  uint64_t next_hello_ = 0;  // hello nonces: session, then this counter
  bool sign_failure_logged_ = false;
  HelloVerifier verifier_;
  std::map<std::string, std::unique_ptr<Link>> links_;  // chat members
  std::map<uint64_t, PendingPing> pings_;
  // Receiving: (sender, session) -> last seq shown; at most max_senders,
  // senders_lru_ lists them least recently heard first.
  std::map<SenderKey, SenderState> senders_;
  std::list<SenderKey> senders_lru_;
  // Sends that may be reported early, by the time one ack is enough.
  std::deque<std::pair<std::weak_ptr<Delivery>, absl::Time>> early_;
  runtime::Scheduler::TimerId early_timer_ = 0;
  std::map<std::string, std::string> announced_leaving_;  // name -> session
  // HoldSends: the held messages (no seq yet) and their timeouts, in Send
  // order; at most max_held.
  bool holding_ = false;
  std::deque<std::pair<std::shared_ptr<Delivery>, absl::Duration>> held_;
  runtime::Scheduler::TimerId hold_timer_ = 0;
  ChatStats stats_;     // since start (the verifier's counts apart)
  ChatStats baseline_;  // TotalStats() at the last ResetStats
  std::vector<int64_t> latencies_us_;
  size_t latency_next_ = 0;  // ring position once full
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_CHAT_CORE_H_
