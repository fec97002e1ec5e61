// Membership on sick networks (issue 17; the reasoning and sources are in
// docs/membership.md): what a member does so that a member that cannot
// receive, loses most of what it sends, or is reachable one way only, is
// removed (or quarantined) and cannot remove the healthy ones.
//
//   - Corroboration (Rapid's multi-observer detection, without consensus):
//     a suspicion held by Config::corroboration distinct accusers is
//     checked at once (the last check: only silence is a death) instead of
//     after the suspicion timeout. Everyone hears the same accusers within
//     one gossip epidemic, so they decide at about the same time.
//   - Evidence across refutations, quarantine: distinct credible accusers
//     of a member within Config::evidence_window are kept whatever its
//     incarnation; with Config::quarantine_observers of them the member
//     (which keeps refuting, yet others keep failing to reach it) is
//     checked once and, if silent, declared dead and held down. The
//     declaration (a dead with quarantine_at_ms) is signed with the
//     declarer's node key; only signed ones count towards
//     Config::quarantine_observers declarers.
//   - Accuser credibility (Lifeguard's awareness, seen from outside): an
//     accuser not alive here, or whose lone accusations were refuted more
//     than Config::max_accusations times in the window, starts nothing.
//   - Hold-down: a second death within Config::hold_down, or a quarantine,
//     refuses the member's refutations until hold_down has passed (a
//     restart, a newer generation, still replaces it at once).
//
// None of it runs with Config::memberlist_compat.
#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

bool IsLive(MemberState s) {
  return s == MemberState::kAlive || s == MemberState::kSuspect;
}

// This node's dead of member `node` (an accusation: `from` is us).
::peer::v1::Dead OwnDead(uint64_t incarnation, uint64_t generation,
                         const std::string& node, const std::string& from) {
  ::peer::v1::Dead dead;
  dead.set_incarnation(incarnation);
  dead.set_generation(generation);
  dead.set_node(node);
  dead.set_from(from);
  return dead;
}

}  // namespace

bool Memberlist::CredibleAccuser(const std::string& from,
                                 const NodeState& accused, bool count) {
  if (Compat() || config_.max_accusations == 0) return true;
  if (from.empty() || from == config_.name) return true;
  if (from == accused.name().view()) return true;  // its own leave
  const NodeState* a = Find(from);
  bool credible = a != nullptr && a->state == MemberState::kAlive;
  if (credible) {
    auto it = accusers_.find(from);
    if (it != accusers_.end() &&
        scheduler_->Now() - it->second.since <= config_.evidence_window &&
        it->second.refuted > config_.max_accusations) {
      credible = false;
    }
  }
  if (!credible && count) ++stats_.accusations_discounted;
  return credible;
}

void Memberlist::NoteRefutation(const NodeState& accused) {
  if (Compat()) return;
  if (config_.quarantine_observers > 0) {
    if (Evidence* e = EvidenceFor(accused.name(), accused.generation())) {
      e->refuted = scheduler_->Now();
      // Accused often enough already: check it now, not at the next
      // accusation (once its refutation has been applied).
      std::weak_ptr<bool> alive = alive_;
      scheduler_->After(absl::ZeroDuration(),
                        [this, alive, name = accused.name().str(),
                         generation = accused.generation()] {
                          if (auto a = alive.lock(); !a || !*a) return;
                          NodeState* m = Find(name);
                          if (m != nullptr && m->generation() == generation) {
                            MaybeQuarantineCheck(*m);
                          }
                        });
    }
  }
  const Suspicion* suspicion = SuspicionOf(accused);
  if (config_.max_accusations == 0 || suspicion == nullptr) return;
  const auto& names = suspicion->accuser_names();
  if (names.size() != 1) return;  // none named, or corroborated
  auto e = evidence_.find(accused.name().view());
  if (e != evidence_.end() && e->second.accusers.size() >= 2) return;
  const std::string& accuser = *names.begin();
  if (accuser == config_.name) return;
  const absl::Time now = scheduler_->Now();
  auto it = accusers_.find(accuser);
  if (it == accusers_.end()) {
    if (accusers_.size() >= static_cast<size_t>(config_.max_members)) {
      absl::erase_if(accusers_, [&](const auto& a) {
        return now - a.second.since > config_.evidence_window;
      });
      if (accusers_.size() >= static_cast<size_t>(config_.max_members)) return;
    }
    it = accusers_.emplace(accuser, AccuserRecord{now, 0}).first;
  }
  if (now - it->second.since > config_.evidence_window) {
    it->second = AccuserRecord{now, 0};
  }
  ++it->second.refuted;
}

