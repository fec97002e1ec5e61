#include "peer/app/lifecycle_host.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "peer/app/bootstrap_upkeep.h"
#include "peer/app/member_meta.h"
#include "peer/runtime/backoff.h"

namespace peerlab::peer {
namespace {

namespace pb = ::bootstrap::v1;
using membership::Member;
using membership::MemberState;

// Joining the bootstrap list again: 1 s, doubling up to 30 s.
constexpr runtime::BackoffPolicy kRetry{.initial = absl::Seconds(1),
                                        .max = absl::Seconds(30)};
// Joining the listed peers again while alone after init found none
// answering (they may be cut off, not gone): 500 ms, doubling up to 4 s,
// for as long as this peer is alone.
constexpr runtime::BackoffPolicy kJoinRetry{.initial = absl::Milliseconds(500),
                                            .max = absl::Seconds(4)};
// How long quit waits for the membership leave to spread.
constexpr absl::Duration kLeaveWait = absl::Seconds(3);

}  // namespace

LifecycleHost::LifecycleHost(Env env, std::unique_ptr<runtime::HostLoop> loop)
    : env_(std::move(env)), worker_(std::move(loop)) {
  env_.bootstrap->SetOnListed([this] { StartKeepingListed(); });
}

LifecycleHost::~LifecycleHost() {
  env_.bootstrap->SetOnListed(nullptr);
  Stop();
}

void LifecycleHost::Stop() {
  stopped_ = true;
  worker_->Stop();
}

std::vector<std::string> LifecycleHost::JoinAddresses(
    const pb::Document& doc) const {
  std::vector<std::string> addrs;
  for (const auto& p : doc.peers()) {
    if (p.id() != env_.id)
      addrs.push_back(absl::StrCat(p.host(), ":", p.port()));
  }
  return addrs;
}

void LifecycleHost::OnJoin(const Member& m) {
  env_.chat->MemberUp(m.name, MetaField(m.meta, kMetaChat));
}
void LifecycleHost::OnUpdate(const Member& m) {
  env_.chat->MemberUp(m.name, MetaField(m.meta, kMetaChat));
}
void LifecycleHost::OnAlive(const Member& m) {
  env_.chat->MemberUp(m.name, MetaField(m.meta, kMetaChat));
}

void LifecycleHost::OnLeave(const Member& m) {
  env_.chat->MemberDown(m.name, m.state == MemberState::kDead
                                    ? chat::ChatCore::Departure::kFailed
                                    : chat::ChatCore::Departure::kLeft);
  if (stopped_ || quitting_) return;
  worker_->scheduler().Post([this, m] { Upkeep(m); });
}

void LifecycleHost::Upkeep(const Member& departed) {
  if (stopped_ || quitting_) return;
  std::vector<Member> members = env_.membership->Members();
  auto doc = env_.bootstrap->Fetch();
  if (!doc.ok()) {
    spdlog::warn("bootstrap upkeep after {} went: cannot read the list: {}",
                 departed.name, doc.status().message());
    return;
  }
  UpkeepPlan plan = PlanUpkeep(departed, env_.name, members, *doc);
  if (!plan.chosen) return;
  // Other peers' entries: the service lets only their owner or the admin
  // token change them (without it they end with their lease).
  auto upkeep = env_.bootstrap->UpkeepClient();
  if (!upkeep.ok()) {
    spdlog::warn("bootstrap upkeep after {} went: {}", departed.name,
                 upkeep.status().message());
    return;
  }
  for (const std::string& id : plan.remove_ids) {
    auto r = (*upkeep)->Leave(id);
    if (absl::IsPermissionDenied(r.status())) {
      spdlog::info(
          "bootstrap upkeep: the entry of {} ({}) is not this peer's to "
          "remove (no bootstrap.admin_token_file); it stays until its lease "
          "ends or an admin removes it",
          departed.name, id);
      continue;
    }
    if (!r.ok()) {
      spdlog::warn("bootstrap upkeep: removing {} ({}) failed: {}",
                   departed.name, id, r.status().message());
    } else {
      spdlog::info(
          "bootstrap upkeep: removed {} ({}) from the list: it {}",
          departed.name, id,
          departed.state == MemberState::kDead ? "was declared dead" : "left");
    }
  }
  for (const pb::Peer& candidate : plan.candidates) {
    // With a lease: the admin's refill without one would stay for good.
    auto r = (*upkeep)->Refill(candidate, env_.bootstrap->EntryTtl());
    if (!r.ok()) {
      spdlog::warn("bootstrap upkeep: refill with {} failed: {}",
                   candidate.name(), r.status().message());
    } else {
      spdlog::info("bootstrap upkeep: offered {} as refill: {}",
                   candidate.name(), r->accepted() ? "accepted" : "not taken");
    }
  }
  env_.bootstrap->Fetch().IgnoreError();  // bootstraplistlocal shows it
}

void LifecycleHost::RetryBootstrap(int attempt) {
  worker_->scheduler().After(
      runtime::Backoff(attempt, kRetry, /*u=*/0.5), [this, attempt] {
        if (stopped_ || quitting_) return;
        auto joined = env_.bootstrap->JoinSelf();
        if (!joined.ok()) {
          spdlog::warn(
              "bootstrap service still unreachable ({}); next try in {}",
              joined.status().message(),
              absl::FormatDuration(runtime::Backoff(attempt + 1, kRetry, 0.5)));
          RetryBootstrap(attempt + 1);
          return;
        }
        retrying_ = false;
        spdlog::info("bootstrap service reachable again: {}",
                     *joined ? "joined the list" : "the list is full");
        // Alone so far: join the group the list names, and say hello.
        if (env_.membership->Members().size() != 1) return;
        auto doc = env_.bootstrap->LastDocument();
        if (!doc.has_value()) return;
        std::vector<std::string> addrs = JoinAddresses(*doc);
        if (addrs.empty()) return;
        auto n = JoinOrRefuse(addrs);
        if (!n.ok() && !absl::IsAlreadyExists(n.status())) {
          spdlog::warn("joining the bootstrap peers failed: {}",
                       n.status().message());
        }
      });
}

void LifecycleHost::StartKeepingListed() {
  if (keeping_.exchange(true)) return;
  worker_->scheduler().After(env_.bootstrap->RenewInterval(),
                             [this] { KeepListed(); });
}

void LifecycleHost::KeepListed() {
  if (stopped_ || quitting_) return;
  auto outcome = env_.bootstrap->KeepListed();
  if (!outcome.ok()) {
    spdlog::warn("bootstrap lease: renewing failed ({}); trying again",
                 outcome.status().message());
  } else {
    switch (*outcome) {
      case KeepOutcome::kRenewed:
      case KeepOutcome::kNotListed:
        break;
      case KeepOutcome::kRenewedAsAdmin:
        spdlog::debug("bootstrap lease: renewed with the admin token");
        break;
      case KeepOutcome::kRejoined:
        spdlog::info("bootstrap lease: the entry was gone; joined anew");
        break;
      case KeepOutcome::kListFull:
        spdlog::info(
            "bootstrap lease: the entry was gone and the list is full");
        break;
      case KeepOutcome::kNotOurs:
        spdlog::info(
            "bootstrap lease: this peer's entry was made by another peer's "
            "refill and there is no admin token to renew it; it ends with "
            "its lease, then this peer joins anew");
        break;
    }
  }
  if (stopped_ || quitting_) return;
  worker_->scheduler().After(env_.bootstrap->RenewInterval(),
                             [this] { KeepListed(); });
}

absl::Status LifecycleHost::Init(const chat::Lines& say) {
  std::vector<std::string> failed;
  auto fail = [&](const std::string& step, const absl::Status& s,
                  const std::string& consequence = "") {
    std::string line = absl::StrCat(step, " failed: ", s.message());
    if (!consequence.empty()) absl::StrAppend(&line, " (", consequence, ")");
    say(absl::StrCat("init: ", line));
    failed.push_back(line);
  };

  // 1. The membership node (its settings: memberlistconfigure / --config).
  bool node = env_.membership->running();
  if (node) {
    say(absl::StrCat("init: membership node exists (",
                     env_.membership->LocalAddress(), ")"));
  } else if (auto s = env_.membership->Create(); s.ok()) {
    node = true;
    say(absl::StrCat("init: membership node created on ",
                     env_.membership->LocalAddress()));
  } else {
    fail("memberlist create", s, "no gossip: the chat cannot find members");
  }

  // 2. The chat: its address goes into the metadata the node starts with.
  // Messages sent from now on wait for the join (step 7): before it this
  // peer knows few members or none.
  bool chat = false;
  if (auto s = env_.chat->StartJoining(); s.ok()) {
    chat = true;
    say("init: chat started");
  } else {
    fail("chat start", s);
  }

  // 3. Gossip.
  bool started = false;
  if (node) {
    if (auto s = env_.membership->Start(); s.ok()) {
      started = true;
      say("init: membership started");
    } else {
      fail("memberlist start", s);
    }
  }

  // 4. The bootstrap list, once this peer answers gossip: a peer that
  // finds it there joins it at once, and a listed peer whose gossip did not
  // run yet refused those joins ("membership not running"; the newcomer
  // then started a group of its own).
  bool listed = false;
  bool got_place = false;
  if (auto joined = env_.bootstrap->JoinSelf(); joined.ok()) {
    listed = true;
    say(*joined ? "init: joined the bootstrap list"
                : "init: the bootstrap list is full; not added");
    got_place = *joined;
  } else {
    fail("bootstrap join", joined.status(),
         "running alone, retrying in the background; memberlistjoin ADDR "
         "joins by hand");
    if (!retrying_.exchange(true)) RetryBootstrap(1);
  }

  // 5. The members the bootstrap list names: each is tried (at once, each
  // within memberlist.reliable_timeout), and once more when none answered
  // (a live but slow peer must not be taken for a dead one); when none
  // answers either time this peer starts the group and the entries nobody
  // answered for are replaced.
  bool joined_group = false;
  if (started && listed) {
    auto doc = env_.bootstrap->LastDocument();
    std::vector<std::string> addrs =
        doc.has_value() ? JoinAddresses(*doc) : std::vector<std::string>{};
    absl::StatusOr<int> n = absl::UnknownError("not tried");
    if (!addrs.empty()) {
      n = env_.membership->Join(addrs);
      if (!n.ok() && !absl::IsAlreadyExists(n.status())) {
        say(absl::StrCat("init: no bootstrap peer answered (",
                         n.status().message(), "); trying once more"));
        n = env_.membership->Join(addrs);
      }
    }
    if (addrs.empty()) {
      say("init: no other bootstrap peers: this peer starts the group");
    } else if (n.ok()) {
      joined_group = true;
      say(absl::StrCat("init: joined the group via ", *n, " of ", addrs.size(),
                       " bootstrap peer(s)"));
      // The group took this process under the name (a live holder would
      // have refused it): an entry of the name's previous process is dead.
      TakePredecessorsPlace(got_place, say);
    } else if (absl::IsAlreadyExists(n.status())) {
      // The name is held by a live member: this node must not stay, nor
      // say anything in that name (a leave would evict the holder).
      return RefuseDuplicate(n.status(), say);
    } else {
      say(absl::StrCat("init: no bootstrap peer answered again (",
                       n.status().message(), "): this peer starts the group"));
      ReplaceStaleEntries(*doc, say);
      // They may be cut off rather than gone (a partition): keep trying
      // them, and whoever the list names later, while this peer is alone.
      RetryJoin(addrs, 1);
    }
  }

  // 6. Hello.
  if (chat && joined_group) {
    if (auto s = env_.chat->AnnounceJoined(say); !s.ok()) {
      fail("chat announce", s);
    }
  }
  // 7. The messages sent meanwhile go to the members known now.
  if (chat) env_.chat->EndJoining();

  if (failed.empty()) {
    say("init: done");
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("init: ", failed.size(),
                   " step(s) failed: ", absl::StrJoin(failed, "; ")));
}

absl::Status LifecycleHost::RefuseDuplicate(const absl::Status& refusal,
                                            const chat::Lines& say) {
  std::lock_guard<std::mutex> lock(leave_mu_);
  left_ = true;  // nothing to leave: this node never was a member
  quitting_ = true;
  env_.chat->Stop().IgnoreError();
  env_.membership->Shutdown().IgnoreError();
  if (auto s = env_.bootstrap->LeaveSelf(); !s.ok()) {
    say(absl::StrCat("init: bootstrap leave failed: ", s.message()));
  }
  // The caller shows it ("error: ..." for a command).
  return absl::AlreadyExistsError(
      absl::StrCat("init: the name ", env_.name,
                   " is taken, this peer cannot join: ", refusal.message()));
}

absl::StatusOr<int> LifecycleHost::JoinOrRefuse(
    const std::vector<std::string>& addrs) {
  auto n = env_.membership->Join(addrs);
  if (absl::IsAlreadyExists(n.status())) {
    spdlog::error("{}", RefuseDuplicate(n.status(), env_.notify).message());
    env_.request_exit(1);
    return n;
  }
  if (!n.ok()) return n;
  spdlog::info("joined the group via {} bootstrap peer(s)", *n);
  if (env_.chat->running()) {
    env_.chat->AnnounceJoined(env_.notify).IgnoreError();
  }
  return n;
}

void LifecycleHost::TakePredecessorsPlace(bool listed, const chat::Lines& say) {
  auto doc = env_.bootstrap->LastDocument();
  if (!doc.has_value()) return;
  std::vector<std::string> predecessors;
  for (const pb::Peer& p : doc->peers()) {
    if (p.name() == env_.name && p.id() != env_.id) {
      predecessors.push_back(p.id());
    }
  }
  if (predecessors.empty()) return;
  // Each entry belongs to its maker's secret, which died with the old
  // process: only the admin token removes it (the lab's peers hold it);
  // without one it ends with its lease.
  if (!env_.bootstrap->HasAdminToken()) {
    say("init: the bootstrap list still holds this name's previous process; "
        "its entry ends with its lease (no bootstrap admin token)");
    return;
  }
  auto upkeep = env_.bootstrap->UpkeepClient();
  if (!upkeep.ok()) return;
  int removed = 0;
  for (const std::string& id : predecessors) {
    auto r = (*upkeep)->Leave(id);
    if (r.ok() && r->removed()) ++removed;
  }
  if (removed == 0) return;
  say(absl::StrCat("init: removed ", removed, " bootstrap entr",
                   removed == 1 ? "y" : "ies",
                   " of this name's previous process"));
  if (listed) return;
  if (auto joined = env_.bootstrap->JoinSelf(); joined.ok() && *joined) {
    say("init: joined the bootstrap list in its place");
  }
}

void LifecycleHost::RetryJoin(std::vector<std::string> addrs, int attempt) {
  worker_->scheduler().After(
      runtime::Backoff(attempt, kJoinRetry, /*u=*/0.5),
      [this, addrs = std::move(addrs), attempt]() mutable {
        if (stopped_ || quitting_ || !env_.membership->running()) return;
        // Not alone any more (someone joined this peer): done.
        if (env_.membership->Members().size() != 1) return;
        std::vector<std::string> tries = addrs;
        if (auto doc = env_.bootstrap->Fetch(); doc.ok()) {
          for (std::string& a : JoinAddresses(*doc)) {
            if (std::find(tries.begin(), tries.end(), a) == tries.end()) {
              tries.push_back(std::move(a));
            }
          }
        }
        if (tries.empty()) return;
        auto n = JoinOrRefuse(tries);
        if (n.ok() || absl::IsAlreadyExists(n.status())) return;
        if (attempt == 1) {
          spdlog::info(
              "alone: trying the bootstrap peers again in the background "
              "({})",
              n.status().message());
        }
        RetryJoin(std::move(addrs), attempt + 1);
      });
}

void LifecycleHost::ReplaceStaleEntries(const pb::Document& doc,
                                        const chat::Lines& say) {
  // Only entries older than this peer: one that started later may be a
  // peer still in its init (or of a version that was listed before its
  // gossip ran).
  const absl::Time self_started = env_.started_at;
  int removed = 0;
  auto upkeep = env_.bootstrap->UpkeepClient();
  if (!upkeep.ok()) {
    say(absl::StrCat("init: cannot replace stale entries: ",
                     upkeep.status().message()));
    return;
  }
  for (const pb::Peer& p : doc.peers()) {
    if (p.id() == env_.id) continue;
    absl::Time started = absl::FromUnixSeconds(p.started_at().seconds()) +
                         absl::Nanoseconds(p.started_at().nanos());
    if (p.has_started_at() && started >= self_started) continue;
    auto r = (*upkeep)->Leave(p.id());
    if (!r.ok()) {
      say(absl::StrCat("init: removing the stale entry of ", p.name(), " (",
                       p.host(), ":", p.port(),
                       ") failed: ", r.status().message()));
      continue;
    }
    if (r->removed()) {
      ++removed;
      say(absl::StrCat("init: removed the stale bootstrap entry of ", p.name(),
                       " (", p.host(), ":", p.port(), "): it did not answer"));
    }
  }
  if (removed == 0) return;
  // The refill rules: the vacant places go to the longest-lived unlisted
  // members; alone, that is this peer when the full list had refused it.
  auto fresh = env_.bootstrap->Fetch();
  if (!fresh.ok()) return;
  bool listed = false;
  for (const pb::Peer& p : fresh->peers()) listed |= p.id() == env_.id;
  if (listed) return;
  auto refill = env_.bootstrap->RefillSelf();
  if (refill.ok()) {
    say(*refill ? "init: took a vacant place in the bootstrap list"
                : "init: offered this peer as refill: not taken");
  } else {
    say(absl::StrCat("init: refill failed: ", refill.status().message()));
  }
}

void LifecycleHost::Leave(const chat::Lines& out) {
  std::lock_guard<std::mutex> lock(leave_mu_);
  if (left_) return;
  left_ = true;
  quitting_ = true;
  auto say = [&out](const std::string& text) {
    if (out) {
      out(absl::StrCat("quit: ", text));
    } else {
      spdlog::info("leaving: {}", text);
    }
  };
  const bool in_group = env_.membership->running();
  // 1. The bootstrap list (a short deadline: the service may be gone). Only
  // when this peer may be on it: it talked to the service, or it is in a
  // group whose upkeep may have offered it as a refill.
  if (in_group || env_.bootstrap->LastDocument().has_value()) {
    bootstrap::BootstrapClientOptions quick = env_.client->options();
    quick.address = env_.client->address();
    quick.deadline = absl::Seconds(2);
    quick.max_attempts = 2;
    auto r = env_.client->Connect(quick)->Leave(env_.id,
                                                env_.bootstrap->EntrySecret());
    if (absl::IsPermissionDenied(r.status()) &&
        env_.bootstrap->HasAdminToken()) {
      // An entry another peer's upkeep offered (a refill) is not owned by
      // this peer's secret; the admin token removes it.
      quick.admin_token.reset();
      if (auto admin = env_.bootstrap->UpkeepClient(); admin.ok()) {
        quick.admin_token = (*admin)->options().admin_token;
      }
      if (quick.admin_token.has_value()) {
        r = env_.client->Connect(quick)->Leave(env_.id);
      }
    }
    if (r.ok()) {
      say(r->removed() ? "left the bootstrap list"
                       : "not on the bootstrap list");
    } else {
      say(absl::StrCat("bootstrap leave failed: ", r.status().message()));
    }
  }
  // 2. The chat (announced when somebody else is there to hear it).
  if (env_.chat->running()) {
    if (in_group && env_.membership->Members().size() > 1) {
      if (auto s = env_.chat->AnnounceLeaving(out ? out : env_.notify);
          !s.ok()) {
        say(absl::StrCat("chat leave: ", s.message()));
      }
    }
    env_.chat->Stop().IgnoreError();
  }
  // 3. The group.
  if (in_group && env_.membership->Members().size() > 1) {
    if (auto s = env_.membership->Leave(kLeaveWait); s.ok()) {
      say("left the group");
    } else {
      say(absl::StrCat("membership leave: ", s.message()));
    }
  }
}

absl::Status LifecycleHost::Quit(const chat::Lines& say) {
  if (quitting_) {
    say("quit: already leaving");
    Leave(say);  // waits for the leave under way
    env_.request_exit(0);
    return absl::OkStatus();
  }
  Leave(say);
  say("quit: bye");
  Stop();
  env_.request_exit(0);
  return absl::OkStatus();
}

}  // namespace peerlab::peer
