// TcpModel: what a lossy path does to a reliable call (a TCP connection) in
// the simulator.
//
// Why. A member whose egress loses most of its datagrams (a fault plan's
// `drop`, peer/runtime/fault_plan.h) loses most of its TCP segments too:
// TCP runs over the same IP path. Before this model the simulator let every
// reliable call through whatever the loss, so memberlist's TCP fallback
// probe answered for a member that lost 80 % of its packets and nobody
// even suspected it, where Rapid (USENIX ATC 2018, section 7) measured
// memberlist's views of such members disagreeing.
//
// What. A reliable call is three phases on one connection (memberlist
// dials a new TCP connection for each push/pull and each fallback probe):
//   1. the handshake: the caller's SYN and the callee's SYN-ACK must both
//      get through (the third ACK rides on the first request segment); a
//      failed attempt is retried after the SYN timeout, 1 s, doubling
//      (RFC 6298 section 2.1's initial RTO, Linux's TCP_TIMEOUT_INIT);
//   2. the request: ceil(bytes / MSS) data segments from the caller, acked
//      by the callee;
//   3. the response: the same from the callee, acked by the caller.
// Each data phase runs in rounds, as a TCP sender with SACK does:
//   - a round sends the segments the sender does not know delivered, up
//     to its congestion window (10 at first, RFC 6928), in order; each is
//     lost with the sending side's loss;
//   - the receiver acks every second segment delivered in the round (a
//     delayed ACK; at least one when any arrived); each ACK is lost with
//     the receiving side's loss;
//   - the round ends after one round trip when an ACK got back and either
//     nothing was lost or at least 3 segments arrived after the first lost
//     one (3 duplicate ACKs: fast retransmit); the window then doubles
//     (nothing lost) or halves (at least 1). Otherwise the sender waits for
//     its retransmission timeout (200 ms, Linux's minimum, doubling at each
//     timeout in a row up to 120 s, and back to 200 ms once an ACK gets
//     through) and goes on with a window of 1.
//   - The phase is over when the receiver holds every segment, whatever
//     the sender knows: a response is the caller's as soon as it arrived.
// The model returns the time the losses ADD to the lossless exchange (the
// simulator's calls take one link latency each way, as before), so a call
// with no loss on either side is not touched and draws nothing. A phase
// that cannot finish within the time left before the caller's deadline
// never finishes: the caller's deadline answers (DeadlineExceeded), as a
// gRPC or Go dial/read deadline would; a request that never arrived is
// never served.
//
// Left out, on purpose: congestion avoidance (the window only doubles or
// halves), RTT estimation (the RTO is its 200 ms floor: a LAN's RTT is far
// below it), the connection's close, and a gRPC channel's reuse of an open
// connection (which would spare phase 1). At 80 % loss what matters is the
// backoff: a segment needs 5 tries on average, each timeout doubling, so a
// push/pull of a few dozen segments misses any deadline while a one-segment
// probe gets through now and then.
//
// Deterministic: every draw comes from the generator the caller passes, and
// only for a lossy side (a side with zero loss draws nothing).
#ifndef PEERLAB_PEER_MEMBERSHIP_SIM_TCP_MODEL_H_
#define PEERLAB_PEER_MEMBERSHIP_SIM_TCP_MODEL_H_

#include <cstddef>
#include <optional>
#include <random>

#include "absl/time/time.h"

namespace peerlab::membership::sim {

struct TcpModelOptions {
  size_t mss = 1448;  // payload bytes per segment (Ethernet, timestamps)
  int initial_window = 10;
  absl::Duration min_rto = absl::Milliseconds(200);
  absl::Duration max_rto = absl::Seconds(120);
  absl::Duration syn_rto = absl::Seconds(1);
};

// Data segments a message of `bytes` takes (at least 1).
int TcpSegments(size_t bytes, const TcpModelOptions& options = {});

// Time the losses add to the handshake: the SYN timeouts waited before an
// attempt whose SYN (lost with `caller_loss`) and SYN-ACK (`callee_loss`)
// both got through. nullopt when that is later than `limit`.
std::optional<absl::Duration> TcpHandshakeDelay(
    double caller_loss, double callee_loss, absl::Duration limit,
    std::mt19937_64& rng, const TcpModelOptions& options = {});

// Time the losses add to moving `segments` data segments from a sender
// whose segments are lost with `data_loss` to a receiver whose ACKs are
// lost with `ack_loss`, on a path of round-trip time `rtt`: the rounds'
// time until the receiver holds every segment, minus that of the same
// transfer without loss. nullopt when that is later than `limit`.
std::optional<absl::Duration> TcpTransferDelay(
    int segments, double data_loss, double ack_loss, absl::Duration rtt,
    absl::Duration limit, std::mt19937_64& rng,
    const TcpModelOptions& options = {});

}  // namespace peerlab::membership::sim

#endif  // PEERLAB_PEER_MEMBERSHIP_SIM_TCP_MODEL_H_
