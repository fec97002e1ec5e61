#include "peer/membership/keyring.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "peer/identity/node_key.h"
#include "peer/membership/sealing.h"
#include "peer/membership/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace peerlab::membership {
namespace {

const std::string kKeyA(32, 'A');
const std::string kKeyB(32, 'B');
const std::string kKeyC(32, 'C');
const std::string kNonce(12, 'n');

Keyring Ring(std::vector<std::string> keys) {
  auto r = Keyring::Create(std::move(keys));
  EXPECT_TRUE(r.ok()) << r.status();
  return *std::move(r);
}

// The sender tag (Packet.sender_tag, ReliableRequest.sender_tag): the last
// field inside the seal, verified only by the receiver it was made for,
// under the key both sides derive, over every byte before it.
TEST(SenderTagTest, TableOfTaggedAndUntaggedSeals) {
  auto a = identity::NodeKey::FromSeed(std::string(32, 'a'));
  auto b = identity::NodeKey::FromSeed(std::string(32, 'b'));
  auto c = identity::NodeKey::FromSeed(std::string(32, 'c'));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const std::string ab = *PairKey(*a, b->public_key());
  EXPECT_EQ(ab, *PairKey(*b, a->public_key()));  // the same from either side
  const std::string ac = *PairKey(*a, c->public_key());
  EXPECT_NE(ab, ac);
  const Keyring ring = Ring({kKeyA});
  ::peer::v1::Message ping;
  ping.mutable_ping()->set_seq_no(9);
  const std::string packet = EncodePacket("a", {EncodeMessage(ping)});
  auto open = [&](const Sealer& sealer) {
    ::peer::v1::Packet outer;
    EXPECT_TRUE(
        outer.ParseFromString(SealDatagram(ring, "lab", packet, sealer)));
    auto plain = OpenDatagram(ring, "lab", outer);
    EXPECT_TRUE(plain.ok()) << plain.status();
    return plain.ok() ? *plain : std::string();
  };
  const std::string tagged = open({"a", 5, 77, "b", ab});
  const std::string untagged = open({"a", 5, 78});
  ::peer::v1::Packet inner;
  ASSERT_TRUE(inner.ParseFromString(tagged));
  EXPECT_EQ(inner.sender_tag().size(), kSenderTagSize);
  EXPECT_EQ(inner.sender(), "a");
  EXPECT_EQ(inner.sender_seq(), 77u);
  EXPECT_EQ(inner.messages(0).ping().seq_no(), 9u);
  ASSERT_TRUE(inner.ParseFromString(untagged));
  EXPECT_TRUE(inner.sender_tag().empty());
  EXPECT_EQ(tagged.size(), untagged.size() + kSenderTagFieldBytes);
  std::string flipped = tagged;
  flipped[3] ^= 1;  // a byte the tag covers
  struct Case {
    const char* what;
    std::string key;
    SealKind kind;
    std::string receiver;
    std::string plain;
    bool valid;
  };
  const Case cases[] = {
      {"its receiver", ab, SealKind::kDatagram, "b", tagged, true},
      {"another receiver's name", ab, SealKind::kDatagram, "c", tagged, false},
      {"another pair's key", ac, SealKind::kDatagram, "b", tagged, false},
      {"as a request", ab, SealKind::kRequest, "b", tagged, false},
      {"a covered byte changed", ab, SealKind::kDatagram, "b", flipped, false},
      {"no tag", ab, SealKind::kDatagram, "b", untagged, false},
      {"too short", ab, SealKind::kDatagram, "b", "x", false},
      {"no key", "", SealKind::kDatagram, "b", tagged, false},
  };
  for (const Case& t : cases) {
    EXPECT_EQ(SenderTagValid(t.key, t.kind, t.receiver, t.plain), t.valid)
        << t.what;
  }
  // Requests likewise.
  ::peer::v1::ReliableRequest request;
  request.mutable_push_pull()->set_from("a");
  const auto sealed = SealRequest(ring, "lab", request, {"a", 5, 3, "b", ab});
  auto plain = OpenRequest(ring, "lab", sealed);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(SenderTagValid(ab, SealKind::kRequest, "b", *plain));
  EXPECT_FALSE(SenderTagValid(ab, SealKind::kDatagram, "b", *plain));
  ::peer::v1::ReliableRequest inner_request;
  ASSERT_TRUE(inner_request.ParseFromString(*plain));
  EXPECT_EQ(inner_request.sender_tag().size(), kSenderTagSize);
  EXPECT_EQ(inner_request.push_pull().from(), "a");
}

TEST(SealTest, ShapeIsVersionNonceCiphertextTag) {
  const std::string sealed = Seal(kKeyA, kNonce, "hello", "label");
  ASSERT_EQ(sealed.size(), 1 + 12 + 5 + 16u);
  EXPECT_EQ(sealed[0], char(kEncryptionVersion));
  EXPECT_EQ(sealed.substr(1, 12), kNonce);
  EXPECT_EQ(sealed.find("hello"), std::string::npos);  // not in the clear
  auto plain = Open(kKeyA, sealed, "label");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, "hello");
}

