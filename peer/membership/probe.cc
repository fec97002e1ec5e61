// Failure detection (memberlist probeNode): one probe per protocol period to
// the next member of a shuffled round-robin order; a direct ping, then
// ping-req through `indirect_checks` members (who nack when they get no
// answer: Lifeguard), plus a probe over the reliable path; only when all of
// that fails within the period is the member suspected.
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

bool IsLive(MemberState s) {
  return s == MemberState::kAlive || s == MemberState::kSuspect;
}

}  // namespace

void Memberlist::ScheduleProbe() {
  if (shut_down_ || leaving_ || replaced_) return;
  // Lifeguard: a node in poor health probes less often.
  absl::Duration interval = awareness_.Scale(config_.probe_interval);
  std::weak_ptr<bool> alive = alive_;
  probe_timer_ = scheduler_->After(interval, [this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    probe_timer_ = 0;
    ProbeRound();
    ScheduleProbe();
  });
}

Memberlist::NodeState* Memberlist::NextProbeTarget() {
  for (size_t checked = 0; checked <= probe_order_.size(); ++checked) {
    if (probe_index_ >= probe_order_.size()) {
      // A full pass: drop members dead for longer than the gossip-to-the-dead
      // time (they are forgotten, as memberlist does), and reshuffle.
      const absl::Time now = scheduler_->Now();
      std::vector<uint32_t> kept;
      kept.reserve(probe_order_.size());
      for (uint32_t index : probe_order_.ToVector()) {
        const NodeState& node = nodes_[index];
        if (!IsLive(node.state)) {
          // Left members are gone for good; failed ones are kept a while
          // for reconnection (see Config::reconnect_timeout).
          absl::Duration keep = config_.gossip_to_the_dead_time;
          if (node.state == MemberState::kDead && !Compat()) {
            keep = std::max(keep, config_.reconnect_timeout);
          }
          if (now - StateChange(node) > keep) {
            RememberDeparted(node);  // it may still catch up on keys
            RemoveNode(index);
            continue;
          }
        }
        kept.push_back(index);
      }
      rng_.Shuffle(kept);
      probe_order_.Assign(std::move(kept));
      probe_index_ = 0;
      if (probe_order_.empty()) return nullptr;
    }
    NodeState* node = &nodes_[probe_order_[probe_index_++]];
    if (node != local_ && IsLive(node->state)) return node;
  }
  return nullptr;
}

void Memberlist::ProbeRound() {
  NodeState* target = NextProbeTarget();
  if (target != nullptr) Probe(target->name());
}

void Memberlist::ExpectAck(uint32_t seq, absl::Duration timeout,
                           std::function<void(bool ack)> on_result,
                           std::function<void()> on_timeout) {
  AckHandler handler;
  handler.on_result = std::move(on_result);
  std::weak_ptr<bool> alive = alive_;
  handler.timer = scheduler_->After(
      timeout, [this, alive, seq, on_timeout = std::move(on_timeout)] {
        if (auto a = alive.lock(); !a || !*a) return;
        acks_.erase(seq);
        if (on_timeout) on_timeout();
      });
  acks_[seq] = std::move(handler);
}

