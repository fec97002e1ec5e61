#include "test-harness/report/message_diagram.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "test-harness/report/report.h"

namespace peerlab::harness {
namespace {

using ::google::protobuf::util::TimeUtil;

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToNanoseconds(t);
}

std::string Collapse(absl::string_view text) {
  return absl::StrJoin(
      absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty()), " ");
}

// The command of a step line: the words after its PEER (a peer, a group, a
// range or `all`).
std::string CommandOf(const std::string& line) {
  size_t blank = line.find_first_of(" \t");
  return blank == std::string::npos ? "" : Collapse(line.substr(blank + 1));
}

struct Send {
  int64_t at;
  std::string text;
};
struct Arrow {
  std::string from, to;
  int64_t sent, shown;
  std::string text;
};
struct Mark {
  std::string peer;
  int64_t at;
  std::string text;
};

}  // namespace

std::string MessageDiagramSvg(const ::harness::v1::RunSummary& s) {
  std::map<std::string, std::vector<Send>> sends;  // by sender, in time order
  std::vector<Mark> writes;
  for (const auto& st : s.steps()) {
    if (st.kind() != "command" || st.outcome() != ::harness::v1::OUTCOME_OK) {
      continue;
    }
    const std::string command = CommandOf(st.text());
    if (absl::StartsWith(command, "msg ")) {
      sends[st.peer()].push_back({Nanos(st.started()), command.substr(4)});
    } else if (absl::StartsWith(command, "broadcastadd ") ||
               absl::StartsWith(command, "broadcastdel ")) {
      writes.push_back({st.peer(), Nanos(st.started()), command});
    }
  }
  for (auto& [peer, list] : sends) {
    std::stable_sort(list.begin(), list.end(),
                     [](const Send& a, const Send& b) { return a.at < b.at; });
  }
  std::vector<Arrow> arrows;
  int64_t not_drawn = 0;
  for (const auto& e : s.timeline()) {
    if (e.kind() != "message" || !absl::StartsWith(e.text(), "<")) continue;
    size_t close = e.text().find("> ");
    if (close == std::string::npos) continue;
    const std::string from = e.text().substr(1, close - 1);
    auto it = sends.find(from);
    if (it == sends.end()) continue;
    const std::string text = Collapse(e.text().substr(close + 2));
    const int64_t shown = Nanos(e.time());
    // The latest send of that text at or before the line (else the first).
    const Send* best = nullptr;
    for (const Send& send : it->second) {
      if (Collapse(send.text) != text) continue;
      if (!best || send.at <= shown) best = &send;
      if (send.at > shown) break;
    }
    if (!best) continue;
    if (static_cast<int>(arrows.size()) >= kMaxDiagramArrows) {
      ++not_drawn;
      continue;
    }
    arrows.push_back({from, e.peer(), best->at, shown, text});
  }
  if (arrows.empty() && writes.empty() && sends.empty()) return "";

  std::vector<std::string> columns;
  for (const auto& p : s.peers()) columns.push_back(p.name());
  auto column = [&](const std::string& peer) {
    auto it = std::find(columns.begin(), columns.end(), peer);
    if (it != columns.end()) return static_cast<int>(it - columns.begin());
    columns.push_back(peer);
    return static_cast<int>(columns.size()) - 1;
  };
  int64_t t0 = INT64_MAX, t1 = INT64_MIN;
  auto span = [&](int64_t t) {
    t0 = std::min(t0, t);
    t1 = std::max(t1, t);
  };
  for (const auto& a : arrows) {
    span(a.sent);
    span(a.shown);
    column(a.from);
    column(a.to);
  }
  for (const auto& w : writes) {
    span(w.at);
    column(w.peer);
  }
  for (const auto& [peer, list] : sends) {
    for (const auto& send : list) span(send.at);
    column(peer);
  }
  if (t1 <= t0) t1 = t0 + 1000000;
  const int col_w =
      std::max(60, std::min(140, 1100 / std::max<int>(1, columns.size())));
  const int top = 40, left = 70;
  const int plot_h = std::clamp(
      static_cast<int>(arrows.size() + writes.size()) * 3, 400, 4000);
  const int width = left + col_w * static_cast<int>(columns.size()) + 20;
  const int height = top + plot_h + 20;
  const double ns_span = static_cast<double>(t1 - t0);
  auto x = [&](const std::string& peer) {
    return left + col_w * column(peer) + col_w / 2.0;
  };
  auto y = [&](int64_t t) { return top + plot_h * ((t - t0) / ns_span); };
  std::string svg = absl::StrFormat(
      "<svg id=\"messages\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
      "<defs><marker id=\"arrowhead\" markerWidth=\"8\" markerHeight=\"6\" "
      "refX=\"8\" refY=\"3\" orient=\"auto\"><path d=\"M0,0 L8,3 L0,6 z\" "
      "fill=\"#1f6fd1\"/></marker></defs>\n",
      width, height, width, height);
  // Time labels every tenth of the span.
  for (int i = 0; i <= 10; ++i) {
    const double py = top + plot_h * i / 10.0;
    absl::StrAppend(
        &svg, absl::StrFormat(
                  "<line class=\"tick\" x1=\"%d\" y1=\"%.1f\" "
                  "x2=\"%d\" y2=\"%.1f\"/><text class=\"axis\" "
                  "x=\"4\" y=\"%.1f\">+%.2f s</text>\n",
                  left, py, width - 10, py, py + 3,
                  (t0 - Nanos(s.started())) / 1e9 + ns_span * i / 10.0 / 1e9));
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    const double cx = left + col_w * static_cast<double>(i) + col_w / 2.0;
    absl::StrAppend(
        &svg, absl::StrFormat(
                  "<text class=\"label\" x=\"%.1f\" y=\"%d\" "
                  "text-anchor=\"middle\">%s</text><line class=\"column\" "
                  "x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n",
                  cx, top - 14, XmlEscape(columns[i]), cx, top - 6, cx,
                  top + plot_h));
  }
  for (const auto& a : arrows) {
    absl::StrAppend(
        &svg, absl::StrFormat(
                  "<line class=\"msg\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                  "y2=\"%.1f\" marker-end=\"url(#arrowhead)\"><title>%s</title>"
                  "</line>\n",
                  x(a.from), y(a.sent), x(a.to), y(a.shown),
                  XmlEscape(absl::StrFormat(
                      "%s -> %s: %s (sent +%.3f s, shown +%.3f s)", a.from,
                      a.to, a.text, (a.sent - Nanos(s.started())) / 1e9,
                      (a.shown - Nanos(s.started())) / 1e9))));
  }
  for (const auto& w : writes) {
    const double cx = x(w.peer), cy = y(w.at);
    absl::StrAppend(
        &svg,
        absl::StrFormat(
            "<path class=\"kv\" d=\"M%.1f,%.1f l5,5 l-5,5 l-5,-5 z\"><title>"
            "%s</title></path><text class=\"kvlabel\" x=\"%.1f\" "
            "y=\"%.1f\">%s</text>\n",
            cx, cy - 5,
            XmlEscape(absl::StrFormat("%s %s (+%.3f s)", w.peer, w.text,
                                      (w.at - Nanos(s.started())) / 1e9)),
            cx + 7, cy + 4, XmlEscape(w.text.substr(0, 40))));
  }
  if (not_drawn) {
    absl::StrAppend(&svg, absl::StrFormat("<text class=\"axis\" x=\"%d\" "
                                          "y=\"%d\">%d more arrows not "
                                          "drawn</text>\n",
                                          left, height - 4, not_drawn));
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

const char* TimelineZoomScript() {
  return R"JS(
(function () {
  var svg = document.getElementById('timeline');
  if (!svg) return;
  var L = +svg.dataset.labelW, W = +svg.dataset.plotW, S = +svg.dataset.spanMs;
  var H = +svg.getAttribute('height');
  var NS = svg.namespaceURI;  // no address written in the page
  // The first layout: each mark's place as a fraction of the run.
  var marks = [];
  svg.querySelectorAll('g.lane rect:not(.lanebg), g.lane circle, g.lane line, g.lane text.faultlabel').forEach(function (el) {
    var a = el.tagName === 'circle' ? 'cx' : (el.tagName === 'line' ? 'x1' : 'x');
    var x = +el.getAttribute(a);
    var m = {el: el, a: a, f: (x - L) / W};
    if (el.tagName === 'rect') m.w = +el.getAttribute('width');
    marks.push(m);
  });
  var clip = document.createElementNS(NS, 'clipPath');
  clip.id = 'plotclip';
  var cr = document.createElementNS(NS, 'rect');
  cr.setAttribute('x', L); cr.setAttribute('y', 0);
  cr.setAttribute('width', W + 20); cr.setAttribute('height', H);
  clip.appendChild(cr); svg.appendChild(clip);
  marks.forEach(function (m) { m.el.setAttribute('clip-path', 'url(#plotclip)'); });
  var ticks = svg.querySelectorAll('line.tick, text.axis');
  var axis = document.createElementNS(NS, 'g');
  svg.insertBefore(axis, svg.firstChild);
  var v0 = 0, v1 = 1;  // the visible part of the run, as fractions
  function layout() {
    var k = 1 / (v1 - v0);
    marks.forEach(function (m) {
      var x = L + (m.f - v0) * k * W;
      m.el.setAttribute(m.a, x.toFixed(1));
      if (m.a === 'x1') m.el.setAttribute('x2', x.toFixed(1));
      if (m.w !== undefined) m.el.setAttribute('width', Math.max(m.w * k, m.w > 2 ? 4 : 2).toFixed(1));
    });
    ticks.forEach(function (t) { t.style.display = (v0 === 0 && v1 === 1) ? '' : 'none'; });
    while (axis.firstChild) axis.removeChild(axis.firstChild);
    if (v0 === 0 && v1 === 1) return;
    var ms = S * (v1 - v0), step = 1;
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000].some(function (c) { step = c; return ms / c <= 12; });
    for (var t = Math.ceil(S * v0 / step) * step; t <= S * v1; t += step) {
      var x = L + (t / S - v0) * k * W;
      var l = document.createElementNS(NS, 'line');
      l.setAttribute('class', 'tick'); l.setAttribute('x1', x); l.setAttribute('x2', x);
      l.setAttribute('y1', 24); l.setAttribute('y2', H - 10);
      var tx = document.createElementNS(NS, 'text');
      tx.setAttribute('class', 'axis'); tx.setAttribute('x', x + 2); tx.setAttribute('y', 20);
      tx.textContent = step >= 1000 ? (t / 1000) + ' s' : t + ' ms';
      axis.appendChild(l); axis.appendChild(tx);
    }
    var label = document.getElementById('zoomlabel');
    if (label) label.textContent = 'showing +' + (S * v0 / 1000).toFixed(3) + ' s to +' + (S * v1 / 1000).toFixed(3) + ' s';
  }
  function frac(evt) {
    var r = svg.getBoundingClientRect();
    var x = (evt.clientX - r.left) * (+svg.getAttribute('width') / r.width);
    return v0 + (x - L) / W * (v1 - v0);
  }
  function zoom(at, factor) {
    var w = Math.min(1, Math.max(1e-5, (v1 - v0) * factor));
    v0 = Math.max(0, at - (at - v0) * w / (v1 - v0));
    v1 = Math.min(1, v0 + w); v0 = Math.max(0, v1 - w);
    layout();
  }
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    zoom(frac(e), e.deltaY < 0 ? 0.8 : 1.25);
  }, {passive: false});
  var drag = null;
  svg.addEventListener('mousedown', function (e) { drag = {f: frac(e), v0: v0, v1: v1}; });
  window.addEventListener('mouseup', function () { drag = null; });
  svg.addEventListener('mousemove', function (e) {
    if (!drag) return;
    var d = drag.f - frac(e), w = v1 - v0;
    v0 = Math.min(1 - w, Math.max(0, v0 + d)); v1 = v0 + w;
    layout();
  });
  function reset() {
    v0 = 0; v1 = 1; layout();
    var label = document.getElementById('zoomlabel');
    if (label) label.textContent = 'the whole run';
  }
  svg.addEventListener('dblclick', reset);
  var b = document.getElementById('zoomin');
  if (b) b.onclick = function () { zoom((v0 + v1) / 2, 0.5); };
  b = document.getElementById('zoomout');
  if (b) b.onclick = function () { zoom((v0 + v1) / 2, 2); };
  b = document.getElementById('zoomreset');
  if (b) b.onclick = reset;
})();
)JS";
}

}  // namespace peerlab::harness
