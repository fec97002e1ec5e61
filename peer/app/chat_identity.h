// The chat's sender authentication in the peer (issue 13): how this peer
// signs the hellos of the chat streams it opens and checks those of the
// streams others open (peer/chat/chat_auth.h).
//
// A member's key is the Ed25519 public key it announces in its membership
// metadata (field "ck": hex key, ':', the generation it belongs to). The
// first key seen for a name is pinned; only an announcement of a newer
// generation of the name (a restart) replaces it, so a later forged
// announcement of the same or an older generation cannot take the name
// over. The key is the node's own (peer/identity: kept in the state
// directory). Until the membership pins keys itself (signed alives), the
// chat pins the announced ones here.
#ifndef PEERLAB_PEER_APP_CHAT_IDENTITY_H_
#define PEERLAB_PEER_APP_CHAT_IDENTITY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "peer/chat/chat_auth.h"
#include "peer/identity/node_key.h"

namespace peerlab::peer {

inline constexpr char kMetaChatKey[] = "ck";

// The metadata value announcing `public_key` for `generation`, and back.
std::string EncodeChatKey(absl::string_view public_key, uint64_t generation);
struct AnnouncedKey {
  std::string public_key;  // 32 raw bytes
  uint64_t generation = 0;
};
absl::StatusOr<AnnouncedKey> DecodeChatKey(absl::string_view value);

class ChatIdentity : public chat::SenderAuthenticator {
 public:
  struct Env {
    // This node's own key (peer/identity): signs its hellos.
    std::shared_ptr<const identity::NodeKey> key;
    // This node's restart generation (the membership's; called per hello).
    std::function<uint64_t()> generation;
    // What the membership says member `name` announces now (its "ck"
    // field); NotFound when it is no member or announces no key.
    std::function<absl::StatusOr<AnnouncedKey>(const std::string& name)>
        announced;
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
  mutable std::mutex mu_;
  mutable std::map<std::string, AnnouncedKey> pinned_;  // guarded by mu_
};

}  // namespace peerlab::peer

#endif  // PEERLAB_PEER_APP_CHAT_IDENTITY_H_
