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
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/wire.h"
#include "services/common/logging.h"

namespace peerlab::membership {
namespace {

// Labels bound into each seal (keyring.h), so that a sealed datagram
// cannot be replayed as a reliable request or answer, or the reverse.
constexpr absl::string_view kPacketLabel = "peerlab gossip packet";
constexpr absl::string_view kRequestLabel = "peerlab gossip request";
constexpr absl::string_view kResponseLabel = "peerlab gossip response";

// A sealed datagram is Packet{encrypted}: the field's tag (field 3,
// length-delimited: 0x1A) and its length as a varint (at most 3 bytes
// below 2 MiB) around the sealed bytes.
constexpr char kSealedPacketTag = 0x1A;
constexpr int kSealedPacketOverhead = kEncryptionOverhead + 1 + 3;

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
    default:
      return "unknown";
  }
}

}  // namespace

absl::Status Memberlist::SetKeyring(Keyring keyring) {
  if (started_) {
    return absl::FailedPreconditionError(
        "the keyring must be set before the node starts");
  }
  keyring_ = std::move(keyring);
  return absl::OkStatus();
}

int Memberlist::PacketSize() const {
  return config_.packet_size - (keyring_ ? kSealedPacketOverhead : 0);
}

std::string Memberlist::SealPacket(std::string packet) const {
  if (!keyring_) return packet;
  ::peer::v1::Packet sealed;
  sealed.set_encrypted(keyring_->Encrypt(packet, kPacketLabel));
  return sealed.SerializeAsString();
}

void Memberlist::ReceivePacket(const std::string& from,
                               const std::string& bytes) {
  if (shut_down_) return;
  if (!keyring_) {
    if (!bytes.empty() && bytes[0] == kSealedPacketTag) {
      ++stats_.packets_received;
      ++stats_.decrypt_failures;
      spdlog::debug(
          "{}: dropped an encrypted datagram from {}: this node has no "
          "keyring",
          config_.name, from);
      return;
    }
    OnPacket(from, bytes);
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
    spdlog::debug("{}: refused an unencrypted datagram from {}", config_.name,
                  from);
    return;
  }
  auto plain = keyring_->Decrypt(outer.encrypted(), kPacketLabel);
  if (!plain.ok()) {
    ++stats_.packets_received;
    ++stats_.decrypt_failures;
    spdlog::debug("{}: dropped a datagram from {}: {}", config_.name, from,
                  plain.status().message());
    return;
  }
  OnPacket(from, *plain);
}

void Memberlist::ReceiveReliable(const std::string& from,
                                 const ::peer::v1::ReliableRequest& request,
                                 Transport::ReliableDone respond) {
  if (shut_down_) {
    respond(absl::UnavailableError("node is shut down"));
    return;
  }
  const bool sealed =
      request.body_case() == ::peer::v1::ReliableRequest::kEncrypted;
  if (!keyring_) {
    if (sealed) {
      ++stats_.decrypt_failures;
      spdlog::warn(
          "{}: refused an encrypted request from {}: this node has no "
          "keyring",
          config_.name, from);
      respond(absl::FailedPreconditionError(absl::StrCat(
          config_.name,
          " refused the request: it does not use gossip encryption")));
      return;
    }
    OnReliable(from, request, std::move(respond));
    return;
  }
  if (!sealed) {
    ++stats_.decrypt_failures;
    spdlog::warn("{}: refused an unencrypted request from {}", config_.name,
                 from);
    respond(absl::PermissionDeniedError(
        absl::StrCat(config_.name,
                     " refused the request: unencrypted, and gossip "
                     "encryption is on")));
    return;
  }
  auto plain = keyring_->Decrypt(request.encrypted(), kRequestLabel);
  if (!plain.ok()) {
    ++stats_.decrypt_failures;
    spdlog::warn("{}: refused a request from {}: {}", config_.name, from,
                 plain.status().message());
    respond(absl::PermissionDeniedError(absl::StrCat(
        config_.name, " refused the request: ", plain.status().message())));
    return;
  }
  ::peer::v1::ReliableRequest inner;
  if (!inner.ParseFromString(*plain) ||
      inner.body_case() == ::peer::v1::ReliableRequest::kEncrypted) {
    ++stats_.bad_packets;
    respond(absl::InvalidArgumentError("malformed request"));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  OnReliable(from, inner,
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
               ::peer::v1::ReliableResponse out;
               out.set_encrypted(keyring_->Encrypt(
                   response->SerializeAsString(), kResponseLabel));
               respond(std::move(out));
             });
}

