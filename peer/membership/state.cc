// Membership state: merging alive, suspect and dead messages with SWIM's
// precedence rules (memberlist state.go), refutation, and events.
//
// Precedence for another member, by incarnation i:
//   alive(i)   overrides suspect(j) and dead(j) for i > j, and alive(j) for
//              i > j (a new incarnation, e.g. new metadata or a refutation);
//   suspect(i) overrides alive(j) for i >= j;
//   dead(i)    from anyone but the member itself is an accusation, taken
//              as suspect(i) (the sender its accuser, or one more
//              confirmation); the member's own signed leave(i) overrides
//              alive(j) and suspect(j) for i >= j.
// A member is declared dead only by this node's own suspicion timeout (and
// a last ping unanswered), never on another's word: in a group whose key an
// insider holds, nobody's word about another member is authenticated.
// About itself a node accepts nothing: it refutes suspect/dead with a higher
// incarnation, unless it is leaving.
//
// Signed claims about oneself (docs/security.md): a member's alive carries
// its Ed25519 public key and its signature over the claim (wire.h
// AliveClaim), and its leave a signature too; unsigned ones are refused
// (signature_failures). The first key seen for a name is pinned to it; an
// alive with another key is refused (key_conflicts) unless the pinned
// member left or has been dead for gossip_to_the_dead_time (the time a live
// member has to hear of it and refute), so a replacement with a new key
// takes the name over only then, while a restart with the same key (the
// same state directory) takes it over at once. Accusations (suspect, dead
// by another) are unsigned: they never raise an incarnation (one above the
// known one is ignored), only start or confirm a suspicion, and are
// refuted as before. Each claim is verified once (SignatureCache), and only
// when it would change something: an alive heard again is a duplicate
// before any signature is checked.
//
// Names: a member is name + generation (+ process id, to break ties). Every
// message names the generation it is about; an alive of a newer generation
// replaces the old member state at once (a restarted process), anything
// about another generation is ignored, and a node that hears of a newer
// process with its own name stops claiming it (replaced()), so two
// processes never refute each other in turn. A join (push/pull) by a new
// process under a name whose holder still answers is refused.
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

void Memberlist::IndexName(uint32_t index) {
  const uint32_t number = nodes_[index].name_number();
  if (number >= by_name_.size()) {
    // To every number handed out so far (a simulation numbers every
    // member's name at its start), grown by at least an eighth: N members
    // hold N of these.
    const size_t size =
        std::max<size_t>(number + 1, claims_->name_numbers_end());
    if (size > by_name_.capacity()) {
      by_name_.reserve(
          std::max(size, by_name_.capacity() + by_name_.capacity() / 8));
    }
    by_name_.resize(size, kNoRecord);
  }
  by_name_[number] = index;
}

Memberlist::NodeState& Memberlist::AddNode(ClaimPool::Ref claim) {
  uint32_t index;
  if (free_nodes_.empty()) {
    index = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
  } else {
    index = free_nodes_.back();
    free_nodes_.pop_back();
  }
  NodeState& node = nodes_[index];
  node.claim = std::move(claim);
  node.state = MemberState::kAlive;
  SetStateChange(node, scheduler_->Now());
  IndexName(index);
  ++num_alive_;
  // Insert at a random place in the probe order, so new members are probed
  // soon but not all at once by everyone (memberlist does the same).
  size_t pos = probe_order_.empty()
                   ? 0
                   : static_cast<size_t>(rng_.Uniform(probe_order_.size() + 1));
  probe_order_.Insert(pos, index);
  if (pos <= probe_index_ && !probe_order_.empty()) ++probe_index_;
  return node;
}

void Memberlist::RemoveNode(uint32_t index) {
  NodeState& node = nodes_[index];
  if (coords_ != nullptr) coords_->Forget(node.name().view());
  if (IsLive(node.state)) --num_alive_;
  by_name_[node.name_number()] = kNoRecord;  // before the name is cleared
  broadcasts_.Cancel(index);
  suspicions_.erase(&node);
  node = NodeState();
  free_nodes_.push_back(index);
}

void Memberlist::SetState(NodeState& node, MemberState state) {
  bool was_live = IsLive(node.state);
  bool is_live = IsLive(state);
  if (was_live && !is_live) --num_alive_;
  if (!was_live && is_live) ++num_alive_;
  // A forced leave keeps the time the member went down (KeyReplaceable).
  if (node.state != state &&
      !(node.state == MemberState::kDead && state == MemberState::kLeft &&
        node.forced_left)) {
    SetStateChange(node, scheduler_->Now());
  }
  if (state != MemberState::kLeft) node.forced_left = false;
  node.state = state;
  if (state != MemberState::kSuspect) suspicions_.erase(&node);
}

