#include "services/bootstrap/rate_limiter.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace peerlab::bootstrap {

double ClientRateLimiter::Refilled(const Bucket& b, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
  return std::min(options_.burst, b.tokens + elapsed * options_.rate);
}

std::string RateLimitKey(const std::string& client) {
  if (client.find(':') == std::string::npos) return client;  // IPv4, other
  std::string text = client.substr(0, client.find('%'));     // no zone
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return client;
  char out[INET6_ADDRSTRLEN];
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    in_addr v4;
    std::memcpy(&v4, &v6.s6_addr[12], 4);
    if (inet_ntop(AF_INET, &v4, out, sizeof(out)) == nullptr) return client;
    return out;
  }
  std::memset(&v6.s6_addr[8], 0, 8);
  if (inet_ntop(AF_INET6, &v6, out, sizeof(out)) == nullptr) return client;
  return absl::StrCat(out, "/64");
}

absl::Status ClientRateLimiter::Take(const std::string& address,
                                     absl::Time now) {
  if (options_.rate <= 0) return absl::OkStatus();
  const std::string client = RateLimitKey(address);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_clients) {
      // Forget the idle ones: a full bucket is the same as no entry.
      for (auto i = buckets_.begin(); i != buckets_.end();) {
        if (Refilled(i->second, now) >= options_.burst) {
          i = buckets_.erase(i);
        } else {
          ++i;
        }
      }
    }
    if (buckets_.size() >= options_.max_clients) {
      ++refused_;
      if (table_full_++ % 1000 == 0) {
        spdlog::warn(
            "join rate limit: {} busy clients tracked, the limit; refusing "
            "new clients ({} refused so far)",
            buckets_.size(), table_full_);
      }
      return absl::ResourceExhaustedError(
          absl::StrCat("too many clients are joining at once (",
                       options_.max_clients, " tracked); retry in ",
                       absl::FormatDuration(absl::Seconds(1 / options_.rate))));
    }
    it = buckets_.emplace(client, Bucket{options_.burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = Refilled(b, now);
  b.updated = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return absl::OkStatus();
  }
  const absl::Duration wait = absl::Seconds((1 - b.tokens) / options_.rate);
  if (refused_++ % 1000 == 0) {
    spdlog::warn("join rate limit: refusing {} ({} refused so far)", client,
                 refused_);
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "too many joins from ", client.empty() ? "this client" : client,
      " (limit ", options_.rate, "/s, burst ", options_.burst, "); retry in ",
      absl::FormatDuration(absl::Ceil(wait, absl::Milliseconds(1)))));
}

uint64_t ClientRateLimiter::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

size_t ClientRateLimiter::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

std::string ClientAddress(const std::string& grpc_peer) {
  std::string rest;
  if (absl::StartsWith(grpc_peer, "ipv4:")) {
    rest = grpc_peer.substr(5);
    size_t colon = rest.rfind(':');
    return colon == std::string::npos ? rest : rest.substr(0, colon);
  }
  if (absl::StartsWith(grpc_peer, "ipv6:")) {
    rest = grpc_peer.substr(5);
    if (absl::StartsWith(rest, "[")) {
      size_t end = rest.find(']');
      if (end != std::string::npos) return rest.substr(1, end - 1);
    }
    if (absl::StartsWithIgnoreCase(rest, "%5B")) {
      size_t end = rest.find("%5D");
      if (end == std::string::npos) end = rest.find("%5d");
      if (end != std::string::npos) return rest.substr(3, end - 3);
    }
    return rest;
  }
  return grpc_peer;
}

}  // namespace peerlab::bootstrap
