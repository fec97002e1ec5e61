#include "peer/identity/node_key.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/bounded_file.h"
#include "base/state_dir.h"

namespace peerlab::identity {
namespace {

constexpr char kKeyFileName[] = "node.key";
constexpr char kGenerationFileName[] = "generation";
// "ed25519 " + 64 hex digits + "\n", with room for a trailing \r.
constexpr size_t kMaxKeyFileBytes = 128;
constexpr size_t kMaxGenerationFileBytes = 64;
constexpr uint64_t kMaxGeneration = uint64_t{1} << 62;
constexpr absl::string_view kKeyFilePrefix = "ed25519 ";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

absl::StatusOr<PublicKey> PublicKey::FromBytes(absl::string_view raw) {
  if (raw.size() != kPublicKeySize) {
    return absl::InvalidArgumentError(absl::StrCat("an Ed25519 public key is ",
                                                   kPublicKeySize,
                                                   " bytes, not ", raw.size()));
  }
  return PublicKey(std::string(raw));
}

std::string PublicKey::Fingerprint() const {
  return absl::StrCat("ed25519:",
                      absl::BytesToHexString(absl::string_view(bytes_).substr(
                          0, std::min<size_t>(8, bytes_.size()))));
}

absl::Status Verify(const PublicKey& public_key, absl::string_view message,
                    absl::string_view signature) {
  if (signature.size() != kSignatureSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("an Ed25519 signature is ", kSignatureSize, " bytes, not ",
                     signature.size()));
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, Bytes(public_key.bytes()),
      public_key.bytes().size()));
  if (!pkey) return absl::InvalidArgumentError("unusable Ed25519 public key");
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                                   pkey.get()) != 1) {
    return absl::InternalError("OpenSSL could not start a verification");
  }
  if (EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                       Bytes(message), message.size()) != 1) {
    return absl::UnauthenticatedError("bad signature");
  }
  return absl::OkStatus();
}

absl::StatusOr<NodeKey> NodeKey::FromSeed(absl::string_view seed) {
  if (seed.size() != kSeedSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an Ed25519 seed is ", kSeedSize, " bytes, not ", seed.size()));
  }
  EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                               Bytes(seed), seed.size());
  if (raw == nullptr) {
    return absl::InternalError("OpenSSL refused an Ed25519 private key");
  }
  std::shared_ptr<void> pkey(
      raw, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
  std::string pub(kPublicKeySize, '\0');
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(
          raw, reinterpret_cast<unsigned char*>(pub.data()), &len) != 1 ||
      len != kPublicKeySize) {
    return absl::InternalError("OpenSSL gave no Ed25519 public key");
  }
  auto public_key = PublicKey::FromBytes(pub);
  if (!public_key.ok()) return public_key.status();
  return NodeKey(std::move(pkey), *std::move(public_key));
}

absl::StatusOr<NodeKey> NodeKey::Generate() {
  std::string seed(kSeedSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()),
                 static_cast<int>(seed.size())) != 1) {
    return absl::InternalError("OpenSSL's random generator failed");
  }
  return FromSeed(seed);
}

absl::StatusOr<std::string> NodeKey::Sign(absl::string_view message) const {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr,
                                 static_cast<EVP_PKEY*>(pkey_.get())) != 1) {
    return absl::InternalError("OpenSSL could not start a signature");
  }
  std::string signature(kSignatureSize, '\0');
  size_t len = signature.size();
  if (EVP_DigestSign(ctx.get(),
                     reinterpret_cast<unsigned char*>(signature.data()), &len,
                     Bytes(message), message.size()) != 1 ||
      len != kSignatureSize) {
    return absl::InternalError("OpenSSL could not sign");
  }
  return signature;
}

