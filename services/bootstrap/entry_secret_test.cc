#include "services/bootstrap/entry_secret.h"

#include "gtest/gtest.h"

namespace peerlab::bootstrap {
namespace {

TEST(EntrySecretTest, NewSecretsAreValidAndDiffer) {
  auto a = NewEntrySecret();
  auto b = NewEntrySecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(ValidateEntrySecret(*a, "secret").ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(EntrySecretMatches(*a, EntrySecretHash(*a)));
  EXPECT_FALSE(EntrySecretMatches(*b, EntrySecretHash(*a)));
}

TEST(EntrySecretTest, SecretToSendKeepsAGivenOneAndMakesOneOtherwise) {
  const std::string given(40, 'x');
  EXPECT_EQ(*SecretToSend(given, /*admin=*/false), given);
  EXPECT_EQ(*SecretToSend(given, /*admin=*/true), given);
  // An administrator's entry may have none.
  EXPECT_EQ(*SecretToSend("", /*admin=*/true), "");
  auto made = SecretToSend("", /*admin=*/false);
  ASSERT_TRUE(made.ok());
  EXPECT_TRUE(ValidateEntrySecret(*made, "secret").ok()) << *made;
}

}  // namespace
}  // namespace peerlab::bootstrap
