#include "peer/membership/string_pool.h"

namespace peerlab::membership {

const std::string& StringPool::Ref::Empty() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}

StringPool::~StringPool() {
  // Refs left behind would dangle; free what is left rather than leak it.
  for (Entry* e : entries_) delete e;
}

StringPool::Ref StringPool::Intern(absl::string_view s) {
  if (s.empty()) return Ref();
  auto it = entries_.find(s);
  if (it != entries_.end()) return Ref(*it);
  auto* entry = new Entry{std::string(s), 0, this};
  entries_.insert(entry);
  bytes_ += s.size();
  return Ref(entry);
}

void StringPool::Release(Entry* entry) {
  entries_.erase(entry);
  bytes_ -= entry->value.size();
  delete entry;
}

}  // namespace peerlab::membership