namespace {

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

// An Ed25519 public key (the Edwards y, little-endian, the top bit the
// sign of x) as an X25519 public key: u = (1 + y) / (1 - y) mod p.
absl::StatusOr<std::string> MontgomeryU(const std::string& ed_public) {
  unsigned char y_bytes[kPublicKeySize];
  std::copy(ed_public.begin(), ed_public.end(), y_bytes);
  y_bytes[kPublicKeySize - 1] &= 0x7F;
  std::unique_ptr<BN_CTX, BnCtxFree> ctx(BN_CTX_new());
  Bn p(BN_new()), y(BN_lebin2bn(y_bytes, kPublicKeySize, nullptr)),
      one(BN_new()), num(BN_new()), den(BN_new()), u(BN_new());
  if (!ctx || !p || !y || !one || !num || !den || !u) {
    return absl::InternalError("OpenSSL: out of memory");
  }
  // p = 2^255 - 19
  if (BN_set_bit(p.get(), 255) != 1 || BN_sub_word(p.get(), 19) != 1 ||
      BN_one(one.get()) != 1 ||
      BN_mod_add(num.get(), one.get(), y.get(), p.get(), ctx.get()) != 1 ||
      BN_mod_sub(den.get(), one.get(), y.get(), p.get(), ctx.get()) != 1) {
    return absl::InternalError("OpenSSL: field arithmetic failed");
  }
  if (BN_is_zero(den.get())) {
    return absl::InvalidArgumentError("not a usable Ed25519 public key");
  }
  if (BN_mod_inverse(den.get(), den.get(), p.get(), ctx.get()) == nullptr ||
      BN_mod_mul(u.get(), num.get(), den.get(), p.get(), ctx.get()) != 1) {
    return absl::InternalError("OpenSSL: field arithmetic failed");
  }
  std::string out(kPublicKeySize, '\0');
  if (BN_bn2lebinpad(u.get(), reinterpret_cast<unsigned char*>(out.data()),
                     kPublicKeySize) != static_cast<int>(kPublicKeySize)) {
    return absl::InternalError("OpenSSL: field arithmetic failed");
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> NodeKey::SharedSecret(const PublicKey& peer) const {
  auto* ed = static_cast<EVP_PKEY*>(pkey_.get());
  unsigned char seed[kSeedSize];
  size_t seed_len = sizeof(seed);
  if (EVP_PKEY_get_raw_private_key(ed, seed, &seed_len) != 1 ||
      seed_len != kSeedSize) {
    return absl::InternalError("OpenSSL: no raw Ed25519 private key");
  }
  unsigned char hash[SHA512_DIGEST_LENGTH];
  SHA512(seed, sizeof(seed), hash);
  OPENSSL_cleanse(seed, sizeof(seed));
  // X25519 clamps the scalar itself (RFC 7748), as Ed25519 does.
  std::unique_ptr<EVP_PKEY, PkeyFree> own(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, hash, 32));
  OPENSSL_cleanse(hash, sizeof(hash));
  auto u = MontgomeryU(peer.bytes());
  if (!u.ok()) return u.status();
  std::unique_ptr<EVP_PKEY, PkeyFree> theirs(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_X25519, nullptr, Bytes(*u), u->size()));
  if (!own || !theirs) return absl::InternalError("OpenSSL: X25519 key");
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new(own.get(), nullptr));
  std::string secret(32, '\0');
  size_t len = secret.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1) {
    return absl::InternalError("OpenSSL: X25519 derive");
  }
  if (EVP_PKEY_derive(ctx.get(),
                      reinterpret_cast<unsigned char*>(secret.data()),
                      &len) != 1 ||
      len != 32) {
    // OpenSSL refuses an all-zero result (a small-order peer key).
    return absl::InvalidArgumentError("X25519 with this public key failed");
  }
  return secret;
}

absl::StatusOr<std::string> NodeStateDir(const std::string& state_dir,
                                         absl::string_view name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != absl::string_view::npos ||
      name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("node name '", absl::CHexEscape(name),
                     "' cannot name a state directory"));
  }
  auto nodes = PrivateSubdirectory(state_dir, "nodes");
  if (!nodes.ok()) return nodes.status();
  return PrivateSubdirectory(*nodes, std::string(name));
}

absl::StatusOr<NodeKey> NodeKey::LoadOrCreate(const std::string& state_dir,
                                              absl::string_view name) {
  auto dir = NodeStateDir(state_dir, name);
  if (!dir.ok()) return dir.status();
  const std::string path = absl::StrCat(*dir, "/", kKeyFileName);
  std::string make_error;
  auto contents = ReadOrCreateSecretFile(
      path, kMaxKeyFileBytes,
      [&make_error]() -> std::string {
        std::string seed(kSeedSize, '\0');
        if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()),
                       static_cast<int>(seed.size())) != 1) {
          make_error = "OpenSSL's random generator failed";
          return "";
        }
        return absl::StrCat(kKeyFilePrefix, absl::BytesToHexString(seed), "\n");
      },
      "node key");
  if (!make_error.empty()) return absl::InternalError(make_error);
  if (!contents.ok()) return contents.status();
  absl::string_view text = absl::StripAsciiWhitespace(*contents);
  std::string seed;
  bool hex_ok = absl::ConsumePrefix(&text, kKeyFilePrefix) &&
                text.size() == 2 * kSeedSize &&
                std::all_of(text.begin(), text.end(),
                            [](char c) { return absl::ascii_isxdigit(c); });
  if (hex_ok) seed = absl::HexStringToBytes(text);
  if (!hex_ok || seed.size() != kSeedSize) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node key ", path, ": not an Ed25519 key file (expected '",
        kKeyFilePrefix, "' and ", 2 * kSeedSize,
        " hex digits); remove it to make a new key, which the group will "
        "take for another node until the old one is declared dead"));
  }
  return FromSeed(seed);
}

absl::StatusOr<uint64_t> NextGeneration(const std::string& state_dir,
                                        absl::string_view name,
                                        absl::Time now) {
  auto dir = NodeStateDir(state_dir, name);
  if (!dir.ok()) return dir.status();
  const std::string path = absl::StrCat(*dir, "/", kGenerationFileName);
  uint64_t stored = 0;
  auto contents = ReadFileBounded(path, kMaxGenerationFileBytes, "generation");
  if (contents.ok()) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*contents), &stored) ||
        stored >= kMaxGeneration) {
      return absl::FailedPreconditionError(absl::StrCat(
          "generation file ", path, ": not a decimal number below 2^62"));
    }
  } else if (!absl::IsNotFound(contents.status())) {
    return contents.status();
  }
  const int64_t now_ms = absl::ToUnixMillis(now);
  const uint64_t next = std::max<uint64_t>(stored + 1, now_ms > 0 ? now_ms : 0);
  if (auto s =
          WriteFileAtomically(path, absl::StrCat(next, "\n"), "generation");
      !s.ok()) {
    return s;
  }
  return next;
}

}  // namespace peerlab::identity
