#include "peer/membership/keyring.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/bounded_file.h"
#include "base/state_dir.h"

namespace peerlab::membership {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Additional authenticated data: the version byte, then the label.
std::string Aad(uint8_t version, absl::string_view label) {
  std::string aad(1, static_cast<char>(version));
  aad.append(label.data(), label.size());
  return aad;
}

}  // namespace

std::string Seal(absl::string_view key, absl::string_view nonce,
                 absl::string_view plaintext, absl::string_view label) {
  std::string out;
  out.resize(kEncryptionOverhead + plaintext.size());
  out[0] = static_cast<char>(kEncryptionVersion);
  std::memcpy(&out[1], nonce.data(), kNonceSize);
  unsigned char* cipher =
      reinterpret_cast<unsigned char*>(&out[1 + kNonceSize]);
  const std::string aad = Aad(kEncryptionVersion, label);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int total = 0;
  // Each call only fails on allocation failure or misuse (sizes are
  // REQUIREd); a failed seal yields bytes no one can open.
  bool ok =
      ctx &&
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize,
                          nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce)) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), cipher, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), cipher + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                                 cipher + total) == 1;
  if (!ok) std::fill(out.begin() + 1, out.end(), '\0');
  return out;
}

absl::StatusOr<std::string> Open(absl::string_view key,
                                 absl::string_view sealed,
                                 absl::string_view label) {
  if (sealed.size() < static_cast<size_t>(kEncryptionOverhead)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "encrypted message of ", sealed.size(), " bytes is shorter than its ",
        kEncryptionOverhead, "-byte header and tag"));
  }
  const uint8_t version = static_cast<uint8_t>(sealed[0]);
  if (version != kEncryptionVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown encryption version ", version));
  }
  if (key.size() != static_cast<size_t>(kKeySize)) {
    return absl::InvalidArgumentError("key must be 32 bytes");
  }
  const absl::string_view nonce = sealed.substr(1, kNonceSize);
  const absl::string_view cipher =
      sealed.substr(1 + kNonceSize, sealed.size() - kEncryptionOverhead);
  std::string tag(sealed.substr(sealed.size() - kTagSize));
  const std::string aad = Aad(version, label);
  std::string plain;
  plain.resize(cipher.size());
  unsigned char* out = reinterpret_cast<unsigned char*>(plain.data());
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int total = 0;
  bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize,
                          nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out, &len, U(cipher),
                        static_cast<int>(cipher.size())) == 1;
  total = len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                                 tag.data()) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), out + total, &len) == 1;
  if (!ok) return absl::PermissionDeniedError("cannot decrypt: wrong key?");
  plain.resize(total + len);
  return plain;
}

std::string RandomNonce() {
  std::string nonce(kNonceSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), kNonceSize) !=
      1) {
    // OpenSSL's generator only fails when it cannot be seeded, which a
    // running Linux system never lacks; abort rather than reuse a nonce.
    std::abort();
  }
  return nonce;
}

std::string GenerateKey() {
  std::string key(kKeySize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeySize) != 1) {
    std::abort();
  }
  return key;
}

absl::StatusOr<std::string> ParseKey(absl::string_view base64) {
  std::string raw;
  absl::string_view text = absl::StripAsciiWhitespace(base64);
  if (text.empty()) return absl::InvalidArgumentError("empty key");
  if (!absl::Base64Unescape(text, &raw)) {
    return absl::InvalidArgumentError("key is not valid base64");
  }
  if (raw.size() != static_cast<size_t>(kKeySize)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is ", raw.size(), " bytes, want ", kKeySize,
                     " (AES-256; make one with `keys generate`)"));
  }
  return raw;
}

std::string FormatKey(absl::string_view key) { return absl::Base64Escape(key); }

absl::StatusOr<Keyring> Keyring::Create(std::vector<std::string> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("keyring: no key");
  std::vector<std::string> unique;
  for (auto& k : keys) {
    if (k.size() != static_cast<size_t>(kKeySize)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "keyring: a key of ", k.size(), " bytes, want ", kKeySize));
    }
    if (std::find(unique.begin(), unique.end(), k) == unique.end()) {
      unique.push_back(std::move(k));
    }
  }
  return Keyring(std::move(unique));
}

