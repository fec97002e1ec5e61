#include "peer/membership/tool/sim_plot.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/xml_escape.h"

namespace peerlab::membership::tool {
namespace {

constexpr double kWidth = 960, kLeft = 80, kRight = 24, kTop = 56;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr size_t kMaxPoints = 2000;

// The smallest 1, 2 or 5 times a power of ten that is >= v (v > 0).
double NiceCeil(double v) {
  if (!(v > 0)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= v * (1 - 1e-9)) return m * p;
  }
  return 10 * p;
}

// "1.2k" style labels for axes.
std::string Short(double v) {
  if (v >= 1e6) return absl::StrFormat("%gM", v / 1e6);
  if (v >= 1e3) return absl::StrFormat("%gk", v / 1e3);
  return absl::StrFormat("%g", v);
}

struct Panel {
  double top, height, ymax;
  double Y(double v) const {
    return top + height - std::clamp(v / ymax, 0.0, 1.0) * height;
  }
};

class Plot {
 public:
  Plot(double t0, double t1) : t0_(t0), t1_(t1 > t0 ? t1 : t0 + 1) {}
  double X(double t) const {
    return kLeft + (t - t0_) / (t1_ - t0_) * kPlotWidth;
  }

  // Frame, y ticks and labels, the title of a panel, and the fault spans.
  void Frame(std::string* out, const Panel& p, const std::string& title,
             const std::vector<FaultSpan>& spans) const {
    for (const FaultSpan& s : spans) {
      const double a = X(std::max(s.from, t0_)), b = X(std::min(s.to, t1_));
      if (b <= a) continue;
      absl::StrAppendFormat(out,
                            "<rect class=\"fault\" x=\"%.1f\" y=\"%.1f\" "
                            "width=\"%.1f\" height=\"%.1f\" fill=\"#ddd\"/>\n",
                            a, p.top, b - a, p.height);
    }
    absl::StrAppendFormat(out,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                          "height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
                          kLeft, p.top, kPlotWidth, p.height);
    for (int k = 0; k <= 4; ++k) {
      const double v = p.ymax * k / 4, y = p.Y(v);
      absl::StrAppendFormat(out,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                            "y2=\"%.1f\" stroke=\"#eee\"/>\n"
                            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                            "text-anchor=\"end\">%s</text>\n",
                            kLeft, y, kLeft + kPlotWidth, y, kLeft - 6, y + 4,
                            Short(v));
    }
    absl::StrAppendFormat(out,
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" "
                          "font-weight=\"bold\">%s</text>\n",
                          kLeft, p.top - 8, XmlEscape(title));
  }

  // Time ticks under the last panel.
  void TimeAxis(std::string* out, double y) const {
    const double step = NiceCeil((t1_ - t0_) / 8);
    for (double t = std::ceil(t0_ / step) * step; t <= t1_ + 1e-9; t += step) {
      absl::StrAppendFormat(out,
                            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                            "text-anchor=\"middle\">%g</text>\n",
                            X(t), y + 14, t);
    }
    absl::StrAppendFormat(out,
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                          "text-anchor=\"middle\">simulated seconds</text>\n",
                          kLeft + kPlotWidth / 2, y + 30);
  }

 private:
  double t0_, t1_;
};

// A legend entry at (x, y).
void Legend(std::string* out, double x, double y, const char* color,
            const std::string& label) {
  absl::StrAppendFormat(out,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" "
                        "height=\"10\" fill=\"%s\"/>\n"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s"
                        "</text>\n",
                        x, y - 9, color, x + 14, y, XmlEscape(label));
}

}  // namespace