Memberlist::Evidence* Memberlist::EvidenceFor(const std::string& name,
                                              uint64_t generation) {
  const absl::Time now = scheduler_->Now();
  auto it = evidence_.find(name);
  if (it == evidence_.end()) {
    if (evidence_.size() >= static_cast<size_t>(config_.max_members)) {
      absl::erase_if(evidence_, [&](const auto& e) {
        const Evidence& v = e.second;
        return !v.checking && v.hold_until < now &&
               now - v.last_removed > config_.hold_down &&
               std::all_of(v.accusers.begin(), v.accusers.end(),
                           [&](const auto& a) {
                             return now - a.second > config_.evidence_window;
                           });
      });
      if (evidence_.size() >= static_cast<size_t>(config_.max_members)) {
        return nullptr;
      }
    }
    it = evidence_.emplace(name, Evidence{}).first;
    it->second.generation = generation;
  }
  if (it->second.generation != generation) {
    const bool checking = it->second.checking;
    it->second = Evidence{};
    it->second.generation = generation;
    it->second.checking = checking;  // the running check finds out itself
  }
  return &it->second;
}

int Memberlist::EvidenceCount(const NodeState& m) {
  auto it = evidence_.find(m.name().view());
  if (it == evidence_.end() || it->second.generation != m.generation())
    return 0;
  const absl::Time now = scheduler_->Now();
  auto& a = it->second.accusers;
  a.erase(std::remove_if(a.begin(), a.end(),
                         [&](const auto& x) {
                           return now - x.second > config_.evidence_window;
                         }),
          a.end());
  return static_cast<int>(a.size());
}

void Memberlist::RecordEvidence(NodeState& m, const std::string& from) {
  if (Compat() || config_.quarantine_observers == 0 || from.empty() ||
      &m == local_) {
    return;
  }
  Evidence* e = EvidenceFor(m.name(), m.generation());
  if (e == nullptr) return;
  const absl::Time now = scheduler_->Now();
  auto it = std::find_if(e->accusers.begin(), e->accusers.end(),
                         [&](const auto& a) { return a.first == from; });
  if (it != e->accusers.end()) {
    it->second = now;
  } else if (e->accusers.size() < kMaxEvidence) {
    e->accusers.emplace_back(from, now);
  } else {
    auto oldest = std::min_element(
        e->accusers.begin(), e->accusers.end(),
        [](const auto& x, const auto& y) { return x.second < y.second; });
    *oldest = {from, now};
  }
  MaybeQuarantineCheck(m);
}

void Memberlist::MaybeQuarantineCheck(NodeState& m) {
  if (!IsLive(m.state) || &m == local_) return;
  Evidence* e = EvidenceFor(m.name(), m.generation());
  if (e == nullptr) return;
  const absl::Time now = scheduler_->Now();
  // The quarantine needs observers besides the member and this node.
  const int needed = std::min(config_.quarantine_observers, NumAlive() - 2);
  if (needed < 2 || EvidenceCount(m) < needed) return;
  if (now - e->refuted > config_.evidence_window) return;
  // Answered in full since the last accusation: healthy now (a member that
  // heard nothing and hears again, flipflop).
  if (std::none_of(e->accusers.begin(), e->accusers.end(),
                   [&](const auto& a) { return a.second > e->cleared; })) {
    return;
  }
  if (e->checking || e->pending || e->following ||
      now - e->last_check < config_.probe_interval) {
    return;
  }
  QuarantineCheck(m.name(), m.generation());
}