::peer::v1::Message Memberlist::LocalAlive() const {
  ::peer::v1::Message m;
  auto* a = m.mutable_alive();
  a->set_incarnation(local_->incarnation());
  a->set_node(local_->name());
  a->set_addr(local_->addr());
  a->set_meta(local_->meta());
  a->set_id(local_->id());
  a->set_generation(generation_);
  a->set_public_key(local_->public_key());
  a->set_signature(local_->signature());  // SignLocal's, of these fields
  return m;
}

::peer::v1::Message Memberlist::LocalAliveToSpread() const {
  ::peer::v1::Message m = LocalAlive();
  if (static_cast<int>(m.ByteSizeLong()) <= MaxBroadcastBytes()) return m;
  ::peer::v1::Message notice;
  auto* n = notice.mutable_notice();
  n->set_node(m.alive().node());
  n->set_generation(m.alive().generation());
  n->set_incarnation(m.alive().incarnation());
  return notice;
}

void Memberlist::BroadcastAlive(std::function<void()> on_done) {
  SignLocal();
  QueueBroadcast(*local_, LocalAliveToSpread(), std::move(on_done));
}

void Memberlist::AnnounceSelfToAll() {
  // At most kAnnounceFanout random members: all of them in the small groups
  // a lab runs, and in a large one enough starting points for gossip (a
  // join to N members at once would be N datagrams, N² when N join).
  constexpr int kAnnounceFanout = 32;
  const ::peer::v1::Message alive = LocalAliveToSpread();
  std::vector<int> targets = RandomIndices(
      kAnnounceFanout, static_cast<int>(probe_order_.size()), rng_, [&](int i) {
        const NodeState& n = nodes_[probe_order_[i]];
        return &n == local_ || !IsLive(n.state);
      });
  for (int i : targets) {
    const NodeState& target = nodes_[probe_order_[i]];
    SendWithPiggyback(target.addr(), alive, target.name());
  }
}

void Memberlist::Refute(uint64_t accused_incarnation) {
  EditClaim(*local_, [&](ClaimPool::Claim& c) {
    c.incarnation = std::max(c.incarnation, accused_incarnation) + 1;
  });
  ++stats_.refutations;
  // Lifeguard: being suspected means we may be the slow one.
  awareness_.ApplyDelta(1);
  BroadcastAlive();
}

void Memberlist::HandleOwnAlive(const ::peer::v1::Alive& alive) {
  if (leaving_ || replaced_) return;
  const bool our_key = local_->public_key() == alive.public_key();
  if (alive.generation() != generation_ || alive.id() != local_->id()) {
    // Another process with our name.
    if (Newer(alive.generation(), alive.id(), generation_,
              local_->id().view())) {
      // Only a process holding our key (a restart with our state
      // directory) takes the name from us: with another key it is a forger,
      // or a replacement that waits until we are declared dead.
      if (!our_key) {
        CountKeyConflict(config_.name, alive.addr());
        return;
      }
      if (!VerifyAlive(alive)) return;
      // A newer one (we were taken for dead, or started twice): it has the
      // name now. Refuting would make both climb incarnations for ever.
      replaced_ = true;
      if (probe_timer_) scheduler_->Cancel(probe_timer_);
      probe_timer_ = 0;
      LogConflict(config_.name, local_->addr(), alive.addr());
      log_.Error(config_.name, ": a newer process with this name (generation ",
                 alive.generation(), " at ", Printable(alive.addr()),
                 ") took it over; this one (generation ", generation_, " at ",
                 local_->addr().view(), ") no longer claims it");
      return;
    }
    // An older one (our predecessor, still remembered somewhere): our
    // alive (signed already) replaces it wherever it arrives.
    if (alive.addr() != local_->addr()) {
      LogConflict(config_.name, local_->addr(), alive.addr());
    }
    QueueBroadcast(*local_, LocalAliveToSpread());
    return;
  }
  // About us: someone has an older or forged view. Anything at or above our
  // incarnation with a different meta or address is refuted, so the
  // cluster converges on what we say; but not beyond the window: nobody
  // has seen an incarnation of ours far above our own, and refuting it
  // would make us climb to it.
  // A forged one (not signed with our key) is refused by every member, so
  // it needs no refutation.
  if (alive.incarnation() >= local_->incarnation() &&
      (local_->meta() != alive.meta() || local_->addr() != alive.addr()) &&
      IncarnationInWindow(local_->incarnation(), alive.incarnation())) {
    if (!our_key) {
      CountKeyConflict(config_.name, alive.addr());
      return;
    }
    if (!VerifyAlive(alive)) return;
    Refute(alive.incarnation());
  }
}

