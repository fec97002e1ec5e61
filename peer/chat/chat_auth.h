// Who opened a chat stream: the hello that proves it, and the receiver's
// checks.
//
// The opener of every stream (peer.v1.Chat/Connect) first writes a
// ChatHello: its name and restart generation, the receiver's name, a fresh
// nonce, the time, the group label, and an Ed25519 signature over all of
// them (HelloSigningBytes) with its own node key. The receiver accepts the
// stream only as that member, and only if
//   - the hello names this receiver, this group label, a version it speaks;
//   - its time is within `max_skew` of the receiver's clock;
//   - with mutual TLS, the client certificate's name is the sender's;
//   - the signature checks out against the key the membership pinned for
//     the sender's name (SenderAuthenticator::Verify), for a generation not
//     older than the membership knows;
//   - its nonce is new: (sender, nonce) pairs are remembered for the clock
//     window, at most `max_nonces` (beyond that the oldest are forgotten and
//     every hello not newer than them is refused as stale, so a replay is
//     never accepted; counted).
// Anything else is refused, counted per kind, and logged at most once per
// kind every `log_interval`.
//
// The signature authenticates the opener of the stream, not each write:
// without TLS, someone on the path between two peers could still inject
// into an open stream (see docs/security.md). An outsider who can only
// connect (the loopback attacker of issue 13) cannot speak as a member.
#ifndef PEERLAB_PEER_CHAT_CHAT_AUTH_H_
#define PEERLAB_PEER_CHAT_CHAT_AUTH_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/peer/v1/chat.pb.h"

namespace peerlab::chat {

// The hello's version this code speaks.
inline constexpr uint32_t kChatHelloVersion = 1;
// What a signature covers first, so that it can never be taken for a
// signature of anything else the node key signs.
inline constexpr char kChatHelloDomain[] = "peerlab/chat/hello/v1";

// Signs for this node and checks other members' signatures. Implemented by
// the app over the node's identity (peer/identity: the node key, and the
// keys the membership pinned); tests use fakes. Thread-safe.
class SenderAuthenticator {
 public:
  virtual ~SenderAuthenticator() = default;
  // This node's restart generation.
  virtual uint64_t Generation() const = 0;
  // `message` signed with this node's key. An error when there is no key.
  virtual absl::StatusOr<std::string> Sign(absl::string_view message) const = 0;
  // OK when `signature` over `message` was made with the key pinned for
  // member `name`. NotFound: `name` is not a member known with a key;
  // FailedPrecondition: `generation` is older than the member's known one;
  // any other error: the signature does not check out.
  virtual absl::Status Verify(const std::string& name, uint64_t generation,
                              absl::string_view message,
                              absl::string_view signature) const = 0;
};

// The bytes a hello's signature covers: kChatHelloDomain, then every field
// but the signature, each length-prefixed (numbers as 8 bytes,
// little-endian), so no two hellos share them.
std::string HelloSigningBytes(const ::peer::v1::ChatHello& hello);

// A signed hello from `sender` (generation and signature from `auth`) to
// `receiver`.
absl::StatusOr<::peer::v1::ChatHello> MakeHello(const SenderAuthenticator& auth,
                                                const std::string& sender,
                                                const std::string& receiver,
                                                const std::string& group,
                                                const std::string& nonce,
                                                absl::Time now);

// Why a stream was refused.
enum class Refusal {
  kNoHello,        // the first write carried no hello
  kVersion,        // a hello version this peer does not speak
  kMalformed,      // oversized or empty fields, a second hello
  kWrongReceiver,  // made for another member
  kWrongGroup,     // another group label
  kStale,          // time outside the window (or older than forgotten)
  kCertificate,    // mutual TLS: the certificate names someone else
  kUnknownSender,  // no member of that name with a pinned key
  kOldGeneration,  // an older generation than the membership knows
  kBadSignature,   // not signed with the sender's pinned key
  kReplayed,       // a nonce seen before
  kSenderField,    // a message whose sender field is another name
  kCount,
};
// "no hello", "bad signature", … (the words chatstats prints).
const char* RefusalName(Refusal r);

// The receiver's checks. Not thread-safe: one owner (ChatCore, on its
// scheduler).
class HelloVerifier {
 public:
  struct Options {
    std::string self;  // this receiver's membership name
    // This group's label (unset or "": none); asked per hello.
    std::function<std::string()> group;
    // Hello times further than this from now are refused; nonces are
    // remembered this long.
    absl::Duration max_skew = absl::Minutes(2);
    size_t max_nonces = 4096;
    absl::Duration log_interval = absl::Seconds(10);
  };

  HelloVerifier(Options options, const SenderAuthenticator* auth);

  // Checks `hello` arriving at `now` on a stream whose client certificate
  // (mutual TLS) names `certificate_name` ("" without one). The
  // authenticated sender, or the refusal (counted, logged) and a one-line
  // reason.
  struct Refused {
    Refusal kind;
    std::string reason;
  };
  // REQUIRES: `auth` (constructor) is not null to accept anything.
  absl::StatusOr<std::string> Check(const ::peer::v1::ChatHello& hello,
                                    absl::Time now,
                                    const std::string& certificate_name,
                                    Refusal* kind = nullptr);
  // Counts and logs (rate-limited) a refusal decided elsewhere; returns an
  // UNAUTHENTICATED status carrying `reason`.
  absl::Status Refuse(Refusal kind, const std::string& reason, absl::Time now);

  using Counts = std::array<uint64_t, static_cast<size_t>(Refusal::kCount)>;
  const Counts& refused() const { return refused_; }
  uint64_t accepted() const { return accepted_; }
  // Nonces forgotten to stay within max_nonces.
  uint64_t nonces_evicted() const { return nonces_evicted_; }
  size_t nonces() const { return nonces_.size(); }
  void ResetStats();

 private:
  void Forget(absl::Time now);

  const Options options_;
  const SenderAuthenticator* const auth_;
  // (sender, nonce) -> hello time, and the insertion order.
  std::map<std::pair<std::string, std::string>, absl::Time> nonces_;
  std::deque<std::pair<std::pair<std::string, std::string>, absl::Time>> order_;
  // Per sender: its hellos not newer than this are refused (their nonces may
  // be forgotten). Per sender, so one member's hellos dated ahead (a clock
  // ahead, or a member flooding) raise only its own floor. Floors below the
  // clock window are dropped (the window refuses those hellos); at most
  // max_nonces are kept, beyond that the lowest goes into floor_all_.
  std::map<std::string, absl::Time> floors_;
  // Hellos of anybody not newer than this are refused (only raised when
  // floors_ overflows: more than max_nonces senders evicted in one window).
  absl::Time floor_all_ = absl::InfinitePast();
  Counts refused_{};
  std::array<absl::Time, static_cast<size_t>(Refusal::kCount)> logged_{};
  std::array<uint64_t, static_cast<size_t>(Refusal::kCount)> unlogged_{};
  uint64_t accepted_ = 0;
  uint64_t nonces_evicted_ = 0;
};

}  // namespace peerlab::chat

#endif  // PEERLAB_PEER_CHAT_CHAT_AUTH_H_
