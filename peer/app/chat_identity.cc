#include "peer/app/chat_identity.h"

#include "absl/strings/str_cat.h"

namespace peerlab::peer {

absl::Status ChatIdentity::Verify(const std::string& name, uint64_t generation,
                                  absl::string_view message,
                                  absl::string_view signature) const {
  absl::StatusOr<MemberKey> member = env_.member_key(name);
  if (!member.ok()) {
    return absl::NotFoundError(absl::StrCat("no pinned key for this name (",
                                            member.status().message(), ")"));
  }
  if (generation < member->generation) {
    return absl::FailedPreconditionError(
        absl::StrCat("generation ", generation, " is older than ",
                     member->generation, ", the member's"));
  }
  auto key = identity::PublicKey::FromBytes(member->public_key);
  if (!key.ok()) return absl::PermissionDeniedError("unusable pinned key");
  absl::Status verified = identity::Verify(*key, message, signature);
  if (!verified.ok()) return absl::PermissionDeniedError(verified.message());
  return absl::OkStatus();
}

}  // namespace peerlab::peer