void Memberlist::HandleAlive(const ::peer::v1::Alive& alive, bool from_member) {
  if (!ValidAlive(alive)) return;
  // Unsigned claims are refused outright (no older peers to stay
  // compatible with); signed ones are verified where they would count.
  if (alive.public_key().size() != identity::kPublicKeySize ||
      alive.signature().size() != identity::kSignatureSize) {
    ++stats_.signature_failures;
    return;
  }
  if (alive.node() == config_.name) {
    HandleOwnAlive(alive);
    return;
  }
  NodeState* node = Find(alive.node());
  if (node == nullptr) {
    if (NumRecords() >= static_cast<size_t>(config_.max_members)) {
      LogRefusedMember(alive.node());
      return;
    }
    // The first key seen for a name is pinned to it.
    StringPool::Ref notice;
    ClaimPool::Ref verified = VerifiedClaim(alive, &notice);
    if (verified.empty()) {
      if (!VerifyAlive(alive)) return;
      verified = PoolVerifiedClaim(ClaimPool::Ref(), alive, &notice);
    }
    Joined(AddNode(std::move(verified)), std::move(notice));
    return;
  }
  NodeState& m = *node;
  const bool same_key = m.public_key() == alive.public_key();
  if (alive.generation() != m.generation() || alive.id() != m.id()) {
    if (!Newer(alive.generation(), alive.id(), m.generation(), m.id().view())) {
      // An older process of that name, or one that lost the name: ignored.
      if (IsLive(m.state) && m.addr() != alive.addr()) {
        LogConflict(alive.node(), m.addr(), alive.addr());
      }
      return;
    }
    // A newer process with the pinned key (a restart with the same state
    // directory) takes over at once; with another key only once the
    // pinned member left or has been dead long enough to have refuted.
    if (!same_key && !KeyReplaceable(m)) {
      CountKeyConflict(alive.node(), alive.addr());
      return;
    }
    StringPool::Ref notice;
    ClaimPool::Ref verified = VerifiedClaim(alive, &notice);
    if (verified.empty() && !VerifyAlive(alive)) return;
    // A newer process of that name (a restart): it replaces the old member
    // state at once, whatever the incarnations.
    const MemberState before = m.state;
    log_.Debug(config_.name, ": member ", Printable(alive.node()),
               " restarted (generation ", alive.generation(), ") at ",
               Printable(alive.addr()));
    if (coords_ != nullptr) coords_->Forget(alive.node());  // a new process
    TakeVerifiedClaim(m, alive, std::move(verified), &notice);
    SetState(m, MemberState::kAlive);
    ++stats_.alives_applied;
    SetStateChange(m, scheduler_->Now());
    m.verified = false;  // another process: not heard from yet
    QueueAlive(m, std::move(notice));
    if (!events_) return;
    if (before == MemberState::kDead || before == MemberState::kLeft) {
      events_->OnJoin(ToMember(m));
    } else {
      if (before == MemberState::kSuspect) events_->OnAlive(ToMember(m));
      events_->OnUpdate(ToMember(m));
    }
    return;
  }
  // An older or equal incarnation changes nothing (a duplicate).
  if (alive.incarnation() <= m.incarnation()) return;
  // Held down (stability.cc): a flapping or quarantined member is not
  // re-admitted on its word before the hold-down ends.
  if (HeldDown(m)) {
    ++stats_.held_down_refutations;
    return;
  }
  // Only the member itself raises its incarnation far: a relayed alive far
  // above what we know would let a forger pin the member's state (its
  // own alives, lower, would be old news) or ratchet it to the top.
  if (!from_member &&
      !IncarnationInWindow(m.incarnation(), alive.incarnation())) {
    return;
  }
  // One process keeps one key.
  if (!same_key) {
    CountKeyConflict(alive.node(), alive.addr());
    return;
  }
  StringPool::Ref notice;
  ClaimPool::Ref verified = VerifiedClaim(alive, &notice);
  if (verified.empty() && !VerifyAlive(alive)) return;
  const MemberState before = m.state;
  const bool meta_changed =
      m.meta() != alive.meta() || m.addr() != alive.addr();
  if (before == MemberState::kSuspect) NoteRefutation(m);
  // Of the same generation and id.
  TakeVerifiedClaim(m, alive, std::move(verified), &notice);
  SetState(m, MemberState::kAlive);
  ++stats_.alives_applied;
  if (before == MemberState::kSuspect) ++stats_.suspicions_refuted;
  QueueAlive(m, std::move(notice));
  if (events_) {
    if (before == MemberState::kDead || before == MemberState::kLeft) {
      events_->OnJoin(ToMember(m));  // back with a new incarnation
    } else {
      if (before == MemberState::kSuspect) events_->OnAlive(ToMember(m));
      if (meta_changed) events_->OnUpdate(ToMember(m));
    }
  }
  ReplayAheadAccusations(alive.node());
}

void Memberlist::Joined(NodeState& added, StringPool::Ref notice) {
  ++stats_.alives_applied;
  if (!converged_start_) QueueAlive(added, std::move(notice));
  log_.Debug(config_.name, ": member ", added.name().view(), " joined (",
             added.addr().view(), ")");
  if (events_) events_->OnJoin(ToMember(added));
}