void Memberlist::Probe(const std::string& name) {
  NodeState* node = Find(name);
  if (node == nullptr) return;
  ++stats_.probes;
  if (awareness_.score() > 0) ++stats_.degraded_probes;
  struct ProbeState {
    std::string name;
    std::string addr;
    uint64_t incarnation;
    uint64_t generation;
    bool acked = false;
    bool fallback_ok = false;
    int expected_nacks = 0;
    int nacks = 0;
    absl::Time sent;  // the direct ping
  };
  auto state = std::make_shared<ProbeState>();
  state->name = name;
  state->addr = node->addr();
  state->incarnation = node->incarnation();
  state->generation = node->generation();
  const uint32_t seq = NextSeq();
  const absl::Duration interval = awareness_.Scale(config_.probe_interval);
  const absl::Duration timeout = awareness_.Scale(config_.probe_timeout);
  const absl::Time deadline = scheduler_->Now() + interval;
  state->sent = scheduler_->Now();
  std::weak_ptr<bool> alive = alive_;

  // The ack handler lives for the whole protocol period: an ack that comes
  // back through a ping-req still counts.
  ExpectAck(
      seq, interval,
      [this, state, timeout](bool ack) {
        if (ack) {
          if (!state->acked) {
            ++(scheduler_->Now() - state->sent <= timeout
                   ? stats_.probe_acks
                   : stats_.probe_late_acks);
          }
          state->acked = true;
          if (NodeState* t = Find(state->name);
              t != nullptr && t->generation() == state->generation) {
            t->verified = true;
          }
          awareness_.ApplyDelta(-1);  // a good probe: we are healthy
        } else {
          ++state->nacks;
          ++stats_.nacks_received;
        }
      },
      [this, state, seq] {
        if (state->acked) return;
        if (state->fallback_ok) {
          ++stats_.probe_fallback_acks;
          // Only the reliable path answered: the member does not take part
          // in the datagram protocol (docs/membership.md). memberlist only
          // logs it.
          if (Compat() || !config_.fallback_only_suspects) return;
          NodeState* t = Find(state->name);
          if (t == nullptr || !IsLive(t->state) ||
              t->incarnation() != state->incarnation ||
              t->generation() != state->generation) {
            return;
          }
          ++stats_.fallback_only_suspicions;
          ++stats_.suspicions_raised;
          ::peer::v1::Suspect s;
          s.set_incarnation(state->incarnation);
          s.set_generation(state->generation);
          s.set_node(state->name);
          s.set_from(config_.name);
          HandleSuspect(s);
          return;
        }
        ++stats_.probe_failures;
        NodeState* target = Find(state->name);
        // Lifeguard: missed nacks mean our own network is the problem. Not
        // so for a member we only heard of (it may never have existed).
        int delta = 1;
        if (state->expected_nacks > 0) {
          delta = state->expected_nacks > state->nacks
                      ? state->expected_nacks - state->nacks
                      : 0;
        }
        if (target == nullptr || target->verified) awareness_.ApplyDelta(delta);
        if (target == nullptr || !IsLive(target->state) ||
            target->incarnation() != state->incarnation ||
            target->generation() != state->generation) {
          return;
        }
        ++stats_.suspicions_raised;
        ::peer::v1::Suspect s;
        s.set_incarnation(state->incarnation);
        s.set_generation(state->generation);
        s.set_node(state->name);
        s.set_from(config_.name);
        log_.Debug(config_.name, ": no ack from ", state->name, " (seq ", seq,
                   "): suspect");
        HandleSuspect(s);
      });

  if (coords_ != nullptr) {
    AckHandler& handler = acks_[seq];
    handler.probed = name;
    handler.generation = state->generation;
    handler.sent = state->sent;
  }
  ::peer::v1::Message ping;
  ping.mutable_ping()->set_seq_no(seq);
  ping.mutable_ping()->set_target(name);
  ping.mutable_ping()->set_source_name(config_.name);
  ping.mutable_ping()->set_source_addr(local_->addr());
  if (node->state == MemberState::kSuspect) {
    // Buddy system: tell the suspect directly, so it refutes at once.
    ::peer::v1::Message sus;
    sus.mutable_suspect()->set_incarnation(node->incarnation());
    sus.mutable_suspect()->set_node(name);
    sus.mutable_suspect()->set_from(config_.name);
    sus.mutable_suspect()->set_generation(node->generation());
    SendMessages(state->addr, {EncodeMessage(ping), EncodeMessage(sus)}, name);
  } else {
    SendWithPiggyback(state->addr, ping, name);
  }

  // No direct ack within the timeout: indirect probes and the fallback.
  scheduler_->After(timeout, [this, alive, state, seq, deadline] {
    if (auto a = alive.lock(); !a || !*a) return;
    if (state->acked || shut_down_) return;
    std::vector<int> helpers =
        RandomIndices(config_.indirect_checks,
                      static_cast<int>(probe_order_.size()), rng_, [&](int i) {
                        const NodeState& h = nodes_[probe_order_[i]];
                        return &h == local_ || h.name() == state->name ||
                               h.state != MemberState::kAlive || !h.verified;
                      });
    for (int i : helpers) {
      NodeState* helper = &nodes_[probe_order_[i]];
      ::peer::v1::Message req;
      auto* ip = req.mutable_indirect_ping();
      ip->set_seq_no(seq);
      ip->set_target(state->name);
      ip->set_target_addr(state->addr);
      ip->set_want_nack(config_.lifeguard);
      ip->set_source_name(config_.name);
      ip->set_source_addr(local_->addr());
      SendWithPiggyback(helper->addr(), req, helper->name());
      ++stats_.indirect_probes;
    }
    if (config_.lifeguard)
      state->expected_nacks = static_cast<int>(helpers.size());
    if (config_.reliable_fallback_probe) {
      absl::Duration left = deadline - scheduler_->Now();
      if (left <= absl::ZeroDuration()) return;
      ++stats_.fallback_probes;
      ::peer::v1::ReliableRequest request;
      auto* p = request.mutable_ping();
      p->set_seq_no(seq);
      p->set_target(state->name);
      p->set_source_name(config_.name);
      p->set_source_addr(local_->addr());
      SendReliable(
          state->addr, request, left,
          [state](absl::StatusOr<::peer::v1::ReliableResponse> r) {
            if (r.ok() && r->has_ack()) state->fallback_ok = true;
          },
          state->name);
    }
  });
}

bool Memberlist::TakeProbeBudget(RequestBudget& budget) {
  if (!budget.probe_served) {
    budget.probe_served = true;
    return true;
  }
  if (stats_.probe_requests_refused++ % 1024 == 0) {  // rate-limited
    log_.Debug(config_.name,
               ": a datagram carried more than one ping/ping-req: only the "
               "first is served (",
               stats_.probe_requests_refused, " refused so far)");
  }
  return false;
}

