// Key-rotation catch-up (key_catch_up.h): the cryptography, the bounded
// tables, and Memberlist's side of the exchange (asking, answering, and
// the join that asks when every member refused its keys).
#include "peer/membership/key_catch_up.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "peer/identity/node_key.h"
#include "peer/membership/keyring.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/protocol_version.h"

namespace peerlab::membership {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

constexpr absl::string_view kHkdfSalt = "peerlab key catch-up v1";
constexpr absl::string_view kClaimDomain = "peerlab key catch-up request v1";
// Purposes bound into the seals of the request and its answer (as
// encryption.cc's for datagrams and reliable calls), then the label.
constexpr absl::string_view kRequestPurpose = "peerlab key catch-up request";
constexpr absl::string_view kAnswerPurpose = "peerlab key catch-up answer";

void AppendField(std::string& out, absl::string_view field) {
  const uint32_t n = static_cast<uint32_t>(field.size());
  for (int b = 3; b >= 0; --b) out.push_back(static_cast<char>(n >> (8 * b)));
  out.append(field.data(), field.size());
}

// X25519 of `own_private` with `peer_public`, then HKDF-SHA256 to a key
// for Seal. InvalidArgument when the peer key is malformed or of low order.
absl::StatusOr<std::string> DeriveKey(absl::string_view own_private,
                                      absl::string_view peer_public,
                                      absl::string_view info) {
  if (own_private.size() != kX25519KeySize ||
      peer_public.size() != kX25519KeySize) {
    return absl::InvalidArgumentError("X25519 keys are 32 bytes");
  }
  Pkey own(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                        U(own_private), own_private.size()));
  Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                        U(peer_public), peer_public.size()));
  if (!own || !peer) return absl::InvalidArgumentError("bad X25519 key");
  PkeyCtx ctx(EVP_PKEY_CTX_new(own.get(), nullptr));
  std::string shared(kX25519KeySize, '\0');
  size_t len = shared.size();
  // OpenSSL refuses a low-order peer key (an all-zero shared secret).
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(&shared[0]),
                      &len) != 1 ||
      len != kX25519KeySize || shared == std::string(kX25519KeySize, '\0')) {
    return absl::InvalidArgumentError("no X25519 shared secret");
  }
  PkeyCtx kdf(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  std::string key(kKeySize, '\0');
  size_t key_len = key.size();
  if (!kdf || EVP_PKEY_derive_init(kdf.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(kdf.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(kdf.get(), U(kHkdfSalt),
                                  static_cast<int>(kHkdfSalt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(kdf.get(), U(shared),
                                 static_cast<int>(shared.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(kdf.get(), U(info),
                                  static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(kdf.get(), reinterpret_cast<unsigned char*>(&key[0]),
                      &key_len) != 1 ||
      key_len != static_cast<size_t>(kKeySize)) {
    return absl::InternalError("HKDF failed");
  }
  return key;
}

// HKDF's info: the context and both public keys, the asker's first.
std::string Info(absl::string_view context, absl::string_view asker,
                 absl::string_view responder) {
  std::string info;
  AppendField(info, context);
  AppendField(info, asker);
  AppendField(info, responder);
  return info;
}

std::string Printable(absl::string_view s) {
  return absl::CHexEscape(s.substr(0, kMaxNameBytes));
}

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(&out[0]),
                          static_cast<int>(n)) != 1) {
    std::abort();  // as RandomNonce: never reuse predictable bytes
  }
  return out;
}

absl::StatusOr<EphemeralKey> GenerateEphemeralKey() {
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return absl::InternalError("X25519 key generation failed");
  }
  Pkey pkey(raw);
  EphemeralKey key;
  key.private_key.resize(kX25519KeySize);
  key.public_key.resize(kX25519KeySize);
  size_t priv_len = kX25519KeySize;
  size_t pub_len = kX25519KeySize;
  if (EVP_PKEY_get_raw_private_key(
          pkey.get(), reinterpret_cast<unsigned char*>(&key.private_key[0]),
          &priv_len) != 1 ||
      EVP_PKEY_get_raw_public_key(
          pkey.get(), reinterpret_cast<unsigned char*>(&key.public_key[0]),
          &pub_len) != 1 ||
      priv_len != kX25519KeySize || pub_len != kX25519KeySize) {
    return absl::InternalError("X25519 key export failed");
  }
  return key;
}

absl::StatusOr<SealedToEphemeral> SealToEphemeral(absl::string_view to,
                                                  absl::string_view plaintext,
                                                  absl::string_view context) {
  if (to.size() != kX25519KeySize) {
    return absl::InvalidArgumentError("X25519 keys are 32 bytes");
  }
  auto own = GenerateEphemeralKey();
  if (!own.ok()) return own.status();
  auto key =
      DeriveKey(own->private_key, to, Info(context, to, own->public_key));
  if (!key.ok()) return key.status();
  SealedToEphemeral out;
  out.ephemeral_key = own->public_key;
  out.sealed = Seal(*key, RandomNonce(), plaintext, context);
  return out;
}

absl::StatusOr<std::string> OpenFromEphemeral(const EphemeralKey& own,
                                              absl::string_view from,
                                              absl::string_view sealed,
                                              absl::string_view context) {
  auto key =
      DeriveKey(own.private_key, from, Info(context, own.public_key, from));
  if (!key.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open the keyring sealed to this node: ",
                     key.status().message()));
  }
  auto plain = Open(*key, sealed, context);
  if (!plain.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open the keyring sealed to this node: ",
                     plain.status().message()));
  }
  return plain;
}

