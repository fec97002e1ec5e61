// The peer's chat sender authentication: Ed25519 signatures, the keys
// announced in metadata and pinned per name.
#include "peer/app/chat_identity.h"

#include <map>
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
  ChatIdentity Make(std::shared_ptr<const identity::NodeKey> key,
                    uint64_t generation) {
    return ChatIdentity(ChatIdentity::Env{
        .key = key,
        .generation = [generation] { return generation; },
        .announced =
            [this](const std::string& name) -> absl::StatusOr<AnnouncedKey> {
          auto it = meta_.find(name);
          if (it == meta_.end()) return absl::NotFoundError("no such member");
          return DecodeChatKey(it->second);
        }});
  }
  std::map<std::string, std::string> meta_;  // name -> "ck" field
};

TEST_F(ChatIdentityTest, SignaturesOfTheAnnouncedKeyVerify) {
  auto bob = Key();
  auto alice = Key();
  meta_["bob"] = EncodeChatKey(bob->public_key().bytes(), 7);
  ChatIdentity at_alice = Make(alice, 1);
  auto sig = bob->Sign("hello");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(at_alice.Verify("bob", 7, "hello", *sig).ok());
  EXPECT_EQ(at_alice.Verify("bob", 7, "hellO", *sig).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(at_alice.Verify("bob", 6, "hello", *sig).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(at_alice.Verify("carol", 7, "hello", *sig).code(),
            absl::StatusCode::kNotFound);
  auto forged = alice->Sign("hello");  // alice's key claiming bob
  EXPECT_EQ(at_alice.Verify("bob", 7, "hello", *forged).code(),
            absl::StatusCode::kPermissionDenied);
}

// Once pinned, a name's key changes only with a newer generation: a forged
// announcement of the same generation does not take the name over.
TEST_F(ChatIdentityTest, PinnedKeyChangesOnlyWithANewerGeneration) {
  auto bob = Key();
  auto mallory = Key();
  auto bob2 = Key();
  meta_["bob"] = EncodeChatKey(bob->public_key().bytes(), 7);
  ChatIdentity at_alice = Make(bob, 1);
  EXPECT_TRUE(at_alice.Verify("bob", 7, "m", *bob->Sign("m")).ok());
  meta_["bob"] = EncodeChatKey(mallory->public_key().bytes(), 7);
  EXPECT_FALSE(at_alice.Verify("bob", 7, "m", *mallory->Sign("m")).ok());
  EXPECT_TRUE(at_alice.Verify("bob", 7, "m", *bob->Sign("m")).ok());
  // bob restarts: generation 8, a new key.
  meta_["bob"] = EncodeChatKey(bob2->public_key().bytes(), 8);
  EXPECT_TRUE(at_alice.Verify("bob", 8, "m", *bob2->Sign("m")).ok());
  EXPECT_FALSE(at_alice.Verify("bob", 7, "m", *bob->Sign("m")).ok());
}

TEST(ChatKeyTest, MalformedAnnouncementsAreRefused) {
  auto key = Key();
  auto round = DecodeChatKey(EncodeChatKey(key->public_key().bytes(), 42));
  ASSERT_TRUE(round.ok()) << round.status();
  EXPECT_EQ(round->public_key, key->public_key().bytes());
  EXPECT_EQ(round->generation, 42u);
  for (const char* bad : {"", "zz:1", "00:1", ":", "abc"}) {
    EXPECT_FALSE(DecodeChatKey(bad).ok()) << bad;
  }
  std::string hex(64, 'g');
  EXPECT_FALSE(DecodeChatKey(hex + ":1").ok());
  EXPECT_FALSE(DecodeChatKey(std::string(64, 'a') + ":x").ok());
}

}  // namespace
}  // namespace peerlab::peer
