#include "peer/membership/real/address_book.h"

namespace peerlab::membership {

void AddressBook::Set(const std::string& member_addr,
                      const std::string& grpc_addr) {
  std::lock_guard<std::mutex> lock(mu_);
  if (book_.size() >= options_.max_entries && book_.count(member_addr) == 0) {
    book_.clear();
    ++clears_;
  }
  book_[member_addr] = grpc_addr;
}

std::string AddressBook::Get(const std::string& member_addr) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = book_.find(member_addr);
  return it == book_.end() ? "" : it->second;
}

bool AddressBook::ShouldQuery(const std::string& member_addr, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (book_.count(member_addr) > 0) return false;
  if (last_query_.size() >= options_.max_entries &&
      last_query_.count(member_addr) == 0) {
    last_query_.clear();
    ++clears_;
  }
  auto [it, inserted] = last_query_.emplace(member_addr, now);
  if (inserted) return true;
  if (now - it->second < options_.query_interval) return false;
  it->second = now;
  return true;
}

uint64_t AddressBook::clears() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clears_;
}

}  // namespace peerlab::membership
