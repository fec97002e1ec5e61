// Anti-replay for sealed gossip: a sliding window of the sequence numbers
// seen from one sender (RFC 4303's anti-replay window, as IPsec and
// WireGuard keep one), and the table of such windows per sender name and
// restart generation with a bound on its size.
//
// Pure, no I/O; used by encryption.cc on the node's scheduler only (not
// thread-safe).
#ifndef PEERLAB_PEER_MEMBERSHIP_REPLAY_WINDOW_H_
#define PEERLAB_PEER_MEMBERSHIP_REPLAY_WINDOW_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace peerlab::membership {

// The last kBits sequence numbers below the highest one seen. A value type
// of 136 bytes.
class ReplayWindow {
 public:
  // How far below the highest number seen a number may still arrive
  // (reordered by the network). Senders number each datagram; UDP reorders
  // by a few at most, so 1,024 leaves a wide margin (WireGuard: 8,192 -
  // 64; IPsec's default: 64).
  static constexpr uint64_t kBits = 1024;

  // Whether `seq` is new, marking it seen: above the highest seen so far,
  // or within kBits below it and not seen yet. 0 is never new.
  bool Accept(uint64_t seq);
  // Whether Accept(seq) would accept it, recording nothing.
  bool Fresh(uint64_t seq) const;
  uint64_t highest() const { return highest_; }

 private:
  bool Test(uint64_t seq) const {
    return (bits_[(seq % kBits) / 64] >> (seq % 64)) & 1;
  }
  void Set(uint64_t seq) {
    bits_[(seq % kBits) / 64] |= uint64_t{1} << (seq % 64);
  }
  void Clear(uint64_t seq) {
    bits_[(seq % kBits) / 64] &= ~(uint64_t{1} << (seq % 64));
  }

  uint64_t highest_ = 0;
  std::array<uint64_t, kBits / 64> bits_{};
};

// Windows per sender name: one for its datagrams and one for its reliable
// requests, for its newest restart generation. At most `max_senders`
// names; past that the one heard from least recently is forgotten (its
// next message starts a fresh window: what it sent before could then be
// replayed once more, so the bound should be well above the group's size).
class ReplayGuard {
 public:
  enum class Kind { kDatagram, kRequest };
  enum class Verdict {
    kNew,            // accepted
    kReplay,         // seen already, or too old for the window
    kOldGeneration,  // an older generation than the newest seen
    kMissingFields,  // no name, generation or sequence number
    kBadTag,  // not checked: its sender tag did not verify (the caller's)
  };

  explicit ReplayGuard(size_t max_senders) : max_senders_(max_senders) {}

  // Checks (name, generation, seq) of a `kind` message and records it when
  // new. A newer generation of a name replaces its windows (a restart).
  Verdict Check(Kind kind, const std::string& name, uint64_t generation,
                uint64_t seq);
  // What Check would say, recording nothing; a sender not held, or a newer
  // generation, is kNew.
  Verdict Peek(Kind kind, const std::string& name, uint64_t generation,
               uint64_t seq) const;

  size_t size() const { return senders_.size(); }
  // Senders forgotten to stay within max_senders.
  uint64_t evicted() const { return evicted_; }

 private:
  struct Sender {
    uint64_t generation = 0;
    uint64_t last_used = 0;  // tick_ when last accepted
    ReplayWindow datagrams;
    ReplayWindow requests;
  };
  void EvictOldest();

  size_t max_senders_;
  uint64_t tick_ = 0;
  uint64_t evicted_ = 0;
  absl::flat_hash_map<std::string, Sender> senders_;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_REPLAY_WINDOW_H_
