// Memberlist life cycle: start, join, leave, metadata, shutdown, queries.
#include "peer/membership/memberlist.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "peer/membership/protocol_math.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {

Memberlist::Memberlist(Config config, runtime::Scheduler* scheduler,
                       Transport* transport, uint64_t seed,
                       EventListener* events, Delegate* delegate,
                       ClaimPool* claims)
    : config_(std::move(config)),
      scheduler_(scheduler),
      epoch_(scheduler->Now()),
      log_(config_.logger, "membership", scheduler),
      transport_(transport),
      events_(events),
      delegate_(delegate),
      rng_(seed),
      awareness_(config_.awareness_max_multiplier, config_.lifeguard),
      own_pool_(claims ? nullptr : std::make_unique<StringPool>()),
      own_claims_(claims ? nullptr
                         : std::make_unique<ClaimPool>(own_pool_.get())),
      claims_(claims ? claims : own_claims_.get()),
      pool_(&claims_->strings()),
      broadcasts_(
          config_.retransmit_mult, [this] { return NumAlive(); }, pool_,
          [this](uint32_t index) { return &nodes_[index].queued; }) {
  if (!Compat()) broadcasts_.set_bound(config_.max_queued_alives);
}

Memberlist::~Memberlist() {
  Shutdown();
  *alive_ = false;
}

absl::Status Memberlist::Start(std::string meta) {
  if (started_) return absl::FailedPreconditionError("already started");
  if (shut_down_) return absl::FailedPreconditionError("node was shut down");
  if (auto s = config_.Validate(); !s.ok()) return s;
  if (!keyring_ && !config_.insecure_gossip) {
    return absl::FailedPreconditionError(
        "no group key: give a keyring or set insecure_gossip");
  }
  if (static_cast<int>(meta.size()) > config_.max_meta_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "meta: ", meta.size(), " bytes, at most ", config_.max_meta_bytes));
  }
  // A member is name + generation: a restarted process must present a
  // higher one than its predecessor, so the fallback is the start time.
  generation_ = config_.generation;
  if (generation_ == 0) {
    generation_ = static_cast<uint64_t>(
        std::max<int64_t>(1, absl::ToUnixMillis(scheduler_->Now())));
  }
  if (!node_key_) {
    auto key = identity::NodeKey::Generate();
    if (!key.ok()) return key.status();
    node_key_ = *std::move(key);
  }
  // Replay windows (encryption.cc): sequence numbers start at the time in
  // microseconds, so a process restarted with the same generation starts
  // above anything it sent before (it sends far fewer than one datagram
  // per microsecond).
  send_seq_ = reliable_seq_ = static_cast<uint64_t>(
      std::max<int64_t>(1, absl::ToUnixMicros(scheduler_->Now())));
  NodeState& local = nodes_.emplace_back();
  local.claim = claims_->Intern(
      {.name = pool_->Intern(config_.name),
       .addr = pool_->Intern(transport_->LocalAddress()),
       .id = pool_->Intern(absl::StrCat(rng_.Next())),
       .meta = pool_->Intern(meta),
       .public_key = pool_->Intern(node_key_->public_key().bytes()),
       .incarnation = 1,
       .generation = generation_});
  local.verified = true;
  local.state = MemberState::kAlive;
  SetStateChange(local, scheduler_->Now());
  local_ = &local;
  IndexName(static_cast<uint32_t>(nodes_.size() - 1));
  num_alive_ = 1;
  if (config_.coordinates) {
    // Seeded from the name (FNV-1a), not from rng_: turning coordinates on
    // changes no other random draw.
    uint64_t seed = 1469598103934665603ull;
    for (char c : config_.name)
      seed = (seed ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    coords_ = std::make_unique<CoordinateClient>(
        config_.coordinate, static_cast<size_t>(config_.max_members), seed);
  }

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
  // As memberlist's tickers (triggerFunc, pushPullTrigger): each periodic
  // task starts after a random stagger within its period, so members
  // started together do not probe, gossip and push/pull in lockstep.
  auto stagger = [this](absl::Duration period) {
    const int64_t ns = absl::ToInt64Nanoseconds(period);
    return ns > 0 ? absl::Nanoseconds(static_cast<int64_t>(
                        rng_.Uniform(static_cast<uint64_t>(ns))))
                  : absl::ZeroDuration();
  };
  probe_timer_ =
      scheduler_->After(stagger(config_.probe_interval), [this, alive] {
        if (auto a = alive.lock(); !a || !*a) return;
        probe_timer_ = 0;
        ScheduleProbe();
      });
  gossip_timer_ =
      scheduler_->After(stagger(config_.gossip_interval), [this, alive] {
        if (auto a = alive.lock(); !a || !*a) return;
        gossip_timer_ = 0;
        ScheduleGossip();
      });
  if (config_.push_pull_interval > absl::ZeroDuration()) {
    push_pull_timer_ =
        scheduler_->After(stagger(config_.push_pull_interval), [this, alive] {
          if (auto a = alive.lock(); !a || !*a) return;
          push_pull_timer_ = 0;
          SchedulePushPull();
        });
  }
  return absl::OkStatus();
}

