// Gossip encryption (memberlist security.go and net.go's encrypt/decrypt
// paths) and keyring operations across the cluster (memberlist's
// KeyManager as Serf runs it through queries).
//
// With a keyring, every datagram leaves as a Packet holding only
// `encrypted` (a whole serialized Packet sealed with the primary key), and
// every reliable request and answer as its `encrypted` alternative. On the
// way in, ReceivePacket and ReceiveReliable open them before the protocol
// sees anything; what no key opens, or what comes unencrypted, is counted in
// stats().decrypt_failures and dropped (reliable calls are answered with an
// error saying why, so a joiner with the wrong key learns it).
//
// Key operations: the originator applies the operation, then gossips it as
// a KeyOperation message (piggybacked like any broadcast, and re-gossiped by
// every member the first time it sees it, so it spreads epidemically). Only
// members that can decrypt it ever see it: being encrypted with a key the
// cluster accepts is what authenticates it. Each member applies it and
// answers the originator directly with a KeyOperationAck on the reliable
// path (sealed too), which counts the answers until every member alive at
// the start answered or the timeout passed.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/protocol_version.h"
#include "peer/membership/sealing.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

// A sealed datagram is Packet{encrypted, label, version}: `encrypted`
// (field 3, length-delimited: tag 0x1A) comes first.
constexpr char kSealedPacketTag = 0x1A;

// Bytes Packet.label costs: a 2-byte tag, its length (1 or 2 bytes below
// 16 KiB) and the label; nothing when empty.
int LabelFieldBytes(size_t label) {
  if (label == 0) return 0;
  return 2 + (label < 128 ? 1 : 2) + static_cast<int>(label);
}

// A version for messages: 0 (no field) is what nodes before the field sent.
uint32_t ShownVersion(uint32_t v) { return v == 0 ? 1 : v; }

// Purposes bound into each seal (keyring.h), so that a sealed datagram
// cannot be replayed as a reliable request or answer, or the reverse; the
// group label follows, so nothing sealed for another group opens.
constexpr absl::string_view kPacketPurpose = "peerlab gossip packet";
constexpr absl::string_view kRequestPurpose = "peerlab gossip request";
constexpr absl::string_view kResponsePurpose = "peerlab gossip response";

// Key operations remembered as seen, so duplicates are not re-applied.
constexpr size_t kMaxSeenKeyOps = 1024;

::peer::v1::KeyOperation::Kind ToKind(KeyOp op) {
  switch (op) {
    case KeyOp::kList:
      return ::peer::v1::KeyOperation::KIND_LIST;
    case KeyOp::kInstall:
      return ::peer::v1::KeyOperation::KIND_INSTALL;
    case KeyOp::kUse:
      return ::peer::v1::KeyOperation::KIND_USE;
    case KeyOp::kRemove:
      return ::peer::v1::KeyOperation::KIND_REMOVE;
    case KeyOp::kPurge:
      return ::peer::v1::KeyOperation::KIND_PURGE;
  }
  return ::peer::v1::KeyOperation::KIND_UNSPECIFIED;
}

const char* KindName(::peer::v1::KeyOperation::Kind kind) {
  switch (kind) {
    case ::peer::v1::KeyOperation::KIND_LIST:
      return "list";
    case ::peer::v1::KeyOperation::KIND_INSTALL:
      return "install";
    case ::peer::v1::KeyOperation::KIND_USE:
      return "use";
    case ::peer::v1::KeyOperation::KIND_REMOVE:
      return "remove";
    case ::peer::v1::KeyOperation::KIND_PURGE:
      return "purge";
    default:
      return "unknown";
  }
}

}  // namespace

// --- sealing.h ---

namespace {

constexpr absl::string_view kPairDomain("peerlab.v1.pair\0", 16);
constexpr absl::string_view kTagDomain("peerlab.v1.sender-tag\0", 22);
// Packet.sender_tag and ReliableRequest.sender_tag: field 25, bytes
// (varint key 202: 0xCA 0x01), 16 bytes long.
constexpr char kTagFieldHead[] = {'\xCA', '\x01', '\x10'};

void AppendU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// `plain` with its sender tag field appended (nothing without a key).
void AppendSenderTag(std::string& plain, const Sealer& sealer, SealKind kind) {
  if (sealer.pair_key.empty()) return;
  const std::string tag =
      SenderTag(sealer.pair_key, kind, sealer.receiver, plain);
  plain.append(kTagFieldHead, sizeof(kTagFieldHead));
  plain += tag;
}

}  // namespace

