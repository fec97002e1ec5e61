#include "peer/membership/string_pool.h"

namespace peerlab::membership {

StringPool::Entry* StringPool::Take(absl::string_view value) {
  const uint32_t index = Table::Take();
  Entry* entry = Table::Get(index);
  entry->index = index;
  entry->value.assign(value.data(), value.size());
  entry->refs = 0;
  entry->pool = this;
  return entry;
}

void StringPool::Give(Entry* entry) {
  std::string().swap(entry->value);  // its memory back now
  entry->pool = nullptr;
  Table::Give(entry->index);
}

StringPool::~StringPool() {
  // Refs left behind would dangle; free what is left rather than leak it.
  for (Entry* e : entries_) Give(e);
}

StringPool::Ref StringPool::Intern(absl::string_view s) {
  if (s.empty()) return Ref();
  auto it = entries_.find(s);
  if (it != entries_.end()) return Ref(*it);
  Entry* entry = Take(s);
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
  Give(entry);
}

}  // namespace peerlab::membership
