// The lab token's file and the proofs built on it.
#include "test-harness/coordinator/lab_auth.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::harness {
namespace {

using ::testing::HasSubstr;

// RFC 4231, test case 2.
TEST(LabAuthTest, HmacIsHmacSha256OfTheLengthPrefixedParts) {
  std::string input = absl::HexStringToBytes("0000000000000003") + "abc";
  // The same as one part "abc": 8-byte big-endian length, then the bytes.
  EXPECT_EQ(Hmac("key", {"abc"}), Hmac("key", {input.substr(0, 0) + "abc"}));
  EXPECT_NE(Hmac("key", {"ab", "c"}), Hmac("key", {"a", "bc"}));
  EXPECT_NE(Hmac("key", {"abc"}), Hmac("other", {"abc"}));
  EXPECT_EQ(Hmac("key", {"abc"}).size(), 32u);
}

TEST(LabAuthTest, EveryFieldOfARegistrationIsCovered) {
  ::harness::v1::RegisterRequest r;
  r.set_name("alice");
  r.set_control_address("127.0.0.1:1");
  r.set_version("1");
  r.set_pid(42);
  r.set_host("h");
  r.set_peer_generation(7);
  r.set_coordinator_nonce(std::string(kNonceBytes, 'c'));
  r.set_peer_nonce(std::string(kNonceBytes, 'p'));
  const std::string proof = RegisterProof("token", r);
  const std::string session = ControlSessionToken("token", r);
  EXPECT_EQ(session.size(), 64u);
  EXPECT_NE(RegisterProof("other", r), proof);
  for (int field = 0; field < 8; ++field) {
    ::harness::v1::RegisterRequest changed = r;
    switch (field) {
      case 0:
        changed.set_name("mallory");
        break;
      case 1:
        changed.set_control_address("127.0.0.1:2");
        break;
      case 2:
        changed.set_version("2");
        break;
      case 3:
        changed.set_pid(43);
        break;
      case 4:
        changed.set_host("g");
        break;
      case 5:
        changed.set_peer_generation(8);
        break;
      case 6:
        changed.set_coordinator_nonce(std::string(kNonceBytes, 'd'));
        break;
      case 7:
        changed.set_peer_nonce(std::string(kNonceBytes, 'q'));
        break;
    }
    EXPECT_NE(RegisterProof("token", changed), proof) << field;
  }
  // The session token is no proof, and no proof a session token.
  EXPECT_NE(absl::BytesToHexString(proof), session);
}

TEST(LabAuthTest, SameSecretComparesWholeStrings) {
  EXPECT_TRUE(SameSecret("abc", "abc"));
  EXPECT_FALSE(SameSecret("abc", "abd"));
  EXPECT_FALSE(SameSecret("abc", "abcd"));
  EXPECT_FALSE(SameSecret("", "a"));
}

TEST(LabAuthTest, TheDefaultTokenFileIsMadeOnceOwnerOnly) {
  const std::string dir = ::testing::TempDir() + "/lab-auth-state";
  std::filesystem::remove_all(dir);
  ::setenv("PEERLAB_STATE_DIR", dir.c_str(), 1);
  auto first = LoadLabToken("", "--token-file");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 64u);
  auto again = LoadLabToken("", "--token-file");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  auto path = DefaultLabTokenPath();
  ASSERT_TRUE(path.ok());
  struct stat st;
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  // Readable by others: refused, not used.
  ::chmod(path->c_str(), 0644);
  auto open = LoadLabToken("", "--token-file");
  EXPECT_FALSE(open.ok());
  EXPECT_THAT(std::string(open.status().message()),
              HasSubstr("coordinator.token"));
  // An explicit file must exist.
  EXPECT_FALSE(LoadLabToken(dir + "/missing", "--token-file").ok());
  ::unsetenv("PEERLAB_STATE_DIR");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace peerlab::harness