absl::StatusOr<std::string> PairKey(const identity::NodeKey& own,
                                    const identity::PublicKey& peer) {
  auto secret = own.SharedSecret(peer);
  if (!secret.ok()) return secret.status();
  const std::string& a = own.public_key().bytes();
  const std::string& b = peer.bytes();
  std::string input(kPairDomain);
  input += std::min(a, b);
  input += std::max(a, b);
  input += *secret;
  std::string key(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         reinterpret_cast<unsigned char*>(key.data()));
  OPENSSL_cleanse(input.data(), input.size());
  return key;
}

std::string SenderTag(absl::string_view pair_key, SealKind kind,
                      absl::string_view receiver, absl::string_view covered) {
  std::string input(kTagDomain);
  input.reserve(input.size() + 9 + receiver.size() + covered.size());
  input.push_back(static_cast<char>(kind));
  AppendU64(input, receiver.size());
  input.append(receiver.data(), receiver.size());
  input.append(covered.data(), covered.size());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), pair_key.data(), static_cast<int>(pair_key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
       &len);
  return std::string(reinterpret_cast<const char*>(mac), kSenderTagSize);
}

bool SenderTagValid(absl::string_view pair_key, SealKind kind,
                    absl::string_view receiver, absl::string_view plain) {
  if (pair_key.empty() ||
      plain.size() < static_cast<size_t>(kSenderTagFieldBytes)) {
    return false;
  }
  const absl::string_view field =
      plain.substr(plain.size() - kSenderTagFieldBytes);
  if (field.substr(0, sizeof(kTagFieldHead)) !=
      absl::string_view(kTagFieldHead, sizeof(kTagFieldHead))) {
    return false;
  }
  const std::string expected =
      SenderTag(pair_key, kind, receiver,
                plain.substr(0, plain.size() - kSenderTagFieldBytes));
  return CRYPTO_memcmp(expected.data(), field.data() + sizeof(kTagFieldHead),
                       kSenderTagSize) == 0;
}

std::string SealDatagram(const Keyring& ring, const std::string& label,
                         std::string packet, const Sealer& sealer) {
  ::peer::v1::Packet envelope;
  envelope.set_label(label);
  envelope.set_sender(sealer.name);
  envelope.set_sender_generation(sealer.generation);
  envelope.set_sender_seq(sealer.seq);
  // Serialized fields appended to a serialized message merge into it.
  packet += envelope.SerializeAsString();
  AppendSenderTag(packet, sealer, SealKind::kDatagram);  // the last field
  ::peer::v1::Packet sealed;
  sealed.set_encrypted(ring.Encrypt(packet, SealAad(kPacketPurpose, label)));
  sealed.set_label(label);
  sealed.set_version(kProtocolVersion);
  return sealed.SerializeAsString();
}

int SealedDatagramOverhead(size_t label_bytes, size_t name_bytes) {
  // Inside: label, sender (framed as the label is), generation and seq
  // (2-byte tags, varints of at most 10 bytes), the sender tag. Outside: the
  // seal, `encrypted`'s tag and length (below 2 MiB), label, version (a 2-byte
  // tag and 1 byte).
  return 2 * LabelFieldBytes(label_bytes) + LabelFieldBytes(name_bytes) +
         2 * (2 + 10) + kSenderTagFieldBytes + kEncryptionOverhead + 1 + 3 + 3;
}

absl::StatusOr<std::string> OpenDatagram(const Keyring& ring,
                                         const std::string& label,
                                         const ::peer::v1::Packet& outer) {
  return ring.Decrypt(outer.encrypted(), SealAad(kPacketPurpose, label));
}

::peer::v1::ReliableRequest SealRequest(const Keyring& ring,
                                        const std::string& label,
                                        ::peer::v1::ReliableRequest request,
                                        const Sealer& sealer) {
  request.set_label(label);
  request.set_version(kProtocolVersion);
  request.set_sender(sealer.name);
  request.set_sender_generation(sealer.generation);
  request.set_sender_seq(sealer.seq);
  request.clear_sender_tag();
  std::string plain = request.SerializeAsString();
  AppendSenderTag(plain, sealer, SealKind::kRequest);  // the last field
  ::peer::v1::ReliableRequest sealed;
  sealed.set_encrypted(ring.Encrypt(plain, SealAad(kRequestPurpose, label)));
  sealed.set_label(label);
  sealed.set_version(kProtocolVersion);
  return sealed;
}

absl::StatusOr<std::string> OpenRequest(
    const Keyring& ring, const std::string& label,
    const ::peer::v1::ReliableRequest& outer) {
  return ring.Decrypt(outer.encrypted(), SealAad(kRequestPurpose, label));
}