void Memberlist::QuarantineCheck(const std::string& name, uint64_t generation) {
  NodeState* target = Find(name);
  if (target == nullptr || target->generation() != generation ||
      !IsLive(target->state) || shut_down_) {
    return;
  }
  Evidence* e = EvidenceFor(name, generation);
  if (e == nullptr) return;
  e->checking = true;
  e->last_check = scheduler_->Now();
  // kQuarantinePings pings, each its own datagram; fewer than
  // kQuarantineAcks acks is silence. A member that loses most of what it
  // sends fails it (80 % loss: 51 %), a healthy one at 5 % loss almost
  // never (0.09 %), and it is repeated while the evidence stands.
  auto decide = [this, name, generation](int acks) {
    Evidence* ev = EvidenceFor(name, generation);
    if (ev != nullptr) ev->checking = false;
    NodeState* t = Find(name);
    if (t == nullptr || t->generation() != generation || !IsLive(t->state) ||
        shut_down_) {
      return;
    }
    if (acks >= kQuarantinePings) {
      // Every ping answered: not again before a new accusation. Before, a
      // member that heard again after a deaf phase was checked every probe
      // interval by every member holding evidence, and refuted each
      // check's suspect (N = 1,000 flipflop: twice the traffic).
      if (ev != nullptr) ev->cleared = scheduler_->Now();
      return;
    }
    if (acks >= kQuarantineAcks) {
      // It answers us: check again while the evidence stands.
      const int needed = std::min(config_.quarantine_observers, NumAlive() - 2);
      if (needed < 2 || EvidenceCount(*t) < needed) return;
      std::weak_ptr<bool> alive = alive_;
      scheduler_->After(config_.probe_interval,
                        [this, alive, name, generation] {
                          if (auto a = alive.lock(); !a || !*a) return;
                          Evidence* again = EvidenceFor(name, generation);
                          if (again == nullptr || again->checking) return;
                          QuarantineCheck(name, generation);
                        });
      return;
    }
    if (ev == nullptr || ev->pending) return;
    log_.Debug(config_.name, ": ", name,
               " to be quarantined: accused by many, silent to our check");
    // Not at once: at one moment with every other member (the earliest
    // time declared already, else a delay for the declaration to spread).
    const absl::Time now = scheduler_->Now();
    ScheduleQuarantine(
        *t, std::min(ev->declared_at,
                     now + config_.probe_interval * kQuarantineDelayPeriods));
  };
  ::peer::v1::Message sus;
  auto* s = sus.mutable_suspect();
  s->set_incarnation(target->incarnation());
  s->set_generation(generation);
  s->set_node(name);
  s->set_from(config_.name);
  const std::string addr = target->addr();
  // A slow member answers late, a lossy one not at all: wait for it.
  const absl::Duration wait =
      std::max(awareness_.Scale(config_.probe_timeout),
               config_.probe_interval * kQuarantineWaitPeriods);
  PingBurst(name, addr, kQuarantinePings, wait, EncodeMessage(sus),
            std::move(decide));
}

void Memberlist::HandleQuarantineDeclaration(NodeState& m,
                                             const ::peer::v1::Dead& dead) {
  if (Compat() || config_.quarantine_observers == 0 || &m == local_ ||
      !IsLive(m.state) || dead.generation() != m.generation() ||
      dead.from().empty() || dead.from() == config_.name ||
      !WithinIncarnationWindow(m.incarnation(), dead.incarnation(),
                               config_.incarnation_window) ||
      !CredibleAccuser(dead.from(), m)) {
    return;
  }
  Evidence* e = EvidenceFor(m.name(), m.generation());
  if (e == nullptr) return;
  const absl::Time now = scheduler_->Now();
  // A time further ahead than any member decides is refused (a forger
  // would delay the removal); one in the past means now.
  absl::Time at = absl::FromUnixMillis(dead.quarantine_at_ms());
  const absl::Time latest =
      now + config_.probe_interval * kQuarantineDelayPeriods;
  if (at > latest) at = latest;
  // A declarer counts only under its own signature: the names in a
  // declaration are anyone's to write, so one insider naming
  // quarantine_observers members would remove a member with lossy links.
  // An unsigned, badly signed or stale one (an old signed one replayed)
  // is at most a reason to check the member below.
  if (at >= now - config_.evidence_window && VerifyQuarantine(dead)) {
    if (std::find(e->declarers.begin(), e->declarers.end(), dead.from()) ==
            e->declarers.end() &&
        e->declarers.size() < kMaxEvidence) {
      e->declarers.push_back(dead.from());
    }
    if (at < e->declared_at) {
      e->declared_at = at;
      // Relayed as it came (the signature covers its time), under its own
      // key, so that the member's refutations (queued under the member's)
      // do not cut its spread short.
      ::peer::v1::Message out;
      *out.mutable_dead() = dead;
      QueueBroadcast(absl::StrCat("quarantine:", m.name().view()), out);
    }
    if (e->pending) {
      if (e->declared_at < e->remove_at) ScheduleQuarantine(m, e->declared_at);
      return;
    }
    if (e->doubtful && now - e->last_follow <= config_.evidence_window &&
        static_cast<int>(e->declarers.size()) >= config_.quarantine_observers) {
      ScheduleQuarantine(m, e->declared_at);
      return;
    }
  } else if (e->pending) {
    return;
  }
  // Also while a quarantine check of ours runs: that one waits for a slow
  // member (5 probe intervals) and would end after the declared time.
  if (e->following || now - e->last_follow < config_.probe_interval) {
    return;
  }
  FollowCheck(m.name().str(), m.generation());
}

