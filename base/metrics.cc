#include "base/metrics.h"

#include <charconv>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"

namespace peerlab::metrics {
namespace {

bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8Length(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
      (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      const size_t n = Utf8Length(text, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD
        ++i;
        continue;
      }
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
  return out;
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

bool LabelsValid(const Labels& labels) {
  for (const auto& [name, value] : labels) {
    if (!CheckLabelName(name).ok()) return false;
  }
  return true;
}

void AppendLabels(std::string& out, const Labels& labels,
                  const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    absl::StrAppend(&out, name, "=\"", EscapeLabelValue(value), "\"");
  }
  if (le != nullptr) {
    if (!first) out += ',';
    absl::StrAppend(&out, "le=\"", *le, "\"");
  }
  out += '}';
}

bool BoundsValid(const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return false;
    if (i > 0 && !(bounds[i - 1] < bounds[i])) return false;
  }
  return true;
}

}  // namespace

absl::Status CheckMetricName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty metric name");
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(IsAlpha(c) || c == ':' || (i > 0 && IsDigit(c)))) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric name '", Escape(name, true),
                       "' is not [a-zA-Z_:][a-zA-Z0-9_:]*"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLabelName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty label name");
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(IsAlpha(c) || (i > 0 && IsDigit(c)))) {
      return absl::InvalidArgumentError(
          absl::StrCat("label name '", Escape(name, true),
                       "' is not [a-zA-Z_][a-zA-Z0-9_]*"));
    }
  }
  if (name.starts_with("__")) {
    return absl::InvalidArgumentError(
        absl::StrCat("label name '", std::string(name),
                     "' starts with __ (reserved by Prometheus)"));
  }
  if (name == "le") {
    return absl::InvalidArgumentError(
        "label name 'le' is reserved for histogram buckets");
  }
  return absl::OkStatus();
}

std::string EscapeLabelValue(std::string_view value) {
  return Escape(value, true);
}

std::string EscapeHelp(std::string_view help) { return Escape(help, false); }

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

std::string RenderText(const std::vector<Family>& families) {
  std::string out;
  for (const Family& f : families) {
    if (!CheckMetricName(f.name).ok()) continue;
    bool labels_ok = true;
    for (const Sample& s : f.samples) labels_ok &= LabelsValid(s.labels);
    for (const HistogramSample& h : f.histograms) {
      labels_ok &= LabelsValid(h.labels);
    }
    if (!labels_ok) continue;
    if (!f.help.empty()) {
      absl::StrAppend(&out, "# HELP ", f.name, " ", EscapeHelp(f.help), "\n");
    }
    absl::StrAppend(&out, "# TYPE ", f.name, " ", TypeName(f.type), "\n");
    if (f.type != Type::kHistogram) {
      for (const Sample& s : f.samples) {
        out += f.name;
        AppendLabels(out, s.labels);
        absl::StrAppend(&out, " ", FormatValue(s.value), "\n");
      }
      continue;
    }
    for (const HistogramSample& h : f.histograms) {
      for (size_t i = 0; i < h.bounds.size(); ++i) {
        const std::string le = FormatValue(h.bounds[i]);
        absl::StrAppend(&out, f.name, "_bucket");
        AppendLabels(out, h.labels, &le);
        const uint64_t n = i < h.bucket_counts.size() ? h.bucket_counts[i] : 0;
        absl::StrAppend(&out, " ", n, "\n");
      }
      const std::string inf = "+Inf";
      absl::StrAppend(&out, f.name, "_bucket");
      AppendLabels(out, h.labels, &inf);
      absl::StrAppend(&out, " ", h.count, "\n");
      absl::StrAppend(&out, f.name, "_sum");
      AppendLabels(out, h.labels);
      absl::StrAppend(&out, " ", FormatValue(h.sum), "\n");
      absl::StrAppend(&out, f.name, "_count");
      AppendLabels(out, h.labels);
      absl::StrAppend(&out, " ", h.count, "\n");
    }
  }
  return out;
}

std::vector<double> DefaultLatencyBounds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void Counter::Increment(double by) {
  if (!(by >= 0)) return;  // also NaN
  value_.fetch_add(by, std::memory_order_relaxed);
}

void Gauge::Add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[i];
  sum_ += value;
  ++count_;
}

HistogramSample Histogram::Snapshot() const {
  HistogramSample s;
  s.bounds = bounds_;
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += counts_[i];
    s.bucket_counts.push_back(running);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

namespace {

template <typename T>
std::unique_ptr<T> MakeSeries(const std::vector<double>& bounds);
template <>
std::unique_ptr<Counter> MakeSeries(const std::vector<double>&) {
  return std::make_unique<Counter>();
}
template <>
std::unique_ptr<Gauge> MakeSeries(const std::vector<double>&) {
  return std::make_unique<Gauge>();
}
template <>
std::unique_ptr<Histogram> MakeSeries(const std::vector<double>& bounds) {
  return std::make_unique<Histogram>(bounds);
}

Labels LabelsOf(const std::vector<std::string>& names,
                const std::vector<std::string>& values) {
  Labels labels;
  for (size_t i = 0; i < names.size(); ++i) {
    labels.emplace_back(names[i], values[i]);
  }
  return labels;
}

}  // namespace

template <typename T>
T& FamilyOf<T>::WithLabels(const std::vector<std::string>& given) {
  std::vector<std::string> values(label_names_.size());
  for (size_t i = 0; i < values.size() && i < given.size(); ++i) {
    values[i] = given[i];
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  if (series_.size() >= max_series_) {
    registry_->CountOverflow();
    values.assign(label_names_.size(), "_other");
    it = series_.find(values);
    if (it != series_.end()) return *it->second;
  }
  return *series_.emplace(std::move(values), MakeSeries<T>(bounds_))
              .first->second;
}

template <typename T>
Family FamilyOf<T>::Snapshot() const {
  Family f;
  f.name = name_;
  f.help = help_;
  f.type = type_;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, series] : series_) {
    if constexpr (std::is_same_v<T, Histogram>) {
      HistogramSample h = series->Snapshot();
      h.labels = LabelsOf(label_names_, values);
      f.histograms.push_back(std::move(h));
    } else {
      f.samples.push_back({LabelsOf(label_names_, values), series->Value()});
    }
  }
  return f;
}

