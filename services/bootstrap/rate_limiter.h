// ClientRateLimiter: a token bucket per client (the caller's address; one
// per IPv6 /64, see RateLimitKey), in a bounded table. Join and Refill take
// one token each.
//
// Thread safety: all methods may be called concurrently.
#ifndef PEERLAB_SERVICES_BOOTSTRAP_RATE_LIMITER_H_
#define PEERLAB_SERVICES_BOOTSTRAP_RATE_LIMITER_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace peerlab::bootstrap {

class ClientRateLimiter {
 public:
  struct Options {
    // Tokens added per second; 0: no limit at all.
    double rate = 50;
    // Bucket size: calls a client may make at once after being idle.
    double burst = 200;
    // Clients tracked at most. When full, idle clients (full buckets) are
    // forgotten; if none is idle, a new client is refused (and counted).
    size_t max_clients = 4096;
  };

  explicit ClientRateLimiter(Options options) : options_(options) {}

  // Takes one token of the bucket of RateLimitKey(client) at `now`.
  // ResourceExhausted saying when to retry when it is empty, or when the table
  // is full of busy clients.
  absl::Status Take(const std::string& client, absl::Time now);

  // Calls refused so far (empty buckets and a full table).
  uint64_t refused() const;
  size_t clients() const;

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  double Refilled(const Bucket& b, absl::Time now) const;

  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  uint64_t refused_ = 0;
  uint64_t table_full_ = 0;
};

// The client part of a gRPC peer string: "ipv4:10.0.0.1:5000" -> "10.0.0.1",
// "ipv6:[::1]:5000" (or %5B::1%5D) -> "::1"; anything else as it is.
std::string ClientAddress(const std::string& grpc_peer);

// The bucket a client address falls in: an IPv4 address as it is, an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address, any other
// IPv6 address as its /64 ("2001:db8:1:2::/64"; a zone "%eth0" is
// dropped), since one host commonly holds a whole /64; anything else (a
// Unix socket, "") as it is.
std::string RateLimitKey(const std::string& client);

}  // namespace peerlab::bootstrap

#endif  // PEERLAB_SERVICES_BOOTSTRAP_RATE_LIMITER_H_