bool Memberlist::VerifyQuarantine(const ::peer::v1::Dead& dead) {
  const NodeState* declarer = Find(dead.from());
  bool refused = false;
  const bool ok =
      declarer != nullptr &&
      dead.signature().size() == identity::kSignatureSize &&
      CheckSignature(declarer->public_key().view(), QuarantineClaim(dead),
                     dead.signature(), &refused);
  if (!ok && !refused) {
    ++stats_.signature_failures;
    log_.Debug(config_.name, ": a quarantine declaration of ",
               absl::CHexEscape(dead.node()), " by ",
               absl::CHexEscape(dead.from()), " not counted: ",
               dead.signature().empty() ? "unsigned" : "bad signature");
  }
  return ok;
}

void Memberlist::SignQuarantineDeclaration(::peer::v1::Dead& dead) {
  if (!node_key_) return;  // set at Start: declarations come after
  if (absl::Status s = SignQuarantine(*node_key_, dead); !s.ok()) {
    log_.Warn(config_.name,
              ": cannot sign a quarantine declaration: ", s.ToString());
  }
}

void Memberlist::FollowCheck(const std::string& name, uint64_t generation) {
  NodeState* target = Find(name);
  Evidence* e = EvidenceFor(name, generation);
  if (target == nullptr || e == nullptr) return;
  e->following = true;
  e->last_follow = scheduler_->Now();
  ++stats_.follow_checks;
  auto decide = [this, name, generation](int acks) {
    Evidence* ev = EvidenceFor(name, generation);
    if (ev == nullptr) return;
    ev->following = false;
    NodeState* t = Find(name);
    if (t == nullptr || t->generation() != generation || !IsLive(t->state) ||
        shut_down_ || ev->pending) {
      return;
    }
    ev->doubtful = acks < kFollowPings;
    if (acks <= kFollowFailAcks ||
        (ev->doubtful && static_cast<int>(ev->declarers.size()) >=
                             config_.quarantine_observers)) {
      // At the declared time; with no signed declaration heard (only
      // unsigned ones made us check), as our own check would.
      ScheduleQuarantine(
          *t, std::min(ev->declared_at,
                       scheduler_->Now() +
                           config_.probe_interval * kQuarantineDelayPeriods));
    }
  };
  // Within a probe interval, well before the declared time.
  const absl::Duration wait =
      std::max(awareness_.Scale(config_.probe_timeout), config_.probe_interval);
  PingBurst(name, target->addr(), kFollowPings, wait, std::nullopt,
            std::move(decide));
}

void Memberlist::PingBurst(const std::string& name, const std::string& addr,
                           int count, absl::Duration wait,
                           std::optional<std::string> lead,
                           std::function<void(int acks)> done) {
  struct Burst {
    int acks = 0;
    int pending = 0;
    std::function<void(int acks)> done;
  };
  auto burst = std::make_shared<Burst>();
  burst->pending = count;
  burst->done = std::move(done);
  auto settle = [burst] {
    if (--burst->pending == 0) burst->done(burst->acks);
  };
  for (int k = 0; k < count; ++k) {
    const uint32_t seq = NextSeq();
    ExpectAck(
        seq, wait,
        [burst, settle](bool ack) {
          if (!ack) return;
          ++burst->acks;
          settle();
        },
        settle);
    ::peer::v1::Message ping;
    auto* p = ping.mutable_ping();
    p->set_seq_no(seq);
    p->set_target(name);
    p->set_source_name(config_.name);
    p->set_source_addr(local_->addr());
    std::vector<std::string> out;
    if (k == 0 && lead.has_value()) out.push_back(*std::move(lead));
    out.push_back(EncodeMessage(ping));
    SendMessages(addr, std::move(out), name);
  }
}

