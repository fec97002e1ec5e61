// Test-only SenderAuthenticator: a "key" is a secret string per member, a
// signature is a keyed hash of the message (not cryptography, just enough
// to tell whose key signed). FakeKeys plays the membership's pinned keys.
#ifndef PEERLAB_PEER_CHAT_FAKE_AUTHENTICATOR_H_
#define PEERLAB_PEER_CHAT_FAKE_AUTHENTICATOR_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "peer/chat/chat_auth.h"

namespace peerlab::chat::testing {

// The pinned keys and generations, by member name. Thread-safe.
class FakeKeys {
 public:
  void Pin(const std::string& name, const std::string& key,
           uint64_t generation = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    members_[name] = {key, generation};
  }
  void Unpin(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    members_.erase(name);
  }
  struct Entry {
    std::string key;
    uint64_t generation = 0;
  };
  bool Find(const std::string& name, Entry* out) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = members_.find(name);
    if (it == members_.end()) return false;
    *out = it->second;
    return true;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Entry> members_;
};

inline std::string FakeSign(const std::string& key, absl::string_view m) {
  return absl::StrCat(
      "sig:", std::hash<std::string>()(absl::StrCat(key, "|", std::string(m))));
}

class FakeAuthenticator : public SenderAuthenticator {
 public:
  // Signs with `key`; checks against `keys`.
  FakeAuthenticator(std::shared_ptr<FakeKeys> keys, std::string key,
                    uint64_t generation = 1)
      : keys_(std::move(keys)), key_(std::move(key)), generation_(generation) {}

  uint64_t Generation() const override { return generation_; }
  absl::StatusOr<std::string> Sign(absl::string_view message) const override {
    if (key_.empty()) return absl::FailedPreconditionError("no node key");
    return FakeSign(key_, message);
  }
  absl::Status Verify(const std::string& name, uint64_t generation,
                      absl::string_view message,
                      absl::string_view signature) const override {
    FakeKeys::Entry e;
    if (!keys_->Find(name, &e)) {
      return absl::NotFoundError(absl::StrCat(name, " has no pinned key"));
    }
    if (generation < e.generation) {
      return absl::FailedPreconditionError("older generation");
    }
    if (signature != FakeSign(e.key, message)) {
      return absl::PermissionDeniedError("signature does not match");
    }
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<FakeKeys> keys_;
  std::string key_;
  uint64_t generation_;
};

}  // namespace peerlab::chat::testing

#endif  // PEERLAB_PEER_CHAT_FAKE_AUTHENTICATOR_H_