void Memberlist::Join(const std::vector<std::string>& addrs,
                      std::function<void(absl::StatusOr<int>)> done) {
  JoinWithReport(addrs,
                 [done = std::move(done)](absl::StatusOr<JoinReport> report) {
                   if (!report.ok()) {
                     done(report.status());
                   } else {
                     done(report->answered);
                   }
                 });
}

// JoinWithReport (key_catch_up.cc) runs this, and again after a key
// catch-up when every member refused this node's keys.
void Memberlist::JoinOnce(
    const std::vector<std::string>& addrs,
    std::function<void(absl::StatusOr<JoinReport>)> done) {
  if (!started_ || shut_down_) {
    done(absl::FailedPreconditionError("node is not running"));
    return;
  }
  if (leaving_) {
    done(absl::FailedPreconditionError(
        "this node has left the group and cannot join again: create a new "
        "node"));
    return;
  }
  if (replaced_) {
    done(absl::FailedPreconditionError(
        "a newer process took this node's name over: create a new node"));
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
    std::optional<absl::Status> name_taken;  // a member's AlreadyExists
    std::function<void(absl::StatusOr<JoinReport>)> done;
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
        if (state->ok++ == 0 && !Compat()) {
          AnnounceSelfToAll();
          ScheduleCatchUp();
        }
      } else {
        if (absl::IsAlreadyExists(s) && !state->name_taken) {
          state->name_taken = s;
        }
        state->errors.push_back(absl::StrCat(addr, ": ", s.message()));
      }
      if (--state->pending > 0) return;
      // A member said a live process holds our name: that decides, even
      // when another member (that did not know the holder) accepted us.
      if (state->name_taken) {
        state->done(*state->name_taken);
      } else if (state->ok > 0) {
        if (!state->errors.empty()) {
          log_.Warn(config_.name, ": joined via ", state->ok, " of ",
                    state->ok + state->errors.size(),
                    " address(es); not reached: ",
                    absl::StrJoin(state->errors, "; "));
        }
        state->done(JoinReport{.answered = state->ok,
                               .failures = std::move(state->errors)});
      } else {
        // Members may have reached us meanwhile (a restarted process at
        // its predecessor's address is probed and introduced to): the
        // join still failed, but what we know of the group is only what
        // happened to reach us. Fetch it whole from one of them.
        if (!Compat()) CatchUpAfterFailedJoin();
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
  dead->set_incarnation(local_->incarnation());
  dead->set_node(config_.name);
  dead->set_from(config_.name);  // from == node: a voluntary leave
  dead->set_generation(generation_);
  // Signed: only this node can say it leaves.
  if (auto s = SignLeave(*node_key_, *dead); !s.ok()) {
    log_.Error(config_.name, ": leave not signed: ", s.message());
  }
  EditClaim(*local_, [&](ClaimPool::Claim& c) {
    c.signature = pool_->Intern(dead->signature());
  });
  SetState(*local_, MemberState::kLeft);
  // Nobody to tell (we no longer count ourselves): done at once.
  if (NumAlive() == 0) {
    done(absl::OkStatus());
    return;
  }
  // Done when the broadcast has been sent its last time (or replaced).
  QueueBroadcast(*local_, m,
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
  runtime::Scheduler::TimerId timer =
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

absl::Status Memberlist::CheckMetaUpdate(const std::string& meta) const {
  if (!started_ || shut_down_) {
    return absl::FailedPreconditionError("node is not running");
  }
  if (replaced_) {
    return absl::FailedPreconditionError(
        "a newer process took this node's name over");
  }
  // Its alive, an incarnation above the leave, would override the leave
  // everywhere and bring the member back.
  if (leaving_) {
    return absl::FailedPreconditionError("node is leaving the group");
  }
  if (static_cast<int>(meta.size()) > config_.max_meta_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "meta: ", meta.size(), " bytes, at most ", config_.max_meta_bytes));
  }
  return absl::OkStatus();
}

absl::Status Memberlist::UpdateMeta(std::string meta) {
  if (absl::Status s = CheckMetaUpdate(meta); !s.ok()) return s;
  EditClaim(*local_, [&](ClaimPool::Claim& c) {
    c.meta = pool_->Intern(meta);
    ++c.incarnation;
  });
  BroadcastAlive();
  return absl::OkStatus();
}

void Memberlist::UpdateMeta(std::string meta, absl::Duration timeout,
                            std::function<void(absl::Status)> done) {
  if (absl::Status s = CheckMetaUpdate(meta); !s.ok()) {
    done(s);
    return;
  }
  EditClaim(*local_, [&](ClaimPool::Claim& c) {
    c.meta = pool_->Intern(meta);
    ++c.incarnation;
  });
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
  // Sent at least UserBroadcastFloor times (protocol_math.h): in a small
  // group the retransmit limit alone often left a live member without it
  // until the next push/pull.
  broadcasts_.Queue(
      key.empty() ? "" : absl::StrCat("user:", key), EncodeMessage(m), nullptr,
      static_cast<uint32_t>(Compat() ? 0 : UserBroadcastFloor(NumAlive())));
}

int Memberlist::MaxBroadcastBytes() const {
  // A Message{user{payload}} is the payload, two tags and two lengths of at
  // most 3 bytes each (payloads below 2 MiB); framed in the packet.
  return PacketSize() - PacketHeaderSize(config_.name) - kFrameOverhead - 8;
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
  suspicions_.clear();
  broadcasts_.Clear();
  // Key operations in flight complete with what was answered so far.
  while (!key_ops_.empty()) FinishKeyOp(key_ops_.begin()->first);
  if (started_) transport_->Shutdown();
}

namespace {

void SortByName(std::vector<Member>& members) {
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.name < b.name; });
}

}  // namespace

