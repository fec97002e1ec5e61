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

#include "peer/membership/member.h"
#include "proto/peer/v1/membership.pb.h"

namespace peerlab::membership {

// Bounds on what other members can make a KvStore hold: entries from the
// network past them are refused and counted (KvStore::refused()). Lamport
// times stop far from the top, so ++ never wraps.
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

  void Set(const std::string& key, const std::string& value);
  // Returns false when the key is not present.
  bool Delete(const std::string& key);
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

  // Delegate.
  void OnUserMessage(const std::string& payload) override;
  std::string LocalState(bool join) override;
  void MergeRemoteState(const std::string& state, bool join) override;

  // Applies `entry` if its stamp is newer and it is within the bounds above.
  // Returns true if it changed the map. Pure merge rule, exposed for tests.
  bool Merge(const ::peer::v1::KvEntry& entry);

 private:
  void Spread(const ::peer::v1::KvEntry& entry);

  const std::string node_;
  std::function<void(std::string, const std::string&)> broadcast_;
  uint64_t lamport_ = 0;
  uint64_t refused_ = 0;
  std::map<std::string, ::peer::v1::KvEntry> entries_;
};

// True when stamp (a_lamport, a_node) is newer than (b_lamport, b_node).
bool NewerStamp(uint64_t a_lamport, const std::string& a_node,
                uint64_t b_lamport, const std::string& b_node);

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_KV_STORE_H_
