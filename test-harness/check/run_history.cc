#include "test-harness/check/run_history.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace peerlab::harness::check {
namespace {

bool IsNetworkCause(const std::string& cause) {
  return cause == "partition" || cause == "oneway" || cause == "netem";
}

}  // namespace

RunHistory::Peer& RunHistory::PeerLocked(const std::string& name) {
  return peers_[name];
}

void RunHistory::UpdateLocked(Peer& p, absl::Time at) {
  if (!p.causes.empty()) {
    if (p.healthy_since != absl::InfiniteFuture() && !p.stretches.empty()) {
      p.stretches.back().second = at;
    }
    p.healthy_since = absl::InfiniteFuture();
  } else if (p.healthy_since == absl::InfiniteFuture()) {
    p.healthy_since = at;
    // Bounded by the fault steps (a script has at most 100,000 steps).
    p.stretches.push_back({at, absl::InfiniteFuture()});
  }
}

void RunHistory::OnCommand(const std::string& peer, const std::string& command,
                           bool ok, const std::vector<std::string>& output,
                           absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  // A failed `msg` (the peer went away or the step timed out) may still
  // have gone out: kept as a send of unknown outcome.
  const bool send = absl::StartsWith(command, "msg ");
  std::vector<KvHistory::Write> writes =
      KvWritesOfStep(peer, command, ok, output, at);
  if (!send && writes.empty()) return;
  if (commands_ >= kMaxCommands) {
    ++commands_dropped_;
    return;
  }
  ++commands_;
  if (send) sends_.push_back({peer, command.substr(4), at, !ok});
  for (auto& w : writes) writes_.push_back(std::move(w));
}

void RunHistory::OnViewLine(const std::string& peer, uint64_t generation,
                            const std::string& view, const std::string& text,
                            absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (view != "messagesView") return;
  Peer& p = PeerLocked(peer);
  if (generation < p.generation) return;
  if (generation > p.generation) {
    lines_ -= p.lines.size();
    p.lines.clear();
    p.generation = generation;
  }
  if (lines_ >= kMaxLines) {
    ++lines_dropped_;
    return;
  }
  ++lines_;
  p.lines.push_back({text, at});
}

void RunHistory::OnMembershipChange(const std::string& observer,
                                    const std::string& member, bool in,
                                    absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& changes = groups_[observer];
  if (changes.size() >= kMaxLines) {
    ++lines_dropped_;
    return;
  }
  changes.push_back({at, member, in});
}

void RunHistory::OnSuspect(const std::string& observer,
                           const std::string& member, absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(observer, member);
  if (!suspected_.count(key) && suspected_.size() >= kMaxLines) {
    ++lines_dropped_;
    return;
  }
  suspected_[key] = at;
}

void RunHistory::OnFailed(const std::string& observer,
                          const std::string& member, absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (removals_.size() >= kMaxLines) {
    ++lines_dropped_;
    return;
  }
  auto it = suspected_.find({observer, member});
  absl::Time since = at;
  if (it != suspected_.end()) {
    since = std::min(it->second, at);
    suspected_.erase(it);
  }
  removals_.push_back({observer, member, since, at});
}

void RunHistory::Running(const std::string& peer, uint64_t generation,
                         absl::Time at) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Peer& p = PeerLocked(peer);
    if (generation > p.generation) {
      lines_ -= p.lines.size();
      p.lines.clear();
      p.generation = generation;
    }
  }
  ClearFault(peer, "down", at);
}

void RunHistory::Down(const std::string& peer, absl::Time at) {
  AddFault(peer, "down", at);
}

void RunHistory::AddFault(const std::string& peer, const std::string& cause,
                          absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  Peer& p = PeerLocked(peer);
  p.causes.insert(cause);
  UpdateLocked(p, at);
}

void RunHistory::ClearFault(const std::string& peer, const std::string& cause,
                            absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  Peer& p = PeerLocked(peer);
  p.causes.erase(cause);
  UpdateLocked(p, at);
}

void RunHistory::Heal(absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, p] : peers_) {
    for (auto it = p.causes.begin(); it != p.causes.end();) {
      it = IsNetworkCause(*it) ? p.causes.erase(it) : std::next(it);
    }
    UpdateLocked(p, at);
  }
}

std::string RunHistory::FaultOf(const std::string& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return "down";
  return absl::StrJoin(it->second.causes, ", ");
}

std::vector<std::string> RunHistory::Healthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> healthy;
  for (const auto& [name, p] : peers_) {
    if (p.causes.empty()) healthy.push_back(name);
  }
  return healthy;
}

MembershipHistory RunHistory::Membership() const {
  std::lock_guard<std::mutex> lock(mu_);
  MembershipHistory h;
  h.start = start_;
  h.removals = removals_;
  for (const auto& [name, p] : peers_) h.healthy_stretches[name] = p.stretches;
  return h;
}

ChatHistory RunHistory::Chat() const {
  std::lock_guard<std::mutex> lock(mu_);
  ChatHistory h;
  h.start = start_;
  h.sends = sends_;
  h.groups = groups_;
  for (const auto& [name, p] : peers_) {
    h.views[name] = p.lines;
    if (p.causes.empty()) h.healthy_since[name] = p.healthy_since;
  }
  return h;
}

KvHistory RunHistory::Kv(
    std::map<std::string, std::map<std::string, KvEntry>> final_maps) const {
  std::lock_guard<std::mutex> lock(mu_);
  KvHistory h;
  h.start = start_;
  h.writes = writes_;
  h.final_maps = std::move(final_maps);
  for (const auto& [name, p] : peers_) {
    if (p.causes.empty()) h.healthy_since[name] = p.healthy_since;
  }
  return h;
}

std::string RunHistory::overflow() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (lines_dropped_ == 0 && commands_dropped_ == 0) return "";
  return absl::StrCat(lines_dropped_, " view lines and ", commands_dropped_,
                      " commands beyond the history's bounds were not kept");
}

}  // namespace peerlab::harness::check
