// Entry secrets: who owns a bootstrap entry (bootstrap.proto, "Entry
// ownership"). The secret is text (32..128 printable ASCII characters, no
// spaces); the store keeps only its SHA-256, compared in constant time.
//
// Thread safety: every function may be called from any thread.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_ENTRY_SECRET_H_
#define PEERLAB_SERVICES_BOOTSTRAP_ENTRY_SECRET_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace peerlab::bootstrap {

inline constexpr size_t kMinSecretBytes = 32;
inline constexpr size_t kMaxSecretBytes = 128;
// SHA-256.
inline constexpr size_t kSecretHashBytes = 32;

// A new secret: 256 random bits (OpenSSL's RAND_bytes) as 64 hex digits.
// Internal error only when the random source fails.
absl::StatusOr<std::string> NewEntrySecret();

// The secret a client sends with a Join or a Refill: `given` when it is set
// or the caller is an administrator (`admin`: an admin entry may have none);
// else a new one (NewEntrySecret), which the caller keeps to renew and leave.
absl::StatusOr<std::string> SecretToSend(const std::string& given, bool admin);

// InvalidArgument naming `field` unless `secret` has 32..128 characters, each
// printable ASCII other than space. Never quotes the secret.
absl::Status ValidateEntrySecret(absl::string_view secret,
                                 absl::string_view field);

// SHA-256 of `secret`: 32 raw bytes.
std::string EntrySecretHash(absl::string_view secret);

// True when `secret` is non-empty and its SHA-256 equals `stored_hash`
// (compared in constant time). False for an empty stored hash.
bool EntrySecretMatches(absl::string_view secret,
                        absl::string_view stored_hash);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_ENTRY_SECRET_H_
