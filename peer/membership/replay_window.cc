#include "peer/membership/replay_window.h"

#include <algorithm>

namespace peerlab::membership {

bool ReplayWindow::Accept(uint64_t seq) {
  if (seq == 0) return false;
  if (seq > highest_) {
    // Slide: the numbers between the old highest and `seq` are unseen.
    if (seq - highest_ >= kBits) {
      bits_.fill(0);
    } else {
      for (uint64_t s = highest_ + 1; s < seq; ++s) Clear(s);
    }
    highest_ = seq;
    Set(seq);
    return true;
  }
  if (highest_ - seq >= kBits) return false;  // too old
  if (Test(seq)) return false;                // seen
  Set(seq);
  return true;
}

bool ReplayWindow::Fresh(uint64_t seq) const {
  if (seq == 0) return false;
  if (seq > highest_) return true;
  return highest_ - seq < kBits && !Test(seq);
}

ReplayGuard::Verdict ReplayGuard::Peek(Kind kind, const std::string& name,
                                       uint64_t generation,
                                       uint64_t seq) const {
  if (name.empty() || generation == 0 || seq == 0) {
    return Verdict::kMissingFields;
  }
  auto it = senders_.find(name);
  if (it == senders_.end() || generation > it->second.generation) {
    return Verdict::kNew;
  }
  if (generation < it->second.generation) return Verdict::kOldGeneration;
  const ReplayWindow& window =
      kind == Kind::kDatagram ? it->second.datagrams : it->second.requests;
  return window.Fresh(seq) ? Verdict::kNew : Verdict::kReplay;
}

ReplayGuard::Verdict ReplayGuard::Check(Kind kind, const std::string& name,
                                        uint64_t generation, uint64_t seq) {
  if (name.empty() || generation == 0 || seq == 0) {
    return Verdict::kMissingFields;
  }
  auto it = senders_.find(name);
  if (it == senders_.end()) {
    if (senders_.size() >= max_senders_) EvictOldest();
    it = senders_.emplace(name, Sender{}).first;
    it->second.generation = generation;
  } else if (generation < it->second.generation) {
    return Verdict::kOldGeneration;
  } else if (generation > it->second.generation) {
    it->second = Sender{};  // a restart: fresh windows
    it->second.generation = generation;
  }
  Sender& sender = it->second;
  ReplayWindow& window =
      kind == Kind::kDatagram ? sender.datagrams : sender.requests;
  if (!window.Accept(seq)) return Verdict::kReplay;
  sender.last_used = ++tick_;
  return Verdict::kNew;
}

void ReplayGuard::EvictOldest() {
  if (senders_.empty()) return;
  auto oldest = std::min_element(
      senders_.begin(), senders_.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
      });
  senders_.erase(oldest);
  ++evicted_;
}

}  // namespace peerlab::membership