std::string CatchUpClaim(const ::peer::v1::KeyCatchUpRequest& request) {
  std::string claim(kClaimDomain);
  claim.push_back('\0');
  AppendField(claim, request.label());
  AppendField(claim, request.name());
  AppendField(claim, absl::StrCat(request.generation()));
  AppendField(claim, request.public_key());
  AppendField(claim, request.ephemeral_key());
  AppendField(claim, request.nonce());
  return claim;
}

std::string CatchUpContext(absl::string_view label, absl::string_view name,
                           absl::string_view nonce) {
  std::string context("peerlab key catch-up keyring");
  context.push_back('\0');
  AppendField(context, label);
  AppendField(context, name);
  AppendField(context, nonce);
  return context;
}

bool IsKeyRefusal(const absl::Status& status) {
  return absl::IsPermissionDenied(status) &&
         absl::StrContains(status.message(), "cannot decrypt");
}

std::string KeyFingerprint(absl::string_view key) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(key.data(), key.size(), md, &len, EVP_sha256(), nullptr) !=
          1 ||
      len < 8) {
    return "?";
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), 8));
}

// --- RetiredKeys, TokenBucket ---

void RetiredKeys::Prune(absl::Time now) {
  while (!keys_.empty() && now - keys_.front().retired >= keep_) {
    keys_.pop_front();
  }
}

void RetiredKeys::Add(const std::string& key, absl::Time now) {
  Erase(key);
  Prune(now);
  if (keep_ <= absl::ZeroDuration() || max_ == 0) return;
  keys_.push_back({key, now});
  while (keys_.size() > max_) {
    keys_.pop_front();
    ++evicted_;
  }
}

void RetiredKeys::Erase(const std::string& key) {
  keys_.erase(std::remove_if(keys_.begin(), keys_.end(),
                             [&](const Entry& e) { return e.key == key; }),
              keys_.end());
}

std::vector<std::string> RetiredKeys::Keys(absl::Time now) const {
  std::vector<std::string> out;
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (now - it->retired < keep_) out.push_back(it->key);
  }
  return out;
}

bool RetiredKeys::Contains(const std::string& key, absl::Time now) const {
  for (const Entry& e : keys_) {
    if (e.key == key && now - e.retired < keep_) return true;
  }
  return false;
}

