// The peer's chat sender authentication: hellos signed with the node key
// and checked against the key the membership pinned to the name.
#include "peer/app/chat_identity.h"

#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace peerlab::peer {
namespace {

std::shared_ptr<const identity::NodeKey> Key() {
  auto key = identity::NodeKey::Generate();
  EXPECT_TRUE(key.ok()) << key.status();
  return std::make_shared<const identity::NodeKey>(*std::move(key));
}

class ChatIdentityTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChatIdentity> Make(
      std::shared_ptr<const identity::NodeKey> key, uint64_t generation) {
    return std::make_unique<ChatIdentity>(ChatIdentity::Env{
        .key = key,
        .generation = [generation] { return generation; },
        .member_key =
            [this](const std::string& name) -> absl::StatusOr<MemberKey> {
          auto it = pinned_.find(name);
          if (it == pinned_.end()) return absl::NotFoundError("no member");
          return it->second;
        }});
  }
  std::map<std::string, MemberKey> pinned_;  // the membership's view
};

TEST_F(ChatIdentityTest, OnlyThePinnedKeysSignaturesVerify) {
  auto bob = Key();
  auto alice = Key();
  pinned_["bob"] = {bob->public_key().bytes(), 7};
  auto at_alice = Make(alice, 1);
  EXPECT_EQ(at_alice->Generation(), 1u);
  auto sig = bob->Sign("hello");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(at_alice->Verify("bob", 7, "hello", *sig).ok());
  EXPECT_TRUE(at_alice->Verify("bob", 8, "hello", *sig).ok());
  EXPECT_EQ(at_alice->Verify("bob", 7, "hellO", *sig).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(at_alice->Verify("bob", 6, "hello", *sig).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(at_alice->Verify("carol", 7, "hello", *sig).code(),
            absl::StatusCode::kNotFound);
  // alice's own key claiming to be bob.
  EXPECT_EQ(
      at_alice->Verify("bob", 7, "hello", *at_alice->Sign("hello")).code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(at_alice->Verify("bob", 7, "hello", "short").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ChatIdentityTest, WithoutANodeKeyNothingIsSigned) {
  auto at_alice = Make(nullptr, 1);
  EXPECT_EQ(at_alice->Sign("m").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace peerlab::peer
