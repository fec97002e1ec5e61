// Memberlist life cycle: start, join, leave, metadata, shutdown, queries.
#include "peer/membership/memberlist.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {

Memberlist::Memberlist(Config config, Scheduler* scheduler,
                       Transport* transport, uint64_t seed,
                       EventListener* events, Delegate* delegate)
    : config_(std::move(config)),
      scheduler_(scheduler),
      transport_(transport),
      events_(events),
      delegate_(delegate),
      rng_(seed),
      awareness_(config_.awareness_max_multiplier, config_.lifeguard),
      broadcasts_(config_.retransmit_mult, [this] { return NumAlive(); }) {}

Memberlist::~Memberlist() {
  Shutdown();
  *alive_ = false;
}

absl::Status Memberlist::Start(std::string meta) {
  if (started_) return absl::FailedPreconditionError("already started");
  if (shut_down_) return absl::FailedPreconditionError("node was shut down");
  if (auto s = config_.Validate(); !s.ok()) return s;
  if (static_cast<int>(meta.size()) > config_.max_meta_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "meta: ", meta.size(), " bytes, at most ", config_.max_meta_bytes));
  }
  auto local = std::make_unique<NodeState>();
  local->member.name = config_.name;
  local->member.addr = transport_->LocalAddress();
  local->member.id = absl::StrCat(rng_.Next());
  local->member.meta = std::move(meta);
  local->member.incarnation = 1;
  local->member.state = MemberState::kAlive;
  local->member.state_change = scheduler_->Now();
  local_ = local.get();
  auto [it, inserted] = nodes_.emplace(config_.name, std::move(local));
  by_name_[it->first] = it->second.get();
  num_alive_ = 1;

  std::weak_ptr<bool> alive = alive_;
  transport_->SetHandlers(
      {.on_packet =
           [this, alive](const std::string& from, const std::string& bytes) {
             if (alive.lock() && *alive.lock()) ReceivePacket(from, bytes);
           },
       .on_reliable =
           [this, alive](const std::string& from,
                         const ::peer::v1::ReliableRequest& request,
                         Transport::ReliableDone respond) {
             if (alive.lock() && *alive.lock()) {
               ReceiveReliable(from, request, std::move(respond));
             } else {
               respond(absl::UnavailableError("node is gone"));
             }
           }});
  started_ = true;
  BroadcastAlive();
  ScheduleProbe();
  ScheduleGossip();
  SchedulePushPull();
  return absl::OkStatus();
}

void Memberlist::Join(const std::vector<std::string>& addrs,
                      std::function<void(absl::StatusOr<int>)> done) {
  if (!started_ || shut_down_) {
    done(absl::FailedPreconditionError("node is not running"));
    return;
  }
  if (addrs.empty()) {
    done(absl::InvalidArgumentError("join: no addresses"));
    return;
  }
  struct JoinState {
    int pending;
    int ok = 0;
    std::vector<std::string> errors;
    std::function<void(absl::StatusOr<int>)> done;
  };
  auto state = std::make_shared<JoinState>();
  state->pending = static_cast<int>(addrs.size());
  state->done = std::move(done);
  for (const std::string& addr : addrs) {
    PushPullWith(addr, /*join=*/true, [this, state, addr](absl::Status s) {
      if (s.ok()) {
        // The first answer brought the whole group: tell each member of
        // this node directly, so nobody has to wait for gossip (which may
        // stop short of some members) or for the next push/pull.
        if (state->ok++ == 0) AnnounceSelfToAll();
      } else {
        state->errors.push_back(absl::StrCat(addr, ": ", s.message()));
      }
      if (--state->pending > 0) return;
      if (state->ok > 0) {
        state->done(state->ok);
      } else {
        state->done(absl::UnavailableError(
            absl::StrCat("could not join any member: ",
                         absl::StrJoin(state->errors, "; "))));
      }
    });
  }
}

