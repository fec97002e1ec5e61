// PoolTable<E>: the process-wide storage behind StringPool and ClaimPool;
// PoolRef: their counted 4-byte references; PoolEntrySet: each pool's set
// of its entries, found by value.
//
// Every pool of one kind keeps its entries in one table of fixed chunks, so
// that a reference to an entry is a 4-byte index (a simulated member holds
// one per member record, N² records in all) and an entry never moves.
// Slots are handed out and given back under a mutex; reading an entry by
// index takes none (a chunk is published before any index into it is handed
// out, and never freed). An entry's own fields (its value, its count of
// references) are the owning pool's business: see its thread-safety note.
#ifndef PEERLAB_PEER_MEMBERSHIP_POOL_TABLE_H_
#define PEERLAB_PEER_MEMBERSHIP_POOL_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace peerlab::membership::internal {

template <typename E>
class PoolTable {
 public:
  static E* Get(uint32_t index) {
    return &chunks_[index >> kChunkBits].load(
        std::memory_order_acquire)[index & (kChunkSize - 1)];
  }

  // A free slot (never 0: index 0 is every pool's empty reference). The
  // most recently given back is reused first.
  static uint32_t Take() {
    State& state = GetState();
    std::lock_guard<std::mutex> lock(state.mu);
    if (!state.free.empty()) {
      const uint32_t index = state.free.back();
      state.free.pop_back();
      return index;
    }
    // 2^32 - 1 entries alive at once would exhaust the table; a process
    // holds far fewer (a simulation of 10,000 members about 10^5).
    const uint32_t index = state.next++;
    const size_t chunk = index >> kChunkBits;
    if (chunks_[chunk].load(std::memory_order_relaxed) == nullptr) {
      chunks_[chunk].store(new E[kChunkSize], std::memory_order_release);
    }
    return index;
  }

  // Gives slot `index` back (the caller has reset its entry).
  static void Give(uint32_t index) {
    State& state = GetState();
    std::lock_guard<std::mutex> lock(state.mu);
    state.free.push_back(index);
  }

 private:
  static constexpr int kChunkBits = 10;
  static constexpr uint32_t kChunkSize = uint32_t{1} << kChunkBits;
  static constexpr size_t kMaxChunks = size_t{1} << (32 - kChunkBits);

  // The free slots and the high-water mark, under one lock.
  struct State {
    std::mutex mu;
    std::vector<uint32_t> free;  // guarded by mu
    uint32_t next = 1;           // guarded by mu; slot 0 is the empty ref
  };
  static State& GetState() {
    static State* const state = new State();
    return *state;
  }

  // Zero-initialised (static storage); untouched pages cost no memory.
  static inline std::atomic<E*> chunks_[kMaxChunks];
};

// An entry of a pool of Values (StringPool, ClaimPool).
template <typename Pool, typename Value>
struct PoolEntry {
  Value value;
  uint32_t refs = 0;
  uint32_t index = 0;  // its place in the PoolTable (never 0)
  Pool* pool = nullptr;
};

// A pool's own entries, found by value: hashed and compared as `Key`, what
// a lookup names (absl::string_view for StringPool's strings, the Claim
// itself for ClaimPool), so that a lookup by value needs no entry.
template <typename Entry, typename Key>
struct PoolEntryHash {
  using is_transparent = void;
  size_t operator()(const Key& key) const { return absl::Hash<Key>()(key); }
  size_t operator()(const Entry* e) const { return (*this)(e->value); }
};
template <typename Entry, typename Key>
struct PoolEntryEq {
  using is_transparent = void;
  static const Key& View(const Key& key) { return key; }
  static const auto& View(const Entry* e) { return e->value; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return View(a) == View(b);
  }
};
template <typename Entry, typename Key>
using PoolEntrySet = absl::flat_hash_set<Entry*, PoolEntryHash<Entry, Key>,
                                         PoolEntryEq<Entry, Key>>;

// A counted reference to a pooled Value (4 bytes: its index in the
// PoolTable); a default-constructed one is the empty Value and belongs to
// no pool. The last reference to an entry gives it back to its pool
// (Pool::Release). The pool's Ref derives from this one and adds the
// Value's accessors. REQUIRES: the pool outlives its references.
template <typename Pool, typename Value>
class PoolRef {
 public:
  using Entry = PoolEntry<Pool, Value>;
  using Table = PoolTable<Entry>;

  PoolRef() = default;
  PoolRef(const PoolRef& other) : index_(other.index_) {
    if (index_ != 0) ++Table::Get(index_)->refs;
  }
  PoolRef(PoolRef&& other) noexcept : index_(other.index_) { other.index_ = 0; }
  PoolRef& operator=(PoolRef other) noexcept {
    std::swap(index_, other.index_);
    return *this;
  }
  ~PoolRef() {
    if (index_ == 0) return;
    Entry* entry = Table::Get(index_);
    if (--entry->refs == 0) entry->pool->Release(entry);
  }

  bool empty() const { return index_ == 0; }
  // The entry's place in the process-wide table (0: the empty Value). Two
  // references into one pool hold equal Values exactly when their indices
  // are equal.
  uint32_t index() const { return index_; }

 protected:
  explicit PoolRef(Entry* entry) : index_(entry->index) { ++entry->refs; }
  const Value& value() const {
    return index_ != 0 ? Table::Get(index_)->value : Empty();
  }

 private:
  static const Value& Empty() {
    static const Value* const kEmpty = new Value();
    return *kEmpty;
  }
  uint32_t index_ = 0;
};

}  // namespace peerlab::membership::internal

#endif  // PEERLAB_PEER_MEMBERSHIP_POOL_TABLE_H_