template class FamilyOf<Counter>;
template class FamilyOf<Gauge>;
template class FamilyOf<Histogram>;

Registry::Registry() {
  names_ = {"peerlab_metrics_series_overflow_total",
            "peerlab_metrics_collect_errors_total"};
}

absl::Status Registry::Reserve(const std::string& name,
                               const std::vector<std::string>& label_names) {
  if (auto s = CheckMetricName(name); !s.ok()) return s;
  std::set<std::string> seen;
  for (const std::string& label : label_names) {
    if (auto s = CheckLabelName(label); !s.ok()) return s;
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", name, ": label ", label, " twice"));
    }
  }
  for (const std::string& n : names_) {
    if (n == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("metric ", name, " is registered already"));
    }
  }
  names_.push_back(name);
  return absl::OkStatus();
}

absl::StatusOr<CounterFamily*> Registry::AddCounter(
    const std::string& name, const std::string& help,
    std::vector<std::string> label_names, size_t max_series) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = Reserve(name, label_names); !s.ok()) return s;
  auto* f = new CounterFamily(this, name, help, Type::kCounter,
                              std::move(label_names), {}, max_series);
  counters_.emplace_back(f);
  pushed_.push_back([f] { return f->Snapshot(); });
  return f;
}

absl::StatusOr<GaugeFamily*> Registry::AddGauge(
    const std::string& name, const std::string& help,
    std::vector<std::string> label_names, size_t max_series) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = Reserve(name, label_names); !s.ok()) return s;
  auto* f = new GaugeFamily(this, name, help, Type::kGauge,
                            std::move(label_names), {}, max_series);
  gauges_.emplace_back(f);
  pushed_.push_back([f] { return f->Snapshot(); });
  return f;
}

absl::StatusOr<HistogramFamily*> Registry::AddHistogram(
    const std::string& name, const std::string& help,
    std::vector<std::string> label_names, std::vector<double> bounds,
    size_t max_series) {
  if (!BoundsValid(bounds)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "histogram ", name, ": bounds must be finite and ascending"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = Reserve(name, label_names); !s.ok()) return s;
  auto* f = new HistogramFamily(this, name, help, Type::kHistogram,
                                std::move(label_names), std::move(bounds),
                                max_series);
  histograms_.emplace_back(f);
  pushed_.push_back([f] { return f->Snapshot(); });
  return f;
}

void Registry::AddCollector(Collector collector) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<Family> Registry::Collect() const {
  std::vector<std::function<Family()>> pushed;
  std::vector<Collector> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pushed = pushed_;
    collectors = collectors_;
  }
  std::vector<Family> out;
  std::set<std::string> names;
  for (const auto& snapshot : pushed) {
    out.push_back(snapshot());
    names.insert(out.back().name);
  }
  for (const Collector& collector : collectors) {
    for (Family& f : collector()) {
      bool ok = CheckMetricName(f.name).ok() && !names.contains(f.name);
      for (const Sample& s : f.samples) ok &= LabelsValid(s.labels);
      for (const HistogramSample& h : f.histograms) {
        ok &= LabelsValid(h.labels) && BoundsValid(h.bounds);
      }
      if (!ok) {
        collect_errors_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      names.insert(f.name);
      out.push_back(std::move(f));
    }
  }
  out.push_back(CounterOf(
      "peerlab_metrics_series_overflow_total",
      "label value combinations past a family's bound, counted as _other",
      static_cast<double>(series_overflow())));
  out.push_back(CounterOf(
      "peerlab_metrics_collect_errors_total",
      "collected families skipped for an invalid or repeated name or label",
      static_cast<double>(collect_errors_.load(std::memory_order_relaxed))));
  return out;
}

std::string Registry::Render() const { return RenderText(Collect()); }

std::vector<Family> FamiliesOf(const MetricSamples& samples) {
  std::vector<Family> out;
  std::map<std::string, size_t> index;
  for (const MetricSample& sample : samples) {
    std::string name;
    for (size_t i = 0; i < sample.name.size(); ++i) {
      const char c = sample.name[i];
      name += IsAlpha(c) || c == ':' || (i > 0 && IsDigit(c)) ? c : '_';
    }
    const bool counter = sample.kind == MetricSample::Kind::kCounter;
    if (counter && !name.ends_with("_total")) name += "_total";
    auto [it, added] = index.emplace(name, out.size());
    if (added) {
      out.push_back(
          {name, sample.help, counter ? Type::kCounter : Type::kGauge, {}, {}});
    }
    out[it->second].samples.push_back({sample.labels, sample.value});
  }
  return out;
}

Family CounterOf(std::string name, std::string help, double value) {
  Family f{std::move(name), std::move(help), Type::kCounter, {}, {}};
  f.samples.push_back({{}, value});
  return f;
}

Family GaugeOf(std::string name, std::string help, double value) {
  Family f{std::move(name), std::move(help), Type::kGauge, {}, {}};
  f.samples.push_back({{}, value});
  return f;
}

}  // namespace peerlab::metrics