bool TokenBucket::Take(absl::Time now) {
  if (tokens_ < 0) {
    tokens_ = burst_;
  } else if (now > last_) {
    tokens_ =
        std::min(burst_, tokens_ + rate_ * absl::ToDoubleSeconds(now - last_));
  }
  last_ = std::max(last_, now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

// --- Memberlist: the asker ---

struct Memberlist::CatchUpRound {
  EphemeralKey ephemeral;
  std::string nonce;
  std::string key;  // the group key the request was sealed with
  int pending = 0;
  bool finished = false;
  std::vector<std::string> errors;
};

void Memberlist::JoinWithReport(
    const std::vector<std::string>& addrs,
    std::function<void(absl::StatusOr<JoinReport>)> done) {
  std::weak_ptr<bool> alive = alive_;
  JoinOnce(addrs, [this, alive, addrs, done = std::move(done)](
                      absl::StatusOr<JoinReport> report) mutable {
    // Refused for its keys by every member asked (the join's message
    // quotes each refusal).
    if (report.ok() || !absl::IsUnavailable(report.status()) ||
        !absl::StrContains(report.status().message(), "cannot decrypt")) {
      done(std::move(report));
      return;
    }
    if (auto a = alive.lock();
        !a || !*a || !keyring_ ||
        config_.retired_key_time <= absl::ZeroDuration()) {
      done(std::move(report));
      return;
    }
    // Every member refused this node's keys: the group may have rotated
    // them while it was away (serf#579). Ask for the current ones.
    log_.Warn(config_.name,
              ": join refused: no member could decrypt this node's traffic; "
              "asking for a key catch-up (the group may have rotated its keys "
              "while this node was away)");
    const absl::Status first = report.status();
    CatchUpKeys(addrs, [this, alive, addrs, first,
                        done = std::move(done)](absl::Status s) mutable {
      if (auto a = alive.lock(); !a || !*a) {
        done(absl::CancelledError("node is gone"));
        return;
      }
      if (!s.ok()) {
        done(absl::Status(
            first.code(),
            absl::StrCat(first.message(), "; key catch-up: ", s.message())));
        return;
      }
      JoinOnce(addrs, std::move(done));
    });
  });
}

void Memberlist::CatchUpKeys(const std::vector<std::string>& addrs,
                             std::function<void(absl::Status)> done) {
  if (!started_ || shut_down_) {
    done(absl::FailedPreconditionError("node is not running"));
    return;
  }
  if (!keyring_) {
    done(absl::FailedPreconditionError(
        "gossip encryption is off: no keys to catch up on"));
    return;
  }
  if (catch_up_round_) {  // one under way: its outcome
    if (catch_up_waiters_.size() >= kMaxCatchUpWaiters) {
      done(absl::ResourceExhaustedError("too many key catch-up waiters"));
      return;
    }
    catch_up_waiters_.push_back(std::move(done));
    return;
  }
  const absl::Time now = scheduler_->Now();
  if (now - last_catch_up_ < kCatchUpRetry) {  // the last one's
    done(last_catch_up_status_);
    return;
  }
  std::vector<std::string> targets;
  for (const std::string& addr : addrs) {
    if (targets.size() >= kMaxCatchUpTargets) break;
    if (addr.empty() || addr == local_->addr().view() ||
        std::find(targets.begin(), targets.end(), addr) != targets.end()) {
      continue;
    }
    targets.push_back(addr);
  }
  if (targets.empty()) {
    done(absl::InvalidArgumentError("key catch-up: no member to ask"));
    return;
  }
  auto ephemeral = GenerateEphemeralKey();
  if (!ephemeral.ok()) {
    done(ephemeral.status());
    return;
  }
  auto round = std::make_shared<CatchUpRound>();
  round->ephemeral = *std::move(ephemeral);
  round->nonce = RandomBytes(kCatchUpNonceSize);
  round->key = keyring_->primary();
  round->pending = static_cast<int>(targets.size());

  ::peer::v1::KeyCatchUpRequest request;
  request.set_name(config_.name);
  request.set_generation(generation_);
  request.set_public_key(node_key_->public_key().bytes());
  request.set_ephemeral_key(round->ephemeral.public_key);
  request.set_nonce(round->nonce);
  request.set_label(config_.label);
  auto signature = node_key_->Sign(CatchUpClaim(request));
  if (!signature.ok()) {
    done(signature.status());
    return;
  }
  request.set_signature(*std::move(signature));
  ::peer::v1::ReliableRequest outer;
  outer.set_key_catch_up(Seal(round->key, RandomNonce(),
                              request.SerializeAsString(),
                              SealAad(kRequestPurpose, config_.label)));
  outer.set_label(config_.label);
  outer.set_version(kProtocolVersion);

  catch_up_round_ = round;
  last_catch_up_ = now;
  catch_up_waiters_.push_back(std::move(done));
  log_.Info(config_.name, ": key catch-up: asking ",
            absl::StrJoin(targets, ", "), " (request sealed with key ",
            KeyFingerprint(round->key), ")");
  std::weak_ptr<bool> alive = alive_;
  for (const std::string& addr : targets) {
    Stats::Traffic& sent =
        stats_.reliable_sent_by_kind[::peer::v1::ReliableRequest::kKeyCatchUp];
    ++sent.messages;
    sent.bytes += outer.ByteSizeLong();
    transport_->SendReliable(
        addr, outer, config_.reliable_timeout,
        [this, alive, round,
         addr](absl::StatusOr<::peer::v1::ReliableResponse> response) {
          if (auto a = alive.lock(); !a || !*a) return;
          if (round->finished || catch_up_round_ != round) return;
          absl::Status s = TakeCatchUpAnswer(*round, addr, response);
          if (s.ok()) {
            round->finished = true;
            FinishCatchUp(absl::OkStatus());
            return;
          }
          round->errors.push_back(absl::StrCat(addr, ": ", s.message()));
          if (--round->pending > 0) return;
          round->finished = true;
          FinishCatchUp(absl::UnavailableError(
              absl::StrCat("no member sent the current keys: ",
                           absl::StrJoin(round->errors, "; "))));
        });
  }
}

void Memberlist::FinishCatchUp(absl::Status status) {
  catch_up_round_.reset();
  last_catch_up_status_ = status;
  if (!status.ok()) {
    log_.Warn(config_.name, ": key catch-up failed: ", status.message());
  }
  auto waiters = std::move(catch_up_waiters_);
  catch_up_waiters_.clear();
  for (auto& w : waiters) w(status);
}

absl::Status Memberlist::TakeCatchUpAnswer(
    const CatchUpRound& round, const std::string& addr,
    const absl::StatusOr<::peer::v1::ReliableResponse>& response) {
  if (!response.ok()) return response.status();
  if (std::string why;
      !AcceptEnvelope(addr, response->version(), response->label(), &why)) {
    return absl::FailedPreconditionError(why);
  }
  if (response->body_case() != ::peer::v1::ReliableResponse::kKeyCatchUp ||
      response->key_catch_up().size() > kMaxCatchUpBytes) {
    ++stats_.bad_packets;
    return absl::InvalidArgumentError("answered with something else");
  }
  auto plain = Open(round.key, response->key_catch_up(),
                    SealAad(kAnswerPurpose, config_.label));
  if (!plain.ok()) {
    ++stats_.decrypt_failures;
    return absl::PermissionDeniedError(
        absl::StrCat("its answer is not sealed with this node's key: ",
                     plain.status().message()));
  }
  ::peer::v1::KeyCatchUpAnswer answer;
  if (!answer.ParseFromString(*plain) || answer.nonce() != round.nonce ||
      answer.responder().size() > kMaxNameBytes) {
    ++stats_.bad_packets;
    return absl::InvalidArgumentError("a malformed or unrelated answer");
  }
  auto keys_plain = OpenFromEphemeral(
      round.ephemeral, answer.ephemeral_key(), answer.sealed_keys(),
      CatchUpContext(config_.label, config_.name, round.nonce));
  if (!keys_plain.ok()) {
    ++stats_.decrypt_failures;
    return keys_plain.status();
  }
  ::peer::v1::CatchUpKeys keys;
  if (!keys.ParseFromString(*keys_plain) || keys.keys_size() < 1 ||
      keys.keys_size() > kMaxCatchUpKeys) {
    ++stats_.bad_packets;
    return absl::InvalidArgumentError("an answer without a usable keyring");
  }
  auto ring = Keyring::Create({keys.keys().begin(), keys.keys().end()});
  if (!ring.ok()) {
    ++stats_.bad_packets;
    return ring.status();
  }
  InstallCaughtUpKeys(*std::move(ring), answer.responder(), addr);
  return absl::OkStatus();
}

void Memberlist::InstallCaughtUpKeys(Keyring ring, const std::string& responder,
                                     const std::string& addr) {
  int retired = 0;
  for (const std::string& key : keyring_->keys()) {
    if (!ring.Contains(key)) {
      RetireKey(key);
      ++retired;
    }
  }
  for (const std::string& key : ring.keys()) retired_->Erase(key);
  keyring_ = std::move(ring);
  ++stats_.keyring_catch_ups;
  NoteOpened();
  log_.Warn(config_.name,
            ": key catch-up: the group changed its keys while this node was "
            "away; installed ",
            keyring_->keys().size(), " key(s) from ", Printable(responder),
            " at ", addr, " (primary ", KeyFingerprint(keyring_->primary()),
            "), ", retired, " old key(s) retired");
  if (keyring_listener_) keyring_listener_(*keyring_);
}

void Memberlist::NoteKeyRefusal(const std::string& addr) {
  if (!started_ || shut_down_ || leaving_ || replaced_ || !keyring_ ||
      config_.retired_key_time <= absl::ZeroDuration()) {
    return;
  }
  const absl::Time now = scheduler_->Now();
  // Something opened lately: this node's keys work, and whoever was
  // refused is the one behind (or an outsider).
  if (now - last_opened_ < config_.probe_interval * 3) return;
  if (catch_up_round_ || now - last_catch_up_ < kCatchUpRetry) return;
  log_.Info(config_.name, ": nothing sealed opened here for ",
            absl::FormatDuration(config_.probe_interval * 3), " and ", addr,
            " refused this node's keys: asking it for a key catch-up");
  CatchUpKeys({addr}, [](absl::Status) {});
}

std::vector<std::string> Memberlist::RetiredKeyList() const {
  if (!retired_) return {};
  return retired_->Keys(scheduler_->Now());
}

void Memberlist::RetireKey(const std::string& key) {
  if (!retired_) return;
  const uint64_t evicted = retired_->evicted();
  retired_->Add(key, scheduler_->Now());
  if (retired_->evicted() != evicted) {
    stats_.retired_keys_evicted += retired_->evicted() - evicted;
    log_.Warn(config_.name, ": more than ", config_.max_retired_keys,
              " retired keys: the oldest is forgotten (members still holding "
              "only it cannot catch up)");
  }
}

void Memberlist::RememberDeparted(const NodeState& node) {
  if (!keyring_ || config_.retired_key_time <= absl::ZeroDuration() ||
      node.public_key().view().size() != identity::kPublicKeySize) {
    return;
  }
  const absl::Time now = scheduler_->Now();
  // Forget the expired first, then the oldest beyond max_members.
  auto drop_front = [&] {
    auto& [name, when] = departed_order_.front();
    auto it = departed_.find(name);
    if (it != departed_.end() && it->second.when == when) departed_.erase(it);
    departed_order_.pop_front();
  };
  while (!departed_order_.empty() &&
         now - departed_order_.front().second >= config_.retired_key_time) {
    drop_front();
  }
  while (departed_.size() >= static_cast<size_t>(config_.max_members) &&
         !departed_order_.empty()) {
    const bool counted = departed_.count(departed_order_.front().first) > 0;
    drop_front();
    if (counted) ++stats_.departed_evicted;
  }
  departed_[std::string(node.name().view())] =
      Departed{std::string(node.public_key().view()), node.generation(), now};
  departed_order_.emplace_back(std::string(node.name().view()), now);
  // Re-remembered names leave stale order entries: bound those too.
  if (departed_order_.size() > 2 * static_cast<size_t>(config_.max_members)) {
    std::deque<std::pair<std::string, absl::Time>> live;
    for (auto& e : departed_order_) {
      auto it = departed_.find(e.first);
      if (it != departed_.end() && it->second.when == e.second) {
        live.push_back(std::move(e));
      }
    }
    departed_order_ = std::move(live);
  }
}

// --- Memberlist: the answering member ---

void Memberlist::HandleCatchUpRequest(const std::string& from,
                                      const ::peer::v1::ReliableRequest& outer,
                                      Transport::ReliableDone respond) {
  auto refuse = [&](absl::StatusCode code, absl::string_view why) {
    respond(absl::Status(
        code, absl::StrCat(config_.name, " refused the key catch-up: ", why)));
  };
  if (!keyring_) {
    refuse(absl::StatusCode::kFailedPrecondition,
           "it does not use gossip encryption");
    return;
  }
  if (std::string why;
      !AcceptEnvelope(from, outer.version(), outer.label(), &why)) {
    refuse(absl::StatusCode::kFailedPrecondition, why);
    return;
  }
  const std::string& sealed = outer.key_catch_up();
  if (sealed.size() > kMaxCatchUpBytes) {
    ++stats_.bad_packets;
    refuse(absl::StatusCode::kInvalidArgument, "request too large");
    return;
  }
  const absl::Time now = scheduler_->Now();
  const std::string aad = SealAad(kRequestPurpose, config_.label);
  // A key still in use opens it: the asker is not behind this member.
  for (const std::string& key : keyring_->keys()) {
    if (Open(key, sealed, aad).ok()) {
      ++stats_.catch_ups_refused;
      refuse(absl::StatusCode::kFailedPrecondition,
             "the asker's key is still in use here (nothing to catch up)");
      return;
    }
  }
  std::string key;
  absl::StatusOr<std::string> plain = absl::NotFoundError("");
  for (const std::string& retired : retired_->Keys(now)) {
    plain = Open(retired, sealed, aad);
    if (plain.ok()) {
      key = retired;
      break;
    }
  }
  if (key.empty()) {
    ++stats_.decrypt_failures;
    ++stats_.catch_ups_refused;
    refuse(absl::StatusCode::kPermissionDenied,
           "no key it retired opens the request");
    return;
  }
  ::peer::v1::KeyCatchUpRequest request;
  if (!request.ParseFromString(*plain) || request.name().empty() ||
      request.name().size() > kMaxNameBytes ||
      request.public_key().size() != identity::kPublicKeySize ||
      request.ephemeral_key().size() != kX25519KeySize ||
      request.nonce().size() != kCatchUpNonceSize ||
      request.signature().size() != identity::kSignatureSize) {
    ++stats_.bad_packets;
    refuse(absl::StatusCode::kInvalidArgument, "malformed request");
    return;
  }
  if (request.label() != config_.label) {
    ++stats_.label_mismatches;
    refuse(absl::StatusCode::kFailedPrecondition, "another group label");
    return;
  }
  const std::string shown = Printable(request.name());
  // The node key pinned to the name: its record (any state: a member
  // down is dead or left), else its memory of departed members.
  std::string pinned;
  uint64_t generation = 0;
  if (const NodeState* node = Find(request.name()); node != nullptr) {
    if (node != local_) {
      pinned = std::string(node->public_key().view());
      generation = node->generation();
    }
  } else if (auto it = departed_.find(request.name());
             it != departed_.end() &&
             now - it->second.when < config_.retired_key_time) {
    pinned = it->second.public_key;
    generation = it->second.generation;
  }
  std::string why;
  if (pinned.empty()) {
    why = "no member of that name is known here";
  } else if (pinned != request.public_key()) {
    why = "its node key is not the one pinned to its name";
  } else if (request.generation() < generation) {
    why = "a newer process of that name is known";
  }
  // Whole-node limit before the signature check (its cost), taken only by
  // requests that name a member with its pinned key: requests under
  // made-up names (anyone holding a retired key can send them) must not
  // use up the answers of the members that are behind.
  if (why.empty() && !catch_up_bucket_.Take(now)) {
    if (stats_.catch_ups_limited++ % 100 == 0) {
      log_.Warn(config_.name, ": key catch-up requests beyond ", kCatchUpRate,
                "/s not answered (", stats_.catch_ups_limited, " so far)");
    }
    refuse(absl::StatusCode::kResourceExhausted, "too many requests");
    return;
  }
  if (why.empty()) {
    auto pk = identity::PublicKey::FromBytes(request.public_key());
    ++stats_.signatures_verified;
    if (!pk.ok() ||
        !identity::Verify(*pk, CatchUpClaim(request), request.signature())
             .ok()) {
      ++stats_.signature_failures;
      why = "bad signature";
    }
  }
  if (!why.empty()) {
    ++stats_.catch_ups_refused;
    // Unknown names share one log line (they cost nothing to make up).
    if (ConflictLogDue(pinned.empty() ? std::string("catch-up:?")
                                      : absl::StrCat("catch-up:", shown))) {
      log_.Warn(config_.name, ": refused a key catch-up for ", shown, " from ",
                from, " (sealed with retired key ", KeyFingerprint(key),
                "): ", why);
    }
    refuse(absl::StatusCode::kPermissionDenied, absl::StrCat(shown, ": ", why));
    return;
  }
  // A replay of a request seen: refused before it takes the name's turn.
  if (!catch_up_nonces_.insert(request.nonce()).second) {
    ++stats_.catch_ups_refused;
    refuse(absl::StatusCode::kPermissionDenied, "a replayed request");
    return;
  }
  catch_up_nonce_order_.push_back(request.nonce());
  if (catch_up_nonce_order_.size() > kMaxCatchUpNonces) {
    catch_up_nonces_.erase(catch_up_nonce_order_.front());
    catch_up_nonce_order_.pop_front();
  }
  // One answer per name every kCatchUpPerName.
  auto last = catch_up_answered_.find(request.name());
  if (last != catch_up_answered_.end() &&
      now - last->second < kCatchUpPerName) {
    ++stats_.catch_ups_limited;
    refuse(absl::StatusCode::kResourceExhausted,
           absl::StrCat("answered ", shown, " less than ",
                        absl::FormatDuration(kCatchUpPerName), " ago"));
    return;
  }
  if (last == catch_up_answered_.end() &&
      catch_up_answered_.size() >= kMaxCatchUpNames) {
    for (auto i = catch_up_answered_.begin(); i != catch_up_answered_.end();) {
      i = now - i->second >= kCatchUpPerName ? catch_up_answered_.erase(i)
                                             : std::next(i);
    }
    if (catch_up_answered_.size() >= kMaxCatchUpNames) {
      ++stats_.catch_ups_limited;
      refuse(absl::StatusCode::kResourceExhausted, "too many askers");
      return;
    }
  }
  catch_up_answered_[request.name()] = now;

  ::peer::v1::CatchUpKeys keys;
  for (const std::string& k : keyring_->keys()) keys.add_keys(k);
  auto sealed_keys = SealToEphemeral(
      request.ephemeral_key(), keys.SerializeAsString(),
      CatchUpContext(config_.label, request.name(), request.nonce()));
  if (!sealed_keys.ok()) {
    ++stats_.bad_packets;
    refuse(absl::StatusCode::kInvalidArgument, sealed_keys.status().message());
    return;
  }
  ::peer::v1::KeyCatchUpAnswer answer;
  answer.set_responder(config_.name);
  answer.set_nonce(request.nonce());
  answer.set_ephemeral_key(sealed_keys->ephemeral_key);
  answer.set_sealed_keys(sealed_keys->sealed);
  ::peer::v1::ReliableResponse response;
  response.set_key_catch_up(Seal(key, RandomNonce(), answer.SerializeAsString(),
                                 SealAad(kAnswerPurpose, config_.label)));
  response.set_label(config_.label);
  response.set_version(kProtocolVersion);
  ++stats_.catch_ups_answered;
  log_.Info(config_.name, ": key catch-up: sent the current keyring (",
            keyring_->keys().size(), " key(s), primary ",
            KeyFingerprint(keyring_->primary()), ") to ", shown, " at ", from,
            ", which still used retired key ", KeyFingerprint(key));
  respond(std::move(response));
}

}  // namespace peerlab::membership
