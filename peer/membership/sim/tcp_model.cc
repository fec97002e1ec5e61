#include "peer/membership/sim/tcp_model.h"

#include <algorithm>
#include <vector>

namespace peerlab::membership::sim {
namespace {

double Uniform(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// Whether one segment (or ACK) sent with `loss` is lost; no draw at 0.
bool Lost(double loss, std::mt19937_64& rng) {
  return loss > 0 && Uniform(rng) < loss;
}

// Rounds of a lossless transfer of `segments` from the initial window,
// doubling: the time before its last round begins.
absl::Duration LosslessRounds(int segments, absl::Duration rtt,
                              const TcpModelOptions& options) {
  int64_t window = std::max(options.initial_window, 1);
  int64_t left = segments - window;
  absl::Duration t = absl::ZeroDuration();
  while (left > 0) {
    t += rtt;
    window *= 2;
    left -= window;
  }
  return t;
}

}  // namespace

int TcpSegments(size_t bytes, const TcpModelOptions& options) {
  const size_t mss = std::max<size_t>(options.mss, 1);
  return static_cast<int>(std::max<size_t>((bytes + mss - 1) / mss, 1));
}

std::optional<absl::Duration> TcpHandshakeDelay(
    double caller_loss, double callee_loss, absl::Duration limit,
    std::mt19937_64& rng, const TcpModelOptions& options) {
  absl::Duration t = absl::ZeroDuration();
  absl::Duration rto = options.syn_rto;
  while (true) {
    // The SYN-ACK is sent only when the SYN arrived: no draw otherwise.
    if (!Lost(caller_loss, rng) && !Lost(callee_loss, rng)) return t;
    t += rto;
    rto = std::min(2 * rto, options.max_rto);
    if (t > limit) return std::nullopt;
  }
}

std::optional<absl::Duration> TcpTransferDelay(int segments, double data_loss,
                                               double ack_loss,
                                               absl::Duration rtt,
                                               absl::Duration limit,
                                               std::mt19937_64& rng,
                                               const TcpModelOptions& options) {
  segments = std::max(segments, 1);
  const absl::Duration lossless = LosslessRounds(segments, rtt, options);
  std::vector<char> delivered(segments, 0);  // the receiver holds it
  std::vector<char> known(segments, 0);      // the sender knows (SACK)
  int missing = segments;
  int64_t window = std::max(options.initial_window, 1);
  absl::Duration rto = options.min_rto;
  absl::Duration t = absl::ZeroDuration();  // when this round begins
  while (true) {
    // One round: the first `window` segments the sender does not know
    // delivered, in order.
    int sent = 0, arrived = 0, lost = 0, arrived_after_loss = 0;
    for (int i = 0; i < segments && sent < window; ++i) {
      if (known[i]) continue;
      ++sent;
      if (Lost(data_loss, rng)) {
        ++lost;
        continue;
      }
      ++arrived;
      if (lost > 0) ++arrived_after_loss;
      if (!delivered[i]) {
        delivered[i] = 1;
        --missing;
      }
    }
    // The receiver holds everything one way into this round; so does the
    // lossless transfer one way into its last round.
    if (missing == 0) return std::max(t - lossless, absl::ZeroDuration());
    // Delayed ACKs: one per two segments that arrived, at least one.
    bool acked = false;
    for (int a = 0; a < (arrived + 1) / 2 && !acked; ++a) {
      acked = !Lost(ack_loss, rng);
    }
    if (acked) {
      known = delivered;
      rto = options.min_rto;  // progress ends the backoff
    }
    if (acked && (lost == 0 || arrived_after_loss >= 3)) {
      t += rtt;
      window = lost == 0 ? std::min<int64_t>(window * 2, segments)
                         : std::max<int64_t>(window / 2, 1);
    } else {
      t += rto;
      rto = std::min(2 * rto, options.max_rto);
      window = 1;
    }
    if (t - lossless > limit) return std::nullopt;
  }
}

}  // namespace peerlab::membership::sim
