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

Memberlist::NodeState* Memberlist::Find(absl::string_view name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &nodes_[*it];
}

void Memberlist::SetIdentity(NodeState& node, const ::peer::v1::Alive& alive) {
  // Unchanged strings keep their references (no pool lookup).
  if (node.addr != alive.addr()) node.addr = pool_->Intern(alive.addr());
  if (node.id != alive.id()) node.id = pool_->Intern(alive.id());
  if (node.meta != alive.meta()) node.meta = pool_->Intern(alive.meta());
}

Memberlist::NodeState& Memberlist::AddNode(const ::peer::v1::Alive& alive) {
  uint32_t index;
  if (free_nodes_.empty()) {
    index = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  } else {
    index = free_nodes_.back();
    free_nodes_.pop_back();
  }
  NodeState& node = nodes_[index];
  node.name = pool_->Intern(alive.node());
  SetIdentity(node, alive);
  node.incarnation = alive.incarnation();
  node.state = MemberState::kAlive;
  node.state_change = scheduler_->Now();
  by_name_.insert(index);
  ++num_alive_;
  // Insert at a random place in the probe order, so new members are probed
  // soon but not all at once by everyone (memberlist does the same).
  size_t pos = probe_order_.empty()
                   ? 0
                   : static_cast<size_t>(rng_.Uniform(probe_order_.size() + 1));
  probe_order_.insert(probe_order_.begin() + pos, index);
  if (pos <= probe_index_ && !probe_order_.empty()) ++probe_index_;
  return node;
}

void Memberlist::RemoveNode(uint32_t index) {
  NodeState& node = nodes_[index];
  if (IsLive(node.state)) --num_alive_;
  by_name_.erase(index);  // hashes the name: before it is cleared
  broadcasts_.Cancel(&node.queued);
  node = NodeState();
  free_nodes_.push_back(index);
}

void Memberlist::SetState(NodeState& node, MemberState state) {
  bool was_live = IsLive(node.state);
  bool is_live = IsLive(state);
  if (was_live && !is_live) --num_alive_;
  if (!was_live && is_live) ++num_alive_;
  if (node.state != state) node.state_change = scheduler_->Now();
  node.state = state;
  if (state != MemberState::kSuspect) node.suspicion.reset();
}

::peer::v1::Message Memberlist::LocalAlive() const {
  ::peer::v1::Message m;
  auto* a = m.mutable_alive();
  a->set_incarnation(local_->incarnation);
  a->set_node(local_->name);
  a->set_addr(local_->addr);
  a->set_meta(local_->meta);
  a->set_id(local_->id);
  return m;
}

void Memberlist::BroadcastAlive(std::function<void()> on_done) {
  QueueBroadcast(*local_, LocalAlive(), std::move(on_done));
}

void Memberlist::AnnounceSelfToAll() {
  // At most kAnnounceFanout random members: all of them in the small groups
  // a lab runs, and in a large one enough starting points for gossip (a
  // join to N members at once would be N datagrams, N² when N join).
  constexpr int kAnnounceFanout = 32;
  const ::peer::v1::Message alive = LocalAlive();
  std::vector<int> targets = RandomIndices(
      kAnnounceFanout, static_cast<int>(probe_order_.size()), rng_, [&](int i) {
        const NodeState& n = nodes_[probe_order_[i]];
        return &n == local_ || !IsLive(n.state);
      });
  for (int i : targets) {
    SendWithPiggyback(nodes_[probe_order_[i]].addr, alive);
  }
}

void Memberlist::Refute(uint64_t accused_incarnation) {
  local_->incarnation = std::max(local_->incarnation, accused_incarnation) + 1;
  ++stats_.refutations;
  // Lifeguard: being suspected means we may be the slow one.
  awareness_.ApplyDelta(1);
  BroadcastAlive();
}

