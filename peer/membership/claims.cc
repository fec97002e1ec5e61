// Claims and the checks on them, for state.cc's merging: whether an
// alive or an accusation is well formed, incarnation windows, name claims
// by new processes (and probing the holder), signatures of alives and
// leaves (SignatureCache, the claim pool's verified claims), key pins and
// signing this node's own alive. The rules are in state.cc's header
// comment and docs/security.md.

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/state_helpers.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {

using state_internal::IsLive;
using state_internal::Newer;
using state_internal::Printable;

bool Memberlist::ValidAlive(const ::peer::v1::Alive& alive) {
  if (alive.node().empty() || alive.addr().empty() ||
      alive.node().size() > kMaxNameBytes ||
      alive.addr().size() > kMaxAddrBytes || alive.id().size() > kMaxIdBytes ||
      alive.incarnation() > kMaxIncarnation ||
      static_cast<int>(alive.meta().size()) > config_.max_meta_bytes) {
    ++stats_.bad_messages;
    return false;
  }
  return true;
}

bool Memberlist::ValidAccusation(const std::string& node,
                                 const std::string& from,
                                 uint64_t incarnation) {
  if (node.empty() || node.size() > kMaxNameBytes ||
      from.size() > kMaxNameBytes || incarnation > kMaxIncarnation) {
    ++stats_.bad_messages;
    return false;
  }
  return true;
}

bool Memberlist::IncarnationInWindow(uint64_t known, uint64_t claimed) {
  if (WithinIncarnationWindow(known, claimed, config_.incarnation_window)) {
    return true;
  }
  ++stats_.incarnation_jumps_ignored;
  return false;
}

bool Memberlist::ConflictLogDue(const std::string& key) {
  const absl::Time now = scheduler_->Now();
  auto it = conflicts_logged_.find(key);
  if (it != conflicts_logged_.end() &&
      now - it->second < config_.probe_interval * 10) {
    return false;
  }
  if (it == conflicts_logged_.end() &&
      conflicts_logged_.size() >= kMaxUnknownSenders) {
    conflicts_logged_.clear();
  }
  conflicts_logged_[key] = now;
  return true;
}

void Memberlist::LogConflict(const std::string& name, const std::string& mine,
                             const std::string& theirs) {
  ++stats_.name_conflicts;
  if (!ConflictLogDue(name)) return;
  log_.Warn(config_.name, ": conflicting address for ", Printable(name),
            ": mine ", Printable(mine), ", theirs ", Printable(theirs));
}

void Memberlist::LogRefusedMember(const std::string& name) {
  ++stats_.members_refused;
  ++refusals_unlogged_;
  const absl::Time now = scheduler_->Now();
  if (now - refusal_logged_ < config_.probe_interval * 10) return;
  log_.Warn(config_.name, ": refused ", refusals_unlogged_,
            " new member(s) (the last ", Printable(name),
            "): this node holds max_members = ", config_.max_members,
            " already");
  refusal_logged_ = now;
  refusals_unlogged_ = 0;
}

Memberlist::NameClaimCheck Memberlist::CheckNameClaim(
    const ::peer::v1::PushPull& pp) {
  NameClaimCheck check;
  if (pp.from().empty()) return check;
  const ::peer::v1::PushNodeState* claim = nullptr;
  for (const auto& s : pp.nodes()) {
    if (s.name() == pp.from()) {
      claim = &s;
      break;
    }
  }
  if (claim == nullptr || FromProto(claim->state()) != MemberState::kAlive) {
    return check;
  }
  NodeState* holder = Find(pp.from());
  if (holder == nullptr || !IsLive(holder->state)) return check;
  if (holder->generation() == claim->generation() &&
      holder->id() == claim->id()) {
    return check;  // the holder itself
  }
  // Another process claims a name we hold live. Only a join, or a claim
  // that would replace the holder (a newer generation), needs deciding: an
  // older claim is ignored by the merge anyway.
  if (!pp.join() && !Newer(claim->generation(), claim->id(),
                           holder->generation(), holder->id().view())) {
    return check;
  }
  check.action =
      holder == local_ ? NameClaimCheck::kRefuse : NameClaimCheck::kProbe;
  check.name = pp.from();
  check.addr = holder->addr();
  check.id = holder->id();
  check.claim_addr = claim->addr();
  return check;
}

void Memberlist::RefuseNameClaim(const std::string& name,
                                 const std::string& holder_addr,
                                 const std::string& claim_addr,
                                 Transport::ReliableDone respond) {
  ++stats_.joins_refused;
  LogConflict(name, holder_addr, claim_addr);
  log_.Warn(config_.name, ": refused ", Printable(name), " at ",
            Printable(claim_addr), ": the name is held by live member at ",
            Printable(holder_addr));
  respond(absl::AlreadyExistsError(absl::StrCat(
      "name ", Printable(name), " is held by live member at ", holder_addr)));
}

void Memberlist::ProbeHolder(const std::string& name, const std::string& addr,
                             const std::string& id,
                             std::function<void(bool live)> done) {
  auto finished = std::make_shared<bool>(false);
  auto finish = [finished, done = std::make_shared<std::function<void(bool)>>(
                               std::move(done))](bool live) {
    if (*finished) return;
    *finished = true;
    (*done)(live);
  };
  const uint32_t seq = NextSeq();
  ExpectAck(
      seq, config_.probe_timeout,
      [finish](bool ack) {
        if (ack) finish(true);
      },
      [finish] { finish(false); });
  ::peer::v1::Message ping;
  auto* p = ping.mutable_ping();
  p->set_seq_no(seq);
  p->set_target(name);
  p->set_target_id(id);
  p->set_source_name(config_.name);
  p->set_source_addr(local_->addr());
  if (config_.reliable_fallback_probe) {
    ::peer::v1::ReliableRequest request;
    *request.mutable_ping() = ping.ping();
    SendReliable(
        addr, std::move(request), config_.probe_timeout,
        [finish](absl::StatusOr<::peer::v1::ReliableResponse> r) {
          if (r.ok() && r->has_ack()) finish(true);
        },
        name);
  }
  SendMessages(addr, {EncodeMessage(ping)}, name);
}

Memberlist::NodeState* Memberlist::Find(absl::string_view name) {
  const uint32_t pooled = pool_->IndexOf(name);
  if (pooled == 0) return nullptr;  // no record has that name
  const uint32_t index = IndexByName(claims_->NameNumber(pooled));
  return index == kNoRecord ? nullptr : &nodes_[index];
}

bool Memberlist::CheckSignature(absl::string_view public_key,
                                absl::string_view claim,
                                absl::string_view signature, bool* refused) {
  bool ran = false;
  const bool may_verify = verifications_left_ != 0;
  const bool ok =
      signatures_->Check(public_key, claim, signature, &ran, may_verify);
  if (ran) {
    ++stats_.signatures_verified;
    if (verifications_left_ > 0) --verifications_left_;
  }
  *refused = !ok && !may_verify;
  if (*refused) ++stats_.verifications_refused;
  return ok;
}

bool Memberlist::VerifyAlive(const ::peer::v1::Alive& alive) {
  bool refused = false;
  const bool ok = alive.public_key().size() == identity::kPublicKeySize &&
                  alive.signature().size() == identity::kSignatureSize &&
                  CheckSignature(alive.public_key(), AliveClaim(alive),
                                 alive.signature(), &refused);
  if (!ok && !refused) {
    ++stats_.signature_failures;
    log_.Debug(config_.name, ": refused an alive of ", Printable(alive.node()),
               ": ", alive.signature().empty() ? "unsigned" : "bad signature");
  }
  return ok;
}

bool Memberlist::ClaimIs(const ClaimPool::Claim& c, absl::string_view name,
                         absl::string_view addr, absl::string_view id,
                         absl::string_view meta, absl::string_view public_key,
                         uint64_t incarnation, uint64_t generation) {
  return c.incarnation == incarnation && c.generation == generation &&
         c.name == name && c.addr == addr && c.id == id && c.meta == meta &&
         c.public_key == public_key;
}

ClaimPool::Ref Memberlist::VerifiedClaim(const ::peer::v1::Alive& alive,
                                         StringPool::Ref* notice) const {
  ClaimPool::Ref c = claims_->FindVerifiedAlive(alive.signature(), notice);
  if (c.empty()) return c;
  if (ClaimIs(*c, alive.node(), alive.addr(), alive.id(), alive.meta(),
              alive.public_key(), alive.incarnation(), alive.generation())) {
    return c;
  }
  *notice = StringPool::Ref();
  return ClaimPool::Ref();
}

ClaimPool::Ref Memberlist::PoolVerifiedClaim(const ClaimPool::Ref& old_ref,
                                             const ::peer::v1::Alive& alive,
                                             StringPool::Ref* notice) {
  // Unchanged strings keep their references (no pool lookup).
  const ClaimPool::Claim& old = *old_ref;
  auto keep = [this](const StringPool::Ref& ref, const std::string& s) {
    return ref == s ? ref : pool_->Intern(s);
  };
  ClaimPool::Ref claim =
      claims_->Intern({.name = keep(old.name, alive.node()),
                       .addr = keep(old.addr, alive.addr()),
                       .id = keep(old.id, alive.id()),
                       .meta = keep(old.meta, alive.meta()),
                       .public_key = keep(old.public_key, alive.public_key()),
                       .signature = keep(old.signature, alive.signature()),
                       .incarnation = alive.incarnation(),
                       .generation = alive.generation()});
  *notice = pool_->Intern(EncodeNoticeMessage(alive));
  claims_->MarkVerifiedAlive(claim, *notice);
  return claim;
}

void Memberlist::TakeVerifiedClaim(NodeState& node,
                                   const ::peer::v1::Alive& alive,
                                   ClaimPool::Ref verified,
                                   StringPool::Ref* notice) {
  node.claim = verified.empty() ? PoolVerifiedClaim(node.claim, alive, notice)
                                : std::move(verified);
}

bool Memberlist::VerifyLeave(const ::peer::v1::Dead& dead,
                             absl::string_view public_key) {
  bool refused = false;
  const bool ok = dead.signature().size() == identity::kSignatureSize &&
                  CheckSignature(public_key,
                                 LeaveClaim(dead.node(), dead.generation(),
                                            dead.incarnation()),
                                 dead.signature(), &refused);
  if (!ok && !refused) {
    ++stats_.signature_failures;
    log_.Debug(config_.name, ": refused a leave of ", Printable(dead.node()),
               ": ", dead.signature().empty() ? "unsigned" : "bad signature");
  }
  return ok;
}

bool Memberlist::KeyReplaceable(const NodeState& node) const {
  if (node.state == MemberState::kLeft && !node.forced_left) return true;
  return (node.state == MemberState::kDead ||
          node.state == MemberState::kLeft) &&
         scheduler_->Now() - StateChange(node) >=
             config_.gossip_to_the_dead_time;
}

void Memberlist::CountKeyConflict(const std::string& name,
                                  const std::string& addr) {
  ++stats_.key_conflicts;
  if (!ConflictLogDue(absl::StrCat("key:", name))) return;
  log_.Warn(config_.name, ": refused a claim to ", Printable(name), " from ",
            Printable(addr),
            " signed with another key than the one pinned to the name (",
            stats_.key_conflicts, " refused so far)");
}

void Memberlist::SignLocal() {
  ::peer::v1::Message m = LocalAlive();
  if (auto s = SignAlive(*node_key_, *m.mutable_alive()); !s.ok()) {
    log_.Error(config_.name, ": alive not signed: ", s.message());
    return;
  }
  EditClaim(*local_, [&](ClaimPool::Claim& c) {
    c.signature = pool_->Intern(m.alive().signature());
  });
}

}  // namespace peerlab::membership
