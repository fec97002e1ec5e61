// A node's own identity: an Ed25519 key pair (OpenSSL EVP, raw 32-byte
// keys) it signs its claims about itself with, and its restart generation,
// both kept in the node's state directory so they survive restarts.
//
// Links OpenSSL and absl only (plus the file helpers of base).
#ifndef PEERLAB_PEER_IDENTITY_NODE_KEY_H_
#define PEERLAB_PEER_IDENTITY_NODE_KEY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace peerlab::identity {

inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSeedSize = 32;  // the raw private key
inline constexpr size_t kSignatureSize = 64;

// An Ed25519 public key: 32 raw bytes. A value type; thread-safe to share.
class PublicKey {
 public:
  // InvalidArgument unless `raw` is exactly kPublicKeySize bytes.
  static absl::StatusOr<PublicKey> FromBytes(absl::string_view raw);

  const std::string& bytes() const { return bytes_; }
  // The first 8 bytes in hex, for log lines ("ed25519:1a2b...").
  std::string Fingerprint() const;

  friend bool operator==(const PublicKey& a, const PublicKey& b) {
    return a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const PublicKey& a, const PublicKey& b) {
    return !(a == b);
  }

 private:
  explicit PublicKey(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string bytes_;
};

// OK when `signature` is a valid Ed25519 signature of `message` by
// `public_key`. InvalidArgument for a signature that is not kSignatureSize
// bytes; Unauthenticated ("bad signature") when it does not verify.
// Thread-safe. Costs one Ed25519 verification (~50-100 µs).
absl::Status Verify(const PublicKey& public_key, absl::string_view message,
                    absl::string_view signature);

// An Ed25519 key pair. Copies share the one OpenSSL key; signing is
// thread-safe (each call uses its own context).
class NodeKey {
 public:
  // A fresh key from OpenSSL's random generator.
  static absl::StatusOr<NodeKey> Generate();
  // The key whose raw private key is `seed` (kSeedSize bytes, else
  // InvalidArgument): the same seed gives the same key (RFC 8032), which
  // is how the simulator makes its nodes' keys from its seeded generator.
  static absl::StatusOr<NodeKey> FromSeed(absl::string_view seed);
  // The key of node `name` kept in `state_dir` (usually UserStateDir()):
  // `<state_dir>/nodes/<name>/node.key`, created (mode 0600, directories
  // 0700) with a fresh key on first use, read afterwards, through
  // ReadOrCreateSecretFile (so a file others can read is refused). Errors
  // name the path: a damaged file is refused, never replaced.
  static absl::StatusOr<NodeKey> LoadOrCreate(const std::string& state_dir,
                                              absl::string_view name);

  const PublicKey& public_key() const { return public_key_; }
  // The kSignatureSize-byte Ed25519 signature of `message`. Internal only
  // fails when OpenSSL does.
  absl::StatusOr<std::string> Sign(absl::string_view message) const;
  // The 32-byte X25519 shared secret of this key and `peer`'s, both taken
  // to their Montgomery form (RFC 7748: the private scalar from the first
  // half of SHA-512 of the seed, as Ed25519 derives it; the public u =
  // (1 + y) / (1 - y) mod 2^255 - 19), as libsodium's
  // crypto_sign_ed25519_*_to_curve25519 do. Symmetric: a.SharedSecret(b's
  // public key) == b.SharedSecret(a's). InvalidArgument for a public key
  // that is no point (y = 1) or of small order (an all-zero secret);
  // Internal when OpenSSL fails. Costs one X25519 (~50 µs); thread-safe.
  absl::StatusOr<std::string> SharedSecret(const PublicKey& peer) const;

 private:
  NodeKey(std::shared_ptr<void> pkey, PublicKey public_key)
      : pkey_(std::move(pkey)), public_key_(std::move(public_key)) {}
  std::shared_ptr<void> pkey_;  // EVP_PKEY
  PublicKey public_key_;
};

// `<state_dir>/nodes/<name>`, created mode 0700 when missing (checked as
// UserStateDir is). InvalidArgument for a name that is not one usable path
// component (empty, ".", "..", a '/' or a NUL byte in it).
absl::StatusOr<std::string> NodeStateDir(const std::string& state_dir,
                                         absl::string_view name);

// The restart generation of node `name` for a process starting at `now`:
// max(stored + 1, now in ms), stored in `<state_dir>/nodes/<name>/generation`
// (decimal, replaced atomically) before it is returned, so every start of
// the name gets a larger one than the last, even when the clock went back.
// A file that is not a decimal number at most 2^62 is refused
// (FailedPrecondition naming the path), as are file errors; callers then
// fall back to the start time (and say so).
absl::StatusOr<uint64_t> NextGeneration(const std::string& state_dir,
                                        absl::string_view name, absl::Time now);

}  // namespace peerlab::identity

#endif  // PEERLAB_PEER_IDENTITY_NODE_KEY_H_
