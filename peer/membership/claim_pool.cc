#include "peer/membership/claim_pool.h"

namespace peerlab::membership {

ClaimPool::~ClaimPool() {
  // Refs left behind would dangle; free what is left rather than leak it.
  for (Entry* e : entries_) Give(e);
}

void ClaimPool::Give(Entry* entry) {
  // Its strings go back to the StringPool now (the last holder of one
  // frees it).
  entry->value = Claim();
  entry->pool = nullptr;
  Table::Give(entry->index);
}

ClaimPool::Ref ClaimPool::Intern(Claim claim) {
  if (claim == Claim()) return Ref();
  auto it = entries_.find(claim);
  if (it != entries_.end()) return Ref(*it);
  const uint32_t index = Table::Take();
  Entry* entry = Table::Get(index);
  entry->value = std::move(claim);
  entry->refs = 0;
  entry->index = index;
  entry->pool = this;
  entries_.insert(entry);
  return Ref(entry);
}

void ClaimPool::Release(Entry* entry) {
  entries_.erase(entry);
  Give(entry);
}

}  // namespace peerlab::membership
