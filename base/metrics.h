// Prometheus metrics: a small registry of counters, gauges and histograms
// with labels, and a pure renderer to the Prometheus text format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Below every component: abseil only (no gRPC, no spdlog, no HTTP). The
// programs serve a Registry's Render() over HTTP (base/http_server.h,
// base/metrics_endpoint.h).
//
// Two ways in:
//   - pushed: a family made once (Registry::AddCounter/AddGauge/
//     AddHistogram), its series updated by any thread (lock-free counters
//     and gauges; a histogram takes a short mutex);
//   - pulled: a Collector, called at every scrape, that returns families
//     built from a snapshot (the peer's membership and chat statistics,
//     which live on their own loops).
//
// Every name is checked: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label
// names [a-zA-Z_][a-zA-Z0-9_]* not starting with "__". Label values and
// help texts are escaped when rendered (\\, \", \n; invalid UTF-8 bytes
// become U+FFFD), so a value that came from the network cannot forge a
// line. The number of series of a family is bounded (max_series): label
// values beyond it go to one series whose values are all "_other", and the
// registry counts them (peerlab_metrics_series_overflow_total).
#ifndef PEERLAB_BASE_METRICS_H_
#define PEERLAB_BASE_METRICS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/metric_sample.h"

namespace peerlab::metrics {

enum class Type { kCounter, kGauge, kHistogram };

// Label names and values of one series, in the family's label order.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A counter or gauge value.
struct Sample {
  Labels labels;
  double value = 0;
};

// One histogram series: `bucket_counts[i]` observations <= bounds[i]
// (cumulative, as the format wants), then +Inf is `count`.
struct HistogramSample {
  Labels labels;
  std::vector<double> bounds;           // ascending, finite
  std::vector<uint64_t> bucket_counts;  // cumulative, one per bound
  double sum = 0;
  uint64_t count = 0;
};

// A snapshot of one metric family: what the renderer takes.
struct Family {
  std::string name;
  std::string help;
  Type type = Type::kCounter;
  std::vector<Sample> samples;              // counter, gauge
  std::vector<HistogramSample> histograms;  // histogram
};

// OK, or InvalidArgument naming the name and the rule it breaks.
absl::Status CheckMetricName(std::string_view name);
absl::Status CheckLabelName(std::string_view name);

// Escaping as the text format wants: label values escape \ " and newline;
// help texts \ and newline. Invalid UTF-8 bytes become U+FFFD.
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);

// A sample value: integers below 2^53 without exponent or fraction
// ("42"), "+Inf", "-Inf", "NaN", others in the shortest form that reads
// back exactly ("0.25", "1e-05").
std::string FormatValue(double value);

// The text format 0.0.4 of `families`, in the given order: "# HELP", "#
// TYPE", then one line per sample ("name{l=\"v\"} value"); histograms as
// name_bucket{…,le="B"} (cumulative, ending with le="+Inf"), name_sum,
// name_count. A family whose name or a label name is invalid is left out
// (its name is not trusted to be printable). Pure; thread-safe.
std::string RenderText(const std::vector<Family>& families);

// The Content-Type of RenderText's output.
inline constexpr char kContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

// Default histogram bounds for latencies in seconds (Prometheus' defaults).
std::vector<double> DefaultLatencyBounds();

// A counter series: only goes up. Thread-safe, lock-free.
class Counter {
 public:
  // REQUIRES: by >= 0 (a negative amount is ignored).
  void Increment(double by = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A gauge series: set, or moved either way. Thread-safe, lock-free.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A histogram series. Thread-safe (one mutex per series).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Bounds, cumulative counts, sum and count as one consistent snapshot.
  HistogramSample Snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; + overflow
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Registry;

// A family of series of one kind, one per combination of label values.
// Owned by its Registry (pointers stay valid as long as it lives);
// thread-safe. `WithLabels` takes one value per label name, in order
// (missing values are "", extra ones ignored); past max_series new
// combinations share the "_other" series.
template <typename T>
class FamilyOf {
 public:
  T& WithLabels(const std::vector<std::string>& values);
  // The series without labels (for a family declared with none).
  T& Get() { return WithLabels({}); }

 private:
  friend class Registry;
  FamilyOf(Registry* registry, std::string name, std::string help, Type type,
           std::vector<std::string> label_names, std::vector<double> bounds,
           size_t max_series)
      : registry_(registry),
        name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)),
        max_series_(max_series) {}
  Family Snapshot() const;