absl::StatusOr<Keyring> Keyring::Parse(absl::string_view text) {
  std::vector<std::string> keys;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    auto key = ParseKey(line);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key file line ", line_no, ": ", key.status().message()));
    }
    keys.push_back(*std::move(key));
  }
  if (keys.empty()) return absl::InvalidArgumentError("key file has no key");
  return Create(std::move(keys));
}

absl::StatusOr<Keyring> Keyring::Load(const std::string& path) {
  auto text = ReadFileBounded(path, kMaxKeyFileBytes, "key file");
  if (!text.ok()) return text.status();
  auto ring = Parse(*text);
  if (!ring.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", ring.status().message()));
  }
  return ring;
}

absl::StatusOr<Keyring> Keyring::LoadOrCreate(const std::string& path) {
  auto text = ReadOrCreateSecretFile(
      path, kMaxKeyFileBytes,
      [] {
        return absl::StrCat(
            "# peerlab gossip group key of this user (made on first use);\n"
            "# peers of this user with no memberlist.keyfile use it. Keys\n"
            "# in base64, one a line, the first encrypts.\n",
            FormatKey(GenerateKey()), "\n");
      },
      "gossip key file");
  if (!text.ok()) return text.status();
  auto ring = Parse(*text);
  if (!ring.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", ring.status().message()));
  }
  return ring;
}

absl::StatusOr<std::string> UserKeyFilePath() {
  auto dir = UserStateDir();
  if (!dir.ok()) return dir.status();
  return absl::StrCat(*dir, "/gossip.keys");
}

std::string Keyring::Format() const {
  std::string out;
  for (const auto& k : keys_) absl::StrAppend(&out, FormatKey(k), "\n");
  return out;
}

absl::Status Keyring::Save(const std::string& path) const {
  // The peers of one user all rewrite the per-user key file after a key
  // operation, at about the same time: the atomic write gives each writer a
  // temporary file of its own, and the file is always 0600.
  return WriteFileAtomically(path, Format(), "gossip key file", 0600);
}

bool Keyring::Contains(const std::string& key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

absl::Status Keyring::Install(const std::string& key) {
  if (key.size() != static_cast<size_t>(kKeySize)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is ", key.size(), " bytes, want ", kKeySize));
  }
  if (!Contains(key)) keys_.push_back(key);
  return absl::OkStatus();
}

absl::Status Keyring::Use(const std::string& key) {
  auto it = std::find(keys_.begin(), keys_.end(), key);
  if (it == keys_.end()) {
    return absl::NotFoundError("key is not installed (keys install first)");
  }
  std::rotate(keys_.begin(), it, it + 1);
  return absl::OkStatus();
}

absl::Status Keyring::Remove(const std::string& key) {
  auto it = std::find(keys_.begin(), keys_.end(), key);
  if (it == keys_.end()) return absl::NotFoundError("key is not installed");
  if (it == keys_.begin()) {
    return absl::FailedPreconditionError(
        "cannot remove the primary key (keys use another key first)");
  }
  keys_.erase(it);
  return absl::OkStatus();
}

std::string Keyring::Encrypt(absl::string_view plaintext,
                             absl::string_view label) const {
  return Seal(primary(), RandomNonce(), plaintext, label);
}

absl::StatusOr<std::string> Keyring::Decrypt(absl::string_view sealed,
                                             absl::string_view label) const {
  absl::Status last;
  for (const auto& key : keys_) {
    auto plain = Open(key, sealed, label);
    if (plain.ok()) return plain;
    // Malformed input fails the same way under every key.
    if (plain.status().code() == absl::StatusCode::kInvalidArgument) {
      return plain.status();
    }
    last = plain.status();
  }
  return last;
}

std::string SealAad(absl::string_view purpose, absl::string_view label) {
  std::string aad(purpose);
  aad.push_back('\0');
  aad.append(label.data(), label.size());
  return aad;
}

}  // namespace peerlab::membership