void Memberlist::ScheduleQuarantine(NodeState& m, absl::Time at) {
  Evidence* e = EvidenceFor(m.name(), m.generation());
  if (e == nullptr) return;
  const absl::Time now = scheduler_->Now();
  if (at < now) at = now;
  const bool first = !e->pending;
  e->pending = true;
  e->remove_at = at;
  if (first) {
    // Our own declaration: one more declarer for members in doubt.
    ::peer::v1::Message out;
    auto* d = out.mutable_dead();
    *d = OwnDead(m.incarnation(), m.generation(), m.name().str(), config_.name);
    d->set_quarantine_at_ms(absl::ToUnixMillis(at));
    SignQuarantineDeclaration(*d);
    if (at < e->declared_at) e->declared_at = at;
    QueueBroadcast(absl::StrCat("quarantine:", m.name().view()), out);
  }
  std::weak_ptr<bool> alive = alive_;
  scheduler_->After(at - now, [this, alive, name = m.name().str(),
                               generation = m.generation()] {
    if (auto a = alive.lock(); !a || !*a) return;
    ApplyQuarantine(name, generation);
  });
}

void Memberlist::ApplyQuarantine(const std::string& name, uint64_t generation) {
  Evidence* e = EvidenceFor(name, generation);
  if (e == nullptr || !e->pending) return;
  const absl::Time now = scheduler_->Now();
  if (now < e->remove_at) return;  // moved later: its own timer applies it
  const absl::Time at = e->remove_at;
  e->pending = false;
  e->remove_at = absl::InfiniteFuture();
  e->declared_at = absl::InfiniteFuture();
  e->declarers.clear();
  e->doubtful = false;
  NodeState* t = Find(name);
  if (t == nullptr || t->generation() != generation || !IsLive(t->state) ||
      shut_down_) {
    return;
  }
  ++stats_.quarantines;
  log_.Debug(config_.name, ": ", name,
             " quarantined: accused by many, silent to the checks");
  ::peer::v1::Dead dead =
      OwnDead(t->incarnation(), generation, name, config_.name);
  dead.set_quarantine_at_ms(absl::ToUnixMillis(at));
  SignQuarantineDeclaration(dead);
  DeclareDown(*t, dead);
  e = EvidenceFor(name, generation);
  if (e == nullptr) return;
  // Flap damping: each quarantine within kHoldDownMemory hold-downs of the
  // last doubles the hold-down (at most 32 times), so a member that stays
  // sick is not re-admitted and removed again every hold-down.
  if (now - e->last_quarantine > config_.hold_down * kHoldDownMemory) {
    e->quarantines = 0;
  }
  e->last_quarantine = now;
  e->hold_until =
      now + config_.hold_down * (int64_t{1} << std::min(e->quarantines, 5));
  ++e->quarantines;
}

void Memberlist::NoteRemoval(const NodeState& m) {
  if (Compat() || config_.hold_down <= absl::ZeroDuration()) return;
  Evidence* e = EvidenceFor(m.name(), m.generation());
  if (e == nullptr) return;
  e->last_removed = scheduler_->Now();
}

bool Memberlist::HeldDown(const NodeState& m) {
  if (Compat() || m.state != MemberState::kDead) return false;
  auto it = evidence_.find(m.name().view());
  return it != evidence_.end() && it->second.generation == m.generation() &&
         scheduler_->Now() < it->second.hold_until;
}