// A published AES-256-GCM vector (NIST GCM spec, test case 14: zero key,
// zero nonce, one zero block, no AAD) checks the cipher is the real thing:
// our AAD is the version byte, so compare the ciphertext only.
TEST(SealTest, CiphertextMatchesAes256GcmKeystream) {
  const std::string sealed = Seal(std::string(32, '\0'), std::string(12, '\0'),
                                  std::string(16, '\0'), "");
  const unsigned char want[16] = {0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60,
                                  0x6b, 0x6e, 0x07, 0x4e, 0xc5, 0xd3,
                                  0xba, 0xf3, 0x9d, 0x18};
  EXPECT_EQ(sealed.substr(13, 16),
            std::string(reinterpret_cast<const char*>(want), 16));
}

TEST(SealTest, RefusalTable) {
  const std::string sealed = Seal(kKeyA, kNonce, "attack at dawn", "packet");
  struct Case {
    const char* name;
    std::string key;
    std::string bytes;
    std::string label;
    absl::StatusCode code;
  };
  std::string tampered_cipher = sealed;
  tampered_cipher[1 + 12 + 3] ^= 0x01;
  std::string tampered_tag = sealed;
  tampered_tag.back() ^= 0x80;
  std::string tampered_nonce = sealed;
  tampered_nonce[5] ^= 0x10;
  std::string bad_version = sealed;
  bad_version[0] = 2;
  const Case cases[] = {
      {"round trip", kKeyA, sealed, "packet", absl::StatusCode::kOk},
      {"wrong key", kKeyB, sealed, "packet",
       absl::StatusCode::kPermissionDenied},
      {"wrong label", kKeyA, sealed, "request",
       absl::StatusCode::kPermissionDenied},
      {"tampered ciphertext", kKeyA, tampered_cipher, "packet",
       absl::StatusCode::kPermissionDenied},
      {"tampered tag", kKeyA, tampered_tag, "packet",
       absl::StatusCode::kPermissionDenied},
      {"tampered nonce", kKeyA, tampered_nonce, "packet",
       absl::StatusCode::kPermissionDenied},
      {"unknown version", kKeyA, bad_version, "packet",
       absl::StatusCode::kInvalidArgument},
      {"truncated by one", kKeyA, sealed.substr(0, sealed.size() - 1), "packet",
       absl::StatusCode::kPermissionDenied},
      {"header only", kKeyA, sealed.substr(0, 13), "packet",
       absl::StatusCode::kInvalidArgument},
      {"empty", kKeyA, "", "packet", absl::StatusCode::kInvalidArgument},
      {"extended", kKeyA, sealed + "x", "packet",
       absl::StatusCode::kPermissionDenied},
  };
  for (const Case& c : cases) {
    auto plain = Open(c.key, c.bytes, c.label);
    EXPECT_EQ(plain.status().code(), c.code)
        << c.name << ": " << plain.status();
    if (plain.ok()) {
      EXPECT_EQ(*plain, "attack at dawn") << c.name;
    }
  }
}

TEST(SealTest, EveryTruncationRefused) {
  const std::string sealed = Seal(kKeyA, kNonce, std::string(100, 'p'), "l");
  for (size_t cut = 0; cut < sealed.size(); ++cut) {
    EXPECT_FALSE(Open(kKeyA, sealed.substr(0, cut), "l").ok()) << cut;
  }
}

TEST(KeyringTest, EncryptUsesPrimaryAndFreshNonces) {
  Keyring ring = Ring({kKeyA, kKeyB});
  const std::string one = ring.Encrypt("same", "l");
  const std::string two = ring.Encrypt("same", "l");
  EXPECT_NE(one, two);  // random nonces
  EXPECT_TRUE(Open(kKeyA, one, "l").ok());
  EXPECT_FALSE(Open(kKeyB, one, "l").ok());
  EXPECT_EQ(*ring.Decrypt(two, "l"), "same");
}

