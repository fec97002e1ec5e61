// Gossip encryption as HashiCorp memberlist does it (security.go,
// keyring.go): AES-256-GCM, one primary key that seals everything sent and
// several accepted keys that may open what arrives, so that keys can be
// rotated on a running cluster.
//
// A sealed message is
//
//   [version: 1 byte = 1][nonce: 12 random bytes][ciphertext][tag: 16 bytes]
//
// memberlist's shape (its version 1, without padding). The additional
// authenticated data is the version byte followed by a purpose label chosen by
// the caller (the protocol uses different labels for datagrams, reliable
// requests and reliable responses, so a sealed message cannot be replayed as
// another kind).
//
// Keys are 32 raw bytes; in key files and commands they are written in
// standard base64 (44 characters), as `serf keygen` prints them. A key file
// holds one key per line, the first being the primary; blank lines and lines
// starting with '#' are ignored.
//
// OpenSSL's EVP interface does the cryptography; nonces come from RAND_bytes.
#ifndef PEERLAB_PEER_MEMBERSHIP_KEYRING_H_
#define PEERLAB_PEER_MEMBERSHIP_KEYRING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace peerlab::membership {

inline constexpr int kKeySize = 32;    // AES-256
inline constexpr int kNonceSize = 12;  // GCM standard nonce
inline constexpr int kTagSize = 16;    // GCM tag
inline constexpr uint8_t kEncryptionVersion = 1;
// Bytes a sealed message has beyond its plaintext.
inline constexpr int kEncryptionOverhead = 1 + kNonceSize + kTagSize;

// --- Pure functions ---

// The additional authenticated data of a seal: `purpose` (what the sealed
// bytes are, so they cannot be replayed as something else), a zero byte,
// then the group label (so nothing sealed for another group opens).
std::string SealAad(absl::string_view purpose, absl::string_view label);

// Seals `plaintext` with `key` (kKeySize bytes) and `nonce` (kNonceSize
// bytes), authenticating `label` too. Deterministic for given inputs (tests
// use fixed nonces; everything else uses RandomNonce()). REQUIRES: key and
// nonce of the right sizes.
std::string Seal(absl::string_view key, absl::string_view nonce,
                 absl::string_view plaintext, absl::string_view label);

// Opens what Seal produced with the same key and label. Never crashes on
// any input. InvalidArgument for input shorter than kEncryptionOverhead or
// of an unknown version; PermissionDenied when authentication fails (wrong
// key, wrong label, or tampered bytes).
absl::StatusOr<std::string> Open(absl::string_view key,
                                 absl::string_view sealed,
                                 absl::string_view label);

// kNonceSize bytes from the system's cryptographic random generator.
std::string RandomNonce();
// A new random key (kKeySize raw bytes).
std::string GenerateKey();

// "base64" -> 32 raw bytes. InvalidArgument naming the problem (not base64,
// wrong length) without echoing the input.
absl::StatusOr<std::string> ParseKey(absl::string_view base64);
// 32 raw bytes -> base64 (44 characters).
std::string FormatKey(absl::string_view key);

// Largest key file read (a few hundred keys; keyring files hold a handful).
inline constexpr size_t kMaxKeyFileBytes = 64 * 1024;

// --- The per-user group key (secure with no set-up) ---

// `<UserStateDir()>/gossip.keys` (base/state_dir.h): the key file
// every peer of one user on one machine uses when none is configured.
// Errors as UserStateDir's.
absl::StatusOr<std::string> UserKeyFilePath();

// --- The keyring ---

// A primary key and the other accepted keys (memberlist Keyring). A value
// type; not thread-safe (the node uses it on its scheduler only).
class Keyring {
 public:
  // From raw keys, the first the primary. InvalidArgument for no key or a
  // key that is not kKeySize bytes; duplicates are dropped.
  static absl::StatusOr<Keyring> Create(std::vector<std::string> keys);
  // From the text of a key file (see the file comment). Errors name the
  // line: "key file line 3: not valid base64".
  static absl::StatusOr<Keyring> Parse(absl::string_view text);
  // Reads and parses `path`. NotFound/PermissionDenied naming the path when
  // it cannot be read; InvalidArgument ("PATH: ...") when it is not a key
  // file.
  static absl::StatusOr<Keyring> Load(const std::string& path);
  // Reads the key file at `path`, created first (mode 0600, race-free:
  // ReadOrCreateSecretFile) with one new random key and a comment when
  // missing. Refused when others may read it, when it is not a regular file
  // of this user, or beyond kMaxKeyFileBytes; InvalidArgument ("PATH: ...")
  // when it is not a key file. For UserKeyFilePath().
  static absl::StatusOr<Keyring> LoadOrCreate(const std::string& path);

  // The key file text for this keyring: primary first, one per line.
  std::string Format() const;
  // Writes Format() to `path` atomically (a temporary file of this writer's
  // own, created O_EXCL, renamed over it), readable by the owner only (mode
  // 0600). Several processes may save one path at once (the peers of one
  // user sharing the per-user key file): the file is always one of their
  // whole keyrings.
  absl::Status Save(const std::string& path) const;

  // Adds an accepted key (not primary). OK if already present.
  // InvalidArgument for a key of the wrong size.
  absl::Status Install(const std::string& key);
  // Makes an installed key the primary. NotFound if not installed.
  absl::Status Use(const std::string& key);
  // Removes an accepted key. FailedPrecondition for the primary (switch the
  // primary first), NotFound if not installed.
  absl::Status Remove(const std::string& key);

  const std::string& primary() const { return keys_.front(); }
  // Every key, the primary first.
  const std::vector<std::string>& keys() const { return keys_; }
  bool Contains(const std::string& key) const;

  // Seals with the primary key and a fresh random nonce.
  std::string Encrypt(absl::string_view plaintext,
                      absl::string_view label) const;
  // Opens with whichever key fits, the primary tried first. InvalidArgument
  // for malformed input (too short, unknown version); PermissionDenied
  // "cannot decrypt: wrong key?" when no key opens it. Never crashes.
  absl::StatusOr<std::string> Decrypt(absl::string_view sealed,
                                      absl::string_view label) const;

 private:
  explicit Keyring(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  std::vector<std::string> keys_;  // never empty; keys_[0] is the primary
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_KEYRING_H_
