#include "peer/membership/coordinate.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace peerlab::membership {
namespace {

// Below this, a distance or an RTT counts as zero (Serf's threshold).
constexpr double kZero = 1.0e-6;

bool Finite(double v) { return std::isfinite(v); }

double Magnitude(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
}

}  // namespace

absl::Status CoordinateConfig::Validate() const {
  auto positive = [](const char* name, double v) -> absl::Status {
    if (Finite(v) && v > 0) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("coordinate ", name, " must be positive, got ", v));
  };
  if (dimensionality < 1 || dimensionality > 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "coordinate dimensionality must be 1..16, got ", dimensionality));
  }
  if (latency_filter_size < 1 || latency_filter_size > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinate latency_filter_size must be 1..256, got ",
                     latency_filter_size));
  }
  if (adjustment_window_size < 1 || adjustment_window_size > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinate adjustment_window_size must be 1..256, got ",
                     adjustment_window_size));
  }
  for (const auto& [name, v] :
       {std::pair<const char*, double>{"vivaldi_error_max", vivaldi_error_max},
        {"vivaldi_ce", vivaldi_ce},
        {"vivaldi_cc", vivaldi_cc},
        {"height_min", height_min},
        {"gravity_rho", gravity_rho}}) {
    if (auto s = positive(name, v); !s.ok()) return s;
  }
  if (height_min > kMaxCoordinateSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinate height_min must be at most ",
                     kMaxCoordinateSeconds, " s, got ", height_min));
  }
  return absl::OkStatus();
}

Coordinate Coordinate::Origin(const CoordinateConfig& config) {
  Coordinate c;
  c.vec.assign(config.dimensionality, 0.0);
  c.error = config.vivaldi_error_max;
  c.height = config.height_min;
  return c;
}

bool Coordinate::IsFinite() const {
  for (double v : vec) {
    if (!Finite(v)) return false;
  }
  return Finite(error) && Finite(adjustment) && Finite(height);
}

double Coordinate::RawDistanceTo(const Coordinate& other) const {
  double sum = 0;
  for (size_t i = 0; i < vec.size(); ++i) {
    const double d = vec[i] - other.vec[i];
    sum += d * d;
  }
  return std::sqrt(sum) + height + other.height;
}

absl::Duration Coordinate::DistanceTo(const Coordinate& other) const {
  double dist = RawDistanceTo(other);
  const double adjusted = dist + adjustment + other.adjustment;
  if (adjusted > 0) dist = adjusted;
  return absl::Seconds(dist);
}

absl::Status CheckCoordinate(const Coordinate& c,
                             const CoordinateConfig& config) {
  if (static_cast<int>(c.vec.size()) != config.dimensionality) {
    return absl::InvalidArgumentError(absl::StrCat("coordinate of dimension ",
                                                   c.vec.size(), ", expected ",
                                                   config.dimensionality));
  }
  if (!c.IsFinite()) {
    return absl::InvalidArgumentError("coordinate has a non-finite field");
  }
  for (double v : c.vec) {
    if (std::abs(v) > kMaxCoordinateSeconds) {
      return absl::InvalidArgumentError(
          absl::StrCat("coordinate component ", v, " s out of range (at most ",
                       kMaxCoordinateSeconds, " s)"));
    }
  }
  if (c.error < 0 || c.error > config.vivaldi_error_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinate error ", c.error, " out of range [0, ",
                     config.vivaldi_error_max, "]"));
  }
  if (c.height < config.height_min || c.height > kMaxCoordinateSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinate height ", c.height, " s out of range [",
                     config.height_min, ", ", kMaxCoordinateSeconds, "]"));
  }
  if (std::abs(c.adjustment) > kMaxCoordinateSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "coordinate adjustment ", c.adjustment, " s out of range"));
  }
  return absl::OkStatus();
}

CoordinateClient::CoordinateClient(CoordinateConfig config, size_t max_nodes,
                                   uint64_t seed)
    : config_(config),
      max_nodes_(std::max<size_t>(max_nodes, 1)),
      rng_(seed),
      coord_(Coordinate::Origin(config_)),
      origin_(Coordinate::Origin(config_)),
      adjustment_samples_(config_.adjustment_window_size, 0.0) {}

double CoordinateClient::Filter(Entry& entry, double rtt) const {
  entry.samples.push_back(rtt);
  if (entry.samples.size() > static_cast<size_t>(config_.latency_filter_size)) {
    entry.samples.erase(entry.samples.begin());
  }
  std::vector<double> sorted = entry.samples;
  std::sort(sorted.begin(), sorted.end());
  return sorted[sorted.size() / 2];
}

