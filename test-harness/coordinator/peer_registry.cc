#include "test-harness/coordinator/peer_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "base/logging.h"

namespace peerlab::harness {

using ::google::protobuf::util::TimeUtil;
using ::harness::v1::PeerInfo;

namespace {

google::protobuf::Timestamp Now() {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
}

}  // namespace

absl::StatusOr<uint64_t> PeerRegistry::Register(PeerInfo info,
                                                std::string session_token) {
  // Registration and its notification happen under listeners_mu_ so that
  // listeners see events in the order the registry applied them.
  std::lock_guard<std::mutex> order(listeners_mu_);
  PeerInfo copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto held = peers_.find(info.name()); held != peers_.end()) {
      const PeerInfo& h = held->second;
      if (h.alive()) {
        return absl::AlreadyExistsError(absl::StrCat(
            "peer ", info.name(), " is registered already (pid ", h.pid(),
            " on ", h.host(), ", control ", h.control_address(),
            ", generation ", h.peer_generation(),
            "): a live name is not taken over; stop that peer first"));
      }
      if (info.peer_generation() < h.peer_generation()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "peer ", info.name(), ": generation ", info.peer_generation(),
            " is older than the last one registered (", h.peer_generation(),
            "): a stale process"));
      }
    }
    auto last = generations_.find(info.name());
    const uint64_t generation =
        (last == generations_.end() ? generation_floor_ : last->second) + 1;
    generations_[info.name()] = generation;
    auto old = peers_.find(info.name());
    if (old != peers_.end() && !old->second.alive()) --ended_count_;
    info.set_generation(generation);
    info.set_alive(true);
    *info.mutable_registered_at() = Now();
    info.clear_gone_at();
    auto claim = claims_.find(info.name());
    info.set_run_id(claim == claims_.end() ? "" : claim->second);
    peers_[info.name()] = info;
    sessions_[info.name()] = std::move(session_token);
    copy = info;
  }
  for (PeerListener* l : listeners_) l->OnPeerRegistered(copy);
  return copy.generation();
}

void PeerRegistry::Unregister(const std::string& name, uint64_t generation) {
  std::lock_guard<std::mutex> order(listeners_mu_);
  PeerInfo copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peers_.find(name);
    if (it == peers_.end() || it->second.generation() != generation ||
        !it->second.alive()) {
      return;
    }
    it->second.set_alive(false);
    *it->second.mutable_gone_at() = Now();
    sessions_.erase(name);
    copy = it->second;
    ++ended_count_;
    ended_.emplace_back(name, generation);
    ForgetEndedLocked();
  }
  for (PeerListener* l : listeners_) l->OnPeerGone(copy);
}

void PeerRegistry::ForgetEndedLocked() {
  uint64_t forgot = 0;
  while (ended_count_ > kMaxEndedPeers && !ended_.empty()) {
    auto [name, generation] = std::move(ended_.front());
    ended_.pop_front();
    auto it = peers_.find(name);
    if (it == peers_.end() || it->second.alive() ||
        it->second.generation() != generation) {
      continue;  // registered again since
    }
    peers_.erase(it);
    --ended_count_;
    auto g = generations_.find(name);
    if (g != generations_.end()) {
      generation_floor_ = std::max(generation_floor_, g->second);
      generations_.erase(g);
    }
    ++forgot;
  }
  // Entries of names that registered again since are stale: compact them
  // away before they outnumber the live entries (at most kMaxEndedPeers).
  if (ended_.size() > 4 * kMaxEndedPeers) {
    std::deque<std::pair<std::string, uint64_t>> kept;
    for (auto& entry : ended_) {
      auto it = peers_.find(entry.first);
      if (it != peers_.end() && !it->second.alive() &&
          it->second.generation() == entry.second) {
        kept.push_back(std::move(entry));
      }
    }
    ended_.swap(kept);
  }
  if (forgot == 0) return;
  // The first time, then once per kMaxEndedPeers forgotten.
  if (forgotten_ / kMaxEndedPeers != (forgotten_ + forgot) / kMaxEndedPeers ||
      forgotten_ == 0) {
    spdlog::warn(
        "peer registry: more than {} ended peers; forgetting the oldest ({} "
        "forgotten so far)",
        kMaxEndedPeers, forgotten_ + forgot);
  }
  forgotten_ += forgot;
}

std::string PeerRegistry::SessionToken(const std::string& name,
                                       uint64_t generation) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it == peers_.end() || it->second.generation() != generation ||
      !it->second.alive()) {
    return "";
  }
  auto s = sessions_.find(name);
  return s == sessions_.end() ? "" : s->second;
}

uint64_t PeerRegistry::forgotten() const {
  std::lock_guard<std::mutex> lock(mu_);
  return forgotten_;
}

std::optional<PeerInfo> PeerRegistry::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it == peers_.end()) return std::nullopt;
  PeerInfo info = it->second;
  auto claim = claims_.find(name);
  info.set_run_id(claim == claims_.end() ? "" : claim->second);
  return info;
}

std::vector<PeerInfo> PeerRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PeerInfo> out;
  for (const auto& [name, info] : peers_) {
    out.push_back(info);
    auto claim = claims_.find(name);
    out.back().set_run_id(claim == claims_.end() ? "" : claim->second);
  }
  return out;
}

absl::Status PeerRegistry::Claim(const std::vector<std::string>& names,
                                 const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& name : names) {
    auto it = claims_.find(name);
    if (it != claims_.end() && it->second != run_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("peer ", name, " is in use by run ", it->second,
                       " (a peer takes part in one run at a time)"));
    }
  }
  for (const auto& name : names) claims_[name] = run_id;
  return absl::OkStatus();
}

void PeerRegistry::Release(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = claims_.begin(); it != claims_.end();) {
    it = it->second == run_id ? claims_.erase(it) : std::next(it);
  }
}

void PeerRegistry::AddListener(PeerListener* listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.insert(listener);
}

void PeerRegistry::RemoveListener(PeerListener* listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(listener);
}

}  // namespace peerlab::harness