Member Memberlist::ToMember(const NodeState& node) const {
  return Member{.name = node.name(),
                .addr = node.addr(),
                .id = node.id(),
                .meta = node.meta(),
                .incarnation = node.incarnation(),
                .generation = node.generation(),
                .state = node.state,
                .state_change = StateChange(node)};
}

std::vector<Member> Memberlist::Members() const {
  std::vector<Member> out;
  for (const NodeState& node : nodes_) {
    if (!node.name().empty() && (node.state == MemberState::kAlive ||
                                 node.state == MemberState::kSuspect)) {
      out.push_back(ToMember(node));
    }
  }
  SortByName(out);
  return out;
}

std::vector<Member> Memberlist::AllMembers() const {
  std::vector<Member> out;
  for (const NodeState& node : nodes_) {
    if (!node.name().empty()) out.push_back(ToMember(node));
  }
  SortByName(out);
  return out;
}

absl::StatusOr<absl::Duration> Memberlist::EstimateRtt(
    absl::string_view a, absl::string_view b) const {
  if (coords_ == nullptr) {
    return absl::FailedPreconditionError(
        started_ ? "network coordinates are off (Config::coordinates)"
                 : "membership is not running");
  }
  auto find = [this](absl::string_view name) -> const Coordinate* {
    if (name == config_.name) return &coords_->coordinate();
    return coords_->CoordinateOf(name);
  };
  const Coordinate* ca = find(a);
  const Coordinate* cb = find(b);
  for (auto [name, c] : {std::pair{a, ca}, std::pair{b, cb}}) {
    if (c == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "no coordinate for ", name, " (not a member, or not probed yet)"));
    }
  }
  return ca->DistanceTo(*cb);
}

std::vector<std::pair<std::string, Coordinate>> Memberlist::Coordinates()
    const {
  std::vector<std::pair<std::string, Coordinate>> out;
  if (coords_ == nullptr) return out;
  out.emplace_back(config_.name, coords_->coordinate());
  for (auto& entry : coords_->Cached()) out.push_back(std::move(entry));
  return out;
}

std::array<int, 4> Memberlist::CountByState() const {
  std::array<int, 4> counts{};
  for (const NodeState& node : nodes_) {
    if (!node.name().empty()) ++counts[static_cast<int>(node.state)];
  }
  return counts;
}

Member Memberlist::LocalNode() const {
  if (local_ == nullptr) return Member{.name = config_.name};  // not started
  return ToMember(*local_);
}

int Memberlist::NumAlive() const { return num_alive_; }

absl::Status Memberlist::SetNodeKey(identity::NodeKey key) {
  if (started_) {
    return absl::FailedPreconditionError("the node key is set before Start()");
  }
  node_key_ = std::move(key);
  return absl::OkStatus();
}

std::optional<identity::PublicKey> Memberlist::PinnedKeyOf(
    absl::string_view name) const {
  const uint32_t index = IndexByName(claims_->NameNumber(pool_->IndexOf(name)));
  if (index == kNoRecord) return std::nullopt;
  auto key = identity::PublicKey::FromBytes(nodes_[index].public_key().view());
  if (!key.ok()) return std::nullopt;
  return *std::move(key);
}

}  // namespace peerlab::membership
