#include "peer/membership/string_pool.h"

#include <mutex>
#include <vector>

namespace peerlab::membership {
namespace {

// The table's free slots and its high-water mark, under one lock.
struct TableState {
  std::mutex mu;
  std::vector<uint32_t> free;  // guarded by mu
  uint32_t next = 1;           // guarded by mu; slot 0 is the empty Ref
};

TableState& State() {
  static TableState* const state = new TableState();
  return *state;
}

}  // namespace

std::atomic<StringPool::Entry*>
    StringPool::Table::chunks_[StringPool::Table::kMaxChunks];

StringPool::Entry* StringPool::Table::Take(absl::string_view value,
                                           StringPool* pool) {
  TableState& state = State();
  uint32_t index;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (!state.free.empty()) {
      index = state.free.back();
      state.free.pop_back();
    } else {
      // 2^32 - 1 strings alive at once would exhaust the table; a process
      // holds far fewer (a simulation of 10,000 members about 10^5).
      index = state.next++;
      const size_t chunk = index >> kChunkBits;
      if (chunks_[chunk].load(std::memory_order_relaxed) == nullptr) {
        chunks_[chunk].store(new Entry[kChunkSize], std::memory_order_release);
      }
    }
  }
  Entry* entry = Get(index);
  entry->value.assign(value.data(), value.size());
  entry->refs = 0;
  entry->index = index;
  entry->pool = pool;
  return entry;
}

void StringPool::Table::Give(Entry* entry) {
  std::string().swap(entry->value);  // its memory back now
  entry->pool = nullptr;
  TableState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  state.free.push_back(entry->index);
}

const std::string& StringPool::Ref::Empty() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}

StringPool::~StringPool() {
  // Refs left behind would dangle; free what is left rather than leak it.
  for (Entry* e : entries_) Table::Give(e);
}

StringPool::Ref StringPool::Intern(absl::string_view s) {
  if (s.empty()) return Ref();
  auto it = entries_.find(s);
  if (it != entries_.end()) return Ref(*it);
  Entry* entry = Table::Take(s, this);
  entries_.insert(entry);
  bytes_ += s.size();
  return Ref(entry);
}

uint32_t StringPool::IndexOf(absl::string_view s) const {
  if (s.empty()) return 0;
  auto it = entries_.find(s);
  return it == entries_.end() ? 0 : (*it)->index;
}

void StringPool::Release(Entry* entry) {
  entries_.erase(entry);
  bytes_ -= entry->value.size();
  Table::Give(entry);
}

}  // namespace peerlab::membership