void Memberlist::ReplayAheadAccusations(const std::string& name) {
  auto it = ahead_.find(name);
  if (it == ahead_.end()) return;
  std::vector<AheadAccusation> kept = std::move(it->second);
  ahead_.erase(it);
  const absl::Time now = scheduler_->Now();
  for (const AheadAccusation& a : kept) {
    const NodeState* m = Find(name);
    if (m == nullptr || now - a.at > config_.evidence_window) continue;
    if (a.suspect.generation() != m->generation() ||
        a.suspect.incarnation() != m->incarnation()) {
      continue;
    }
    if (a.dead.has_value()) {
      HandleDead(*a.dead);
    } else {
      HandleSuspect(a.suspect);
    }
  }
}

void Memberlist::HandleNotice(const ::peer::v1::AliveNotice& notice) {
  if (notice.node().empty() || notice.node().size() > kMaxNameBytes ||
      notice.incarnation() > kMaxIncarnation) {
    ++stats_.bad_messages;
    return;
  }
  if (notice.node() == config_.name) {
    // Of an older process of our name: our alive replaces it wherever it
    // arrives (as HandleOwnAlive does). Of a newer one: fetch it, it may
    // have taken the name over (HandleOwnAlive decides on the claim).
    if (leaving_ || replaced_) return;
    if (notice.generation() < generation_) {
      QueueBroadcast(*local_, LocalAliveToSpread());
      return;
    }
    if (notice.generation() == generation_) return;
  } else if (const NodeState* m = Find(notice.node())) {
    if (notice.generation() < m->generation()) return;  // an older process
    if (notice.generation() == m->generation() &&
        (notice.incarnation() <= m->incarnation() ||
         !WithinIncarnationWindow(m->incarnation(), notice.incarnation(),
                                  config_.incarnation_window))) {
      return;  // nothing new, or what a relayed claim may not raise
    }
  } else if (NumRecords() >= static_cast<size_t>(config_.max_members)) {
    return;  // the claim would be refused (members_refused)
  }
  const absl::Time now = scheduler_->Now();
  auto it = wanted_.find(notice.node());
  if (it != wanted_.end() && now - it->second < config_.reliable_timeout) {
    return;  // a fetch is under way
  }
  if (static_cast<int>(wants_.size()) >= kMaxWantPerRequest) return;
  if (std::find(wants_.begin(), wants_.end(), notice.node()) != wants_.end()) {
    return;
  }
  if (it == wanted_.end() && wanted_.size() >= kMaxWanted) {
    absl::erase_if(wanted_, [&](const auto& w) {
      return now - w.second >= config_.reliable_timeout;
    });
    if (wanted_.size() >= kMaxWanted) {
      if (stats_.wants_refused++ % 1024 == 0) {
        log_.Warn(config_.name, ": ", stats_.wants_refused,
                  " alive notice(s) not fetched: ", kMaxWanted,
                  " fetches under way already");
      }
      return;
    }
  }
  wanted_[notice.node()] = now;
  wants_.push_back(notice.node());
}

void Memberlist::StartSuspicion(NodeState& node, const std::string& from,
                                bool from_confirms) {
  const int n = NumAlive();
  // Lifeguard: expect K independent confirmations, but not more than the
  // other members could give.
  const int k =
      ExpectedConfirmations(config_.suspicion_confirmations,
                            config_.suspicion_mult, n, config_.lifeguard);
  absl::Duration min =
      SuspicionTimeout(config_.suspicion_mult, n, config_.probe_interval);
  absl::Duration max =
      config_.lifeguard ? min * config_.suspicion_max_timeout_mult : min;
  if (!Compat()) {
    // The timed death (stability.cc) removes the member DeathDelay() after
    // the first decider's last check: that much comes off the timer here,
    // so the first removal falls when the first member's removal fell
    // before the timed death (its check ended), and the whole group's
    // there, not a delay after it. A slow member has as long to refute
    // as before: a refutation before the moment still saves it. Shifting
    // both bounds shifts every timeout Lifeguard's confirmations give by
    // the same (RemainingSuspicionTime is linear in them). At most half
    // the minimum (never reached by the profiles; a setting with a delay
    // longer than the suspicion would check at once).
    const absl::Duration shift = std::min(DeathDelay(), min / 2);
    min -= shift;
    max -= shift;
  }
  const std::string name = node.name();
  const uint64_t incarnation = node.incarnation();
  const uint64_t generation = node.generation();
  suspicions_[&node] = std::make_unique<Suspicion>(
      scheduler_, from, k, min, max,
      [this, name, incarnation, generation, k] {
        // memberlist.degraded.timeout: out of time with fewer independent
        // confirmations than expected (memberlist counts it there too).
        if (const NodeState* t = Find(name);
            k > 0 && t != nullptr && t->state == MemberState::kSuspect &&
            t->incarnation() == incarnation && t->generation() == generation &&
            SuspicionOf(*t) != nullptr &&
            SuspicionOf(*t)->confirmations() < k) {
          ++stats_.degraded_timeouts;
        }
        LastCheckBeforeDeath(name, incarnation, generation);
      },
      from_confirms);
}