::peer::v1::ReliableResponse SealResponse(
    const Keyring& ring, const std::string& label,
    ::peer::v1::ReliableResponse response) {
  response.set_label(label);
  response.set_version(kProtocolVersion);
  ::peer::v1::ReliableResponse sealed;
  sealed.set_encrypted(ring.Encrypt(response.SerializeAsString(),
                                    SealAad(kResponsePurpose, label)));
  sealed.set_label(label);
  sealed.set_version(kProtocolVersion);
  return sealed;
}

absl::StatusOr<::peer::v1::ReliableResponse> OpenResponse(
    const Keyring& ring, const std::string& label,
    const ::peer::v1::ReliableResponse& outer) {
  auto plain =
      ring.Decrypt(outer.encrypted(), SealAad(kResponsePurpose, label));
  if (!plain.ok()) return plain.status();
  ::peer::v1::ReliableResponse inner;
  if (!inner.ParseFromString(*plain) ||
      inner.body_case() == ::peer::v1::ReliableResponse::kEncrypted) {
    return absl::InvalidArgumentError("malformed answer");
  }
  return inner;
}

absl::Status Memberlist::SetKeyring(Keyring keyring) {
  if (started_) {
    return absl::FailedPreconditionError(
        "the keyring must be set before the node starts");
  }
  keyring_ = std::move(keyring);
  retired_.emplace(config_.retired_key_time,
                   static_cast<size_t>(std::max(0, config_.max_retired_keys)));
  replay_ = std::make_unique<ReplayGuard>(
      2 * static_cast<size_t>(std::max(1, config_.max_members)));
  unproven_replay_ = std::make_unique<ReplayGuard>(
      2 * static_cast<size_t>(std::max(1, config_.max_members)));
  return absl::OkStatus();
}

int Memberlist::PacketSize() const {
  if (!keyring_) {
    return config_.packet_size - LabelFieldBytes(config_.label.size());
  }
  return config_.packet_size -
         SealedDatagramOverhead(config_.label.size(), config_.name.size());
}

const std::string* Memberlist::PairKeyWith(absl::string_view name) {
  if (!node_key_) return nullptr;
  const NodeState* n = Find(name);
  if (n == nullptr || n->public_key().size() != identity::kPublicKeySize) {
    return nullptr;
  }
  auto it = pair_keys_.find(n->public_key().view());
  if (it == pair_keys_.end()) {
    if (pair_keys_.size() >= kMaxPairKeys) pair_keys_.clear();
    std::string key;
    if (auto peer = identity::PublicKey::FromBytes(n->public_key().view());
        peer.ok()) {
      if (auto k = PairKey(*node_key_, *peer); k.ok()) key = *std::move(k);
    }
    ++stats_.pair_keys_derived;
    it = pair_keys_.emplace(n->public_key().str(), std::move(key)).first;
  }
  return it->second.empty() ? nullptr : &it->second;
}

Sealer Memberlist::MakeSealer(uint64_t seq, const std::string& to) {
  Sealer sealer{config_.name, generation_, seq};
  if (!to.empty()) {
    if (const std::string* key = PairKeyWith(to)) {
      sealer.receiver = to;
      sealer.pair_key = *key;
    }
  }
  return sealer;
}

Memberlist::SenderProof Memberlist::SenderProven(SealKind kind,
                                                 const std::string& name,
                                                 bool has_tag,
                                                 absl::string_view plain) {
  const std::string* key = has_tag ? PairKeyWith(name) : nullptr;
  if (key == nullptr) {
    // No tag (the sender does not know our key), or we do not know its:
    // a first contact.
    ++stats_.unproven_senders;
    return SenderProof::kUnproven;
  }
  if (SenderTagValid(*key, kind, config_.name, plain)) {
    return SenderProof::kProven;
  }
  // Made for another receiver (a captured datagram sent elsewhere), or
  // by someone without the name's key.
  ++stats_.sender_tag_failures;
  return SenderProof::kFailed;
}

std::string Memberlist::SealPacket(std::string packet, const std::string& to) {
  if (!keyring_) {
    if (config_.label.empty()) return packet;  // nothing to add
    ::peer::v1::Packet envelope;
    envelope.set_label(config_.label);
    // Serialized fields appended to a serialized message merge into it.
    packet += envelope.SerializeAsString();
    return packet;
  }
  return SealDatagram(*keyring_, config_.label, std::move(packet),
                      MakeSealer(++send_seq_, to));
}

void Memberlist::LogOnce(const std::string& key, const std::string& text) {
  if (envelope_logged_.size() >= kMaxEnvelopeLogKeys) {
    envelope_logged_.clear();
  }
  if (!envelope_logged_.insert(key).second) return;
  log_.Warn(config_.name, ": ", text);
}

