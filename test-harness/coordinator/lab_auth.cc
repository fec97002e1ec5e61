#include "test-harness/coordinator/lab_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_status.h"
#include "base/state_dir.h"
#include "base/token_file.h"

namespace peerlab::harness {
namespace {

// Longest lab token file read (a token is one line).
constexpr size_t kMaxLabTokenBytes = 4096;

std::string Uint64Bytes(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> DefaultLabTokenPath() {
  auto dir = UserStateDir();
  if (!dir.ok()) return dir.status();
  return absl::StrCat(*dir, "/coordinator.token");
}

absl::StatusOr<std::string> LoadLabToken(const std::string& path,
                                         const std::string& what) {
  if (!path.empty()) return ReadTokenFile(path, what);
  auto file = DefaultLabTokenPath();
  if (!file.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": no lab token file given and no default one: ",
                     file.status().message()));
  }
  auto text = ReadOrCreateSecretFile(
      *file, kMaxLabTokenBytes,
      [] {
        std::string bytes = *RandomNonce();  // 32 bytes: a 256-bit token
        return absl::BytesToHexString(bytes) + "\n";
      },
      "the lab token");
  if (!text.ok()) return text.status();
  return ParseToken(*text, absl::StrCat(what, " (default ", *file, ")"));
}

absl::StatusOr<std::string> RandomNonce() {
  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()),
                 static_cast<int>(nonce.size())) != 1) {
    return absl::UnavailableError("RAND_bytes failed: no randomness");
  }
  return nonce;
}

std::string Hmac(std::string_view key,
                 std::initializer_list<std::string_view> parts) {
  std::string input;
  for (std::string_view p : parts) {
    input += Uint64Bytes(p.size());
    input.append(p.data(), p.size());
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
       &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

bool SameSecret(std::string_view a, std::string_view b) {
  // The lengths are no secret worth hiding (tokens are fixed-size hex).
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string CoordinatorProof(std::string_view token,
                             std::string_view peer_nonce,
                             std::string_view coordinator_nonce) {
  return Hmac(token, {"peerlab-coordinator-v1", peer_nonce, coordinator_nonce});
}

std::string RegisterProof(std::string_view token,
                          const ::harness::v1::RegisterRequest& r) {
  return Hmac(token, {"peerlab-register-v1", r.name(), r.control_address(),
                      r.version(), Uint64Bytes(static_cast<uint64_t>(r.pid())),
                      r.host(), Uint64Bytes(r.peer_generation()),
                      r.coordinator_nonce(), r.peer_nonce()});
}

std::string ControlSessionToken(std::string_view token,
                                const ::harness::v1::RegisterRequest& r) {
  return absl::BytesToHexString(Hmac(
      token,
      {"peerlab-control-session-v1", r.name(), Uint64Bytes(r.peer_generation()),
       r.coordinator_nonce(), r.peer_nonce()}));
}

void AddBearer(grpc::ClientContext* context, const std::string& token) {
  context->AddMetadata("authorization", "Bearer " + token);
}

std::string BearerOf(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

absl::Status ChallengeCoordinator(
    ::harness::v1::Coordinator::StubInterface* stub, const std::string& token,
    absl::Time deadline, bool wait_for_ready, std::string* peer_nonce,
    ::harness::v1::ChallengeResponse* response) {
  auto nonce = RandomNonce();
  if (!nonce.ok()) return nonce.status();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  context.set_wait_for_ready(wait_for_ready);
  ::harness::v1::ChallengeRequest request;
  request.set_peer_nonce(*nonce);
  ::harness::v1::ChallengeResponse answer;
  grpc::Status s = stub->Challenge(&context, request, &answer);
  if (!s.ok()) return FromGrpcStatus(s);
  if (answer.coordinator_nonce().size() != kNonceBytes ||
      !SameSecret(
          answer.coordinator_proof(),
          CoordinatorProof(token, *nonce, answer.coordinator_nonce()))) {
    return absl::PermissionDeniedError(
        "the coordinator does not hold this lab token (its proof is wrong): "
        "give every program of the lab the same --token-file");
  }
  if (peer_nonce) *peer_nonce = *std::move(nonce);
  if (response) *response = std::move(answer);
  return absl::OkStatus();
}

}  // namespace peerlab::harness