void Memberlist::Leave(absl::Duration timeout,
                       std::function<void(absl::Status)> done) {
  if (!started_ || shut_down_) {
    done(absl::FailedPreconditionError("node is not running"));
    return;
  }
  if (leaving_) {
    done(absl::OkStatus());
    return;
  }
  leaving_ = true;
  if (probe_timer_) scheduler_->Cancel(probe_timer_);
  probe_timer_ = 0;
  ::peer::v1::Message m;
  auto* dead = m.mutable_dead();
  dead->set_incarnation(local_->member.incarnation);
  dead->set_node(config_.name);
  dead->set_from(config_.name);  // from == node: a voluntary leave
  SetState(*local_, MemberState::kLeft);
  // Nobody to tell (we no longer count ourselves): done at once.
  if (NumAlive() == 0) {
    done(absl::OkStatus());
    return;
  }
  // Done when the broadcast has been sent its last time (or replaced).
  QueueBroadcast(config_.name, m,
                 DoneWhenSent(timeout, std::move(done),
                              "leave broadcast not fully sent before the "
                              "timeout; it still spreads"));
}

std::function<void()> Memberlist::DoneWhenSent(
    absl::Duration timeout, std::function<void(absl::Status)> done,
    const std::string& what) {
  auto finished = std::make_shared<bool>(false);
  auto shared_done =
      std::make_shared<std::function<void(absl::Status)>>(std::move(done));
  Scheduler::TimerId timer =
      scheduler_->After(timeout, [finished, shared_done, what] {
        if (*finished) return;
        *finished = true;
        (*shared_done)(absl::DeadlineExceededError(what));
      });
  std::weak_ptr<bool> alive = alive_;
  return [this, alive, finished, shared_done, timer] {
    if (*finished) return;
    *finished = true;
    if (auto a = alive.lock(); a && *a) scheduler_->Cancel(timer);
    (*shared_done)(absl::OkStatus());
  };
}

absl::Status Memberlist::UpdateMeta(std::string meta) {
  if (!started_ || shut_down_) {
    return absl::FailedPreconditionError("node is not running");
  }
  if (static_cast<int>(meta.size()) > config_.max_meta_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "meta: ", meta.size(), " bytes, at most ", config_.max_meta_bytes));
  }
  local_->member.meta = std::move(meta);
  ++local_->member.incarnation;
  BroadcastAlive();
  return absl::OkStatus();
}

void Memberlist::UpdateMeta(std::string meta, absl::Duration timeout,
                            std::function<void(absl::Status)> done) {
  if (!started_ || shut_down_) {
    done(absl::FailedPreconditionError("node is not running"));
    return;
  }
  if (static_cast<int>(meta.size()) > config_.max_meta_bytes) {
    done(absl::InvalidArgumentError(absl::StrCat(
        "meta: ", meta.size(), " bytes, at most ", config_.max_meta_bytes)));
    return;
  }
  local_->member.meta = std::move(meta);
  ++local_->member.incarnation;
  if (NumAlive() <= 1) {  // nobody to tell
    BroadcastAlive();
    done(absl::OkStatus());
    return;
  }
  BroadcastAlive(DoneWhenSent(timeout, std::move(done),
                              "update not fully sent before the timeout; it "
                              "still spreads"));
}

void Memberlist::Broadcast(std::string payload, const std::string& key) {
  ::peer::v1::Message m;
  m.mutable_user()->set_payload(std::move(payload));
  QueueBroadcast(key.empty() ? "" : absl::StrCat("user:", key), m);
}

void Memberlist::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto id : {probe_timer_, gossip_timer_, push_pull_timer_}) {
    if (id) scheduler_->Cancel(id);
  }
  probe_timer_ = gossip_timer_ = push_pull_timer_ = 0;
  for (auto& [seq, handler] : acks_) {
    if (handler.timer) scheduler_->Cancel(handler.timer);
  }
  acks_.clear();
  for (auto& [name, node] : nodes_) node->suspicion.reset();
  broadcasts_.Clear();
  // Key operations in flight complete with what was answered so far.
  while (!key_ops_.empty()) FinishKeyOp(key_ops_.begin()->first);
  if (started_) transport_->Shutdown();
}

std::vector<Member> Memberlist::Members() const {
  std::vector<Member> out;
  for (const auto& [name, node] : nodes_) {
    if (node->member.state == MemberState::kAlive ||
        node->member.state == MemberState::kSuspect) {
      out.push_back(node->member);
    }
  }
  return out;
}

std::vector<Member> Memberlist::AllMembers() const {
  std::vector<Member> out;
  for (const auto& [name, node] : nodes_) out.push_back(node->member);
  return out;
}

const Member& Memberlist::LocalNode() const { return local_->member; }

int Memberlist::NumAlive() const { return num_alive_; }

}  // namespace peerlab::membership
