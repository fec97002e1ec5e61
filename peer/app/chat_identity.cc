#include "peer/app/chat_identity.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"

namespace peerlab::peer {
namespace {

constexpr size_t kKeyBytes = identity::kPublicKeySize;
// Names pinned at most; beyond, the table starts afresh (logged): a
// re-pinned name takes the key the membership announces then.
constexpr size_t kMaxPinned = 16384;

}  // namespace

std::string EncodeChatKey(absl::string_view public_key, uint64_t generation) {
  return absl::StrCat(absl::BytesToHexString(public_key), ":", generation);
}

absl::StatusOr<AnnouncedKey> DecodeChatKey(absl::string_view value) {
  size_t colon = value.find(':');
  AnnouncedKey out;
  if (colon != 2 * kKeyBytes ||
      !absl::SimpleAtoi(value.substr(colon + 1), &out.generation)) {
    return absl::InvalidArgumentError("malformed chat key announcement");
  }
  absl::string_view hex = value.substr(0, colon);
  for (char c : hex) {
    if (!absl::ascii_isxdigit(c)) {
      return absl::InvalidArgumentError("malformed chat key announcement");
    }
  }
  out.public_key = absl::HexStringToBytes(hex);
  return out;
}

absl::Status ChatIdentity::Verify(const std::string& name, uint64_t generation,
                                  absl::string_view message,
                                  absl::string_view signature) const {
  absl::StatusOr<AnnouncedKey> announced = env_.announced(name);
  AnnouncedKey key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pinned_.find(name);
    if (it == pinned_.end()) {
      if (!announced.ok()) {
        return absl::NotFoundError(
            absl::StrCat("no member announces a key for this name (",
                         announced.status().message(), ")"));
      }
      if (pinned_.size() >= kMaxPinned) {
        spdlog::warn("chat: {} member keys pinned (the bound); starting afresh",
                     kMaxPinned);
        pinned_.clear();
      }
      it = pinned_.emplace(name, *announced).first;
    } else if (announced.ok() &&
               announced->generation > it->second.generation) {
      // A restart of the name: its new key replaces the old one.
      it->second = *announced;
    } else if (announced.ok() &&
               announced->public_key != it->second.public_key) {
      spdlog::warn(
          "chat: {} announces another key for generation {} than the one "
          "pinned; keeping the pinned one",
          name, announced->generation);
    }
    key = it->second;
  }
  if (generation < key.generation) {
    return absl::FailedPreconditionError(absl::StrCat(
        "generation ", generation, " is older than ", key.generation));
  }
  auto public_key = identity::PublicKey::FromBytes(key.public_key);
  if (!public_key.ok()) return absl::PermissionDeniedError("unusable key");
  absl::Status verified = identity::Verify(*public_key, message, signature);
  if (!verified.ok()) return absl::PermissionDeniedError(verified.message());
  return absl::OkStatus();
}

}  // namespace peerlab::peer