Memberlist::NodeState* Memberlist::SuspectOf(const std::string& name,
                                             uint64_t incarnation,
                                             uint64_t generation,
                                             absl::Time started) {
  NodeState* t = Find(name);
  if (shut_down_ || t == nullptr || t->state != MemberState::kSuspect ||
      t->incarnation() != incarnation || t->generation() != generation) {
    return nullptr;
  }
  const Suspicion* s = SuspicionOf(*t);
  return s != nullptr && s->start() == started ? t : nullptr;
}

void Memberlist::LastCheckBeforeDeath(const std::string& name,
                                      uint64_t incarnation, uint64_t generation,
                                      bool early) {
  NodeState* target = Find(name);
  if (shut_down_ || target == nullptr ||
      target->state != MemberState::kSuspect ||
      target->incarnation() != incarnation ||
      target->generation() != generation || SuspicionOf(*target) == nullptr) {
    return;
  }
  // The check's result is for this suspicion only: one started over
  // meanwhile (an ack of a check, at the same incarnation) has checks of
  // its own. Before, a check of the old one that ended unanswered marked
  // the new one silent, which a timed death then removed without its own
  // check (AdversarySimTest.StaleCheckDoesNotDecideANewSuspicion).
  auto still_suspect = [this, name, incarnation, generation,
                        started = SuspicionOf(*target)->start()]() {
    return SuspectOf(name, incarnation, generation, started);
  };
  // One early check per suspicion (a timed death may have run it already).
  if (early && SuspicionOf(*target)->check_sent != absl::InfinitePast()) return;
  if (Compat()) {
    // memberlist: the timeout is the death, no last word.
    ::peer::v1::Dead dead;
    dead.set_incarnation(incarnation);
    dead.set_generation(generation);
    dead.set_node(name);
    dead.set_from(config_.name);
    DeclareDown(*target, dead);
    return;
  }
  const uint32_t seq = NextSeq();
  // The early check (corroboration) comes sooner than the timeout would:
  // it waits a whole probe interval for the answer of a slow member.
  const absl::Duration wait =
      early ? std::max(awareness_.Scale(config_.probe_timeout),
                       config_.probe_interval * 2)
            : awareness_.Scale(config_.probe_timeout);
  SuspicionOf(*target)->check_sent = scheduler_->Now();
  ExpectAck(
      seq, wait,
      [this, still_suspect, early](bool ack) {
        if (!ack || early) return;
        // It answers: alive, whatever the gossip did not bring here. Its
        // refutation rides on the ack (or it refuted before and a push/pull
        // brings its incarnation); meanwhile it stays suspect, not dead.
        if (NodeState* t = still_suspect()) StartSuspicion(*t, config_.name);
      },
      [this, still_suspect] {
        NodeState* t = still_suspect();
        if (t == nullptr) return;  // refuted or gone
        // A timed death (stability.cc): at one moment with the others. To
        // them, our dead is one more accusation (HandleDead) and the time.
        SuspicionOf(*t)->silent = true;
        ScheduleDeath(*t, std::min(SuspicionOf(*t)->remove_at,
                                   scheduler_->Now() + DeathDelay()));
      });
  // The suspicion first, so the member refutes before it answers the ping:
  // its new alive is then the freshest broadcast, piggybacked on the ack.
  ::peer::v1::Message sus;
  auto* s = sus.mutable_suspect();
  s->set_incarnation(incarnation);
  s->set_generation(generation);
  s->set_node(name);
  s->set_from(config_.name);
  ::peer::v1::Message ping;
  auto* p = ping.mutable_ping();
  p->set_seq_no(seq);
  p->set_target(name);
  p->set_source_name(config_.name);
  p->set_source_addr(local_->addr());
  SendMessages(target->addr(), {EncodeMessage(sus), EncodeMessage(ping)}, name);
}

