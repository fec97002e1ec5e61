// The harness's lab token and the proofs built on it (docs/security.md, "The
// harness coordinator"). Every party of a lab (peerlab-coordinator,
// peerlab-peer --coordinator, peerlab-test) holds the same token: given with
// --token-file, else the per-user file <state dir>/coordinator.token, made
// (0600, 32 random bytes in hex) by whichever program needs it first, so one
// user's lab on one machine needs no set-up.
//
// Peers never send the token: they answer a challenge with an HMAC
// (RegisterProof), and the coordinator reaches their PeerControl with a
// session token derived by both sides (ControlSessionToken). Clients send it
// as a bearer token, and only after the coordinator has proved it holds it
// (CoordinatorProof).
//
// All functions are thread-safe (no shared state).
#ifndef PEERLAB_TEST_HARNESS_COORDINATOR_LAB_AUTH_H_
#define PEERLAB_TEST_HARNESS_COORDINATOR_LAB_AUTH_H_

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/harness/v1/coordinator.grpc.pb.h"

namespace peerlab::harness {

// Bytes of every nonce (ChallengeRequest.peer_nonce, coordinator_nonce).
inline constexpr size_t kNonceBytes = 32;

// <UserStateDir()>/coordinator.token (the directory is created, 0700).
absl::StatusOr<std::string> DefaultLabTokenPath();

// The lab token. `path` empty: the default file, created first when missing
// (ReadOrCreateSecretFile: refused when others may read it). Otherwise the
// file at `path`, which must exist (ReadTokenFile). Errors name `what`
// (e.g. "--token-file") and the file.
absl::StatusOr<std::string> LoadLabToken(const std::string& path,
                                         const std::string& what);

// kNonceBytes random bytes (OpenSSL RAND_bytes); Unavailable when it fails.
absl::StatusOr<std::string> RandomNonce();

// HMAC-SHA256 keyed with `key` over `parts`, each preceded by its length
// (8 bytes, big-endian) so that no two different lists give the same input.
std::string Hmac(std::string_view key,
                 std::initializer_list<std::string_view> parts);

// Equal, in time that does not depend on where they differ.
bool SameSecret(std::string_view a, std::string_view b);

// The coordinator's answer to a Challenge.
std::string CoordinatorProof(std::string_view token,
                             std::string_view peer_nonce,
                             std::string_view coordinator_nonce);
// The peer's proof over every field of `request` but `proof`.
std::string RegisterProof(std::string_view token,
                          const ::harness::v1::RegisterRequest& request);
// The bearer token the coordinator sends to the PeerControl of the peer
// that made `request` (lowercase hex, 64 characters).
std::string ControlSessionToken(std::string_view token,
                                const ::harness::v1::RegisterRequest& request);

// Adds "authorization: Bearer TOKEN" to a client call.
void AddBearer(grpc::ClientContext* context, const std::string& token);
// The "authorization" metadata of a call ("" when none).
std::string BearerOf(const grpc::CallbackServerContext& context);

// Asks `stub` for a challenge and checks the coordinator's proof: OK only
// when the coordinator holds `token`. `peer_nonce` (optional) receives the
// nonce sent, `response` (optional) the answer. Waits for a coordinator
// that is not up yet when `wait_for_ready`, at most until `deadline`.
// PermissionDenied when the proof is wrong ("does not hold the lab token").
absl::Status ChallengeCoordinator(
    ::harness::v1::Coordinator::StubInterface* stub, const std::string& token,
    absl::Time deadline, bool wait_for_ready, std::string* peer_nonce = nullptr,
    ::harness::v1::ChallengeResponse* response = nullptr);

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_COORDINATOR_LAB_AUTH_H_