TEST(KeyringTest, RotationDecryptsWithASecondaryKey) {
  Keyring old_ring = Ring({kKeyA});
  Keyring new_ring = Ring({kKeyB, kKeyA});  // B primary, A still accepted
  // A node still on A is understood by one that switched to B, and back.
  auto from_old = new_ring.Decrypt(old_ring.Encrypt("from old", "l"), "l");
  ASSERT_TRUE(from_old.ok()) << from_old.status();
  EXPECT_EQ(*from_old, "from old");
  EXPECT_FALSE(old_ring.Decrypt(new_ring.Encrypt("x", "l"), "l").ok());
  // The full procedure on one ring: install, use, remove.
  Keyring ring = Ring({kKeyA});
  ASSERT_TRUE(ring.Install(kKeyC).ok());
  ASSERT_TRUE(ring.Install(kKeyC).ok());  // idempotent
  EXPECT_EQ(ring.keys().size(), 2u);
  EXPECT_EQ(ring.primary(), kKeyA);
  ASSERT_TRUE(ring.Use(kKeyC).ok());
  EXPECT_EQ(ring.primary(), kKeyC);
  EXPECT_EQ(ring.Remove(kKeyC).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(ring.Remove(kKeyA).ok());
  EXPECT_EQ(ring.keys(), std::vector<std::string>{kKeyC});
  EXPECT_EQ(ring.Remove(kKeyA).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ring.Use(kKeyB).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ring.Install("short").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ring.Decrypt(Ring({kKeyA}).Encrypt("x", "l"), "l").status().message(),
      "cannot decrypt: wrong key?");
}

TEST(KeyringTest, CreateRefusesBadKeysAndDropsDuplicates) {
  EXPECT_FALSE(Keyring::Create({}).ok());
  EXPECT_FALSE(Keyring::Create({std::string(16, 'x')}).ok());
  EXPECT_EQ(Ring({kKeyA, kKeyA, kKeyB}).keys().size(), 2u);
}

TEST(KeyFileTest, ParseTable) {
  const std::string a = FormatKey(kKeyA);
  const std::string b = FormatKey(kKeyB);
  EXPECT_EQ(a.size(), 44u);
  struct Case {
    const char* name;
    std::string text;
    bool ok;
    std::string error;  // substring
  };
  const Case cases[] = {
      {"one key", a + "\n", true, ""},
      {"two keys, comments, blanks, CRLF", "# lab keys\n\n" + a + "\r\n  " + b,
       true, ""},
      {"empty", "", false, "has no key"},
      {"only comments", "# nothing\n", false, "has no key"},
      {"not base64", a + "\n!!!notbase64!!!\n", false,
       "line 2: key is not valid base64"},
      {"short key", FormatKey(std::string(16, 'k')), false,
       "line 1: key is 16 bytes, want 32"},
  };
  for (const Case& c : cases) {
    auto ring = Keyring::Parse(c.text);
    EXPECT_EQ(ring.ok(), c.ok) << c.name << ": " << ring.status();
    if (!c.ok) {
      EXPECT_NE(ring.status().message().find(c.error), std::string::npos)
          << c.name << ": " << ring.status();
    }
  }
  auto two = Keyring::Parse("# lab keys\n\n" + a + "\r\n  " + b);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->primary(), kKeyA);
  EXPECT_EQ(two->keys()[1], kKeyB);
}

TEST(KeyFileTest, LoadSaveRoundTripAndErrors) {
  char dir_template[] = "/tmp/keyring_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/gossip.keys";

  auto missing = Keyring::Load(path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);

  Keyring ring = Ring({kKeyB, kKeyA});
  ASSERT_TRUE(ring.Save(path).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = Keyring::Load(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->keys(), ring.keys());

  std::ofstream(path) << "garbage\n";
  auto bad = Keyring::Load(path);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(path + ": key file line 1"),
            std::string::npos)
      << bad.status();
  unlink(path.c_str());
  rmdir(dir.c_str());
}

TEST(KeyFileTest, GeneratedKeysParse) {
  const std::string k = GenerateKey();
  EXPECT_EQ(k.size(), 32u);
  EXPECT_NE(k, GenerateKey());
  EXPECT_EQ(*ParseKey(FormatKey(k)), k);
  EXPECT_FALSE(ParseKey("").ok());
}

// The fuzz target on random bytes and on mutations of real sealed
// messages: no crash, nothing opens.
TEST(KeyringFuzzTest, GarbageNeverCrashesNorOpens) {
  std::mt19937_64 rng(20261125);
  Keyring ring = Ring({std::string(32, 'a')});
  const std::string valid = ring.Encrypt(std::string(64, 'v'), "fuzz");
  for (int i = 0; i < 50000; ++i) {
    std::string input;
    if (i % 2 == 0) {
      input = valid;
      int flips = 1 + rng() % 4;
      for (int f = 0; f < flips; ++f) {
        input[rng() % input.size()] ^= char(1 + rng() % 255);
      }
      if (rng() % 3 == 0) input.resize(rng() % input.size());
      if (input == valid) continue;  // two flips cancelled out
    } else {
      input.resize(rng() % 128);
      for (char& c : input) c = char(rng());
      if (!input.empty() && rng() % 2) input[0] = char(kEncryptionVersion);
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
}

}  // namespace
}  // namespace peerlab::membership