std::string RenderSvg(const SimRunResult& r) {
  const SimRunOptions& o = r.options;
  // Thin the samples evenly to at most kMaxPoints.
  std::vector<const SimSample*> s;
  const size_t stride = r.samples.size() <= kMaxPoints
                            ? 1
                            : (r.samples.size() + kMaxPoints - 1) / kMaxPoints;
  for (size_t i = 0; i < r.samples.size(); i += stride) {
    s.push_back(&r.samples[i]);
  }
  const double t0 = 0, t1 = absl::ToDoubleSeconds(r.sim_time);
  const Plot plot(t0, t1);

  // Panel 1 shows the healthy members' views of the faulty members when
  // the run has any (a flip-flop is then plain to see), else the average
  // healthy member's view of everybody.
  bool of_faulty = false;
  for (const SimSample* p : s) {
    of_faulty |= p->faulty_alive + p->faulty_suspect + p->faulty_removed > 0;
  }
  auto layer_value = [of_faulty](const SimSample& p, int k) {
    if (of_faulty) {
      return double(k == 0   ? p.faulty_alive
                    : k == 1 ? p.faulty_suspect
                             : p.faulty_removed);
    }
    return k == 0 ? p.alive : k == 1 ? p.suspect : p.removed;
  };
  // Scales from the fault on (the join's burst would flatten the rest).
  const double scale_from = r.fault_at ? absl::ToDoubleSeconds(*r.fault_at) : 0;
  double views_max = 1, disagree_max = 1, traffic_max = 1;
  for (const SimSample* p : s) {
    views_max = std::max(views_max, layer_value(*p, 0) + layer_value(*p, 1) +
                                        layer_value(*p, 2));
    if (p->t < scale_from) continue;
    disagree_max = std::max(disagree_max, double(p->disagreeing));
    traffic_max = std::max({traffic_max, p->sent_max, p->recv_mean});
  }
  const Panel views{kTop + 20, 240, NiceCeil(views_max)};
  const Panel agree{views.top + views.height + 50, 110, NiceCeil(disagree_max)};
  const Panel traffic{agree.top + agree.height + 50, 160,
                      NiceCeil(traffic_max)};
  const double height = traffic.top + traffic.height + 44;

  std::string out = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
      "font-family=\"sans-serif\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      kWidth, height, kWidth, height);
  absl::StrAppendFormat(
      &out,
      "<text x=\"%.1f\" y=\"24\" font-size=\"15\" font-weight=\"bold\">%s"
      "</text>\n",
      kLeft,
      XmlEscape(absl::StrFormat("peerlab-sim --scenario %s: %d members, %s "
                                "profile, seed %d",
                                ScenarioName(o.scenario), o.nodes, o.profile,
                                o.seed)));
  absl::StrAppendFormat(
      &out, "<text x=\"%.1f\" y=\"42\" font-size=\"11\">%s</text>\n", kLeft,
      XmlEscape(absl::StrFormat(
          "grey: faults on. healthy members declared dead: %d; agreement: "
          "%s",
          r.healthy_declared_dead,
          r.agreement_pct ? absl::StrFormat("%.2f %%", *r.agreement_pct)
                          : "n/a")));

  // 1. Views, stacked.
  plot.Frame(&out, views,
             of_faulty ? absl::StrFormat("views of the %d faulty members "
                                         "(healthy observer, faulty member)",
                                         r.faulty.size())
                       : std::string("members an average healthy member holds "
                                     "alive / suspect / removed"),
             r.fault_spans);
  struct Layer {
    const char* id;
    const char* color;
  };
  const Layer layers[] = {
      {"alive", "#4caf50"}, {"suspect", "#ff9800"}, {"removed", "#e53935"}};
  std::vector<double> base(s.size(), 0.0);
  for (int k = 0; k < 3; ++k) {
    const Layer& layer = layers[k];
    std::string points;
    std::vector<double> top(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      top[i] = base[i] + layer_value(*s[i], k);
      absl::StrAppendFormat(&points, "%.1f,%.1f ", plot.X(s[i]->t),
                            views.Y(top[i]));
    }
    for (size_t i = s.size(); i-- > 0;) {
      absl::StrAppendFormat(&points, "%.1f,%.1f ", plot.X(s[i]->t),
                            views.Y(base[i]));
    }
    absl::StrAppendFormat(&out,
                          "<polygon id=\"%s\" points=\"%s\" fill=\"%s\" "
                          "fill-opacity=\"0.85\"/>\n",
                          layer.id, points, layer.color);
    base = std::move(top);
  }
  Legend(&out, kLeft + kPlotWidth - 250, views.top - 8, "#4caf50", "alive");
  Legend(&out, kLeft + kPlotWidth - 180, views.top - 8, "#ff9800", "suspect");
  Legend(&out, kLeft + kPlotWidth - 100, views.top - 8, "#e53935", "removed");

  // 2. Agreement.
  plot.Frame(&out, agree,
             "members the healthy members disagree on; ticks: agreement "
             "samples",
             r.fault_spans);
  std::string line;
  for (const SimSample* p : s) {
    absl::StrAppendFormat(&line, "%.1f,%.1f ", plot.X(p->t),
                          agree.Y(p->disagreeing));
  }
  absl::StrAppendFormat(&out,
                        "<polyline id=\"disagreeing\" points=\"%s\" "
                        "fill=\"none\" stroke=\"#333\"/>\n",
                        line);
  for (bool ok : {true, false}) {
    std::string ticks;
    for (const SimSample* p : s) {
      if (!p->counted || (p->disagreeing == 0) != ok) continue;
      absl::StrAppendFormat(&ticks, "M%.1f %.1fv6 ", plot.X(p->t),
                            agree.top + agree.height - 6);
    }
    absl::StrAppendFormat(&out,
                          "<path id=\"%s\" d=\"%s\" stroke=\"%s\" "
                          "stroke-width=\"2\"/>\n",
                          ok ? "agree" : "disagree", ticks,
                          ok ? "#4caf50" : "#e53935");
  }

  // 3. Traffic.
  plot.Frame(&out, traffic, "bytes/s per member", r.fault_spans);
  struct Series {
    const char* id;
    const char* color;
    double SimSample::*field;
    const char* label;
  };
  const Series series[] = {
      {"sent-mean", "#1e88e5", &SimSample::sent_mean, "sent, mean"},
      {"sent-max", "#8e24aa", &SimSample::sent_max, "sent, max"},
      {"received-mean", "#00897b", &SimSample::recv_mean, "received, mean"}};
  double legend_x = kLeft + kPlotWidth - 330;
  for (const Series& one : series) {
    std::string pts;
    for (const SimSample* p : s) {
      absl::StrAppendFormat(&pts, "%.1f,%.1f ", plot.X(p->t),
                            traffic.Y(p->*one.field));
    }
    absl::StrAppendFormat(&out,
                          "<polyline id=\"%s\" points=\"%s\" fill=\"none\" "
                          "stroke=\"%s\" stroke-width=\"1.2\"/>\n",
                          one.id, pts, one.color);
    Legend(&out, legend_x, traffic.top - 8, one.color, one.label);
    legend_x += 110;
  }
  plot.TimeAxis(&out, traffic.top + traffic.height);
  out += "</svg>\n";
  return out;
}

}  // namespace peerlab::membership::tool
