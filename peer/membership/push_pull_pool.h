// PushPullPool: spent PushPull messages kept for reuse.
//
// A push/pull of N entries is N PushNodeState messages and about 6N
// strings, allocated to build it and freed once merged: at 10,000 members
// that is 70,000 allocations each way per exchange, and a simulated join
// of N members makes O(N) exchanges of O(N) entries. A message taken from
// here is a spent one, cleared: protobuf keeps a cleared repeated field's
// elements, and a cleared string field its buffer, so refilling it
// allocates nothing until it grows past what it held. The content, and so
// every byte sent, is that of a new message.
//
// Per thread (a node's scheduler thread; the simulator's one thread), at
// most kMaxKept messages, the largest spent ones (a small one refilled with
// a whole table would grow, allocating as a new one does); what is not
// kept is freed as usual.
#ifndef PEERLAB_PEER_MEMBERSHIP_PUSH_PULL_POOL_H_
#define PEERLAB_PEER_MEMBERSHIP_PUSH_PULL_POOL_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

class PushPullPool {
 public:
  static constexpr size_t kMaxKept = 8;

  // An empty PushPull for about `entries` entries: the spent one that held
  // the fewest entries at least that many (else the largest), or a new one.
  static std::unique_ptr<::peer::v1::PushPull> Take(size_t entries) {
    auto& kept = Kept();
    if (kept.empty()) return std::make_unique<::peer::v1::PushPull>();
    size_t best = 0;
    for (size_t i = 1; i < kept.size(); ++i) {
      const bool fits = kept[i].entries >= entries;
      const bool best_fits = kept[best].entries >= entries;
      if (fits ? !best_fits || kept[i].entries < kept[best].entries
               : !best_fits && kept[i].entries > kept[best].entries) {
        best = i;
      }
    }
    std::unique_ptr<::peer::v1::PushPull> pp = std::move(kept[best].message);
    kept[best] = std::move(kept.back());
    kept.pop_back();
    pp->Clear();
    return pp;
  }

  // Keeps `spent` for a later Take(), unless kMaxKept larger ones are
  // kept; null is ignored. REQUIRES: a heap message (not on an arena).
  static void Give(std::unique_ptr<::peer::v1::PushPull> spent) {
    if (spent == nullptr) return;
    auto& kept = Kept();
    const size_t entries = static_cast<size_t>(spent->nodes_size());
    if (kept.size() < kMaxKept) {
      kept.push_back({entries, std::move(spent)});
      return;
    }
    size_t smallest = 0;
    for (size_t i = 1; i < kept.size(); ++i) {
      if (kept[i].entries < kept[smallest].entries) smallest = i;
    }
    if (kept[smallest].entries < entries) {
      kept[smallest] = {entries, std::move(spent)};
    }
  }

  // How many are kept on this thread (for tests).
  static size_t kept() { return Kept().size(); }

 private:
  struct Spent {
    size_t entries;  // entries it held when spent (kept for reuse)
    std::unique_ptr<::peer::v1::PushPull> message;
  };
  static std::vector<Spent>& Kept() {
    thread_local std::vector<Spent> kept;
    return kept;
  }
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_PUSH_PULL_POOL_H_
