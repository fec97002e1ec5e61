// Key-rotation catch-up (serf#579): a member that was down while the group
// ran `keys install NEW`, `keys use NEW`, `keys remove OLD` comes back with
// OLD only, and every member refuses what it seals. Members therefore keep
// the keys they removed from use for a while (RetiredKeys), never to accept
// gossip with them, only to open a catch-up request:
//
//   asker -> member   ReliableRequest.key_catch_up: a KeyCatchUpRequest
//                     (name, generation, node public key, a fresh X25519
//                     public key, a nonce, the label) signed with the
//                     asker's node key and sealed with its primary (old) key;
//   member -> asker   ReliableResponse.key_catch_up: a KeyCatchUpAnswer,
//                     sealed with the key that opened the request, holding
//                     the current keyring sealed to the asker's X25519 key
//                     (SealToEphemeral).
//
// The member answers only when the request opened with a key it holds as
// retired (not one it still uses: then the asker is not behind it), when
// the name's node key is the one it pinned (docs/security.md), and within
// its rate limits. Holding the old group key alone thus yields nothing: not
// by asking (no pinned node key), and not by listening to someone else's
// catch-up (the keyring is sealed to an ephemeral key).
//
// This file: the pure pieces (cryptography through OpenSSL, the bounded
// tables). The protocol itself is Memberlist's (key_catch_up.cc).
#ifndef PEERLAB_PEER_MEMBERSHIP_KEY_CATCH_UP_H_
#define PEERLAB_PEER_MEMBERSHIP_KEY_CATCH_UP_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

inline constexpr size_t kX25519KeySize = 32;
inline constexpr size_t kCatchUpNonceSize = 16;
// Most keys an answer may carry (a keyring holds a handful).
inline constexpr int kMaxCatchUpKeys = 16;
// Largest sealed request or answer accepted (both are a few hundred bytes).
inline constexpr size_t kMaxCatchUpBytes = 4096;

// An X25519 key pair (raw 32-byte keys), used for one catch-up only.
struct EphemeralKey {
  std::string private_key;
  std::string public_key;
};
// A fresh pair from OpenSSL. Internal only when OpenSSL fails.
absl::StatusOr<EphemeralKey> GenerateEphemeralKey();

// `plaintext` sealed to the holder of the X25519 public key `to`: a fresh
// key pair of the sender's, X25519 with `to`, HKDF-SHA256 (info: `context`
// and both public keys) to an AES-256-GCM key, Seal (keyring.h) with
// `context` as additional data. Returns the sender's public key and the
// sealed bytes. InvalidArgument for a `to` of the wrong size or a low-order
// point (no shared secret).
struct SealedToEphemeral {
  std::string ephemeral_key;
  std::string sealed;
};
absl::StatusOr<SealedToEphemeral> SealToEphemeral(absl::string_view to,
                                                  absl::string_view plaintext,
                                                  absl::string_view context);
// Opens what SealToEphemeral made for `own`'s public key, `from` being the
// sender's ephemeral public key. PermissionDenied when it does not open
// (another key, another context, tampered); never crashes on any input.
absl::StatusOr<std::string> OpenFromEphemeral(const EphemeralKey& own,
                                              absl::string_view from,
                                              absl::string_view sealed,
                                              absl::string_view context);

// The bytes a KeyCatchUpRequest's signature covers: a domain string, then
// each field (label, name, generation, node key, ephemeral key, nonce)
// length-prefixed.
std::string CatchUpClaim(const ::peer::v1::KeyCatchUpRequest& request);
// The context SealToEphemeral binds the answer's keyring to: the group
// label, the asker's name and the request's nonce.
std::string CatchUpContext(absl::string_view label, absl::string_view name,
                           absl::string_view nonce);
// `n` bytes from OpenSSL's random generator.
std::string RandomBytes(size_t n);
// Whether `status` says that no key opened what this node sealed (its own
// "cannot decrypt", or a member's refusal quoting it): PermissionDenied
// with "cannot decrypt" in the message.
bool IsKeyRefusal(const absl::Status& status);
// A short fingerprint of a group key for log lines (the first 8 bytes of
// its SHA-256 in hex): which key, never the key.
std::string KeyFingerprint(absl::string_view key);

// Keys removed from use (KeyOp::kRemove), each with when: kept at most
// `keep` and at most `max` of them (the oldest dropped first), only to open
// catch-up requests. A value type; not thread-safe.
class RetiredKeys {
 public:
  RetiredKeys(absl::Duration keep, size_t max) : keep_(keep), max_(max) {}
  // Retires `key` at `now` (again: its time is renewed). Drops expired
  // keys and, past `max`, the oldest (counted in evicted()). With `keep`
  // zero or `max` zero nothing is kept.
  void Add(const std::string& key, absl::Time now);
  // The key is in use again (installed): no longer retired.
  void Erase(const std::string& key);
  // The keys retired less than `keep` before `now`, newest first.
  std::vector<std::string> Keys(absl::Time now) const;
  bool Contains(const std::string& key, absl::Time now) const;
  size_t size() const { return keys_.size(); }
  uint64_t evicted() const { return evicted_; }

 private:
  struct Entry {
    std::string key;
    absl::Time retired;
  };
  void Prune(absl::Time now);
  absl::Duration keep_;
  size_t max_;
  std::deque<Entry> keys_;  // oldest first
  uint64_t evicted_ = 0;
};

// A token bucket: `rate` tokens a second, at most `burst` held; starts
// full. Not thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst) {}
  // Takes one token at `now` when there is one.
  bool Take(absl::Time now);

 private:
  double rate_;
  double burst_;
  double tokens_ = -1;  // -1: not used yet (full)
  absl::Time last_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_KEY_CATCH_UP_H_
