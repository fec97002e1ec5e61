// MetricSample: one named value of a program's statistics, as the `stats`
// commands, the agent's Stats RPC and the Prometheus export all see it.
// Producers (the membership library's StatsSnapshot, the bootstrap
// server, the coordinator) return a list of samples; renderers turn it
// into lines, JSON or the Prometheus text format. Header only, no
// dependencies beyond the standard library and absl strings.
//
// Names are dotted, as HashiCorp's go-metrics names them
// ("memberlist.msg.alive", "memberlist.health.score"); a Prometheus
// renderer maps '.' to '_' (and may add "_total" to counters). Every
// sample of one name has the same kind and help, and the same label
// names (their values differ).
#ifndef PEERLAB_BASE_METRIC_SAMPLE_H_
#define PEERLAB_BASE_METRIC_SAMPLE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace peerlab {

struct MetricSample {
  enum class Kind {
    kCounter,  // only grows while the process (or node) lives
    kGauge,    // a level: goes up and down
  };
  std::string name;  // dotted: "memberlist.udp.sent"
  Kind kind = Kind::kCounter;
  // (label name, value) pairs in a fixed order, e.g. {"kind", "ping"}.
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
  std::string help;  // one line, the same for every sample of `name`
};

using MetricSamples = std::vector<MetricSample>;

inline const char* MetricKindName(MetricSample::Kind kind) {
  return kind == MetricSample::Kind::kCounter ? "counter" : "gauge";
}

// `name{k="v",k2="v2"} value` (labels only when there are some; integral
// values without a fraction), the line the `stats` commands print.
inline std::string FormatMetricSample(const MetricSample& s) {
  std::string out = s.name;
  if (!s.labels.empty()) {
    out += '{';
    for (size_t i = 0; i < s.labels.size(); ++i) {
      if (i > 0) out += ',';
      absl::StrAppend(&out, s.labels[i].first, "=\"", s.labels[i].second, "\"");
    }
    out += '}';
  }
  if (s.value == static_cast<double>(static_cast<long long>(s.value))) {
    absl::StrAppend(&out, " ", static_cast<long long>(s.value));
  } else {
    absl::StrAppend(&out, " ", absl::StrFormat("%.6g", s.value));
  }
  return out;
}

}  // namespace peerlab

#endif  // PEERLAB_BASE_METRIC_SAMPLE_H_