void Memberlist::MaybeCheckEarly(NodeState& m) {
  Suspicion* suspicion = SuspicionOf(m);
  if (Compat() || config_.corroboration == 0 || suspicion == nullptr ||
      suspicion->checked_early || m.state != MemberState::kSuspect) {
    return;
  }
  // Observers besides the member itself and this node.
  if (NumAlive() - 2 < config_.corroboration) return;
  if (suspicion->accusers() < config_.corroboration) return;
  suspicion->checked_early = true;
  ++stats_.early_checks;
  // Not before the member had kEarlyCheckPeriods probe intervals to hear
  // of it and refute (a slow member, not a dead one, refutes late).
  const absl::Duration wait = suspicion->start() +
                              config_.probe_interval * kEarlyCheckPeriods -
                              scheduler_->Now();
  std::weak_ptr<bool> alive = alive_;
  scheduler_->After(
      std::max(wait, absl::ZeroDuration()),
      [this, alive, name = m.name().str(), incarnation = m.incarnation(),
       generation = m.generation()] {
        if (auto a = alive.lock(); !a || !*a) return;
        LastCheckBeforeDeath(name, incarnation, generation,
                             /*early=*/true);
      });
}

absl::Duration Memberlist::DeathDelay() {
  int rounds = 0;
  for (int n = NumAlive(); n > 0; n >>= 1) ++rounds;
  return std::max(config_.gossip_interval * rounds, config_.probe_timeout);
}

void Memberlist::ScheduleDeath(NodeState& m, absl::Time at) {
  Suspicion* s = SuspicionOf(m);
  const absl::Time now = scheduler_->Now();
  // Whole milliseconds, as the wire carries it: the same moment everywhere.
  at = absl::FromUnixMillis(absl::ToUnixMillis(at));
  if (s == nullptr || at <= now) {
    const ::peer::v1::Dead dead =
        OwnDead(m.incarnation(), m.generation(), m.name().str(), config_.name);
    log_.Debug(config_.name, ": suspicion of ", m.name().view(),
               " timed out: dead");
    // A timed death we queued already is our word on it (one epidemic per
    // member and death, as before the timed death).
    DeclareDown(m, dead, /*spread=*/s == nullptr || !s->said);
    return;
  }
  // A time known already (from others, or ours): its timer applies it.
  if (at >= s->remove_at) return;
  s->remove_at = at;
  ::peer::v1::Message out;
  auto* d = out.mutable_dead();
  *d = OwnDead(m.incarnation(), m.generation(), m.name().str(), config_.name);
  d->set_remove_at_ms(absl::ToUnixMillis(s->remove_at));
  // Under the member's key: it replaces our queued accusation of it (one
  // message per member, as before; under a key of its own it added a
  // whole epidemic per death: 10 concurrent crashes at 1,000 members,
  // 531 B/s sent per member against 421).
  QueueBroadcast(m, out);
  s->said = true;
  std::weak_ptr<bool> alive = alive_;
  scheduler_->After(s->remove_at - now, [this, alive, name = m.name().str(),
                                         incarnation = m.incarnation(),
                                         generation = m.generation()] {
    if (auto a = alive.lock(); !a || !*a) return;
    ApplyDeath(name, incarnation, generation);
  });
}