bool Memberlist::AcceptEnvelope(const std::string& from, uint32_t version,
                                const std::string& label, std::string* why) {
  if (version != kProtocolVersion) {
    const uint32_t shown = ShownVersion(version);
    if (shown >= kMinProtocolVersion && shown < kProtocolVersion) {
      LogOnce(absl::StrCat("version/", from),
              absl::StrCat("peer ", from, " speaks protocol ", shown,
                           ", this node ", kProtocolVersion,
                           ": an older version, accepted"));
    } else {
      ++stats_.versions_refused;
      std::string text = absl::StrCat("peer ", from, " speaks protocol ", shown,
                                      ", this node ", kProtocolVersion);
      LogOnce(absl::StrCat("version/", from),
              absl::StrCat(text, ": its datagrams and requests are refused"));
      if (why) *why = std::move(text);
      return false;
    }
  }
  if (label != config_.label) {
    ++stats_.label_mismatches;
    LogOnce(absl::StrCat("label/", from),
            absl::StrCat("refused traffic from ", from, ": group label \"",
                         absl::CHexEscape(label.substr(0, kMaxLabelBytes)),
                         "\", this group's is \"",
                         absl::CHexEscape(config_.label), "\""));
    if (why) *why = "another group label";
    return false;
  }
  return true;
}

bool Memberlist::AcceptPacket(const std::string& from, const std::string& bytes,
                              const ::peer::v1::Packet& packet) {
  if (!AcceptEnvelope(from, packet.version(), packet.label())) return false;
  // Only a decrypted datagram reaches here when a keyring is set.
  if (!keyring_) return true;
  const SenderProof proof = SenderProven(SealKind::kDatagram, packet.sender(),
                                         !packet.sender_tag().empty(), bytes);
  return AcceptReplay(ReplayGuard::Kind::kDatagram, from, packet.sender(),
                      packet.sender_generation(), packet.sender_seq(), proof);
}

bool Memberlist::AcceptReplay(ReplayGuard::Kind kind, const std::string& addr,
                              const std::string& name, uint64_t generation,
                              uint64_t seq, SenderProof proof) {
  ReplayGuard& guard =
      proof == SenderProof::kProven ? *replay_ : *unproven_replay_;
  const uint64_t evicted = guard.evicted();
  ReplayGuard::Verdict verdict = ReplayGuard::Verdict::kBadTag;
  if (proof == SenderProof::kProven) {
    verdict = replay_->Check(kind, name, generation, seq);
  } else if (proof == SenderProof::kUnproven) {
    // Held to the proven window's horizon too (seen, too old, an older
    // generation), but recorded only in its own window: it cannot move
    // the proven one.
    verdict = replay_->Peek(kind, name, generation, seq);
    if (verdict == ReplayGuard::Verdict::kNew) {
      verdict = unproven_replay_->Check(kind, name, generation, seq);
    }
  }
  if (guard.evicted() != evicted) {
    if (stats_.replay_senders_evicted++ % 1024 == 0) {
      log_.Warn(
          config_.name, ": replay windows: more than ", guard.size(),
          " senders of sealed traffic; the least recently heard is forgotten (",
          stats_.replay_senders_evicted, " so far)");
    }
  }
  if (verdict == ReplayGuard::Verdict::kNew) return true;
  ++stats_.replays_refused;
  const char* why = "a replay (sequence number seen or too old)";
  if (verdict == ReplayGuard::Verdict::kBadTag) {
    why =
        "its sender tag does not verify (sealed for another receiver, or "
        "not by its sender)";
  } else if (verdict == ReplayGuard::Verdict::kOldGeneration) {
    why = "from an older generation of its sender";
  } else if (verdict == ReplayGuard::Verdict::kMissingFields) {
    why = "without its sender's name, generation or sequence number";
  }
  const std::string shown = absl::CHexEscape(name.substr(0, kMaxNameBytes));
  LogOnce(absl::StrCat("replay/", shown, "/", addr),
          absl::StrCat(
              "refused a sealed ",
              kind == ReplayGuard::Kind::kDatagram ? "datagram" : "request",
              " of ", shown, " from ", addr, ": ", why,
              " (later ones counted in replays_refused)"));
  return false;
}