  Registry* const registry_;
  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  const size_t max_series_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
};

using CounterFamily = FamilyOf<Counter>;
using GaugeFamily = FamilyOf<Gauge>;
using HistogramFamily = FamilyOf<Histogram>;

// A Collector returns families built at scrape time. It runs on the
// scraping thread, must not call back into the registry, and should be
// quick (the HTTP request waits for it).
using Collector = std::function<std::vector<Family>()>;

// The metrics of one program. Thread-safe: families are added at start
// (usually) and updated and rendered from any thread.
class Registry {
 public:
  // Series per family before new label values share the "_other" series.
  static constexpr size_t kDefaultMaxSeries = 1000;

  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // A new family. InvalidArgument for an invalid metric or label name, a
  // histogram's bounds not ascending and finite; AlreadyExists for a name
  // the registry has (pushed or from AddCollector's `names`).
  absl::StatusOr<CounterFamily*> AddCounter(
      const std::string& name, const std::string& help,
      std::vector<std::string> label_names = {},
      size_t max_series = kDefaultMaxSeries);
  absl::StatusOr<GaugeFamily*> AddGauge(
      const std::string& name, const std::string& help,
      std::vector<std::string> label_names = {},
      size_t max_series = kDefaultMaxSeries);
  absl::StatusOr<HistogramFamily*> AddHistogram(
      const std::string& name, const std::string& help,
      std::vector<std::string> label_names, std::vector<double> bounds,
      size_t max_series = kDefaultMaxSeries);

  // Adds a collector; its families are rendered after the pushed ones, in
  // the order collectors were added. A collected family whose name is
  // invalid or already rendered is skipped (counted in
  // peerlab_metrics_collect_errors_total).
  void AddCollector(Collector collector);

  // Every family: pushed ones (in the order added), then the collectors',
  // then the registry's own two counters.
  std::vector<Family> Collect() const;
  // RenderText(Collect()).
  std::string Render() const;

  // Series refused for max_series (they went to "_other").
  uint64_t series_overflow() const {
    return overflow_.load(std::memory_order_relaxed);
  }

 private:
  template <typename T>
  friend class FamilyOf;

  absl::Status Reserve(const std::string& name,
                       const std::vector<std::string>& label_names);
  void CountOverflow() { overflow_.fetch_add(1, std::memory_order_relaxed); }

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<CounterFamily>> counters_;
  std::vector<std::unique_ptr<GaugeFamily>> gauges_;
  std::vector<std::unique_ptr<HistogramFamily>> histograms_;
  std::vector<std::function<Family()>> pushed_;  // snapshots, in order
  std::vector<std::string> names_;
  std::vector<Collector> collectors_;
  std::atomic<uint64_t> overflow_{0};
  mutable std::atomic<uint64_t> collect_errors_{0};
};

// The families of dotted samples (base/metric_sample.h: the membership's
// StatsSnapshot, memberlist's names): '.' and other characters a metric
// name may not have become '_', counters get "_total" ("memberlist.msg.
// alive" -> memberlist_msg_alive_total); samples of one name make one
// family, in the order their names first appear. Pure.
std::vector<Family> FamiliesOf(const MetricSamples& samples);

// Helpers for collectors: a family with one unlabelled sample, or samples.
Family CounterOf(std::string name, std::string help, double value);
Family GaugeOf(std::string name, std::string help, double value);

}  // namespace peerlab::metrics

#endif  // PEERLAB_BASE_METRICS_H_
