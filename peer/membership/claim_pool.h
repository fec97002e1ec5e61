// ClaimPool: one stored copy of each member's claim about itself (its name,
// address, id, metadata, public key, signature, incarnation and
// generation), shared by every record that holds it.
//
// Why: a simulation of N members in one process holds N² member records
// (node_state.h), and every observer's record of member X holds the same
// claim, since they all heard it from X. Members that share one pool store
// each claim once (with its strings in the pool's StringPool); a record
// holds a 4-byte reference (ClaimPool::Ref). A real peer has one member
// per process and gets a private pool: nothing changes for it but a
// little indirection.
//
// A claim is immutable: a record whose member changed (a new incarnation,
// address, signature...) takes another claim (Intern of the edited copy).
//
// Thread safety: as StringPool's. A pool, its StringPool and every Ref into
// either must be used from one thread at a time (the simulator runs every
// member on one thread; each real Memberlist owns its pools and runs on its
// scheduler's thread). Pools on different threads are independent: they
// share only the process-wide tables (pool_table.h), whose slots are taken
// and given back under a lock.
#ifndef PEERLAB_PEER_MEMBERSHIP_CLAIM_POOL_H_
#define PEERLAB_PEER_MEMBERSHIP_CLAIM_POOL_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "peer/membership/pool_table.h"
#include "peer/membership/string_pool.h"

namespace peerlab::membership {

class ClaimPool {
 public:
  // What a member claims about itself. Its strings must come from the
  // ClaimPool's StringPool (strings()) when it is interned.
  struct Claim {
    StringPool::Ref name;
    StringPool::Ref addr;
    StringPool::Ref id;
    StringPool::Ref meta;
    // The member's public key, and the signature of its last claim about
    // itself (its alive at `incarnation`, or its leave when it left).
    StringPool::Ref public_key;
    StringPool::Ref signature;
    uint64_t incarnation = 0;
    uint64_t generation = 0;
    // The name's number in the pool (name_number(), below), set by Intern;
    // a function of the name, so neither compared nor hashed.
    uint32_t name_number = 0;

    // Equal claims of one StringPool have equal string indices.
    friend bool operator==(const Claim& a, const Claim& b) {
      return a.name.index() == b.name.index() &&
             a.addr.index() == b.addr.index() && a.id.index() == b.id.index() &&
             a.meta.index() == b.meta.index() &&
             a.public_key.index() == b.public_key.index() &&
             a.signature.index() == b.signature.index() &&
             a.incarnation == b.incarnation && a.generation == b.generation;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Claim& c) {
      return H::combine(std::move(h), c.name.index(), c.addr.index(),
                        c.id.index(), c.meta.index(), c.public_key.index(),
                        c.signature.index(), c.incarnation, c.generation);
    }
  };

  // A counted reference to a pooled claim (4 bytes); a default-constructed
  // Ref is the empty claim (no name, incarnation 0) and belongs to no pool.
  // The claim is freed with its last Ref. REQUIRES: the pool outlives its
  // Refs.
  class Ref : public internal::PoolRef<ClaimPool, Claim> {
   public:
    Ref() = default;

    const Claim& operator*() const { return value(); }
    const Claim* operator->() const { return &value(); }

   private:
    friend class ClaimPool;
    explicit Ref(Entry* entry) : PoolRef(entry) {}
  };

  // `strings` holds the claims' strings; it must outlive the pool.
  explicit ClaimPool(StringPool* strings) : strings_(strings) {}
  // REQUIRES: no Ref into the pool is left.
  ~ClaimPool();
  ClaimPool(const ClaimPool&) = delete;
  ClaimPool& operator=(const ClaimPool&) = delete;

  StringPool& strings() const { return *strings_; }

  // The pooled copy of `claim` (stored now if it is new). The empty claim
  // (no strings, incarnation and generation 0) is never stored: it is the
  // empty Ref. REQUIRES: its strings come from strings().
  Ref Intern(Claim claim);

  // Distinct claims held (for figures and tests).
  size_t size() const { return entries_.size(); }

  // The names of the claims held are numbered densely from 1 (0: no name),
  // so that a member's records can be indexed by name in a vector of
  // 4-byte entries (Memberlist's by_name_: in a simulation of N members,
  // N of them for each of N members) rather than hashed. A number stays
  // with its name while a claim holds the name, and is then reused.
  // The number of `name` (a StringPool index), 0 when no claim has it.
  uint32_t NameNumber(uint32_t name_index) const {
    return name_index < number_of_.size() ? number_of_[name_index] : 0;
  }
  // Every number in use is below it.
  uint32_t name_numbers_end() const { return next_name_number_; }

  // Claims about a live member whose signature was checked (Memberlist::
  // VerifyAlive), found by their signature, with the encoded notice that
  // announces each (EncodeNoticeMessage): a member of the process that
  // hears a claim another one verified takes the pooled claim and its
  // notice as they are (one lookup, then a compare of the fields), rather
  // than checking the signature, interning six strings and the claim, and
  // encoding the notice again. In a simulation of N members each claim is
  // learned N times. A claim is forgotten here with its last Ref.
  // Marks `claim` (REQUIRES: verified as an alive, and from this pool).
  void MarkVerifiedAlive(const Ref& claim, StringPool::Ref notice);
  // The marked claim signed with `signature` (empty: none) and its notice.
  // The caller compares the claim's other fields with what it holds.
  Ref FindVerifiedAlive(absl::string_view signature,
                        StringPool::Ref* notice) const;

 private:
  using Entry = Ref::Entry;
  using Table = Ref::Table;
  template <typename, typename>
  friend class internal::PoolRef;  // Release
  // Empties `entry` and gives its slot back.
  static void Give(Entry* entry);
  void Release(Entry* entry);

  // A name's number, and how many claims held have the name.
  struct Named {
    uint32_t number = 0;
    uint32_t claims = 0;
  };

  // A verified claim (its table index: no count, Release forgets it) and
  // its notice.
  struct Verified {
    uint32_t claim = 0;
    StringPool::Ref notice;
  };

  StringPool* const strings_;
  internal::PoolEntrySet<Entry, Claim> entries_;
  // By the signature's StringPool index.
  absl::flat_hash_map<uint32_t, Verified> verified_;
  absl::flat_hash_map<uint32_t, Named> names_;  // by the name's string index
  // names_[i].number by string index i (0: none), for NameNumber, which
  // runs for every name looked up (Memberlist::Find): one load rather than
  // a hash lookup. Indices are process-wide (pool_table.h) and dense: the
  // vector grows to the highest index of a name, by at least an eighth.
  std::vector<uint32_t> number_of_;
  std::vector<uint32_t> free_name_numbers_;
  uint32_t next_name_number_ = 1;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_CLAIM_POOL_H_
