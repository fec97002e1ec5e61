// KvStore: a replicated key/value map on the membership's user broadcasts
// (the original's broadcastadd/broadcastdel/broadcastlist, which never
// worked there). Last writer wins by a (lamport time, node name) stamp, and
// deletes are tombstones, so every member converges to the same map: through
// gossip for each change, and through push/pull for anything gossip missed.
#ifndef PEERLAB_PEER_MEMBERSHIP_KV_STORE_H_
#define PEERLAB_PEER_MEMBERSHIP_KV_STORE_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "peer/membership/config.h"
#include "peer/membership/member.h"
#include "peer/runtime/logger.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

// Bounds on what other members can make a KvStore hold: entries from the
// network past them are refused and counted (KvStore::refused()). Lamport
// times stop far from the top: one from the network above kMaxLamport is
// refused, one more than kLamportWindow (config.h) above this node's clock
// is ignored and counted (KvStore::lamport_jumps_ignored()), and a local
// write that would take the clock past kMaxLamport is refused, never sent,
// so ++ never wraps and one forgery cannot stop the store.
inline constexpr size_t kMaxKvEntries = 10000;
inline constexpr size_t kMaxKvKeyBytes = 256;
inline constexpr size_t kMaxKvValueBytes = 8192;
inline constexpr uint64_t kMaxLamport = uint64_t{1} << 62;

// A Delegate for Memberlist. Not thread-safe: used from the node's
// scheduler tasks.
class KvStore : public Delegate {
 public:
  // `node` is this member's name; `broadcast(payload, key)` queues a user
  // broadcast (Memberlist::Broadcast).
  KvStore(std::string node,
          std::function<void(std::string payload, const std::string& key)>
              broadcast)
      : node_(std::move(node)), broadcast_(std::move(broadcast)) {}
  // With a window other than kLamportWindow (tests).
  KvStore(std::string node,
          std::function<void(std::string payload, const std::string& key)>
              broadcast,
          uint64_t window)
      : node_(std::move(node)),
        broadcast_(std::move(broadcast)),
        window_(window) {}

  // Where refusals are logged (default: runtime::DefaultLogger(), dated by
  // absl::Now()); MakeNodeParts and the simulator give the node's.
  void set_log(runtime::ComponentLog log) { log_ = std::move(log); }

  // ResourceExhausted when the clock is at kMaxLamport (nothing is changed
  // or sent: the store's clock is used up until the store is reset).
  absl::Status Set(const std::string& key, const std::string& value);
  // NotFound when the key is not present; ResourceExhausted as for Set.
  absl::Status Delete(const std::string& key);
  // Live entries (no tombstones), sorted by key.
  std::map<std::string, std::string> Items() const;
  // Every entry with its stamp, tombstones included.
  const std::map<std::string, ::peer::v1::KvEntry>& entries() const {
    return entries_;
  }
  uint64_t lamport() const { return lamport_; }
  // Entries from the network refused: a field past its bound, or a new key
  // when the map holds kMaxKvEntries (tombstones included).
  uint64_t refused() const { return refused_; }
  // Entries from the network ignored because their Lamport time was more
  // than `window` above this node's clock.
  uint64_t lamport_jumps_ignored() const { return lamport_jumps_ignored_; }

  // Delegate.
  void OnUserMessage(const std::string& payload) override;
  std::string LocalState(bool join) override;
  void MergeRemoteState(const std::string& state, bool join) override;

  // Applies `entry` if its stamp is newer and it is within the bounds above
  // (its Lamport time within the window of this node's clock).
  // Returns true if it changed the map. Pure merge rule, exposed for tests.
  bool Merge(const ::peer::v1::KvEntry& entry);

 private:
  void Spread(const ::peer::v1::KvEntry& entry);
  // The next local Lamport time, or ResourceExhausted at kMaxLamport.
  absl::Status Tick();

  const std::string node_;
  std::function<void(std::string, const std::string&)> broadcast_;
  const uint64_t window_ = kLamportWindow;
  uint64_t lamport_ = 0;
  uint64_t refused_ = 0;
  uint64_t lamport_jumps_ignored_ = 0;
  std::map<std::string, ::peer::v1::KvEntry> entries_;
  runtime::ComponentLog log_{nullptr, "membership"};
};

// True when stamp (a_lamport, a_node) is newer than (b_lamport, b_node).
bool NewerStamp(uint64_t a_lamport, const std::string& a_node,
                uint64_t b_lamport, const std::string& b_node);

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_KV_STORE_H_
