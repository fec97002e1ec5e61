// Dissemination (memberlist net.go/state.go): piggybacked broadcasts on every
// datagram, gossip rounds to random members (and for a while to the dead,
// so they learn and refute), and push/pull anti-entropy on the reliable path.
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/push_pull_pool.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {

void Memberlist::QueueBroadcast(const std::string& key,
                                const ::peer::v1::Message& message,
                                std::function<void()> on_done) {
  broadcasts_.Queue(key, EncodeMessage(message), std::move(on_done));
}

void Memberlist::QueueBroadcast(NodeState& about,
                                const ::peer::v1::Message& message,
                                std::function<void()> on_done) {
  broadcasts_.Queue(IndexOf(about), EncodeMessage(message), std::move(on_done));
}

void Memberlist::QueueAlive(NodeState& about, StringPool::Ref notice) {
  // Relayed as a notice: receivers that learn from it fetch the signed
  // claim from us (PushPull.want), once, instead of every relay carrying
  // the key and the signature to every member many times over.
  // Droppable: past Config::max_queued_alives the notice sent most goes.
  broadcasts_.QueueDroppable(IndexOf(about), std::move(notice));
  if (broadcasts_.dropped() != stats_.alive_notices_dropped) NoteAliveDrops();
}

void Memberlist::NoteAliveDrops() {
  // A mass join: this node learned more members at once than its queue
  // keeps notices for, so the notices it dropped are relayed less, and
  // some members may miss them. Pull instead: push/pulls with random
  // members (ScheduleDropCatchUp).
  stats_.alive_notices_dropped = broadcasts_.dropped();
  if (!drop_catch_up_pending_) ScheduleDropCatchUp();
}

void Memberlist::ScheduleDropCatchUp() {
  if (shut_down_ || leaving_) return;
  drop_catch_up_pending_ = true;
  // As ScheduleCatchUp: once what was queued has had time to be sent its
  // last time.
  std::weak_ptr<bool> alive = alive_;
  scheduler_->After(CatchUpDelay(), [this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    const NodeState* partner = RandomAliveMember();
    if (shut_down_ || leaving_ || partner == nullptr) {
      drop_catch_up_pending_ = false;
      return;
    }
    ++stats_.drop_catch_ups;
    const uint64_t applied = stats_.alives_applied;
    const uint64_t dropped = stats_.alive_notices_dropped;
    PushPullWith(
        partner->addr(), false,
        [this, alive, applied, dropped](absl::Status s) {
          if (auto a = alive.lock(); !a || !*a) return;
          // Again while an exchange teaches this node something (or it
          // dropped notices meanwhile): a push/pull with a random member
          // fills what this node lacks only when the partner has it, so
          // knowledge converges over a few rounds (anti-entropy); one that
          // taught nothing ends it. A failed one says nothing of what this
          // node lacks (its partner may be gone: a flood of names that
          // then vanish makes most partners dead ones): another partner,
          // up to kMaxFailedDropCatchUps failures in a row.
          if (!s.ok()) {
            if (++failed_drop_catch_ups_ <= kMaxFailedDropCatchUps) {
              ScheduleDropCatchUp();
              return;
            }
          } else if (stats_.alives_applied != applied ||
                     stats_.alive_notices_dropped != dropped) {
            failed_drop_catch_ups_ = 0;
            ScheduleDropCatchUp();
            return;
          }
          failed_drop_catch_ups_ = 0;
          drop_catch_up_pending_ = false;
        },
        Exchange::kFull, partner->name());
  });
}

void Memberlist::FetchWanted(const std::string& addr, const std::string& to) {
  if (wants_.empty()) return;
  std::vector<std::string> names = std::move(wants_);
  wants_.clear();
  if (addr.empty() || shut_down_) {
    for (const auto& n : names) wanted_.erase(n);
    return;
  }
  ::peer::v1::ReliableRequest request;
  auto* pp = request.mutable_push_pull();
  pp->set_from(config_.name);
  for (const auto& n : names) pp->add_want(n);
  ++stats_.claim_fetches;
  stats_.claims_wanted += names.size();
  std::weak_ptr<bool> alive = alive_;
  SendReliable(
      addr, std::move(request), config_.reliable_timeout,
      [this, alive, names = std::move(names)](
          absl::StatusOr<::peer::v1::ReliableResponse> response) {
        if (auto a = alive.lock(); !a || !*a) return;
        for (const auto& n : names) wanted_.erase(n);
        if (!response.ok() || !response->has_push_pull()) return;
        ::peer::v1::PushPull& pp = *response->mutable_push_pull();
        if (pp.nodes_size() > kMaxWantPerRequest) {
          ++stats_.push_pulls_refused;
          return;
        }
        // Only what was asked for, in the answer's order, and nothing else
        // of the answer (filtered in place: no copy of the entries).
        // An answer lists what it has in the order asked (AnswerWant), so
        // the search for each name starts after the last one found: one
        // compare per entry, not up to kMaxWantPerRequest.
        auto& nodes = *pp.mutable_nodes();
        int kept = 0;
        size_t next = 0;
        for (int i = 0; i < nodes.size(); ++i) {
          const std::string& name = nodes.Get(i).name();
          auto found = std::find(names.begin() + next, names.end(), name);
          if (found == names.end()) {
            found = std::find(names.begin(), names.begin() + next, name);
            if (found == names.begin() + next) continue;
          }
          next = static_cast<size_t>(found - names.begin()) + 1;
          if (kept != i) nodes.SwapElements(kept, i);
          ++kept;
        }
        nodes.DeleteSubrange(kept, nodes.size() - kept);
        pp.clear_user_state();
        pp.clear_join();
        pp.clear_self_only();
        pp.clear_want();
        MergeState(pp);
      },
      to);
}

void Memberlist::AnswerWant(const ::peer::v1::PushPull& pp,
                            Transport::ReliableDone respond) {
  if (pp.want_size() > kMaxWantPerRequest || pp.nodes_size() > 0) {
    ++stats_.push_pulls_refused;
    respond(absl::InvalidArgumentError(absl::StrCat(
        "a fetch of ", pp.want_size(), " claims with ", pp.nodes_size(),
        " entries refused: at most ", kMaxWantPerRequest, " and none")));
    return;
  }
  ::peer::v1::ReliableResponse response;
  auto* out = response.mutable_push_pull();
  out->set_from(config_.name);
  for (const auto& name : pp.want()) {
    if (const NodeState* n = Find(name)) AddNodeState(*n, *out);
  }
  respond(std::move(response));
}

void Memberlist::SendWithPiggyback(const std::string& addr,
                                   const ::peer::v1::Message& first,
                                   const std::string& to) {
  std::vector<std::string> messages;
  messages.push_back(EncodeMessage(first));
  int used = PacketHeaderSize(config_.name) +
             FramedSize(static_cast<int>(messages[0].size()));
  for (const StringPool::Ref& m :
       broadcasts_.Take(kFrameOverhead, PacketSize() - used)) {
    messages.push_back(m.str());
  }
  SendMessages(addr, std::move(messages), to);
}

void Memberlist::SendMessages(const std::string& addr,
                              std::vector<std::string> encoded,
                              const std::string& to) {
  if (shut_down_ || addr.empty()) return;
  ++stats_.packets_sent;
  for (const std::string& m : encoded) {
    const int kind = EncodedMessageKind(m);
    Stats::Traffic& t = stats_.sent_by_kind[kind < Stats::kMaxKinds ? kind : 0];
    ++t.messages;
    t.bytes += m.size();
  }
  std::string sealed = SealPacket(EncodePacket(config_.name, encoded), to);
  stats_.bytes_sent += sealed.size();
  transport_->SendPacket(addr, std::move(sealed));
}

void Memberlist::ScheduleGossip() {
  if (shut_down_) return;
  std::weak_ptr<bool> alive = alive_;
  gossip_timer_ = scheduler_->After(config_.gossip_interval, [this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    gossip_timer_ = 0;
    MaybeSilencePing();
    GossipRound();
    ScheduleGossip();
  });
}

void Memberlist::GossipRound() {
  if (broadcasts_.size() == 0) return;
  const absl::Time now = scheduler_->Now();
  std::vector<int> targets = RandomIndices(
      config_.gossip_nodes, static_cast<int>(probe_order_.size()), rng_,
      [&](int i) {
        const NodeState* n = &nodes_[probe_order_[i]];
        if (n == local_) return true;
        switch (n->state) {
          case MemberState::kAlive:
          case MemberState::kSuspect:
            return false;
          case MemberState::kDead:
            // Tell the dead for a while, so a live one can
            // refute.
            return now - StateChange(*n) > config_.gossip_to_the_dead_time;
          case MemberState::kLeft:
            return true;
        }
        return true;
      });
  const int budget = PacketSize() - PacketHeaderSize(config_.name);
  if (!targets.empty()) ++stats_.gossip_rounds;
  for (int i : targets) {
    std::vector<StringPool::Ref> taken =
        broadcasts_.Take(kFrameOverhead, budget);
    if (taken.empty()) return;
    std::vector<std::string> messages(taken.begin(), taken.end());
    const NodeState& target = nodes_[probe_order_[i]];
    SendMessages(target.addr(), std::move(messages), target.name());
  }
}

void Memberlist::SchedulePushPull() {
  if (shut_down_ || config_.push_pull_interval <= absl::ZeroDuration()) return;
  std::weak_ptr<bool> alive = alive_;
  push_pull_timer_ = scheduler_->After(
      PushPullScale(config_.push_pull_interval, NumAlive()), [this, alive] {
        if (auto a = alive.lock(); !a || !*a) return;
        push_pull_timer_ = 0;
        PushPullRound();
        SchedulePushPull();
      });
}

void Memberlist::PushPullRound() {
  std::vector<int> pick =
      RandomIndices(1, static_cast<int>(probe_order_.size()), rng_, [&](int i) {
        const NodeState* n = &nodes_[probe_order_[i]];
        return n == local_ || n->state != MemberState::kAlive;
      });
  if (!pick.empty()) {
    const NodeState& partner = nodes_[probe_order_[pick[0]]];
    PushPullWith(
        partner.addr(), false,
        [this](absl::Status s) {
          if (!s.ok()) {
            log_.Debug(config_.name, ": push/pull failed: ", s.message());
          }
        },
        Exchange::kFull, partner.name());
  }
  // Reconnect (as Serf does on top of memberlist): also try one member we
  // believe dead. If it is alive (a healed partition), the exchange makes it
  // refute, and both sides converge again.
  if (Compat()) return;
  std::vector<int> dead =
      RandomIndices(1, static_cast<int>(probe_order_.size()), rng_, [&](int i) {
        return nodes_[probe_order_[i]].state != MemberState::kDead;
      });
  if (!dead.empty()) {
    const NodeState& partner = nodes_[probe_order_[dead[0]]];
    PushPullWith(
        partner.addr(), false, [](absl::Status) {}, Exchange::kFull,
        partner.name());
  }
}

absl::Duration Memberlist::CatchUpDelay() {
  // The retransmit limit in gossip rounds, staggered by up to as much again.
  const absl::Duration epidemic =
      config_.gossip_interval *
      RetransmitLimit(config_.retransmit_mult, NumAlive());
  return epidemic + epidemic * (static_cast<double>(rng_.Uniform(1000)) / 1000);
}

void Memberlist::ScheduleCatchUp() {
  // While this node's own news spread, most members did not know it yet,
  // so updates gossiped in that window (other joiners', in a mass join)
  // skipped it, and nobody gossips them again. memberlist waits for the
  // next push/pull (30 s or more); one exchange as soon as an update has
  // had time to be sent its last time (the retransmit limit in gossip
  // rounds, staggered by up to as much again) fills that gap.
  if (shut_down_ || Compat()) return;
  // A join that dropped notices (Config::max_queued_alives) runs its
  // push/pulls already, the first at this same time: no second one.
  if (drop_catch_up_pending_) return;
  std::weak_ptr<bool> alive = alive_;
  scheduler_->After(CatchUpDelay(), [this, alive] {
    if (auto a = alive.lock(); !a || !*a) return;
    if (shut_down_ || leaving_) return;
    const NodeState* partner = RandomAliveMember();
    if (partner == nullptr) return;
    PushPullWith(
        partner->addr(), false, [](absl::Status) {}, Exchange::kFull,
        partner->name());
  });
}

const Memberlist::NodeState* Memberlist::RandomAliveMember() {
  std::vector<int> pick =
      RandomIndices(1, static_cast<int>(probe_order_.size()), rng_, [&](int i) {
        const NodeState* n = &nodes_[probe_order_[i]];
        return n == local_ || n->state != MemberState::kAlive;
      });
  return pick.empty() ? nullptr : &nodes_[probe_order_[pick[0]]];
}

void Memberlist::CatchUpAfterFailedJoin() {
  if (shut_down_ || leaving_ || replaced_) return;
  const NodeState* found = RandomAliveMember();
  if (found == nullptr) return;  // alone: nothing to catch up with
  const NodeState& partner = *found;
  log_.Info(config_.name, ": join failed, but ", NumAlive() - 1,
            " member(s) reached us meanwhile: a full push/pull with ",
            partner.name().view());
  std::weak_ptr<bool> alive = alive_;
  PushPullWith(
      partner.addr(), false,
      [this, alive](absl::Status s) {
        if (auto a = alive.lock(); !a || !*a) return;
        if (!s.ok() || shut_down_) return;
        // As after a join: tell the members, and one more exchange once
        // the news has spread.
        AnnounceSelfToAll();
        ScheduleCatchUp();
      },
      Exchange::kFull, partner.name());
}

std::unique_ptr<::peer::v1::PushPull> Memberlist::MakePushPull(
    bool join, Exchange exchange) {
  std::unique_ptr<::peer::v1::PushPull> made =
      PushPullPool::Take(exchange == Exchange::kIntroduce ? 1 : nodes_.size());
  ::peer::v1::PushPull& pp = *made;
  if (exchange == Exchange::kIntroduce) {
    AddNodeState(*local_, pp);
    pp.set_self_only(true);
  } else {
    AddLocalState(pp);
    if (delegate_) pp.set_user_state(delegate_->LocalState(join));
  }
  pp.set_join(join);
  pp.set_from(config_.name);
  return made;
}

void Memberlist::PushPullWith(const std::string& addr, bool join,
                              std::function<void(absl::Status)> done,
                              Exchange exchange, const std::string& to) {
  ::peer::v1::ReliableRequest request;
  request.set_allocated_push_pull(MakePushPull(join, exchange).release());
  std::weak_ptr<bool> alive = alive_;
  SendReliable(
      addr, std::move(request), config_.reliable_timeout,
      [this, alive, done = std::move(done)](
          absl::StatusOr<::peer::v1::ReliableResponse> response) {
        if (auto a = alive.lock(); !a || !*a) {
          done(absl::CancelledError("node is gone"));
          return;
        }
        if (!response.ok()) {
          done(response.status());
          return;
        }
        if (!response->has_push_pull()) {
          done(absl::InternalError("push/pull answered with something else"));
          return;
        }
        if (response->push_pull().nodes_size() > config_.max_members) {
          ++stats_.push_pulls_refused;
          done(absl::ResourceExhaustedError(absl::StrCat(
              "push/pull answer of ", response->push_pull().nodes_size(),
              " entries refused: more than max_members (", config_.max_members,
              ")")));
          return;
        }
        ++stats_.push_pulls;
        MergeState(response->push_pull());
        // Spent: its entries and strings serve the next one we build.
        PushPullPool::Give(std::unique_ptr<::peer::v1::PushPull>(
            response->release_push_pull()));
        done(absl::OkStatus());
      },
      to);
}

void Memberlist::OnPacket(const std::string& from, const std::string& bytes) {
  if (shut_down_) return;
  ++stats_.packets_received;
  // Accept anything a UDP datagram can hold: senders may use a larger
  // packet_size than ours.
  // Decoded on an arena that starts on the stack: a typical datagram's
  // messages and strings then cost no heap allocation at all.
  alignas(16) char block[8192];
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = block;
  arena_options.initial_block_size = sizeof(block);
  google::protobuf::Arena arena(arena_options);
  auto* packet =
      google::protobuf::Arena::CreateMessage<::peer::v1::Packet>(&arena);
  if (auto s = DecodePacketInto(bytes, kMaxDatagram, packet); !s.ok()) {
    ++stats_.bad_packets;
    log_.Debug(config_.name, ": dropped a datagram from ", from, ": ",
               s.message());
    return;
  }
  if (!AcceptPacket(from, bytes, *packet)) return;  // label, version, replays
  ForEachPacketMessage(bytes, [this](int kind, size_t size) {
    Stats::Traffic& t =
        stats_.received_by_kind[kind < Stats::kMaxKinds ? kind : 0];
    ++t.messages;
    t.bytes += size;
  });
  RequestBudget budget;
  verifications_left_ = kMaxVerificationsPerDatagram;
  for (const auto& message : packet->messages()) {
    HandleMessage(message, from, budget);
  }
  verifications_left_ = -1;
  FetchWanted(from, packet->from());  // claims its notices announced
  // A datagram from a member we have not heard of: news of its join missed
  // us (an epidemic with few retransmissions can stop short of a member).
  // Rather than wait for the next push/pull round, exchange state with it
  // now, at most once per sender every few seconds.
  const std::string& sender = packet->from();
  if (!sender.empty() && sender.size() <= kMaxNameBytes &&
      sender != config_.name && !leaving_ && !Compat() &&
      Find(sender) == nullptr) {
    LearnFromUnknown(sender, from);
  } else {
    CatchUpAfterSilence(sender, from);
  }
}

void Memberlist::CatchUpAfterSilence(const std::string& sender,
                                     const std::string& addr) {
  const absl::Time now = scheduler_->Now();
  const absl::Time before = last_heard_;
  last_heard_ = now;
  if (Compat() || leaving_ || before == absl::InfinitePast() ||
      now - before < config_.probe_interval * kSilencePeriods ||
      sender.empty() || sender == config_.name) {
    return;
  }
  ++stats_.silence_catch_ups;
  log_.Debug(config_.name, ": heard ", absl::CHexEscape(sender), " after ",
             absl::FormatDuration(now - before), " of silence: catching up");
  // With a member alive here at random, rather than the sender: that may
  // be one that stopped hearing with us, whose view is as old as ours.
  std::vector<int> pick =
      RandomIndices(1, static_cast<int>(probe_order_.size()), rng_, [&](int i) {
        const NodeState* n = &nodes_[probe_order_[i]];
        return n == local_ || n->state != MemberState::kAlive;
      });
  std::string to = sender, to_addr = addr;
  if (!pick.empty()) {
    const NodeState& partner = nodes_[probe_order_[pick[0]]];
    to = partner.name().str();
    to_addr = partner.addr().str();
  }
  PushPullWith(
      to_addr, false, [](absl::Status) {}, Exchange::kFull, to);
}

void Memberlist::MaybeSilencePing() {
  // Heard nothing for kSilencePeriods probe intervals: our ingress may be
  // down. A ping to a member alive here twice per probe interval (awareness
  // has slowed our probes by then), whose ack, once we hear again, ends
  // the silence (CatchUpAfterSilence).
  if (Compat() || leaving_ || last_heard_ == absl::InfinitePast()) return;
  const absl::Time now = scheduler_->Now();
  if (now - last_heard_ < config_.probe_interval * kSilencePeriods ||
      now - last_silence_ping_ < config_.probe_interval / 2) {
    return;
  }
  std::vector<int> pick =
      RandomIndices(1, static_cast<int>(probe_order_.size()), rng_, [&](int i) {
        const NodeState* n = &nodes_[probe_order_[i]];
        return n == local_ || n->state != MemberState::kAlive;
      });
  if (pick.empty()) return;
  last_silence_ping_ = now;
  const NodeState& target = nodes_[probe_order_[pick[0]]];
  ::peer::v1::Message ping;
  auto* p = ping.mutable_ping();
  p->set_seq_no(NextSeq());
  p->set_target(target.name().str());
  p->set_source_name(config_.name);
  p->set_source_addr(local_->addr().str());
  SendMessages(target.addr().str(), {EncodeMessage(ping)}, target.name().str());
}

void Memberlist::LearnFromUnknown(const std::string& name,
                                  const std::string& addr) {
  // An introduction both ways (PushPull.self_only), at most once per
  // sender every two probe periods.
  const absl::Time now = scheduler_->Now();
  const absl::Duration quiet =
      std::max(config_.reliable_timeout, config_.probe_interval) * 2;
  auto it = unknown_senders_.find(name);
  if (it != unknown_senders_.end() && now - it->second < quiet) return;
  if (it == unknown_senders_.end() &&
      unknown_senders_.size() >= kMaxUnknownSenders) {
    // Full: forget the senders whose quiet time is over; if all are
    // recent (a flood of made-up names), skip this one.
    for (auto i = unknown_senders_.begin(); i != unknown_senders_.end();) {
      i = now - i->second >= quiet ? unknown_senders_.erase(i) : std::next(i);
    }
    if (unknown_senders_.size() >= kMaxUnknownSenders) {
      if (stats_.unknown_senders_refused++ % 1024 == 0) {
        log_.Warn(config_.name, ": ", stats_.unknown_senders_refused,
                  " datagram(s) from unknown senders not answered with an "
                  "introduction: ",
                  kMaxUnknownSenders, " introductions already in the last ",
                  absl::FormatDuration(quiet));
      }
      return;
    }
  }
  unknown_senders_[name] = now;
  ++stats_.unknown_sender_syncs;
  PushPullWith(
      addr, false, [](absl::Status) {}, Exchange::kIntroduce, name);
}

void Memberlist::OnReliable(const std::string& from,
                            const ::peer::v1::ReliableRequest& request,
                            Transport::ReliableDone respond,
                            const std::string* proven) {
  if (shut_down_) {
    respond(absl::UnavailableError("node is shut down"));
    return;
  }
  ::peer::v1::ReliableResponse response;
  switch (request.body_case()) {
    case ::peer::v1::ReliableRequest::kPushPull: {
      const ::peer::v1::PushPull& pp = request.push_pull();
      if (pp.want_size() > 0) {
        AnswerWant(pp, std::move(respond));
        return;
      }
      if (pp.nodes_size() > config_.max_members) {
        if (stats_.push_pulls_refused++ % 100 == 0) {  // rate-limited
          log_.Warn(config_.name, ": refused a push/pull of ", pp.nodes_size(),
                    " entries from ", from, ": more than max_members (",
                    config_.max_members, "); ", stats_.push_pulls_refused,
                    " refused so far");
        }
        respond(absl::ResourceExhaustedError(
            absl::StrCat("push/pull of ", pp.nodes_size(),
                         " entries refused: more than max_members (",
                         config_.max_members, ")")));
        return;
      }
      NameClaimCheck check = CheckNameClaim(pp);
      switch (check.action) {
        case NameClaimCheck::kAccept:
          AnswerPushPull(pp, std::move(respond));
          return;
        case NameClaimCheck::kRefuse:
          RefuseNameClaim(check.name, check.addr, check.claim_addr,
                          std::move(respond));
          return;
        case NameClaimCheck::kProbe:
          break;
      }
      // Is the holder still there? Answer once the probe has decided.
      auto copy = std::make_shared<::peer::v1::PushPull>(pp);
      auto shared_respond =
          std::make_shared<Transport::ReliableDone>(std::move(respond));
      std::weak_ptr<bool> alive = alive_;
      ProbeHolder(
          check.name, check.addr, check.id,
          [this, alive, copy, shared_respond, check](bool live) {
            if (auto a = alive.lock(); !a || !*a || shut_down_) {
              (*shared_respond)(absl::UnavailableError("node is shut down"));
              return;
            }
            if (live) {
              RefuseNameClaim(check.name, check.addr, check.claim_addr,
                              std::move(*shared_respond));
              return;
            }
            // Holder gone: the newer process takes the name over.
            AnswerPushPull(*copy, std::move(*shared_respond));
          });
      return;
    }
    case ::peer::v1::ReliableRequest::kPing:
      if ((!request.ping().target().empty() &&
           request.ping().target() != config_.name) ||
          (!request.ping().target_id().empty() &&
           request.ping().target_id() != local_->id())) {
        respond(absl::NotFoundError("ping meant for another node"));
        return;
      }
      response.mutable_ack()->set_seq_no(request.ping().seq_no());
      respond(std::move(response));
      return;
    case ::peer::v1::ReliableRequest::kPacket:
      ++stats_.packets_received;
      {
        RequestBudget budget;
        verifications_left_ = kMaxVerificationsPerDatagram;
        for (const auto& m : request.packet().messages()) {
          HandleMessage(m, from, budget);
        }
        verifications_left_ = -1;
        const NodeState* sender = Find(request.packet().from());
        FetchWanted(sender != nullptr ? sender->addr().str() : std::string(),
                    request.packet().from());
      }
      response.mutable_empty();
      respond(std::move(response));
      return;
    case ::peer::v1::ReliableRequest::kKeyOpAck:
      HandleKeyOpAck(request.key_op_ack());
      response.mutable_empty();
      respond(std::move(response));
      return;
    case ::peer::v1::ReliableRequest::kKeyOp:
      HandleDirectKeyOp(request.key_op(), std::move(respond));
      return;
    case ::peer::v1::ReliableRequest::kUserMessage:
      HandleDirectMessage(request, proven, std::move(respond));
      return;
    default:
      ++stats_.bad_packets;
      respond(absl::InvalidArgumentError("unknown reliable request"));
  }
}

void Memberlist::AnswerPushPull(const ::peer::v1::PushPull& pp,
                                Transport::ReliableDone respond) {
  // Answer with our state as it was before merging theirs, as memberlist
  // does.
  ::peer::v1::ReliableResponse response;
  response.set_allocated_push_pull(
      MakePushPull(false,
                   pp.self_only() ? Exchange::kIntroduce : Exchange::kFull)
          .release());
  ++stats_.push_pulls;
  MergeState(pp);
  respond(std::move(response));
}

void Memberlist::HandleMessage(const ::peer::v1::Message& message,
                               const std::string& from_addr,
                               RequestBudget& budget) {
  switch (message.body_case()) {
    case ::peer::v1::Message::kPing:
      if (TakeProbeBudget(budget)) HandlePing(message.ping(), from_addr);
      break;
    case ::peer::v1::Message::kIndirectPing:
      if (TakeProbeBudget(budget)) {
        HandleIndirectPing(message.indirect_ping(), from_addr);
      }
      break;
    case ::peer::v1::Message::kAck:
      HandleAck(message.ack());
      break;
    case ::peer::v1::Message::kNack:
      HandleNack(message.nack());
      break;
    case ::peer::v1::Message::kAlive:
      HandleAlive(message.alive(), from_addr == message.alive().addr());
      break;
    case ::peer::v1::Message::kNotice:
      HandleNotice(message.notice());
      break;
    case ::peer::v1::Message::kSuspect:
      HandleSuspect(message.suspect());
      break;
    case ::peer::v1::Message::kDead:
      HandleDead(message.dead());
      break;
    case ::peer::v1::Message::kUser:
      if (delegate_) delegate_->OnUserMessage(message.user().payload());
      break;
    case ::peer::v1::Message::kKeyOp:
      HandleKeyOp(message.key_op());
      break;
    case ::peer::v1::Message::kForceLeave:
      HandleForceLeave(message.force_leave());
      break;
    default:
      break;  // a newer sender's message kind: ignore
  }
}

}  // namespace peerlab::membership
