// AddressBook: which gRPC address serves the reliable path of each member,
// for the UDP transport (see udp_grpc_transport.h, "Addresses").
//
// The book maps a member's gossip address ("ip:udp_port") to its gRPC
// address, and remembers when each unknown member was last asked for its
// address, so that a busy stream of datagrams from one address costs at most
// one background query per `query_interval`. Time is given by the caller
// (the transport passes its Scheduler's Now(), so the simulator and tests
// control it); the book never reads a clock.
//
// Both tables are bounded (`max_entries`): a table that would grow past it
// is cleared, and what matters is relearned from traffic, so a stream of
// datagrams from forged source addresses costs bounded memory.
//
// Thread-safe (one mutex): the receive thread, gRPC threads and scheduler
// tasks all use it.
#ifndef PEERLAB_PEER_MEMBERSHIP_REAL_ADDRESS_BOOK_H_
#define PEERLAB_PEER_MEMBERSHIP_REAL_ADDRESS_BOOK_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/time/time.h"

namespace peerlab::membership {

class AddressBook {
 public:
  struct Options {
    // An unknown member is asked at most this often.
    absl::Duration query_interval = absl::Seconds(5);
    // Entries per table before it is cleared.
    size_t max_entries = 16384;
  };

  AddressBook() : AddressBook(Options{}) {}
  explicit AddressBook(Options options) : options_(options) {}

  // Records that `member_addr` serves the reliable path at `grpc_addr`.
  void Set(const std::string& member_addr, const std::string& grpc_addr);

  // The gRPC address of `member_addr`; empty when unknown.
  std::string Get(const std::string& member_addr) const;

  // Whether a background query should go to `member_addr` now: false when
  // its address is known or it was asked less than `query_interval` before
  // `now`; otherwise records `now` as the time it was asked and returns
  // true.
  bool ShouldQuery(const std::string& member_addr, absl::Time now);

  // How often a table reached max_entries and was cleared.
  uint64_t clears() const;

 private:
  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> book_;       // member -> gRPC
  std::unordered_map<std::string, absl::Time> last_query_;  // member -> when
  uint64_t clears_ = 0;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_REAL_ADDRESS_BOOK_H_