void Memberlist::HandleSuspect(const ::peer::v1::Suspect& suspect,
                               const ::peer::v1::Dead* declared) {
  // What is spread again: the accusation as it came (a dead, so that its
  // receivers count its accuser as a confirmation too).
  auto relay = [&suspect, declared] {
    ::peer::v1::Message out;
    if (declared != nullptr) {
      *out.mutable_dead() = *declared;
    } else {
      *out.mutable_suspect() = suspect;
    }
    return out;
  };
  if (!ValidAccusation(suspect.node(), suspect.from(), suspect.incarnation())) {
    return;
  }
  NodeState* node = Find(suspect.node());
  if (node == nullptr) return;
  NodeState& m = *node;
  // About another process of that name (a predecessor): not this member.
  if (suspect.generation() != m.generation()) return;
  // A member always refutes what is said of it; of others, only a credible
  // accuser's word counts (stability.cc).
  if (suspect.node() != config_.name && !CredibleAccuser(suspect.from(), m)) {
    return;
  }
  // Evidence counts across the member's refutations (quarantine), also
  // of an incarnation we missed (within the window).
  if (suspect.node() != config_.name &&
      WithinIncarnationWindow(m.incarnation(), suspect.incarnation(),
                              config_.incarnation_window)) {
    RecordEvidence(m, suspect.from());
  }
  if (suspect.incarnation() < m.incarnation()) {  // old news
    // About us: the accuser missed our refutation, and nobody else answers
    // an accusation older than what they hold. Our current alive (no new
    // incarnation) goes out again, first in the queue, so it rides on the
    // ack of the accuser's last ping. Before, the accuser held us suspect
    // (each answered ping starting its suspicion over) until a push/pull.
    if (&m == local_ && !leaving_ && !replaced_) {
      QueueBroadcast(*local_, LocalAliveToSpread());
    }
    return;
  }
  // An accuser names an incarnation it has seen, and only the member's own
  // signed alive raises it: one above ours is ignored (refuting it, or
  // accepting it, would let the forger ratchet the member towards
  // kMaxIncarnation). Of this node too: it knows its own exactly.
  if (suspect.incarnation() > m.incarnation()) {
    ++stats_.incarnation_jumps_ignored;
    // Within the window, of another member: we missed its newer alive (a
    // refutation), and every accusation of that incarnation would pass us
    // by, so that we alone keep it live (flipflop). Fetched from the sender
    // as an alive notice would be; the accusations that follow count.
    if (&m != local_ && !Compat() &&
        WithinIncarnationWindow(m.incarnation(), suspect.incarnation(),
                                config_.incarnation_window)) {
      log_.Debug(config_.name, ": ", suspect.node(), " accused at ",
                 suspect.incarnation(), ", above the ", m.incarnation(),
                 " known here: fetching its alive");
      ::peer::v1::AliveNotice notice;
      notice.set_node(suspect.node());
      notice.set_incarnation(suspect.incarnation());
      notice.set_generation(m.generation());
      HandleNotice(notice);
      // Kept, and applied once that alive is (ReplayAheadAccusations): the
      // accusations' epidemic is over by then.
      auto it = ahead_.find(suspect.node());
      if (it == ahead_.end() && ahead_.size() >= kMaxAheadMembers) {
        const absl::Time now = scheduler_->Now();
        absl::erase_if(ahead_, [&](const auto& e) {
          return e.second.empty() ||
                 now - e.second.back().at > config_.evidence_window;
        });
      }
      if (it != ahead_.end() || ahead_.size() < kMaxAheadMembers) {
        std::vector<AheadAccusation>& list = ahead_[suspect.node()];
        if (list.size() >= kMaxAheadAccusations) list.erase(list.begin());
        AheadAccusation a;
        a.suspect = suspect;
        if (declared != nullptr) a.dead = *declared;
        a.at = scheduler_->Now();
        list.push_back(std::move(a));
      }
    }
    return;
  }
  Suspicion* suspicion = SuspicionOf(m);
  if (m.state == MemberState::kSuspect && suspicion != nullptr &&
      (suspect.incarnation() == m.incarnation() || Compat())) {
    // Lifeguard: an independent confirmation shortens the timeout; spread it
    // again so others can count it too. Only of the same incarnation: a
    // suspicion of a newer one (the member refuted ours, and we missed the
    // alive) is a new suspicion, with its own timer, below. memberlist
    // confirms across incarnations, so a stale suspicion expired at once.
    if (suspicion->Confirm(suspect.from())) QueueBroadcast(m, relay());
    MaybeCheckEarly(m);
    return;
  }
  if (!IsLive(m.state)) return;  // dead or left already
  if (suspect.node() == config_.name) {
    if (!leaving_ && !replaced_) Refute(suspect.incarnation());
    return;
  }
  EditClaim(
      m, [&](ClaimPool::Claim& c) { c.incarnation = suspect.incarnation(); });
  SetState(m, MemberState::kSuspect);
  ++stats_.suspects_applied;
  QueueBroadcast(m, relay());
  // A dead's sender declared the member dead, its own suspicion run out:
  // more than a first accusation, it counts as one confirmation.
  StartSuspicion(m, suspect.from(), declared != nullptr);
  log_.Debug(config_.name, ": ", suspect.node(), " is suspect (by ",
             suspect.from(), ")");
  if (events_) events_->OnSuspect(ToMember(m));
  if (NodeState* again = Find(suspect.node()); again == &m) {
    MaybeCheckEarly(m);
  }
}

