#include "peer/identity/node_key.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::identity {
namespace {

using ::testing::HasSubstr;

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// RFC 8032, section 7.1: Ed25519 test vectors.
struct Vector {
  const char* name;
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};
const Vector kVectors[] = {
    {"test1",
     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"test2",
     "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"test3",
     "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"sha_abc",
     "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
};

TEST(NodeKeyTest, Rfc8032Vectors) {
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(v.name);
    auto key = NodeKey::FromSeed(Hex(v.secret));
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(absl::BytesToHexString(key->public_key().bytes()), v.public_key);
    auto sig = key->Sign(Hex(v.message));
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_EQ(absl::BytesToHexString(*sig), v.signature);
    auto pub = PublicKey::FromBytes(Hex(v.public_key));
    ASSERT_TRUE(pub.ok());
    EXPECT_TRUE(Verify(*pub, Hex(v.message), Hex(v.signature)).ok());
  }
}

TEST(NodeKeyTest, RefusesTamperedMessagesSignaturesAndKeys) {
  const Vector& v = kVectors[2];
  auto pub = PublicKey::FromBytes(Hex(v.public_key));
  ASSERT_TRUE(pub.ok());
  const std::string message = Hex(v.message);
  const std::string signature = Hex(v.signature);
  for (size_t i = 0; i < message.size(); ++i) {
    std::string m = message;
    m[i] ^= 1;
    EXPECT_EQ(Verify(*pub, m, signature).code(),
              absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(Verify(*pub, message + "x", signature).code(),
            absl::StatusCode::kUnauthenticated);
  for (size_t i = 0; i < signature.size(); i += 7) {
    std::string s = signature;
    s[i] ^= 0x40;
    EXPECT_FALSE(Verify(*pub, message, s).ok()) << "byte " << i;
  }
  auto other = PublicKey::FromBytes(Hex(kVectors[0].public_key));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Verify(*other, message, signature).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(NodeKeyTest, RefusesBadSizes) {
  EXPECT_EQ(PublicKey::FromBytes(std::string(31, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PublicKey::FromBytes("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NodeKey::FromSeed(std::string(33, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto pub = PublicKey::FromBytes(Hex(kVectors[0].public_key));
  ASSERT_TRUE(pub.ok());
  const std::string sig = Hex(kVectors[0].signature);
  EXPECT_EQ(Verify(*pub, "", sig.substr(0, 63)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(*pub, "", sig + "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Verify(*pub, "", "").message(), HasSubstr("64 bytes, not 0"));
}

TEST(NodeKeyTest, GeneratedKeysDifferAndSign) {
  auto a = NodeKey::Generate();
  auto b = NodeKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_key(), b->public_key());
  auto sig = a->Sign("hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(Verify(a->public_key(), "hello", *sig).ok());
  EXPECT_FALSE(Verify(b->public_key(), "hello", *sig).ok());
  EXPECT_THAT(a->public_key().Fingerprint(), HasSubstr("ed25519:"));
}

// The X25519 secret of two node keys is the same from either side (which
// holds only when the private and the public conversion agree), differs
// between pairs, and keys that are no usable point are refused.
TEST(NodeKeyTest, SharedSecretIsSymmetricAndRefusesBadPoints) {
  auto a = NodeKey::FromSeed(std::string(32, 'a'));
  auto b = NodeKey::FromSeed(std::string(32, 'b'));
  auto c = NodeKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  auto ab = a->SharedSecret(b->public_key());
  auto ba = b->SharedSecret(a->public_key());
  auto ac = a->SharedSecret(c->public_key());
  auto ca = c->SharedSecret(a->public_key());
  ASSERT_TRUE(ab.ok() && ba.ok() && ac.ok() && ca.ok()) << ab.status();
  EXPECT_EQ(ab->size(), 32u);
  EXPECT_EQ(*ab, *ba);
  EXPECT_EQ(*ac, *ca);
  EXPECT_NE(*ab, *ac);
  // y = 1 (u would divide by zero) and y = p - 1 (u = 0, small order).
  std::string one(32, '\0');
  one[0] = 1;
  std::string minus_one(32, '\xff');
  minus_one[0] = '\xec';
  minus_one[31] = '\x7f';
  for (const std::string& bad : {one, minus_one}) {
    auto key = PublicKey::FromBytes(bad);
    ASSERT_TRUE(key.ok());
    EXPECT_FALSE(a->SharedSecret(*key).ok()) << absl::BytesToHexString(bad);
  }
}

class StateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/peerlab-identity-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_EQ(::chmod(root_.c_str(), 0700), 0);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  static int ModeOf(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return -1;
    return st.st_mode & 07777;
  }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  std::string root_;
};

TEST_F(StateFilesTest, KeyIsCreatedOnceWithMode0600AndKept) {
  auto a = NodeKey::LoadOrCreate(root_, "alice");
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string path = root_ + "/nodes/alice/node.key";
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(ModeOf(root_ + "/nodes/alice"), 0700);
  auto again = NodeKey::LoadOrCreate(root_, "alice");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(a->public_key(), again->public_key());
  auto bob = NodeKey::LoadOrCreate(root_, "bob");
  ASSERT_TRUE(bob.ok());
  EXPECT_NE(a->public_key(), bob->public_key());
}

TEST_F(StateFilesTest, KeyFileRefusals) {
  ASSERT_TRUE(NodeKey::LoadOrCreate(root_, "alice").ok());
  const std::string path = root_ + "/nodes/alice/node.key";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_EQ(NodeKey::LoadOrCreate(root_, "alice").status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  Write(path, "ed25519 1234\n");
  auto bad = NodeKey::LoadOrCreate(root_, "alice");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bad.status().message(), HasSubstr(path));
  Write(path, std::string(4096, 'x'));
  EXPECT_FALSE(NodeKey::LoadOrCreate(root_, "alice").ok());
  for (const char* name : {"", ".", "..", "a/b"}) {
    EXPECT_EQ(NodeKey::LoadOrCreate(root_, name).status().code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
}

TEST_F(StateFilesTest, GenerationOnlyGrows) {
  const absl::Time t = absl::FromUnixMillis(1'700'000'000'000);
  auto g1 = NextGeneration(root_, "alice", t);
  ASSERT_TRUE(g1.ok()) << g1.status();
  EXPECT_EQ(*g1, 1'700'000'000'000u);
  // The clock went back (or two starts in one millisecond): still larger.
  auto g2 = NextGeneration(root_, "alice", t - absl::Hours(1));
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(*g2, *g1 + 1);
  auto g3 = NextGeneration(root_, "alice", t + absl::Seconds(1));
  ASSERT_TRUE(g3.ok());
  EXPECT_EQ(*g3, 1'700'000'001'000u);
  auto other = NextGeneration(root_, "bob", t - absl::Hours(1));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, 1'699'996'400'000u);
}

TEST_F(StateFilesTest, GenerationFileRefusals) {
  ASSERT_TRUE(NextGeneration(root_, "alice", absl::Now()).ok());
  const std::string path = root_ + "/nodes/alice/generation";
  Write(path, "twelve\n");
  EXPECT_EQ(NextGeneration(root_, "alice", absl::Now()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Write(path, "18446744073709551615\n");  // 2^64-1: would wrap
  EXPECT_EQ(NextGeneration(root_, "alice", absl::Now()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Write(path, std::string(1000, '1'));
  EXPECT_FALSE(NextGeneration(root_, "alice", absl::Now()).ok());
}

}  // namespace
}  // namespace peerlab::identity
