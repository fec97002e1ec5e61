// Direct user messages on the reliable path (SendUserMessage) and Serf's
// force-leave (ForceLeave). See memberlist.h.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "peer/membership/memberlist.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

// Names from the network, fit for a log line.
std::string Printable(absl::string_view s) { return absl::CHexEscape(s); }

bool IsLive(MemberState s) {
  return s == MemberState::kAlive || s == MemberState::kSuspect;
}

}  // namespace

void Memberlist::SendUserMessage(const std::string& to, uint32_t channel,
                                 std::string payload,
                                 std::function<void(absl::Status)> done,
                                 absl::Duration timeout) {
  auto later = [this](std::function<void(absl::Status)> done,
                      absl::Status status) {
    std::weak_ptr<bool> alive = alive_;
    scheduler_->Post([alive, done = std::move(done), status] {
      if (auto a = alive.lock(); a && *a) done(status);
    });
  };
  if (!started_ || shut_down_) {
    later(std::move(done),
          absl::FailedPreconditionError("the node is not running"));
    return;
  }
  if (payload.size() > static_cast<size_t>(config_.max_user_message_bytes)) {
    ++stats_.user_messages_refused;
    later(std::move(done),
          absl::InvalidArgumentError(absl::StrCat(
              "message of ", payload.size(), " bytes: more than ",
              config_.max_user_message_bytes, " (max_user_message_bytes)")));
    return;
  }
  if (to == config_.name) {
    DirectMessage message{config_.name, generation_, true, channel,
                          std::move(payload)};
    std::weak_ptr<bool> alive = alive_;
    scheduler_->Post([this, alive, message = std::move(message),
                      done = std::move(done)] {
      if (auto a = alive.lock(); !a || !*a) return;
      if (shut_down_ || delegate_ == nullptr) {
        done(absl::UnimplementedError("this member takes no direct messages"));
        return;
      }
      ++stats_.user_messages_received;
      done(delegate_->OnDirectMessage(message));
    });
    return;
  }
  const NodeState* target = Find(to);
  if (target == nullptr || !IsLive(target->state)) {
    later(std::move(done),
          absl::NotFoundError(absl::StrCat("no live member named ", to)));
    return;
  }
  if (user_messages_in_flight_ >= config_.max_user_messages_in_flight) {
    ++stats_.user_messages_refused;
    if (stats_.user_messages_refused % 100 == 1) {
      log_.Warn(config_.name, ": direct message to ", to,
                " refused: ", user_messages_in_flight_,
                " in flight (max_user_messages_in_flight)");
    }
    later(std::move(done),
          absl::ResourceExhaustedError(absl::StrCat(
              user_messages_in_flight_,
              " direct messages in flight (max_user_messages_in_flight)")));
    return;
  }
  ::peer::v1::ReliableRequest request;
  auto* m = request.mutable_user_message();
  m->set_channel(channel);
  m->set_payload(std::move(payload));
  m->set_to(to);
  // The open mode's only word for who sends (sealed: set inside the seal).
  request.set_sender(config_.name);
  request.set_sender_generation(generation_);
  ++user_messages_in_flight_;
  ++stats_.user_messages_sent;
  std::weak_ptr<bool> alive = alive_;
  SendReliable(
      target->addr().str(), std::move(request),
      timeout > absl::ZeroDuration() ? timeout : config_.reliable_timeout,
      [this, alive, done = std::move(done)](
          absl::StatusOr<::peer::v1::ReliableResponse> response) {
        if (auto a = alive.lock(); !a || !*a) return;
        --user_messages_in_flight_;
        done(response.ok() ? absl::OkStatus() : response.status());
      },
      to);
}

void Memberlist::HandleDirectMessage(const ::peer::v1::ReliableRequest& request,
                                     const std::string* proven,
                                     Transport::ReliableDone respond) {
  const ::peer::v1::DirectMessage& m = request.user_message();
  auto refuse = [&](absl::Status status) {
    ++stats_.user_messages_refused;
    respond(std::move(status));
  };
  if (keyring_ && proven == nullptr) {
    // No sender tag that verifies: the sender does not know our key yet, or
    // we not its (a first contact), or it is not who it says.
    refuse(absl::PermissionDeniedError(absl::StrCat(
        config_.name, " refused a direct message from ",
        Printable(request.sender()),
        ": its sender is not proven (no sender tag that verifies)")));
    return;
  }
  if (m.to() != config_.name) {
    refuse(absl::NotFoundError(absl::StrCat(
        "direct message for ", Printable(m.to()), " reached ", config_.name)));
    return;
  }
  if (m.payload().size() >
      static_cast<size_t>(config_.max_user_message_bytes)) {
    refuse(absl::InvalidArgumentError(
        absl::StrCat("message of ", m.payload().size(), " bytes: more than ",
                     config_.max_user_message_bytes, " (", config_.name,
                     "'s max_user_message_bytes)")));
    return;
  }
  if (delegate_ == nullptr) {
    refuse(absl::UnimplementedError(
        absl::StrCat(config_.name, " takes no direct messages")));
    return;
  }
  DirectMessage message;
  message.from = proven != nullptr ? *proven : request.sender();
  message.from_generation = request.sender_generation();
  message.proven = proven != nullptr;
  message.channel = m.channel();
  message.payload = m.payload();
  ++stats_.user_messages_received;
  absl::Status status = delegate_->OnDirectMessage(message);
  if (!status.ok()) {
    respond(std::move(status));
    return;
  }
  ::peer::v1::ReliableResponse response;
  response.mutable_empty();
  respond(std::move(response));
}

