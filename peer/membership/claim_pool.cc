#include "peer/membership/claim_pool.h"

#include <algorithm>

namespace peerlab::membership {

ClaimPool::~ClaimPool() {
  // Refs left behind would dangle; free what is left rather than leak it.
  verified_.clear();
  for (Entry* e : entries_) Give(e);
  names_.clear();
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
  if (!claim.name.empty()) {
    Named& named = names_[claim.name.index()];
    if (named.claims++ == 0) {
      if (free_name_numbers_.empty()) {
        named.number = next_name_number_++;
      } else {
        named.number = free_name_numbers_.back();
        free_name_numbers_.pop_back();
      }
    }
    claim.name_number = named.number;
    const uint32_t name_index = claim.name.index();
    if (name_index >= number_of_.size()) {
      if (name_index >= number_of_.capacity()) {
        number_of_.reserve(std::max<size_t>(
            name_index + 1, number_of_.capacity() + number_of_.capacity() / 8));
      }
      number_of_.resize(name_index + 1, 0);
    }
    number_of_[name_index] = named.number;
  } else {
    claim.name_number = 0;
  }
  const uint32_t index = Table::Take();
  Entry* entry = Table::Get(index);
  entry->value = std::move(claim);
  entry->refs = 0;
  entry->index = index;
  entry->pool = this;
  entries_.insert(entry);
  return Ref(entry);
}

void ClaimPool::MarkVerifiedAlive(const Ref& claim, StringPool::Ref notice) {
  if (claim.empty() || claim->signature.empty()) return;
  Verified& v = verified_[claim->signature.index()];
  v.claim = claim.index();
  v.notice = std::move(notice);
}

ClaimPool::Ref ClaimPool::FindVerifiedAlive(absl::string_view signature,
                                            StringPool::Ref* notice) const {
  if (verified_.empty()) return Ref();
  const uint32_t s = strings_->IndexOf(signature);
  if (s == 0) return Ref();
  auto it = verified_.find(s);
  if (it == verified_.end()) return Ref();
  *notice = it->second.notice;
  return Ref(Table::Get(it->second.claim));
}

void ClaimPool::Release(Entry* entry) {
  if (!verified_.empty() && !entry->value.signature.empty()) {
    auto it = verified_.find(entry->value.signature.index());
    if (it != verified_.end() && it->second.claim == entry->index) {
      verified_.erase(it);
    }
  }
  entries_.erase(entry);
  if (!entry->value.name.empty()) {
    auto it = names_.find(entry->value.name.index());
    if (--it->second.claims == 0) {
      free_name_numbers_.push_back(it->second.number);
      number_of_[it->first] = 0;
      names_.erase(it);
    }
  }
  Give(entry);
}

}  // namespace peerlab::membership
