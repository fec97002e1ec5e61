#include "services/bootstrap/entry_secret.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace peerlab::bootstrap {

absl::StatusOr<std::string> NewEntrySecret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError(
        "cannot make an entry secret: RAND_bytes failed");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

absl::Status ValidateEntrySecret(absl::string_view secret,
                                 absl::string_view field) {
  if (secret.size() < kMinSecretBytes || secret.size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", secret.size(), " characters, must be ",
                     kMinSecretBytes, "..", kMaxSecretBytes));
  }
  for (char c : secret) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": only printable ASCII characters other than space"));
    }
  }
  return absl::OkStatus();
}

std::string EntrySecretHash(absl::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

bool EntrySecretMatches(absl::string_view secret,
                        absl::string_view stored_hash) {
  if (secret.empty() || stored_hash.size() != kSecretHashBytes) return false;
  const std::string hash = EntrySecretHash(secret);
  return CRYPTO_memcmp(hash.data(), stored_hash.data(), kSecretHashBytes) == 0;
}

absl::StatusOr<std::string> SecretToSend(const std::string& given, bool admin) {
  if (!given.empty() || admin) return given;
  return NewEntrySecret();
}

}  // namespace peerlab::bootstrap