void Memberlist::ReceivePacket(const std::string& from,
                               const std::string& bytes) {
  if (shut_down_) return;
  stats_.bytes_received += bytes.size();
  if (!keyring_) {
    if (!bytes.empty() && bytes[0] == kSealedPacketTag) {
      ++stats_.packets_received;
      ++stats_.decrypt_failures;
      log_.Debug(config_.name, ": dropped an encrypted datagram from ", from,
                 ": this node has no keyring");
      return;
    }
    OnPacket(from, bytes);  // checks the envelope (AcceptPacket)
    return;
  }
  ::peer::v1::Packet outer;
  if (bytes.empty() || bytes.size() > static_cast<size_t>(kMaxDatagram) ||
      !outer.ParseFromString(bytes)) {
    ++stats_.packets_received;
    ++stats_.bad_packets;
    return;
  }
  if (outer.encrypted().empty()) {
    ++stats_.packets_received;
    ++stats_.decrypt_failures;
    log_.Debug(config_.name, ": refused an unencrypted datagram from ", from);
    return;
  }
  if (!AcceptEnvelope(from, outer.version(), outer.label())) {
    ++stats_.packets_received;
    return;
  }
  auto plain = OpenDatagram(*keyring_, config_.label, outer);
  if (!plain.ok()) {
    ++stats_.packets_received;
    ++stats_.decrypt_failures;
    log_.Debug(config_.name, ": dropped a datagram from ", from, ": ",
               plain.status().message());
    if (!absl::IsInvalidArgument(plain.status())) NoteKeyRefusal(from);
    return;
  }
  NoteOpened();
  OnPacket(from, *plain);  // the envelope inside, and the replay window
}

