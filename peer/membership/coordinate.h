// Network coordinates: Vivaldi, as Serf's `coordinate` package computes
// them (Dabek et al., "Vivaldi: A Decentralized Network Coordinate System",
// with the height vector, the adjustment term and the gravity of Ledlie
// et al., "Network Coordinates in the Wild"). Each node places itself in
// a Euclidean space plus a height so that the distance between two nodes'
// coordinates estimates the round-trip time between them; it moves its
// coordinate a little after every probe, from the measured RTT and the
// probed member's coordinate (which rides on the member's ack).
//
// Units are seconds, as in Serf. Pure code: no I/O, no clock (the caller
// measures RTTs), randomness only from a seeded generator.
//
// Thread safety: none; a CoordinateClient belongs to one node's scheduler.
#ifndef PEERLAB_PEER_MEMBERSHIP_COORDINATE_H_
#define PEERLAB_PEER_MEMBERSHIP_COORDINATE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peer/membership/config.h"
#include "peer/membership/random.h"

namespace peerlab::membership {

// CoordinateConfig (Serf's coordinate.DefaultConfig()) is in config.h:
// Config::coordinate.

// Anything farther than this from the origin (any component of `vec`,
// `height`, |`adjustment`|) is refused from the wire: no RTT this code
// takes (at most kMaxRtt) places a coordinate anywhere near it.
inline constexpr double kMaxCoordinateSeconds = 10.0;
// RTTs outside [0, kMaxRtt] are refused (Serf's bound).
inline constexpr absl::Duration kMaxRtt = absl::Seconds(10);

struct Coordinate {
  std::vector<double> vec;
  double error = 0;
  double adjustment = 0;
  double height = 0;

  // At the origin, with the largest error (a node that knows nothing).
  static Coordinate Origin(const CoordinateConfig& config);
  // Every field finite.
  bool IsFinite() const;
  // The estimated RTT to `other`: |vec - other.vec| + both heights, plus
  // both adjustments when that stays positive. REQUIRES: same dimension.
  absl::Duration DistanceTo(const Coordinate& other) const;
  // DistanceTo without the adjustments, in seconds.
  double RawDistanceTo(const Coordinate& other) const;
  bool operator==(const Coordinate& o) const {
    return vec == o.vec && error == o.error && adjustment == o.adjustment &&
           height == o.height;
  }
};

// Whether `c` (from the wire, or from anyone) may be used with `config`'s
// coordinates: the same dimension, every field finite, error within
// [0, vivaldi_error_max], height within [height_min, kMaxCoordinateSeconds],
// |adjustment| and every |vec[i]| at most kMaxCoordinateSeconds.
// InvalidArgument naming what is wrong. Checked before any arithmetic.
absl::Status CheckCoordinate(const Coordinate& c,
                             const CoordinateConfig& config);

// One node's Vivaldi client (Serf's coordinate.Client) and its cache of
// the coordinates members sent it: the filter of each member's last RTTs,
// and the member's last coordinate. Holds at most `max_nodes` members;
// when full, a new one replaces the one updated longest ago (counted).
class CoordinateClient {
 public:
  // REQUIRES: config.Validate().ok(), max_nodes > 0.
  CoordinateClient(CoordinateConfig config, size_t max_nodes, uint64_t seed);

  const CoordinateConfig& config() const { return config_; }
  // This node's coordinate.
  const Coordinate& coordinate() const { return coord_; }

  // One observation: member `node`, whose coordinate is `other`, answered
  // a probe after `rtt`. Moves this node's coordinate (latency filter,
  // Vivaldi, adjustment, gravity; back to the origin if it ever stops
  // being finite: resets()) and caches `other` as `node`'s. Changes
  // nothing on an error: InvalidArgument for a coordinate CheckCoordinate
  // refuses or an RTT outside [0, kMaxRtt] (both counted in rejected()).
  absl::Status Update(const std::string& node, const Coordinate& other,
                      absl::Duration rtt);

  // Drops what is known of `node` (it left, was declared dead or was
  // forgotten, or a new process took its name).
  void Forget(absl::string_view node);

  // `node`'s last coordinate, or nullptr.
  const Coordinate* CoordinateOf(absl::string_view node) const;
  // The median of `node`'s filtered RTTs (what the probes measured), or
  // nullopt when none.
  std::optional<absl::Duration> MeasuredRtt(absl::string_view node) const;
  // Every cached member's coordinate, by name.
  std::vector<std::pair<std::string, Coordinate>> Cached() const;

  size_t size() const { return nodes_.size(); }
  uint64_t updates() const { return updates_; }
  uint64_t rejected() const { return rejected_; }
  uint64_t resets() const { return resets_; }
  uint64_t evicted() const { return evicted_; }

 private:
  struct Entry {
    Coordinate coord;
    std::vector<double> samples;  // last RTTs (seconds), oldest first
    uint64_t last_update = 0;     // updates_ when it was last updated
  };
  // Appends `rtt` to `entry`'s filter; returns the median.
  double Filter(Entry& entry, double rtt) const;
  void UpdateVivaldi(const Coordinate& other, double rtt);
  void UpdateAdjustment(const Coordinate& other, double rtt);
  void UpdateGravity();
  // Moves coord_ by `force` along the unit vector from `other` to coord_.
  void ApplyForce(double force, const Coordinate& other);

  CoordinateConfig config_;
  size_t max_nodes_;
  Random rng_;
  Coordinate coord_;
  Coordinate origin_;
  std::vector<double> adjustment_samples_;
  size_t adjustment_index_ = 0;
  absl::flat_hash_map<std::string, Entry> nodes_;
  uint64_t updates_ = 0;
  uint64_t rejected_ = 0;
  uint64_t resets_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_COORDINATE_H_