void Memberlist::HandlePing(const ::peer::v1::Ping& ping,
                            const std::string& from_addr) {
  // A probe meant for a previous owner of our address is not ours to answer.
  if (!ping.target().empty() && ping.target() != config_.name) return;
  // A check of whether another process of our name still runs: not ours.
  if (!ping.target_id().empty() && ping.target_id() != local_->id()) return;
  ::peer::v1::Message ack;
  ack.mutable_ack()->set_seq_no(ping.seq_no());
  if (ping.source_addr().empty() || ping.source_addr() == from_addr) {
    // Our coordinate only to the datagram's sender (an address the ping
    // merely names gets nothing bigger than the ping).
    if (coords_ != nullptr) {
      CoordinateToProto(coords_->coordinate(),
                        ack.mutable_ack()->mutable_coordinate());
    }
    SendWithPiggyback(from_addr, ack, ping.source_name());
  } else {
    // An address the datagram only names: the bare ack, no bigger than
    // the ping (see RequestBudget).
    SendMessages(ping.source_addr(), {EncodeMessage(ack)}, ping.source_name());
  }
}

void Memberlist::HandleIndirectPing(const ::peer::v1::IndirectPing& req,
                                    const std::string& from_addr) {
  const std::string reply_to =
      req.source_addr().empty() ? from_addr : req.source_addr();
  if (req.target_addr().empty() || req.target_addr() == reply_to ||
      req.target_addr() == local_->addr()) {
    // Two datagrams to one address for one request, or a ping to
    // ourselves: not a probe a member asks for.
    ++stats_.probe_requests_refused;
    return;
  }
  const uint32_t seq = NextSeq();
  const uint32_t original = req.seq_no();
  const bool want_nack = req.want_nack();
  // The answer piggybacks broadcasts only when it goes back to the
  // datagram's sender; the ping to the target never does (RequestBudget).
  const bool piggyback = reply_to == from_addr;
  auto answered = std::make_shared<bool>(false);
  auto answer = [this, reply_to, piggyback,
                 source = req.source_name()](const ::peer::v1::Message& out) {
    if (piggyback) {
      SendWithPiggyback(reply_to, out, source);
    } else {
      SendMessages(reply_to, {EncodeMessage(out)}, source);
    }
  };
  ExpectAck(
      seq, config_.probe_timeout,
      [answer, original, answered](bool ack) {
        if (!ack || *answered) return;
        *answered = true;
        ::peer::v1::Message out;
        out.mutable_ack()->set_seq_no(original);
        answer(out);
      },
      [answer, original, want_nack, answered] {
        if (*answered || !want_nack) return;
        ::peer::v1::Message out;
        out.mutable_nack()->set_seq_no(original);
        answer(out);
      });
  ::peer::v1::Message ping;
  ping.mutable_ping()->set_seq_no(seq);
  ping.mutable_ping()->set_target(req.target());
  ping.mutable_ping()->set_source_name(config_.name);
  ping.mutable_ping()->set_source_addr(local_->addr());
  SendMessages(req.target_addr(), {EncodeMessage(ping)}, req.target());
}

void Memberlist::HandleAck(const ::peer::v1::Ack& ack) {
  // An ack settles its probe: the handler leaves with its timer.
  auto it = acks_.find(ack.seq_no());
  if (it == acks_.end()) return;
  AckHandler handler = std::move(it->second);
  acks_.erase(it);
  if (handler.timer) scheduler_->Cancel(handler.timer);
  if (coords_ != nullptr && !handler.probed.empty() && ack.has_coordinate()) {
    ObserveCoordinate(handler, ack.coordinate());
  }
  if (handler.on_result) handler.on_result(true);
}

void Memberlist::ObserveCoordinate(const AckHandler& handler,
                                   const ::peer::v1::Coordinate& coordinate) {
  const NodeState* node = Find(handler.probed);
  // A member that left or restarted meanwhile: not the one we pinged.
  if (node == nullptr || node->generation() != handler.generation ||
      !IsLive(node->state)) {
    return;
  }
  absl::StatusOr<Coordinate> theirs =
      CoordinateFromProto(coordinate, coords_->config());
  absl::Status s = theirs.ok()
                       ? coords_->Update(handler.probed, *theirs,
                                         scheduler_->Now() - handler.sent)
                       : theirs.status();
  if (!s.ok()) {
    if (stats_.coordinates_refused++ % 1024 == 0) {  // rate-limited
      log_.Debug(config_.name, ": coordinate from ", handler.probed,
                 " refused: ", s.message(), " (", stats_.coordinates_refused,
                 " so far)");
    }
  }
}

void Memberlist::HandleNack(const ::peer::v1::Nack& nack) {
  auto it = acks_.find(nack.seq_no());
  if (it == acks_.end() || !it->second.on_result) return;
  it->second.on_result(false);
}

}  // namespace peerlab::membership