void Memberlist::ReceiveReliable(const std::string& from,
                                 const ::peer::v1::ReliableRequest& request,
                                 Transport::ReliableDone respond) {
  if (shut_down_) {
    respond(absl::UnavailableError("node is shut down"));
    return;
  }
  // Counted by kind as it arrived (sealed: under the kind inside, once
  // opened).
  const size_t request_bytes = request.ByteSizeLong();
  ++stats_.reliable_received;
  auto count_kind = [this, request_bytes](int kind) {
    Stats::Traffic& t =
        stats_.reliable_received_by_kind[kind < Stats::kMaxKinds ? kind : 0];
    ++t.messages;
    t.bytes += request_bytes;
  };
  if (request.body_case() != ::peer::v1::ReliableRequest::kEncrypted) {
    count_kind(request.body_case());
  }
  if (request.body_case() == ::peer::v1::ReliableRequest::kKeyCatchUp) {
    HandleCatchUpRequest(from, request, std::move(respond));
    return;
  }
  const bool sealed =
      request.body_case() == ::peer::v1::ReliableRequest::kEncrypted;
  if (!keyring_ && sealed) {
    ++stats_.decrypt_failures;
    log_.Warn(config_.name, ": refused an encrypted request from ", from,
              ": this node has no keyring");
    respond(absl::FailedPreconditionError(absl::StrCat(
        config_.name,
        " refused the request: it does not use gossip encryption")));
    return;
  }
  if (keyring_ && !sealed) {
    ++stats_.decrypt_failures;
    log_.Warn(config_.name, ": refused an unencrypted request from ", from);
    respond(absl::PermissionDeniedError(
        absl::StrCat(config_.name,
                     " refused the request: unencrypted, and gossip "
                     "encryption is on")));
    return;
  }
  if (std::string why;
      !AcceptEnvelope(from, request.version(), request.label(), &why)) {
    respond(absl::FailedPreconditionError(
        absl::StrCat(config_.name, " refused the request: ", why)));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  if (!keyring_) {
    OnReliable(from, request,
               [this, alive, respond = std::move(respond)](
                   absl::StatusOr<::peer::v1::ReliableResponse> response) {
                 if (response.ok()) {
                   response->set_label(config_.label);
                   response->set_version(kProtocolVersion);
                 }
                 respond(std::move(response));
               });
    return;
  }
  auto plain = OpenRequest(*keyring_, config_.label, request);
  if (!plain.ok()) {
    ++stats_.decrypt_failures;
    log_.Warn(config_.name, ": refused a request from ", from, ": ",
              plain.status().message());
    respond(absl::PermissionDeniedError(absl::StrCat(
        config_.name, " refused the request: ", plain.status().message())));
    return;
  }
  NoteOpened();
  ::peer::v1::ReliableRequest inner;
  if (!inner.ParseFromString(*plain) ||
      inner.body_case() == ::peer::v1::ReliableRequest::kEncrypted ||
      inner.body_case() == ::peer::v1::ReliableRequest::kKeyCatchUp) {
    ++stats_.bad_packets;
    respond(absl::InvalidArgumentError("malformed request"));
    return;
  }
  count_kind(inner.body_case());
  if (std::string why;
      !AcceptEnvelope(from, inner.version(), inner.label(), &why)) {
    respond(absl::FailedPreconditionError(
        absl::StrCat(config_.name, " refused the request: ", why)));
    return;
  }
  const SenderProof proof = SenderProven(SealKind::kRequest, inner.sender(),
                                         !inner.sender_tag().empty(), *plain);
  if (!AcceptReplay(ReplayGuard::Kind::kRequest, from, inner.sender(),
                    inner.sender_generation(), inner.sender_seq(), proof)) {
    respond(absl::PermissionDeniedError(
        absl::StrCat(config_.name,
                     " refused the request: a replay, or its sender's "
                     "generation is not the newest")));
    return;
  }
  OnReliable(
      from, inner,
      [this, alive, respond = std::move(respond)](
          absl::StatusOr<::peer::v1::ReliableResponse> response) {
        if (!response.ok()) {
          respond(std::move(response));
          return;
        }
        if (auto a = alive.lock(); !a || !*a || !keyring_) {
          respond(absl::UnavailableError("node is gone"));
          return;
        }
        respond(SealResponse(*keyring_, config_.label, *std::move(response)));
      },
      proof == SenderProof::kProven ? &inner.sender() : nullptr);
}

void Memberlist::SendReliable(const std::string& addr,
                              ::peer::v1::ReliableRequest request,
                              absl::Duration timeout,
                              Transport::ReliableDone done,
                              const std::string& to) {
  const int kind = request.body_case();
  if (keyring_) {
    request = SealRequest(*keyring_, config_.label, std::move(request),
                          MakeSealer(++reliable_seq_, to));
  } else {
    request.set_label(config_.label);
    request.set_version(kProtocolVersion);
  }
  Stats::Traffic& sent =
      stats_.reliable_sent_by_kind[kind < Stats::kMaxKinds ? kind : 0];
  ++sent.messages;
  sent.bytes += request.ByteSizeLong();
  std::weak_ptr<bool> alive = alive_;
  transport_->SendReliable(
      addr, std::move(request), timeout,
      [this, alive, addr, done = std::move(done)](
          absl::StatusOr<::peer::v1::ReliableResponse> response) {
        if (!response.ok()) {
          // The member could not open our request: perhaps the group
          // rotated its keys while this node was away.
          if (auto a = alive.lock();
              a && *a && keyring_ && IsKeyRefusal(response.status())) {
            NoteKeyRefusal(addr);
          }
          done(std::move(response));
          return;
        }
        if (auto a = alive.lock(); !a || !*a) {
          done(absl::CancelledError("node is gone"));
          return;
        }
        const bool sealed =
            response->body_case() == ::peer::v1::ReliableResponse::kEncrypted;
        if (!keyring_ && sealed) {
          ++stats_.decrypt_failures;
          done(absl::FailedPreconditionError(
              absl::StrCat("an encrypted answer from ", addr,
                           ", and this node has no keyring")));
          return;
        }
        if (keyring_ && !sealed) {
          ++stats_.decrypt_failures;
          done(absl::PermissionDeniedError(
              absl::StrCat("unencrypted answer from ", addr,
                           " refused: gossip encryption is on")));
          return;
        }
        std::string why;
        if (!AcceptEnvelope(addr, response->version(), response->label(),
                            &why)) {
          done(absl::FailedPreconditionError(
              absl::StrCat("answer from ", addr, " refused: ", why)));
          return;
        }
        if (!keyring_) {
          done(std::move(response));
          return;
        }
        auto inner = OpenResponse(*keyring_, config_.label, *response);
        if (!inner.ok()) {
          if (absl::IsInvalidArgument(inner.status())) {
            ++stats_.bad_packets;
          } else {
            ++stats_.decrypt_failures;
            log_.Warn(config_.name, ": refused an answer from ", addr, ": ",
                      inner.status().message());
            NoteKeyRefusal(addr);
          }
          done(absl::Status(inner.status().code(),
                            absl::StrCat("answer from ", addr, ": ",
                                         inner.status().message())));
          return;
        }
        NoteOpened();
        done(*std::move(inner));
      });
}

// --- Key operations ---

void Memberlist::KeyOperation(
    KeyOp op, std::string key, absl::Duration timeout,
    std::function<void(absl::StatusOr<KeyOpResult>)> done) {
  if (!started_ || shut_down_) {
    done(absl::FailedPreconditionError("node is not running"));
    return;
  }
  if (!keyring_) {
    done(absl::FailedPreconditionError(
        "gossip encryption is off: this node has no keyring"));
    return;
  }
  if (op != KeyOp::kList && key.size() != static_cast<size_t>(kKeySize)) {
    done(absl::InvalidArgumentError(
        absl::StrCat("key is ", key.size(), " bytes, want ", kKeySize)));
    return;
  }
  ::peer::v1::KeyOperation msg;
  msg.set_kind(ToKind(op));
  if (op != KeyOp::kList) msg.set_key(std::move(key));
  uint64_t id;
  do {
    id = rng_.Next();
  } while (id == 0 || key_ops_.count(id) > 0);
  msg.set_id(id);
  msg.set_origin(config_.name);
  msg.set_origin_addr(local_->addr());
  // This node first: what it refuses is not sent anywhere.
  if (std::string error = ApplyKeyOp(msg); !error.empty()) {
    done(absl::FailedPreconditionError(error));
    return;
  }
  const std::string seen = absl::StrCat(config_.name, "/", id);

  PendingKeyOp& pending = key_ops_[id];
  pending.op = msg;
  pending.result.members = NumAlive();
  pending.done = std::move(done);
  std::weak_ptr<bool> alive = alive_;
  pending.timer = scheduler_->After(timeout, [this, alive, id] {
    if (auto a = alive.lock(); !a || !*a) return;
    auto it = key_ops_.find(id);
    if (it == key_ops_.end()) return;
    it->second.timer = 0;
    FinishKeyOp(id);
  });
  // Gossip first; whoever has not answered after a few gossip rounds (an
  // epidemic with few retransmissions misses a member now and then) gets
  // it directly.
  pending.retry_timer = scheduler_->After(
      std::min(timeout / 2, config_.gossip_interval * 5), [this, alive, id] {
        if (auto a = alive.lock(); !a || !*a) return;
        auto it = key_ops_.find(id);
        if (it == key_ops_.end()) return;
        it->second.retry_timer = 0;
        SendKeyOpDirectly(id);
      });
  ::peer::v1::Message m;
  *m.mutable_key_op() = msg;
  QueueBroadcast(absl::StrCat("keyop:", seen), m);
  log_.Info(config_.name, ": key operation ", KindName(msg.kind()), " sent to ",
            pending.result.members - 1, " member(s)");

  ::peer::v1::KeyOperationAck self;
  self.set_id(id);
  self.set_node(config_.name);
  for (const auto& k : keyring_->keys()) self.add_keys(k);
  RecordKeyOpAck(id, self);  // may finish it (a cluster of one)
}

std::string Memberlist::ApplyKeyOp(const ::peer::v1::KeyOperation& op) {
  absl::Status s;
  switch (op.kind()) {
    case ::peer::v1::KeyOperation::KIND_LIST:
      return "";
    case ::peer::v1::KeyOperation::KIND_INSTALL:
      s = keyring_->Install(op.key());
      if (s.ok()) retired_->Erase(op.key());  // in use again
      break;
    case ::peer::v1::KeyOperation::KIND_USE:
      s = keyring_->Use(op.key());
      break;
    case ::peer::v1::KeyOperation::KIND_REMOVE:
      s = keyring_->Remove(op.key());
      // Kept a while, only to open catch-up requests (key_catch_up.h).
      if (s.ok()) RetireKey(op.key());
      break;
    case ::peer::v1::KeyOperation::KIND_PURGE:
      // Removed if held (never the primary), and forgotten if retired.
      if (keyring_->Contains(op.key())) {
        s = keyring_->Remove(op.key());
      } else if (!retired_->Contains(op.key(), scheduler_->Now())) {
        s = absl::NotFoundError("key is neither installed nor retired");
      }
      if (s.ok()) retired_->Erase(op.key());
      break;
    default:
      return "unknown key operation";
  }
  if (!s.ok()) return std::string(s.message());
  log_.Info(config_.name, ": keyring: ", KindName(op.kind()),
            " a key (operation from ", op.origin(), "); ",
            keyring_->keys().size(), " key(s)");
  if (keyring_listener_) keyring_listener_(*keyring_);
  return "";
}

::peer::v1::KeyOperationAck Memberlist::ApplyRemoteKeyOp(
    const ::peer::v1::KeyOperation& op, bool* first) {
  const std::string seen = absl::StrCat(op.origin(), "/", op.id());
  auto it = seen_key_ops_.find(seen);
  *first = it == seen_key_ops_.end();
  if (*first) {
    // Epidemic, as Serf re-broadcasts a query it has not seen: the
    // originator's own retransmissions alone may miss members.
    ::peer::v1::Message m;
    *m.mutable_key_op() = op;
    QueueBroadcast(absl::StrCat("keyop:", seen), m);
    std::string error = ApplyKeyOp(op);
    if (!error.empty()) {
      log_.Warn(config_.name, ": keyring: refused to ", KindName(op.kind()),
                " a key (operation from ", op.origin(), "): ", error);
    }
    it = seen_key_ops_.emplace(seen, std::move(error)).first;
    seen_key_ops_order_.push_back(seen);
    if (seen_key_ops_order_.size() > kMaxSeenKeyOps) {
      seen_key_ops_.erase(seen_key_ops_order_.front());
      seen_key_ops_order_.pop_front();
      it = seen_key_ops_.find(seen);
    }
  }
  ::peer::v1::KeyOperationAck ack;
  ack.set_id(op.id());
  ack.set_node(config_.name);
  ack.set_error(it->second);
  if (op.kind() == ::peer::v1::KeyOperation::KIND_LIST) {
    for (const auto& k : keyring_->keys()) ack.add_keys(k);
  }
  return ack;
}

void Memberlist::HandleKeyOp(const ::peer::v1::KeyOperation& op) {
  // Without a keyring nothing authenticates the sender: never applied.
  if (!keyring_ || op.origin() == config_.name) return;
  bool first;
  ::peer::v1::KeyOperationAck ack = ApplyRemoteKeyOp(op, &first);
  if (!first || op.origin_addr().empty()) return;
  ::peer::v1::ReliableRequest request;
  *request.mutable_key_op_ack() = std::move(ack);
  SendReliable(op.origin_addr(), std::move(request), config_.reliable_timeout,
               [](absl::StatusOr<::peer::v1::ReliableResponse>) {});
}

void Memberlist::HandleDirectKeyOp(const ::peer::v1::KeyOperation& op,
                                   Transport::ReliableDone respond) {
  if (!keyring_) {
    respond(absl::FailedPreconditionError("gossip encryption is off"));
    return;
  }
  bool first;
  ::peer::v1::ReliableResponse response;
  *response.mutable_key_op_ack() = ApplyRemoteKeyOp(op, &first);
  respond(std::move(response));
}

void Memberlist::SendKeyOpDirectly(uint64_t id) {
  auto it = key_ops_.find(id);
  if (it == key_ops_.end()) return;
  std::vector<std::string> silent;
  for (const NodeState& node : nodes_) {
    if (node.name().empty() || &node == local_ ||
        it->second.answered.count(node.name()) > 0) {
      continue;
    }
    if (node.state == MemberState::kAlive ||
        node.state == MemberState::kSuspect) {
      silent.push_back(node.addr());
    }
  }
  if (!silent.empty()) {
    log_.Debug(config_.name, ": key operation: ", silent.size(),
               " member(s) silent, asking directly");
  }
  for (const std::string& addr : silent) {
    ::peer::v1::ReliableRequest request;
    *request.mutable_key_op() = it->second.op;
    std::weak_ptr<bool> alive = alive_;
    SendReliable(addr, std::move(request), config_.reliable_timeout,
                 [this, alive,
                  id](absl::StatusOr<::peer::v1::ReliableResponse> response) {
                   if (auto a = alive.lock(); !a || !*a) return;
                   if (response.ok() && response->has_key_op_ack()) {
                     RecordKeyOpAck(id, response->key_op_ack());
                   }
                 });
  }
}

void Memberlist::HandleKeyOpAck(const ::peer::v1::KeyOperationAck& ack) {
  RecordKeyOpAck(ack.id(), ack);
}

void Memberlist::RecordKeyOpAck(uint64_t id,
                                const ::peer::v1::KeyOperationAck& ack) {
  auto it = key_ops_.find(id);
  if (it == key_ops_.end()) return;  // finished, or not ours
  PendingKeyOp& pending = it->second;
  if (!pending.answered.insert(ack.node()).second) return;
  KeyOpResult& r = pending.result;
  ++r.acks;
  if (!ack.error().empty()) r.errors[ack.node()] = ack.error();
  for (int i = 0; i < ack.keys_size(); ++i) {
    ++r.keys[ack.keys(i)];
    if (i == 0) ++r.primary_keys[ack.keys(i)];
  }
  if (r.acks >= r.members) FinishKeyOp(id);
}

void Memberlist::FinishKeyOp(uint64_t id) {
  auto it = key_ops_.find(id);
  if (it == key_ops_.end()) return;
  PendingKeyOp pending = std::move(it->second);
  key_ops_.erase(it);
  if (pending.timer) scheduler_->Cancel(pending.timer);
  if (pending.retry_timer) scheduler_->Cancel(pending.retry_timer);
  if (pending.done) pending.done(std::move(pending.result));
}

}  // namespace peerlab::membership
