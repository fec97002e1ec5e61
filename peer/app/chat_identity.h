// The chat's sender authentication in the peer (issue 13): how this peer
// signs the hellos of the chat streams it opens and checks those of the
// streams others open (peer/chat/chat_auth.h).
//
// This peer signs with its own node key (peer/identity, kept in the state
// directory). A hello from member X is checked against the key the
// membership pinned to X (MembershipHost::PinnedKeyOf: the key of X's
// signed alive, pinned on first sight and replaced only as the membership's
// rules allow), for a generation no older than the one the membership
// knows for X.
#ifndef PEERLAB_PEER_APP_CHAT_IDENTITY_H_
#define PEERLAB_PEER_APP_CHAT_IDENTITY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/chat/chat_auth.h"
#include "peer/identity/node_key.h"

namespace peerlab::peer {

// What the membership knows of one member.
struct MemberKey {
  std::string public_key;   // Ed25519, raw bytes (identity::PublicKey)
  uint64_t generation = 0;  // 0: not known
};

class ChatIdentity : public chat::SenderAuthenticator {
 public:
  struct Env {
    // This node's own key: signs its hellos.
    std::shared_ptr<const identity::NodeKey> key;
    // This node's restart generation (the membership's; per hello).
    std::function<uint64_t()> generation;
    // The key pinned to member `name` and its generation; NotFound when
    // the membership knows no member of that name.
    std::function<absl::StatusOr<MemberKey>(const std::string& name)>
        member_key;
  };
  explicit ChatIdentity(Env env) : env_(std::move(env)) {}

  // SenderAuthenticator. Thread-safe.
  uint64_t Generation() const override { return env_.generation(); }
  absl::StatusOr<std::string> Sign(absl::string_view message) const override {
    if (!env_.key) return absl::FailedPreconditionError("no node key");
    return env_.key->Sign(message);
  }
  absl::Status Verify(const std::string& name, uint64_t generation,
                      absl::string_view message,
                      absl::string_view signature) const override;

 private:
  const Env env_;
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_CHAT_IDENTITY_H_