void Memberlist::HandleTimedDeath(NodeState& m, const ::peer::v1::Dead& dead) {
  if (Compat() || &m == local_ || m.state != MemberState::kSuspect ||
      SuspicionOf(m) == nullptr || dead.generation() != m.generation() ||
      dead.incarnation() != m.incarnation()) {
    return;
  }
  Suspicion& s = *SuspicionOf(m);
  // Only a credible accuser's: one HandleSuspect counted as an accuser, or,
  // once the suspicion keeps no more names (kMaxAccusers), one it would
  // have counted (its refusal is counted there already). Before, a full
  // suspicion let any name through.
  if (!s.accuser_names().count(dead.from()) &&
      (s.accusers() < static_cast<int>(Suspicion::kMaxAccusers) ||
       !CredibleAccuser(dead.from(), m, /*count=*/false))) {
    return;
  }
  const absl::Time now = scheduler_->Now();
  // Further ahead than any member decides: cut (a forger would delay the
  // removal); in the past: now.
  absl::Time at = absl::FromUnixMillis(dead.remove_at_ms());
  const absl::Time latest =
      absl::FromUnixMillis(absl::ToUnixMillis(now + DeathDelay()));
  if (at > latest) at = latest;
  // Not before our suspicion's minimum, as our own timer would: anyone
  // holding the group key may send a timed death naming a credible accuser
  // and any moment, and a moment due at once left a member no time to
  // refute but its one ack, which a slow member sends too late (one forged
  // datagram each removed a member with a 700 ms lag at all 29 others).
  const absl::Time earliest =
      absl::FromUnixMillis(absl::ToUnixMillis(s.start() + s.min_timeout()));
  if (at < earliest) at = earliest;
  if (at >= s.remove_at) return;  // nothing new
  s.remove_at = at;
  // Passed on as our own accusation with that moment, under the member's
  // key (it replaces our queued suspect of it): the others count one more
  // accuser, as they counted each member's dead before the timed death.
  // Relayed as it came (the decider's), the distinct accusers stopped at
  // the deciders, and at the moment each member queued its dead again for
  // the rest: with that second epidemic per member and death, 10
  // concurrent crashes at 1,000 members cost 531 B/s sent per member
  // (goal 500); without it and relayed as it came, flipflop agreement at
  // 1,000 fell from 100 % to 98.82 % (seed 1).
  ::peer::v1::Message out;
  *out.mutable_dead() =
      OwnDead(m.incarnation(), m.generation(), m.name().str(), config_.name);
  out.mutable_dead()->set_remove_at_ms(absl::ToUnixMillis(at));
  QueueBroadcast(m, out);
  s.said = true;
  // Our own check, now if it has not run yet: one ping (after the
  // suspicion, so that a live member refutes), waiting until the moment
  // (at least a probe timeout); unanswered, the removal at that moment.
  if (s.check_sent == absl::InfinitePast()) {
    s.checked_early = true;
    s.check_sent = now;
    ::peer::v1::Message sus;
    auto* p = sus.mutable_suspect();
    p->set_incarnation(m.incarnation());
    p->set_generation(m.generation());
    p->set_node(m.name().str());
    p->set_from(config_.name);
    PingBurst(m.name().str(), m.addr().str(), 1,
              std::max(at - now, awareness_.Scale(config_.probe_timeout)),
              EncodeMessage(sus),
              [this, name = m.name().str(), incarnation = m.incarnation(),
               generation = m.generation(), started = s.start()](int acks) {
                // Of this suspicion only (see LastCheckBeforeDeath).
                NodeState* t =
                    SuspectOf(name, incarnation, generation, started);
                if (t == nullptr) return;
                if (acks > 0) return;  // it refutes (the suspect first)
                SuspicionOf(*t)->silent = true;
                ScheduleDeath(*t, SuspicionOf(*t)->remove_at);
              });
  }
  std::weak_ptr<bool> alive = alive_;
  scheduler_->After(
      std::max(at - now, absl::ZeroDuration()),
      [this, alive, name = m.name().str(), incarnation = m.incarnation(),
       generation = m.generation()] {
        if (auto a = alive.lock(); !a || !*a) return;
        ApplyDeath(name, incarnation, generation);
      });
}

void Memberlist::ApplyDeath(const std::string& name, uint64_t incarnation,
                            uint64_t generation) {
  NodeState* t = Find(name);
  if (shut_down_ || t == nullptr || t->state != MemberState::kSuspect ||
      t->incarnation() != incarnation || t->generation() != generation ||
      SuspicionOf(*t) == nullptr) {
    return;
  }
  Suspicion& s = *SuspicionOf(*t);
  const absl::Time now = scheduler_->Now();
  if (now < s.remove_at) return;  // moved: that timer applies it
  // Only when our own check ended unanswered: one still waiting decides
  // when it ends (ScheduleDeath, at once by then). Before, a check
  // unanswered for a probe timeout counted as silent, and everyone removed
  // a member that answers late (an overloaded host) as soon as one member's
  // check ran out.
  if (!s.silent) return;
  ::peer::v1::Dead dead = OwnDead(incarnation, generation, name, config_.name);
  dead.set_remove_at_ms(absl::ToUnixMillis(s.remove_at));
  log_.Debug(config_.name, ": ", name, " is dead at the declared moment");
  // Our timed death of it is queued already (ScheduleDeath or
  // HandleTimedDeath): the removal adds no second epidemic.
  DeclareDown(*t, dead, /*spread=*/!s.said);
}

}  // namespace peerlab::membership
