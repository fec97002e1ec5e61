// Small helpers shared by state.cc (merging) and claims.cc (the checks on
// claims). Internal to the membership library.
#ifndef PEERLAB_PEER_MEMBERSHIP_STATE_HELPERS_H_
#define PEERLAB_PEER_MEMBERSHIP_STATE_HELPERS_H_

#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "peer/membership/member.h"

namespace peerlab::membership::state_internal {

// Alive or suspect: a member that still takes part.
inline bool IsLive(MemberState s) {
  return s == MemberState::kAlive || s == MemberState::kSuspect;
}

// Whether the process (generation a, id ia) is newer than (b, ib).
inline bool Newer(uint64_t a, absl::string_view ia, uint64_t b,
                  absl::string_view ib) {
  if (a != b) return a > b;
  return ia > ib;  // the same start time: the id breaks the tie
}

// Names and addresses from the network, fit for a log line.
inline std::string Printable(absl::string_view s) {
  return absl::CHexEscape(s);
}

}  // namespace peerlab::membership::state_internal

#endif  // PEERLAB_PEER_MEMBERSHIP_STATE_HELPERS_H_
