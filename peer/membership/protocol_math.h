// The protocol's arithmetic, as small pure functions (memberlist util.go,
// suspicion.go), each tested against a table.
#ifndef PEERLAB_PEER_MEMBERSHIP_PROTOCOL_MATH_H_
#define PEERLAB_PEER_MEMBERSHIP_PROTOCOL_MATH_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "peer/membership/random.h"

namespace peerlab::membership {

// Minimum suspicion timeout: suspicion_mult * max(1, log10(max(1, n))) *
// interval, with the log term rounded to milliseconds as memberlist does.
absl::Duration SuspicionTimeout(int suspicion_mult, int n,
                                absl::Duration interval);

// Lifeguard's K for a suspicion among n alive members (this one and the
// suspect included): `configured` (Config::suspicion_confirmations), or
// memberlist's suspicion_mult - 2 when it is negative; 0 when the other
// n - 2 members could not give that many, or without Lifeguard.
int ExpectedConfirmations(int configured, int suspicion_mult, int n,
                          bool lifeguard);

// Times an update is retransmitted: retransmit_mult * ceil(log10(n + 1)).
int RetransmitLimit(int retransmit_mult, int n);

// The least times each node sends an application broadcast (user data, the
// key/value map) among n alive members: 3 * (n - 1) in a group of fewer
// than kUserBroadcastFloorBelow, where RetransmitLimit's log10 is 1; none
// (RetransmitLimit alone, as memberlist) in larger ones. Not memberlist's:
// with RetransmitLimit alone (2 sends a node with the local profile, some
// of them to a member that just died) a small group often left a live
// member out of the epidemic until the next push/pull (15 s and more): 20
// keys written by 4 of 5 peers missed someone with each of 30 simulator
// seeds; with 2 * (n - 1), 1 in 30; with 3 * (n - 1), none in 90.
inline constexpr int kUserBroadcastFloorBelow = 10;
int UserBroadcastFloor(int n);

// Lifeguard's dynamic suspicion: with `confirmations` of `expected`
// independent confirmations, the timeout falls from `max` towards `min` as
// log(confirmations + 1) / log(expected + 1), floored to milliseconds and
// never below `min`. Returns what is left after `elapsed` (may be <= 0).
absl::Duration RemainingSuspicionTime(int confirmations, int expected,
                                      absl::Duration elapsed,
                                      absl::Duration min, absl::Duration max);

// The push/pull interval for a cluster of n members: unchanged up to 32,
// then multiplied by ceil(log2(n) - log2(32)) + 1 (memberlist
// pushPullScale).
absl::Duration PushPullScale(absl::Duration interval, int n);

// Whether `claimed` may replace `known` for a member's incarnation: at or
// below it (old news, decided by the precedence rules), or above it by at
// most `window`. Compared by difference, never by adding to `known`, so no
// value wraps (window = UINT64_MAX admits everything).
constexpr bool WithinIncarnationWindow(uint64_t known, uint64_t claimed,
                                       uint64_t window) {
  return claimed <= known || claimed - known <= window;
}

// Whether a Lamport time `claimed` from the wire may be merged into a clock
// at `clock`: at or below it, or above it by at most `window` (config.h
// kLamportWindow). Compared by difference, never by adding to `clock`, so
// no value wraps (window = UINT64_MAX admits everything).
constexpr bool WithinLamportWindow(uint64_t clock, uint64_t claimed,
                                   uint64_t window) {
  return claimed <= clock || claimed - clock <= window;
}

// Picks up to k distinct indices of [0, n) at random, skipping those for
// which `exclude(i)` is true. Tries at most 3*n random draws, as memberlist's
// kRandomNodes does, so the result may hold fewer than k when most are
// excluded.
template <typename Exclude>
std::vector<int> RandomIndices(int k, int n, Random& rng, Exclude exclude) {
  std::vector<int> out;
  for (int i = 0; i < 3 * n && static_cast<int>(out.size()) < k; ++i) {
    int idx = static_cast<int>(rng.Uniform(static_cast<uint64_t>(n)));
    if (exclude(idx)) continue;
    bool dup = false;
    for (int j : out) dup |= (j == idx);
    if (!dup) out.push_back(idx);
  }
  return out;
}

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_PROTOCOL_MATH_H_
