#include "peer/membership/probe_order.h"

#include <algorithm>
#include <utility>

namespace peerlab::membership {

size_t ProbeOrder::BlockOf(size_t i) const {
  if (blocks_.size() == 1) return 0;
  // The last block starting at or before i.
  auto it = std::upper_bound(starts_.begin(), starts_.end(), i);
  return static_cast<size_t>(it - starts_.begin()) - 1;
}

void ProbeOrder::Insert(size_t pos, uint32_t value) {
  if (blocks_.empty()) {
    blocks_.emplace_back();
    starts_.push_back(0);
  }
  const size_t b = BlockOf(pos);
  std::vector<uint32_t>& block = blocks_[b];
  // Grown by an eighth, not doubled: a simulation of N members holds N
  // orders of N entries (4 bytes each, at most an eighth more).
  if (block.size() == block.capacity()) {
    block.reserve(block.size() + block.size() / 8 + 8);
  }
  block.insert(block.begin() + static_cast<ptrdiff_t>(pos - starts_[b]), value);
  for (size_t k = b + 1; k < starts_.size(); ++k) ++starts_[k];
  ++size_;
  if (block.size() > 2 * kBlock) {
    // Split in two halves.
    std::vector<uint32_t> tail(block.begin() + kBlock, block.end());
    block.resize(kBlock);
    block.shrink_to_fit();
    blocks_.insert(blocks_.begin() + static_cast<ptrdiff_t>(b + 1),
                   std::move(tail));
    starts_.insert(starts_.begin() + static_cast<ptrdiff_t>(b + 1),
                   starts_[b] + kBlock);
  }
}

void ProbeOrder::Erase(size_t pos) {
  const size_t b = BlockOf(pos);
  std::vector<uint32_t>& block = blocks_[b];
  block.erase(block.begin() + static_cast<ptrdiff_t>(pos - starts_[b]));
  for (size_t k = b + 1; k < starts_.size(); ++k) --starts_[k];
  --size_;
  if (block.empty() && blocks_.size() > 1) {
    blocks_.erase(blocks_.begin() + static_cast<ptrdiff_t>(b));
    starts_.erase(starts_.begin() + static_cast<ptrdiff_t>(b));
  }
}

std::optional<size_t> ProbeOrder::Find(uint32_t value) const {
  for (size_t b = 0; b < blocks_.size(); ++b) {
    auto it = std::find(blocks_[b].begin(), blocks_[b].end(), value);
    if (it != blocks_[b].end()) {
      return starts_[b] + static_cast<size_t>(it - blocks_[b].begin());
    }
  }
  return std::nullopt;
}

std::vector<uint32_t> ProbeOrder::ToVector() const {
  std::vector<uint32_t> out;
  out.reserve(size_);
  for (const auto& block : blocks_) {
    out.insert(out.end(), block.begin(), block.end());
  }
  return out;
}

void ProbeOrder::Assign(std::vector<uint32_t> values) {
  blocks_.clear();
  starts_.clear();
  size_ = values.size();
  if (values.empty()) return;
  if (values.size() <= 2 * kBlock) {
    blocks_.push_back(std::move(values));
    starts_.push_back(0);
    return;
  }
  for (size_t at = 0; at < values.size(); at += kBlock) {
    const size_t end = std::min(values.size(), at + kBlock);
    blocks_.emplace_back(values.begin() + static_cast<ptrdiff_t>(at),
                         values.begin() + static_cast<ptrdiff_t>(end));
    starts_.push_back(at);
  }
}

}  // namespace peerlab::membership