void Memberlist::HandleDead(const ::peer::v1::Dead& dead) {
  if (!ValidAccusation(dead.node(), dead.from(), dead.incarnation())) return;
  if (dead.from() != dead.node() && Compat()) {
    // memberlist (deadNode): anyone's dead is a death; the member itself
    // refutes it.
    NodeState* node = Find(dead.node());
    if (node == nullptr || dead.generation() != node->generation() ||
        dead.incarnation() < node->incarnation() ||
        dead.incarnation() > node->incarnation() || !IsLive(node->state)) {
      return;
    }
    if (dead.node() == config_.name) {
      if (!leaving_ && !replaced_) Refute(dead.incarnation());
      return;
    }
    ::peer::v1::Dead death = dead;
    death.clear_signature();
    DeclareDown(*node, death);
    return;
  }
  if (dead.from() != dead.node()) {
    // An accusation. Anyone holding the group key can send one, naming any
    // accuser (accusations are unsigned), so it may only do what a
    // suspicion does: start one, or confirm a running one once per
    // accuser. The member refutes it; if it does not, our own timer
    // declares it dead. memberlist takes a gossiped dead as a death, so
    // one insider's forgery removed a live member everywhere until it
    // refuted.
    ::peer::v1::Suspect suspect;
    suspect.set_incarnation(dead.incarnation());
    suspect.set_node(dead.node());
    suspect.set_generation(dead.generation());
    suspect.set_from(dead.from());
    ::peer::v1::Dead accusation = dead;
    // A leave's signature is not spread again; a quarantine declaration's
    // is its declarer's, without which it does not count (stability.cc).
    if (dead.quarantine_at_ms() == 0) accusation.clear_signature();
    if (dead.quarantine_at_ms() != 0) {
      // A quarantine declaration (stability.cc): checked here too.
      if (NodeState* m = Find(dead.node())) {
        HandleQuarantineDeclaration(*m, dead);
      }
    }
    HandleSuspect(suspect, &accusation);
    if (dead.remove_at_ms() != 0) {
      // A timed death (stability.cc): its moment, once it is a suspicion.
      if (NodeState* m = Find(dead.node())) HandleTimedDeath(*m, dead);
    }
    return;
  }
  // A leave: the member's own word, signed with its pinned key. It may
  // name an incarnation we have not seen yet (a metadata update just
  // before leaving).
  NodeState* node = Find(dead.node());
  if (node == nullptr) return;
  NodeState& m = *node;
  if (dead.generation() != m.generation()) return;  // another process
  if (dead.incarnation() < m.incarnation()) return;
  if (!IsLive(m.state)) return;  // already dead or left
  if (!VerifyLeave(dead, m.public_key().view())) return;
  if (dead.node() == config_.name) return;  // our own, echoed back
  DeclareDown(m, dead);
}

void Memberlist::DeclareDown(NodeState& m, const ::peer::v1::Dead& dead,
                             bool spread) {
  const bool left = dead.from() == dead.node();
  EditClaim(m, [&](ClaimPool::Claim& c) {
    if (left) c.signature = pool_->Intern(dead.signature());
    c.incarnation = dead.incarnation();
  });
  SetState(m, left ? MemberState::kLeft : MemberState::kDead);
  ++stats_.deads_applied;
  if (coords_ != nullptr) coords_->Forget(m.name().view());
  if (spread) {
    ::peer::v1::Message out;
    *out.mutable_dead() = dead;
    QueueBroadcast(m, out);
  }
  log_.Debug(config_.name, ": ", dead.node(), " ", left ? "left" : "is dead");
  if (events_) events_->OnLeave(ToMember(m));
  if (!left) {
    NoteRemoval(m);
    ApplyPendingForceLeave(m);
  }
}

void Memberlist::AddNodeState(const NodeState& node, ::peer::v1::PushPull& pp) {
  ::peer::v1::PushNodeState* s = pp.add_nodes();
  s->set_name(node.name());
  s->set_addr(node.addr());
  if (!node.meta().empty()) s->set_meta(node.meta());
  s->set_incarnation(node.incarnation());
  // A forced leave has no leave signature to pass on: it is passed on as
  // what this node found (the member dead), which receivers take as an
  // accusation.
  s->set_state(ToProto(node.forced_left ? MemberState::kDead : node.state));
  s->set_id(node.id());
  s->set_generation(node.generation());
  s->set_public_key(node.public_key());
  s->set_signature(node.signature());
}

void Memberlist::AddLocalState(::peer::v1::PushPull& pp) const {
  pp.mutable_nodes()->Reserve(static_cast<int>(nodes_.size()));
  for (const NodeState& node : nodes_) {
    if (!node.name().empty()) AddNodeState(node, pp);  // empty: a free record
  }
}