void Memberlist::HandleAlive(const ::peer::v1::Alive& alive) {
  if (alive.node().empty() || alive.addr().empty()) return;
  if (static_cast<int>(alive.meta().size()) > config_.max_meta_bytes) return;
  if (alive.node() == config_.name) {
    // About us: someone has an older or forged view. Anything at or above
    // our incarnation with a different id or meta is refuted, so the
    // cluster converges on what we say.
    if (leaving_) return;
    if (alive.incarnation() >= local_->incarnation &&
        (local_->id != alive.id() || local_->meta != alive.meta() ||
         local_->addr != alive.addr())) {
      Refute(alive.incarnation());
    }
    return;
  }
  NodeState* node = Find(alive.node());
  if (node == nullptr) {
    NodeState& added = AddNode(alive);
    QueueAlive(added, alive);
    spdlog::debug("{}: member {} joined ({})", config_.name, alive.node(),
                  alive.addr());
    if (events_) events_->OnJoin(ToMember(added));
    return;
  }
  NodeState& m = *node;
  // An older or equal incarnation changes nothing (a duplicate).
  if (alive.incarnation() <= m.incarnation) return;
  const MemberState before = m.state;
  const bool meta_changed = m.meta != alive.meta() || m.addr != alive.addr();
  m.incarnation = alive.incarnation();
  SetIdentity(m, alive);
  SetState(m, MemberState::kAlive);
  QueueAlive(m, alive);
  if (!events_) return;
  if (before == MemberState::kDead || before == MemberState::kLeft) {
    events_->OnJoin(ToMember(m));  // back with a new incarnation
  } else {
    if (before == MemberState::kSuspect) events_->OnAlive(ToMember(m));
    if (meta_changed) events_->OnUpdate(ToMember(m));
  }
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
  const std::string name = node.name;
  const uint64_t incarnation = node.incarnation;
  node.suspicion = std::make_unique<Suspicion>(
      scheduler_, from, k, min, max, [this, name, incarnation] {
        NodeState* target = Find(name);
        if (target == nullptr || target->state != MemberState::kSuspect ||
            target->incarnation != incarnation) {
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
  NodeState& m = *node;
  if (suspect.incarnation() < m.incarnation) return;  // old news
  if (m.state == MemberState::kSuspect && node->suspicion &&
      suspect.incarnation() == m.incarnation) {
    // Lifeguard: an independent confirmation shortens the timeout; spread it
    // again so others can count it too. Only of the same incarnation: a
    // suspicion of a newer one (the member refuted ours, and we missed the
    // alive) is a new suspicion, with its own timer, below. memberlist
    // confirms across incarnations, so a stale suspicion expired at once.
    if (node->suspicion->Confirm(suspect.from())) {
      ::peer::v1::Message out;
      *out.mutable_suspect() = suspect;
      QueueBroadcast(m, out);
    }
    return;
  }
  if (!IsLive(m.state)) return;  // dead or left already
  if (suspect.node() == config_.name) {
    if (!leaving_) Refute(suspect.incarnation());
    return;
  }
  m.incarnation = suspect.incarnation();
  SetState(m, MemberState::kSuspect);
  ::peer::v1::Message out;
  *out.mutable_suspect() = suspect;
  QueueBroadcast(m, out);
  StartSuspicion(m, suspect.from());
  spdlog::debug("{}: {} is suspect (by {})", config_.name, suspect.node(),
                suspect.from());
  if (events_) events_->OnSuspect(ToMember(m));
}

void Memberlist::HandleDead(const ::peer::v1::Dead& dead) {
  NodeState* node = Find(dead.node());
  if (node == nullptr) return;
  NodeState& m = *node;
  if (dead.incarnation() < m.incarnation) return;
  if (!IsLive(m.state)) return;  // already dead or left
  if (dead.node() == config_.name) {
    if (!leaving_) Refute(dead.incarnation());
    return;
  }
  const bool left = dead.from() == dead.node();
  m.incarnation = dead.incarnation();
  SetState(m, left ? MemberState::kLeft : MemberState::kDead);
  ::peer::v1::Message out;
  *out.mutable_dead() = dead;
  QueueBroadcast(m, out);
  spdlog::debug("{}: {} {}", config_.name, dead.node(),
                left ? "left" : "is dead");
  if (events_) events_->OnLeave(ToMember(m));
}

void Memberlist::AddNodeState(const NodeState& node, ::peer::v1::PushPull& pp) {
  ::peer::v1::PushNodeState* s = pp.add_nodes();
  s->set_name(node.name);
  s->set_addr(node.addr);
  if (!node.meta.empty()) s->set_meta(node.meta);
  s->set_incarnation(node.incarnation);
  s->set_state(ToProto(node.state));
  s->set_id(node.id);
}

void Memberlist::AddLocalState(::peer::v1::PushPull& pp) const {
  pp.mutable_nodes()->Reserve(static_cast<int>(nodes_.size()));
  for (const NodeState& node : nodes_) {
    if (!node.name.empty()) AddNodeState(node, pp);  // empty: a free record
  }
}

void Memberlist::MergeState(const ::peer::v1::PushPull& remote) {
  // One message of each kind, refilled for every entry: a join's merge
  // handles a whole group, and their strings' buffers are reused.
  ::peer::v1::Alive a;
  ::peer::v1::Dead d;
  ::peer::v1::Suspect sus;
  for (const auto& s : remote.nodes()) {
    switch (FromProto(s.state())) {
      case MemberState::kAlive: {
        a.set_incarnation(s.incarnation());
        a.set_node(s.name());
        a.set_addr(s.addr());
        a.set_meta(s.meta());
        a.set_id(s.id());
        HandleAlive(a);
        break;
      }
      case MemberState::kLeft: {
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
        sus.set_incarnation(s.incarnation());
        sus.set_node(s.name());
        // A push/pull names no accuser: the suspicion is started (or left
        // running) without counting as an independent confirmation, here or
        // where it is re-gossiped. memberlist puts its own name here, so
        // every push/pull during a suspicion "confirmed" it and cut the
        // timeout to its minimum cluster-wide.
        sus.set_from("");
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