absl::Status Memberlist::ForceLeave(const std::string& name, bool prune) {
  if (!started_ || shut_down_) {
    return absl::FailedPreconditionError("the node is not running");
  }
  if (name == config_.name) {
    return absl::FailedPreconditionError(
        "cannot force this node to leave: use leave");
  }
  NodeState* node = Find(name);
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat("no member named ", name));
  }
  NodeState& m = *node;
  if (m.state == MemberState::kAlive) {
    return absl::FailedPreconditionError(absl::StrCat(
        name,
        " is alive: only a failed or suspect member can be forced to leave "
        "(a live one refutes it)"));
  }
  ::peer::v1::Message out;
  auto* f = out.mutable_force_leave();
  f->set_node(name);
  f->set_generation(m.generation());
  f->set_incarnation(m.incarnation());
  f->set_from(config_.name);
  f->set_prune(prune);
  QueueBroadcast(absl::StrCat("force-leave:", name), out);
  // And straight to live members (at most kFanout, random): an operator's
  // rare request, which gossip alone, with few retransmissions and some
  // of them spent telling the dead, may leave short of a member.
  constexpr int kFanout = 32;
  std::vector<int> targets = RandomIndices(
      kFanout, static_cast<int>(probe_order_.size()), rng_, [&](int i) {
        const NodeState& n = nodes_[probe_order_[i]];
        return &n == local_ || !IsLive(n.state);
      });
  for (int i : targets) {
    const NodeState& target = nodes_[probe_order_[i]];
    SendWithPiggyback(target.addr().str(), out, target.name().str());
  }
  if (m.state == MemberState::kSuspect) {
    if (pending_force_leaves_.size() >= kMaxPendingForceLeaves &&
        !pending_force_leaves_.contains(name)) {
      pending_force_leaves_.erase(pending_force_leaves_.begin());
    }
    pending_force_leaves_[name] = {
        m.generation(), m.incarnation(), prune,
        scheduler_->Now() + config_.gossip_to_the_dead_time};
    return absl::OkStatus();
  }
  if (m.state == MemberState::kLeft) {
    if (prune) ForgetNode(m);
    return absl::OkStatus();
  }
  ApplyForceLeave(m, prune);
  return absl::OkStatus();
}

void Memberlist::HandleForceLeave(const ::peer::v1::ForceLeave& force) {
  if (!ValidAccusation(force.node(), force.from(), force.incarnation())) {
    return;
  }
  if (force.node() == config_.name) {
    // About this node: it is alive, so it refutes (as a suspicion).
    if (force.generation() == generation_ && !leaving_ && !replaced_ &&
        force.incarnation() >= local_->incarnation() &&
        IncarnationInWindow(local_->incarnation(), force.incarnation())) {
      Refute(force.incarnation());
    }
    return;
  }
  NodeState* node = Find(force.node());
  if (node == nullptr) return;
  NodeState& m = *node;
  // Another generation (a restart took the name), or an incarnation the
  // member has refuted since: not about the member we hold.
  if (force.generation() != m.generation() ||
      force.incarnation() < m.incarnation()) {
    ++stats_.force_leaves_ignored;
    return;
  }
  ::peer::v1::Message out;
  *out.mutable_force_leave() = force;
  switch (m.state) {
    case MemberState::kAlive:
      ++stats_.force_leaves_ignored;
      return;
    case MemberState::kSuspect: {
      auto it = pending_force_leaves_.find(force.node());
      if (it != pending_force_leaves_.end() &&
          it->second.generation == force.generation() &&
          it->second.prune >= force.prune()) {
        return;  // seen
      }
      if (pending_force_leaves_.size() >= kMaxPendingForceLeaves &&
          it == pending_force_leaves_.end()) {
        pending_force_leaves_.erase(pending_force_leaves_.begin());
      }
      pending_force_leaves_[force.node()] = {
          force.generation(), force.incarnation(), force.prune(),
          scheduler_->Now() + config_.gossip_to_the_dead_time};
      QueueBroadcast(absl::StrCat("force-leave:", force.node()), out);
      return;
    }
    case MemberState::kLeft:
      if (!force.prune()) return;  // nothing new
      QueueBroadcast(absl::StrCat("force-leave:", force.node()), out);
      ForgetNode(m);
      ++stats_.forced_leaves;
      return;
    case MemberState::kDead:
      QueueBroadcast(absl::StrCat("force-leave:", force.node()), out);
      ApplyForceLeave(m, force.prune());
      return;
  }
}

void Memberlist::ApplyForceLeave(NodeState& m, bool prune) {
  ++stats_.forced_leaves;
  pending_force_leaves_.erase(m.name().str());
  m.forced_left = true;
  SetState(m, MemberState::kLeft);
  log_.Debug(config_.name, ": ", m.name().view(), " forced to leave",
             prune ? " (pruned)" : "");
  if (events_) events_->OnLeave(ToMember(m));
  if (prune) ForgetNode(m);
}

void Memberlist::ApplyPendingForceLeave(NodeState& m) {
  auto it = pending_force_leaves_.find(m.name().str());
  if (it == pending_force_leaves_.end()) return;
  const PendingForceLeave pending = it->second;
  pending_force_leaves_.erase(it);
  if (pending.generation != m.generation() ||
      m.incarnation() > pending.incarnation ||
      scheduler_->Now() > pending.until) {
    return;
  }
  ApplyForceLeave(m, pending.prune);
}

void Memberlist::ForgetNode(NodeState& m) {
  const uint32_t index = IndexByName(m.name_number());
  if (index == kNoRecord) return;
  RememberDeparted(m);  // it may still catch up on keys
  if (std::optional<size_t> at = probe_order_.Find(index)) {
    probe_order_.Erase(*at);
    if (*at < probe_index_) --probe_index_;
  }
  RemoveNode(index);
}

}  // namespace peerlab::membership