void Memberlist::SendReliable(const std::string& addr,
                              ::peer::v1::ReliableRequest request,
                              absl::Duration timeout,
                              Transport::ReliableDone done) {
  if (keyring_) {
    ::peer::v1::ReliableRequest sealed;
    sealed.set_encrypted(
        keyring_->Encrypt(request.SerializeAsString(), kRequestLabel));
    request = std::move(sealed);
  }
  std::weak_ptr<bool> alive = alive_;
  transport_->SendReliable(
      addr, std::move(request), timeout,
      [this, alive, addr, done = std::move(done)](
          absl::StatusOr<::peer::v1::ReliableResponse> response) {
        if (!response.ok()) {
          done(std::move(response));
          return;
        }
        if (auto a = alive.lock(); !a || !*a) {
          done(absl::CancelledError("node is gone"));
          return;
        }
        const bool sealed =
            response->body_case() == ::peer::v1::ReliableResponse::kEncrypted;
        if (!keyring_) {
          if (sealed) {
            ++stats_.decrypt_failures;
            done(absl::FailedPreconditionError(
                absl::StrCat("an encrypted answer from ", addr,
                             ", and this node has no keyring")));
            return;
          }
          done(std::move(response));
          return;
        }
        if (!sealed) {
          ++stats_.decrypt_failures;
          done(absl::PermissionDeniedError(
              absl::StrCat("unencrypted answer from ", addr,
                           " refused: gossip encryption is on")));
          return;
        }
        auto plain = keyring_->Decrypt(response->encrypted(), kResponseLabel);
        if (!plain.ok()) {
          ++stats_.decrypt_failures;
          spdlog::warn("{}: refused an answer from {}: {}", config_.name, addr,
                       plain.status().message());
          done(absl::PermissionDeniedError(absl::StrCat(
              "answer from ", addr, ": ", plain.status().message())));
          return;
        }
        ::peer::v1::ReliableResponse inner;
        if (!inner.ParseFromString(*plain)) {
          ++stats_.bad_packets;
          done(absl::InvalidArgumentError(
              absl::StrCat("malformed answer from ", addr)));
          return;
        }
        done(std::move(inner));
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
  msg.set_origin_addr(local_->addr);
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
  spdlog::info("{}: key operation {} sent to {} member(s)", config_.name,
               KindName(msg.kind()), pending.result.members - 1);

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
      break;
    case ::peer::v1::KeyOperation::KIND_USE:
      s = keyring_->Use(op.key());
      break;
    case ::peer::v1::KeyOperation::KIND_REMOVE:
      s = keyring_->Remove(op.key());
      break;
    default:
      return "unknown key operation";
  }
  if (!s.ok()) return std::string(s.message());
  spdlog::info("{}: keyring: {} a key (operation from {}); {} key(s)",
               config_.name, KindName(op.kind()), op.origin(),
               keyring_->keys().size());
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
      spdlog::warn("{}: keyring: refused to {} a key (operation from {}): {}",
                   config_.name, KindName(op.kind()), op.origin(), error);
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
    if (node.name.empty() || &node == local_ ||
        it->second.answered.count(node.name) > 0) {
      continue;
    }
    if (node.state == MemberState::kAlive ||
        node.state == MemberState::kSuspect) {
      silent.push_back(node.addr);
    }
  }
  if (!silent.empty()) {
    spdlog::debug("{}: key operation: {} member(s) silent, asking directly",
                  config_.name, silent.size());
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
