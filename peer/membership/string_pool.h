// StringPool: one stored copy of each immutable string that many holders
// share (member names, addresses, ids, metadata, encoded updates).
//
// Why: a member keeps a record of every other member and queues an update
// for each one it learns of, so a simulation of N members in one process
// holds N² records. Their strings are the same N names, addresses and
// encoded updates over and over. Members that share one pool store each of
// them once; the records hold 4-byte references (see StringPool::Ref).
// A real peer has one member per process and gets a private pool: nothing
// changes for it but a little indirection.
//
// Thread safety: none. A pool and every Ref into it must be used from one
// thread at a time (the simulator runs every member on one thread; each
// real Memberlist owns its pool and runs on its scheduler's thread).
#ifndef PEERLAB_PEER_MEMBERSHIP_STRING_POOL_H_
#define PEERLAB_PEER_MEMBERSHIP_STRING_POOL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "peer/membership/pool_table.h"

namespace peerlab::membership {

class StringPool {
 public:
  // A counted reference to a pooled string (4 bytes); a default-constructed
  // Ref is the empty string and belongs to no pool. The string is freed
  // with its last Ref. REQUIRES: the pool outlives its Refs.
  class Ref : public internal::PoolRef<StringPool, std::string> {
   public:
    Ref() = default;

    const std::string& str() const { return value(); }
    absl::string_view view() const { return str(); }
    operator const std::string&() const { return str(); }  // NOLINT
    size_t size() const { return str().size(); }

    friend bool operator==(const Ref& a, absl::string_view b) {
      return a.view() == b;
    }
    friend bool operator==(const Ref& a, const Ref& b) {
      return a.index() == b.index() || a.view() == b.view();
    }

   private:
    friend class StringPool;
    explicit Ref(Entry* entry) : PoolRef(entry) {}
  };

  StringPool() = default;
  // REQUIRES: no Ref into the pool is left.
  ~StringPool();
  StringPool(const StringPool&) = delete;
  StringPool& operator=(const StringPool&) = delete;

  // The pooled copy of `s` (stored now if it is new). The empty string is
  // never stored.
  Ref Intern(absl::string_view s);
  // The index (Ref::index) of `s` if the pool holds it, else 0. Stores
  // nothing.
  uint32_t IndexOf(absl::string_view s) const;

  // Distinct strings held, and their bytes (for figures and tests).
  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  // Every pool's entries live in one process-wide table (pool_table.h),
  // so that a Ref is a 4-byte index.
  using Entry = Ref::Entry;
  using Table = Ref::Table;
  template <typename, typename>
  friend class internal::PoolRef;  // Release
  // A table slot holding `value` for this pool (no Ref yet); and back.
  Entry* Take(absl::string_view value);
  static void Give(Entry* entry);
  void Release(Entry* entry);

  internal::PoolEntrySet<Entry, absl::string_view> entries_;
  size_t bytes_ = 0;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_STRING_POOL_H_
