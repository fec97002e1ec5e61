// Membership state: merging alive, suspect and dead messages with SWIM's
// precedence rules (memberlist state.go), refutation, and events.
//
// Precedence for another member, by incarnation i:
//   alive(i)   overrides suspect(j) and dead(j) for i > j, and alive(j) for
//              i > j (a new incarnation, e.g. new metadata or a refutation);
//   suspect(i) overrides alive(j) for i >= j;
//   dead(i)    overrides alive(j) and suspect(j) for i >= j.
// About itself a node accepts nothing: it refutes suspect/dead with a higher
// incarnation, unless it is leaving.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/protocol_math.h"
#include "services/common/logging.h"

namespace peerlab::membership {
namespace {

bool IsLive(MemberState s) {
  return s == MemberState::kAlive || s == MemberState::kSuspect;
}

}  // namespace

Memberlist::NodeState* Memberlist::Find(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Memberlist::NodeState& Memberlist::AddNode(const ::peer::v1::Alive& alive) {
  auto node = std::make_unique<NodeState>();
  node->member.name = alive.node();
  node->member.addr = alive.addr();
  node->member.id = alive.id();
  node->member.meta = alive.meta();
  node->member.incarnation = alive.incarnation();
  node->member.state = MemberState::kAlive;
  node->member.state_change = scheduler_->Now();
  NodeState& ref = *node;
  auto [it, inserted] = nodes_.insert_or_assign(alive.node(), std::move(node));
  by_name_[it->first] = it->second.get();
  ++num_alive_;
  // Insert at a random place in the probe order, so new members are probed
  // soon but not all at once by everyone (memberlist does the same).
  size_t pos = probe_order_.empty()
                   ? 0
                   : static_cast<size_t>(rng_.Uniform(probe_order_.size() + 1));
  probe_order_.insert(probe_order_.begin() + pos, alive.node());
  if (pos <= probe_index_ && !probe_order_.empty()) ++probe_index_;
  return ref;
}

void Memberlist::SetState(NodeState& node, MemberState state) {
  bool was_live = IsLive(node.member.state);
  bool is_live = IsLive(state);
  if (was_live && !is_live) --num_alive_;
  if (!was_live && is_live) ++num_alive_;
  if (node.member.state != state) node.member.state_change = scheduler_->Now();
  node.member.state = state;
  if (state != MemberState::kSuspect) node.suspicion.reset();
}

::peer::v1::Message Memberlist::LocalAlive() const {
  ::peer::v1::Message m;
  auto* a = m.mutable_alive();
  a->set_incarnation(local_->member.incarnation);
  a->set_node(local_->member.name);
  a->set_addr(local_->member.addr);
  a->set_meta(local_->member.meta);
  a->set_id(local_->member.id);
  return m;
}

void Memberlist::BroadcastAlive(std::function<void()> on_done) {
  QueueBroadcast(local_->member.name, LocalAlive(), std::move(on_done));
}

void Memberlist::AnnounceSelfToAll() {
  const ::peer::v1::Message alive = LocalAlive();
  for (const auto& [name, node] : nodes_) {
    if (node.get() == local_ || !IsLive(node->member.state)) continue;
    SendWithPiggyback(node->member.addr, alive);
  }
}

void Memberlist::Refute(uint64_t accused_incarnation) {
  local_->member.incarnation =
      std::max(local_->member.incarnation, accused_incarnation) + 1;
  ++stats_.refutations;
  // Lifeguard: being suspected means we may be the slow one.
  awareness_.ApplyDelta(1);
  BroadcastAlive();
}

void Memberlist::HandleAlive(const ::peer::v1::Alive& alive, bool from_join) {
  if (alive.node().empty() || alive.addr().empty()) return;
  if (static_cast<int>(alive.meta().size()) > config_.max_meta_bytes) return;
  if (alive.node() == config_.name) {
    // About us: someone has an older or forged view. Anything at or above
    // our incarnation with a different id or meta is refuted, so the
    // cluster converges on what we say.
    if (leaving_) return;
    if (alive.incarnation() >= local_->member.incarnation &&
        (alive.id() != local_->member.id ||
         alive.meta() != local_->member.meta ||
         alive.addr() != local_->member.addr)) {
      Refute(alive.incarnation());
    }
    return;
  }
  NodeState* node = Find(alive.node());
  if (node == nullptr) {
    NodeState& added = AddNode(alive);
    QueueBroadcast(alive.node(), [&] {
      ::peer::v1::Message m;
      *m.mutable_alive() = alive;
      return m;
    }());
    spdlog::debug("{}: member {} joined ({})", config_.name, alive.node(),
                  alive.addr());
    if (events_) events_->OnJoin(added.member);
    return;
  }
  Member& m = node->member;
  // An older or equal incarnation changes nothing (a duplicate).
  if (alive.incarnation() <= m.incarnation) return;
  const MemberState before = m.state;
  const bool meta_changed = m.meta != alive.meta() || m.addr != alive.addr();
  m.incarnation = alive.incarnation();
  m.addr = alive.addr();
  m.meta = alive.meta();
  m.id = alive.id();
  SetState(*node, MemberState::kAlive);
  ::peer::v1::Message out;
  *out.mutable_alive() = alive;
  QueueBroadcast(alive.node(), out);
  if (!events_) return;
  if (before == MemberState::kDead || before == MemberState::kLeft) {
    events_->OnJoin(m);  // back with a new incarnation
  } else {
    if (before == MemberState::kSuspect) events_->OnAlive(m);
    if (meta_changed) events_->OnUpdate(m);
  }
  (void)from_join;
}

void Memberlist::StartSuspicion(NodeState& node, const std::string& from) {
  const int n = NumAlive();
  // Lifeguard: expect suspicion_mult - 2 independent confirmations, but not
  // more than the other members could give.
  int k = config_.lifeguard ? config_.suspicion_mult - 2 : 0;
  if (n - 2 < k) k = 0;
  absl::Duration min =
      SuspicionTimeout(config_.suspicion_mult, n, config_.probe_interval);
  absl::Duration max =
      config_.lifeguard ? min * config_.suspicion_max_timeout_mult : min;
  const std::string name = node.member.name;
  const uint64_t incarnation = node.member.incarnation;
  node.suspicion = std::make_unique<Suspicion>(
      scheduler_, from, k, min, max, [this, name, incarnation] {
        NodeState* target = Find(name);
        if (target == nullptr ||
            target->member.state != MemberState::kSuspect ||
            target->member.incarnation != incarnation) {
          return;
        }
        ::peer::v1::Dead dead;
        dead.set_incarnation(incarnation);
        dead.set_node(name);
        dead.set_from(config_.name);
        spdlog::debug("{}: suspicion of {} timed out: dead", config_.name,
                      name);
        HandleDead(dead);
      });
}

void Memberlist::HandleSuspect(const ::peer::v1::Suspect& suspect) {
  NodeState* node = Find(suspect.node());
  if (node == nullptr) return;
  Member& m = node->member;
  if (suspect.incarnation() < m.incarnation) return;  // old news
  if (m.state == MemberState::kSuspect && node->suspicion) {
    // Lifeguard: an independent confirmation shortens the timeout; spread it
    // again so others can count it too.
    if (node->suspicion->Confirm(suspect.from())) {
      ::peer::v1::Message out;
      *out.mutable_suspect() = suspect;
      QueueBroadcast(suspect.node(), out);
    }
    return;
  }
  if (!IsLive(m.state)) return;  // dead or left already
  if (suspect.node() == config_.name) {
    if (!leaving_) Refute(suspect.incarnation());
    return;
  }
  m.incarnation = suspect.incarnation();
  SetState(*node, MemberState::kSuspect);
  ::peer::v1::Message out;
  *out.mutable_suspect() = suspect;
  QueueBroadcast(suspect.node(), out);
  StartSuspicion(*node, suspect.from());
  spdlog::debug("{}: {} is suspect (by {})", config_.name, suspect.node(),
                suspect.from());
  if (events_) events_->OnSuspect(m);
}

void Memberlist::HandleDead(const ::peer::v1::Dead& dead) {
  NodeState* node = Find(dead.node());
  if (node == nullptr) return;
  Member& m = node->member;
  if (dead.incarnation() < m.incarnation) return;
  if (!IsLive(m.state)) return;  // already dead or left
  if (dead.node() == config_.name) {
    if (!leaving_) Refute(dead.incarnation());
    return;
  }
  const bool left = dead.from() == dead.node();
  m.incarnation = dead.incarnation();
  SetState(*node, left ? MemberState::kLeft : MemberState::kDead);
  ::peer::v1::Message out;
  *out.mutable_dead() = dead;
  QueueBroadcast(dead.node(), out);
  spdlog::debug("{}: {} {}", config_.name, dead.node(),
                left ? "left" : "is dead");
  if (events_) events_->OnLeave(m);
}

std::vector<::peer::v1::PushNodeState> Memberlist::LocalStateSnapshot() const {
  std::vector<::peer::v1::PushNodeState> out;
  out.reserve(nodes_.size());
  for (const auto& [name, node] : nodes_) {
    ::peer::v1::PushNodeState s;
    s.set_name(node->member.name);
    s.set_addr(node->member.addr);
    s.set_meta(node->member.meta);
    s.set_incarnation(node->member.incarnation);
    s.set_state(ToProto(node->member.state));
    s.set_id(node->member.id);
    out.push_back(std::move(s));
  }
  return out;
}

void Memberlist::MergeState(const ::peer::v1::PushPull& remote) {
  for (const auto& s : remote.nodes()) {
    switch (FromProto(s.state())) {
      case MemberState::kAlive: {
        ::peer::v1::Alive a;
        a.set_incarnation(s.incarnation());
        a.set_node(s.name());
        a.set_addr(s.addr());
        a.set_meta(s.meta());
        a.set_id(s.id());
        HandleAlive(a, remote.join());
        break;
      }
      case MemberState::kLeft: {
        ::peer::v1::Dead d;
        d.set_incarnation(s.incarnation());
        d.set_node(s.name());
        d.set_from(s.name());
        HandleDead(d);
        break;
      }
      case MemberState::kDead:
        // As memberlist: a remote "dead" only makes us suspect, so we check
        // for ourselves rather than trust it blindly.
      case MemberState::kSuspect: {
        if (Find(s.name()) == nullptr) break;  // never learn of the dead
        ::peer::v1::Suspect sus;
        sus.set_incarnation(s.incarnation());
        sus.set_node(s.name());
        sus.set_from(config_.name);
        HandleSuspect(sus);
        break;
      }
    }
  }
  if (delegate_ && !remote.user_state().empty()) {
    delegate_->MergeRemoteState(remote.user_state(), remote.join());
  }
}

}  // namespace peerlab::membership