bool Memberlist::AliveIsOldNews(const ::peer::v1::PushNodeState& s,
                                bool* unknown) {
  // HandleAlive's checks up to its "older or equal incarnation" return, in
  // its order; anything else (even a bad entry, which counts) goes there.
  *unknown = false;
  if (s.name().empty() || s.addr().empty() || s.name().size() > kMaxNameBytes ||
      s.addr().size() > kMaxAddrBytes || s.id().size() > kMaxIdBytes ||
      s.incarnation() > kMaxIncarnation ||
      static_cast<int>(s.meta().size()) > config_.max_meta_bytes ||
      s.public_key().size() != identity::kPublicKeySize ||
      s.signature().size() != identity::kSignatureSize ||
      s.name() == config_.name) {
    return false;
  }
  const NodeState* m = Find(s.name());
  if (m == nullptr) {
    *unknown = true;
    return false;
  }
  return s.generation() == m->generation() && m->id() == s.id() &&
         s.incarnation() <= m->incarnation();
}

bool Memberlist::LearnVerifiedEntry(const ::peer::v1::PushNodeState& s) {
  // HandleAlive's path for a member we do not know, its checks passed
  // (AliveIsOldNews): refused beyond max_members, else verified and added.
  if (NumRecords() >= static_cast<size_t>(config_.max_members)) return false;
  StringPool::Ref notice;
  ClaimPool::Ref claim = claims_->FindVerifiedAlive(s.signature(), &notice);
  if (claim.empty() ||
      !ClaimIs(*claim, s.name(), s.addr(), s.id(), s.meta(), s.public_key(),
               s.incarnation(), s.generation())) {
    return false;
  }
  Joined(AddNode(std::move(claim)), std::move(notice));
  return true;
}

absl::Status Memberlist::LearnConverged(const ::peer::v1::PushPull& pp) {
  if (!started_ || NumRecords() != 1) {
    return absl::FailedPreconditionError(
        "a converged start needs a started node that knows nobody yet");
  }
  for (const auto& s : pp.nodes()) {
    if (FromProto(s.state()) != MemberState::kAlive) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a converged start learns alive members only, not ", s.name()));
    }
  }
  converged_start_ = true;
  MergeState(pp);
  converged_start_ = false;
  broadcasts_.Cancel(IndexOf(*local_));  // Start()'s alive: known already
  return absl::OkStatus();
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
        // Most entries of a push/pull are what we know already, and most
        // others claims the process verified.
        bool unknown = false;
        if (AliveIsOldNews(s, &unknown)) break;
        if (unknown && LearnVerifiedEntry(s)) break;
        a.set_incarnation(s.incarnation());
        a.set_node(s.name());
        a.set_addr(s.addr());
        a.set_meta(s.meta());
        a.set_id(s.id());
        a.set_generation(s.generation());
        a.set_public_key(s.public_key());
        a.set_signature(s.signature());
        // The partner's own entry comes from the member itself.
        HandleAlive(a, s.name() == remote.from());
        break;
      }
      case MemberState::kLeft: {
        d.set_incarnation(s.incarnation());
        d.set_node(s.name());
        d.set_from(s.name());
        d.set_generation(s.generation());
        d.set_signature(s.signature());
        HandleDead(d);
        break;
      }
      case MemberState::kDead: {
        // The partner holds it dead: it declared that itself (nobody takes
        // another's word for a death), as if it had sent us its dead, so it
        // is an accusation (HandleDead): a suspicion, the partner's one
        // confirmation. memberlist too only suspects on a remote "dead".
        d.set_incarnation(s.incarnation());
        d.set_node(s.name());
        d.set_from(remote.from());
        d.set_generation(s.generation());
        d.clear_signature();
        if (d.from() != d.node()) HandleDead(d);
        break;
      }
      case MemberState::kSuspect: {
        if (Find(s.name()) == nullptr) break;  // never learn of the dead
        sus.set_incarnation(s.incarnation());
        sus.set_node(s.name());
        sus.set_generation(s.generation());
        // A push/pull names no accuser: the suspicion is started (or left
        // running) without counting as an independent confirmation, here or
        // where it is re-gossiped. memberlist puts its own name here, so
        // every push/pull during a suspicion "confirmed" it and cut the
        // timeout to its minimum cluster-wide.
        sus.set_from(Compat() ? remote.from() : std::string());
        HandleSuspect(sus);
        break;
      }
    }
  }
  // The member we exchanged state with answered us itself.
  if (NodeState* partner = Find(remote.from())) partner->verified = true;
  if (delegate_ && !remote.user_state().empty()) {
    delegate_->MergeRemoteState(remote.user_state(), remote.join());
  }
}

}  // namespace peerlab::membership