void CoordinateClient::ApplyForce(double force, const Coordinate& other) {
  const size_t n = coord_.vec.size();
  std::vector<double> unit(n);
  for (size_t i = 0; i < n; ++i) unit[i] = coord_.vec[i] - other.vec[i];
  double mag = Magnitude(unit);
  if (mag > kZero) {
    for (double& u : unit) u /= mag;
  } else {
    // The same place: push in a random direction (and leave the height).
    mag = 0;
    for (double& u : unit) u = rng_.UniformDouble() - 0.5;
    const double m = Magnitude(unit);
    if (m > kZero) {
      for (double& u : unit) u /= m;
    } else {
      std::fill(unit.begin(), unit.end(), 0.0);
      unit[0] = 1.0;
    }
  }
  for (size_t i = 0; i < n; ++i) coord_.vec[i] += unit[i] * force;
  if (mag > kZero) {
    coord_.height =
        std::max((coord_.height + other.height) * force / mag + coord_.height,
                 config_.height_min);
  }
}

void CoordinateClient::UpdateVivaldi(const Coordinate& other, double rtt) {
  const double dist = absl::ToDoubleSeconds(coord_.DistanceTo(other));
  rtt = std::max(rtt, kZero);
  const double wrongness = std::abs(dist - rtt) / rtt;
  const double total = std::max(coord_.error + other.error, kZero);
  const double weight = coord_.error / total;
  coord_.error =
      std::min(config_.vivaldi_ce * weight * wrongness +
                   coord_.error * (1.0 - config_.vivaldi_ce * weight),
               config_.vivaldi_error_max);
  ApplyForce(config_.vivaldi_cc * weight * (rtt - dist), other);
}

void CoordinateClient::UpdateAdjustment(const Coordinate& other, double rtt) {
  adjustment_samples_[adjustment_index_] = rtt - coord_.RawDistanceTo(other);
  adjustment_index_ = (adjustment_index_ + 1) % adjustment_samples_.size();
  double sum = 0;
  for (double s : adjustment_samples_) sum += s;
  coord_.adjustment = sum / (2.0 * adjustment_samples_.size());
}

void CoordinateClient::UpdateGravity() {
  const double dist = absl::ToDoubleSeconds(origin_.DistanceTo(coord_));
  const double ratio = dist / config_.gravity_rho;
  ApplyForce(-ratio * ratio, origin_);
}

absl::Status CoordinateClient::Update(const std::string& node,
                                      const Coordinate& other,
                                      absl::Duration rtt) {
  if (auto s = CheckCoordinate(other, config_); !s.ok()) {
    ++rejected_;
    return s;
  }
  if (rtt < absl::ZeroDuration() || rtt > kMaxRtt) {
    ++rejected_;
    return absl::InvalidArgumentError(
        absl::StrCat("round-trip time ", absl::FormatDuration(rtt),
                     " out of range [0, ", absl::FormatDuration(kMaxRtt), "]"));
  }
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    if (nodes_.size() >= max_nodes_) {
      auto oldest = nodes_.begin();
      for (auto i = nodes_.begin(); i != nodes_.end(); ++i) {
        if (i->second.last_update < oldest->second.last_update) oldest = i;
      }
      nodes_.erase(oldest);
      ++evicted_;
    }
    it = nodes_.emplace(node, Entry()).first;
  }
  Entry& entry = it->second;
  const double filtered = Filter(entry, absl::ToDoubleSeconds(rtt));
  UpdateVivaldi(other, filtered);
  UpdateAdjustment(other, filtered);
  UpdateGravity();
  if (!coord_.IsFinite()) {
    ++resets_;
    coord_ = Coordinate::Origin(config_);
  }
  entry.coord = other;
  entry.last_update = ++updates_;
  return absl::OkStatus();
}

void CoordinateClient::Forget(absl::string_view node) { nodes_.erase(node); }

const Coordinate* CoordinateClient::CoordinateOf(absl::string_view node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? nullptr : &it->second.coord;
}

std::optional<absl::Duration> CoordinateClient::MeasuredRtt(
    absl::string_view node) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end() || it->second.samples.empty()) return std::nullopt;
  std::vector<double> sorted = it->second.samples;
  std::sort(sorted.begin(), sorted.end());
  return absl::Seconds(sorted[sorted.size() / 2]);
}

std::vector<std::pair<std::string, Coordinate>> CoordinateClient::Cached()
    const {
  std::vector<std::pair<std::string, Coordinate>> out;
  out.reserve(nodes_.size());
  for (const auto& [name, entry] : nodes_) out.emplace_back(name, entry.coord);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace peerlab::membership
