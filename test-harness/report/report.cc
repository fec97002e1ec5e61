#include "test-harness/report/report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "test-harness/report/message_diagram.h"
#include "test-harness/report/proto_json.h"

namespace peerlab::harness {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::harness::v1::RunSummary;
using ::harness::v1::StepResult;
using ::harness::v1::TimelineEntry;

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToNanoseconds(t);
}

std::string OutcomeName(::harness::v1::Outcome o) {
  switch (o) {
    case ::harness::v1::OUTCOME_OK:
      return "OK";
    case ::harness::v1::OUTCOME_FAILED:
      return "FAILED";
    case ::harness::v1::OUTCOME_SKIPPED:
      return "SKIPPED";
    default:
      return "?";
  }
}

std::string Millis(int64_t us) {
  if (us >= 10'000'000) return absl::StrFormat("%.1f s", us / 1e6);
  if (us >= 1'000) return absl::StrFormat("%d ms", (us + 500) / 1000);
  return absl::StrFormat("%.1f ms", us / 1e3);
}

std::string LocalTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::FromUnixNanos(Nanos(t)),
                          absl::LocalTimeZone());
}

std::string FilterText(const ::harness::v1::FilterResult& f) {
  if (f.op() == "never") {
    return absl::StrCat(f.peer(), " ", f.view(), " never \"", f.text(), "\"");
  }
  return absl::StrCat(f.peer(), " ", f.view(), " ", f.op(), " ", f.expected(),
                      " \"", f.text(), "\"");
}

// A filter line as a step: what a coordinator before the fix recorded for
// every filter (an OK step at once). A filter is reported once, as a
// filter, so these are left out wherever steps are listed or counted.
bool IsFilterStep(const StepResult& s) { return s.kind() == "filter"; }

// The class of an outcome's table cell.
const char* OutcomeClass(::harness::v1::Outcome o) {
  switch (o) {
    case ::harness::v1::OUTCOME_OK:
      return "PASSED";
    case ::harness::v1::OUTCOME_SKIPPED:
      return "SKIPPED";
    default:
      return "FAILED";
  }
}

std::string StepLine(const StepResult& s) {
  std::string line = absl::StrFormat(
      "  %-7s line %-3d %s", OutcomeName(s.outcome()), s.line(), s.text());
  if (s.outcome() == ::harness::v1::OUTCOME_OK) {
    absl::StrAppend(&line, "  (", Millis(s.duration_us()), ")");
  } else if (!s.message().empty()) {
    absl::StrAppend(&line, "  -- ", s.message());
  }
  return line;
}

}  // namespace

std::string StateName(::harness::v1::RunState state) {
  switch (state) {
    case ::harness::v1::RUN_STATE_PASSED:
      return "PASSED";
    case ::harness::v1::RUN_STATE_FAILED:
      return "FAILED";
    case ::harness::v1::RUN_STATE_ERROR:
      return "ERROR";
    case ::harness::v1::RUN_STATE_CANCELLED:
      return "CANCELLED";
    default:
      return "RUNNING";
  }
}

std::string FormatEvent(const ::harness::v1::RunEvent& event) {
  switch (event.event_case()) {
    case ::harness::v1::RunEvent::kStarted:
      return absl::StrCat("run ", event.started());
    case ::harness::v1::RunEvent::kStepFinished: {
      const StepResult& s = event.step_finished();
      static const std::set<std::string> kFaults = {
          "kill",      "stop", "cont",  "restart", "start",
          "partition", "heal", "netem", "oneway"};
      std::string tag = kFaults.count(s.kind()) ? "fault " : "";
      std::string line =
          absl::StrFormat("%-7s %s%s", OutcomeName(s.outcome()), tag, s.text());
      if (s.outcome() == ::harness::v1::OUTCOME_OK) {
        absl::StrAppend(&line, "  (", Millis(s.duration_us()), ")");
        // What a checker found, what a nemesis drew.
        if ((s.kind() == "check" || s.kind() == "nemesis") &&
            !s.message().empty()) {
          absl::StrAppend(&line, "  -- ", s.message());
        }
      } else {
        absl::StrAppend(&line, "  -- ", s.message(), " [line ", s.line(), "]");
      }
      return line;
    }
    case ::harness::v1::RunEvent::kNotice:
      return absl::StrCat("--      ", event.notice());
    case ::harness::v1::RunEvent::kFinished: {
      const RunSummary& s = event.finished();
      return absl::StrCat(StateName(s.state()), s.verdict().empty() ? "" : ": ",
                          s.verdict());
    }
    default:
      return "";
  }
}

std::string SummaryTable(const RunSummary& s) {
  std::string out = absl::StrCat("Summary of run ", s.run_id(), " (",
                                 s.script_name(), ", seed ", s.seed(), ")\n");
  absl::StrAppend(&out, "Steps:\n");
  for (const auto& step : s.steps()) {
    if (!IsFilterStep(step)) absl::StrAppend(&out, StepLine(step), "\n");
  }
  if (s.filters_size() > 0) {
    absl::StrAppend(&out, "Filters (expected vs received):\n");
    for (const auto& f : s.filters()) {
      std::string expected = f.op() == "never"
                                 ? std::string("none")
                                 : absl::StrCat(f.op(), " ", f.expected());
      std::string result =
          f.outcome() == ::harness::v1::OUTCOME_SKIPPED
              ? std::string("not checked: its line was not reached")
              : absl::StrCat("expected ", expected, ", received ",
                             f.received());
      absl::StrAppend(&out, absl::StrFormat("  %-7s line %-3d %-50s %s\n",
                                            OutcomeName(f.outcome()), f.line(),
                                            FilterText(f), result));
    }
  }
  if (s.nemesis_schedule_size() > 0) {
    absl::StrAppend(&out, "Nemesis schedule (seed ", s.seed(), "):\n");
    for (const auto& line : s.nemesis_schedule()) {
      absl::StrAppend(&out, "  ", line, "\n");
    }
  }
  for (const auto& w : s.warnings())
    absl::StrAppend(&out, "warning: ", w, "\n");
  int64_t ms = s.has_finished()
                   ? (Nanos(s.finished()) - Nanos(s.started())) / 1000000
                   : 0;
  absl::StrAppend(&out, "Verdict: ", StateName(s.state()),
                  s.verdict().empty() ? "" : " -- ", s.verdict(), " (", ms,
                  " ms)\n");
  return out;
}

std::string SummaryJson(const RunSummary& s) { return ProtoJson(s); }

std::string JunitXml(const RunSummary& s) {
  JunitCounts counts;
  std::string suite = JunitSuite(s, &counts);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  absl::StrAppend(&out, "<testsuites name=\"peerlab\" tests=\"", counts.tests,
                  "\" failures=\"", counts.failures, "\" errors=\"",
                  counts.errors, "\" time=\"",
                  absl::StrFormat("%.3f", counts.seconds), "\">\n", suite,
                  "</testsuites>\n");
  return out;
}

std::string JunitSuite(const RunSummary& s, JunitCounts* total) {
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  std::string cases;
  const std::string suite = XmlEscape(s.script_name());
  for (const auto& step : s.steps()) {
    if (IsFilterStep(step)) continue;  // a testcase of the filters
    ++tests;
    absl::StrAppend(
        &cases, "    <testcase classname=\"", suite, ".steps\" name=\"",
        XmlEscape(absl::StrCat("line ", step.line(), ": ", step.text())),
        "\" time=\"", absl::StrFormat("%.3f", step.duration_us() / 1e6), "\"");
    if (step.outcome() == ::harness::v1::OUTCOME_FAILED) {
      ++failures;
      absl::StrAppend(&cases, "><failure message=\"", XmlEscape(step.message()),
                      "\"/></testcase>\n");
    } else if (step.outcome() == ::harness::v1::OUTCOME_SKIPPED) {
      ++skipped;
      absl::StrAppend(&cases, "><skipped message=\"", XmlEscape(step.message()),
                      "\"/></testcase>\n");
    } else {
      absl::StrAppend(&cases, "/>\n");
    }
  }
  for (const auto& f : s.filters()) {
    ++tests;
    absl::StrAppend(
        &cases, "    <testcase classname=\"", suite, ".filters\" name=\"",
        XmlEscape(absl::StrCat("line ", f.line(), ": ", FilterText(f))), "\"");
    if (f.outcome() == ::harness::v1::OUTCOME_SKIPPED) {
      ++skipped;
      absl::StrAppend(&cases,
                      "><skipped message=\"not checked: its line was not "
                      "reached\"/></testcase>\n");
    } else if (f.outcome() != ::harness::v1::OUTCOME_OK) {
      ++failures;
      absl::StrAppend(
          &cases, "><failure message=\"",
          XmlEscape(absl::StrCat("expected ", f.op(), " ", f.expected(),
                                 ", received ", f.received())),
          "\"/></testcase>\n");
    } else {
      absl::StrAppend(&cases, "/>\n");
    }
  }
  // Each check is one testcase. A run that did not pass although no step
  // and no filter failed (a peer died unexpectedly, the harness could not
  // run it, it was cancelled) gets one more, "verdict", so that CI sees it.
  if (s.state() != ::harness::v1::RUN_STATE_PASSED && failures == 0) {
    ++tests;
    const bool failed = s.state() == ::harness::v1::RUN_STATE_FAILED;
    (failed ? failures : errors)++;
    absl::StrAppend(
        &cases, "    <testcase classname=\"", suite, "\" name=\"verdict\"><",
        failed ? "failure" : "error", " message=\"",
        XmlEscape(absl::StrCat(StateName(s.state()), ": ", s.verdict())),
        "\"/></testcase>\n");
  }
  double seconds =
      s.has_finished() ? (Nanos(s.finished()) - Nanos(s.started())) / 1e9 : 0;
  total->tests += tests;
  total->failures += failures;
  total->errors += errors;
  total->skipped += skipped;
  total->seconds += seconds;
  std::string out;
  absl::StrAppend(&out, "  <testsuite name=\"", suite, "\" tests=\"", tests,
                  "\" failures=\"", failures, "\" errors=\"", errors,
                  "\" skipped=\"", skipped, "\" time=\"",
                  absl::StrFormat("%.3f", seconds), "\" timestamp=\"",
                  absl::FormatTime("%Y-%m-%dT%H:%M:%S",
                                   absl::FromUnixNanos(Nanos(s.started())),
                                   absl::UTCTimeZone()),
                  "\">\n");
  absl::StrAppend(
      &out, "    <properties>\n", "      <property name=\"run_id\" value=\"",
      XmlEscape(s.run_id()), "\"/>\n", "      <property name=\"seed\" value=\"",
      s.seed(), "\"/>\n", "      <property name=\"state\" value=\"",
      StateName(s.state()), "\"/>\n",
      "      <property name=\"verdict\" value=\"", XmlEscape(s.verdict()),
      "\"/>\n", "    </properties>\n");
  absl::StrAppend(&out, cases, "  </testsuite>\n");
  return out;
}

std::string TimelineHtml(const RunSummary& s) {
  // Lanes: harness-wide steps first (when any), then the peers in script
  // order.
  std::vector<std::string> lanes;
  bool harness_lane = false;
  for (const auto& e : s.timeline()) harness_lane |= e.peer().empty();
  if (harness_lane) lanes.push_back("");
  for (const auto& p : s.peers()) lanes.push_back(p.name());
  for (const auto& e : s.timeline()) {
    if (std::find(lanes.begin(), lanes.end(), e.peer()) == lanes.end()) {
      lanes.push_back(e.peer());
    }
  }
  int64_t t0 = Nanos(s.started());
  int64_t t1 = s.has_finished() ? Nanos(s.finished()) : t0;
  for (const auto& e : s.timeline()) {
    t0 = std::min(t0, Nanos(e.time()));
    t1 = std::max(t1, Nanos(e.time()) + e.duration_us() * 1000);
  }
  if (t1 <= t0) t1 = t0 + 1000000;
  const double span = static_cast<double>(t1 - t0);
  const int label_w = 130, plot_w = 1000, lane_h = 46, top = 30;
  const int width = label_w + plot_w + 20;
  const int height = top + lane_h * static_cast<int>(lanes.size()) + 10;
  auto x = [&](int64_t t) {
    return label_w + plot_w * (static_cast<double>(t - t0) / span);
  };
  // data-*: for the zoom script (message_diagram.h TimelineZoomScript).
  std::string svg = absl::StrFormat(
      "<svg id=\"timeline\" "
      "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
      "data-label-w=\"%d\" data-plot-w=\"%d\" data-span-ms=\"%.3f\">\n",
      width, height, width, height, label_w, plot_w, span / 1e6);
  // Axis: about ten ticks at a round interval.
  const double span_ms = span / 1e6;
  double tick = 1;
  for (double c : {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
                   20000, 60000, 120000, 300000}) {
    tick = c;
    if (span_ms / c <= 12) break;
  }
  for (double ms = 0; ms <= span_ms; ms += tick) {
    double px = label_w + plot_w * (ms / span_ms);
    absl::StrAppend(
        &svg,
        absl::StrFormat("<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" "
                        "x2=\"%.1f\" y2=\"%d\"/><text class=\"axis\" "
                        "x=\"%.1f\" y=\"%d\">%s</text>\n",
                        px, top - 6, px, height - 10, px + 2, top - 10,
                        tick >= 1000 ? absl::StrFormat("%.0f s", ms / 1000)
                                     : absl::StrFormat("%.0f ms", ms)));
  }
  for (size_t i = 0; i < lanes.size(); ++i) {
    const std::string& lane = lanes[i];
    const int y = top + lane_h * static_cast<int>(i);
    const std::string name = lane.empty() ? "harness" : lane;
    absl::StrAppend(
        &svg,
        absl::StrFormat("<g class=\"lane\" data-peer=\"%s\">\n"
                        "<rect class=\"lanebg%s\" x=\"0\" y=\"%d\" "
                        "width=\"%d\" height=\"%d\"/>\n"
                        "<text class=\"label\" x=\"8\" y=\"%d\">%s</text>\n",
                        XmlEscape(name), i % 2 ? " odd" : "", y, width, lane_h,
                        y + lane_h / 2 + 5, XmlEscape(name)));
    for (const TimelineEntry& e : s.timeline()) {
      if (e.peer() != lane) continue;
      const double px = x(Nanos(e.time()));
      const std::string title = absl::StrCat(
          "<title>",
          XmlEscape(absl::StrCat(
              "+", Millis((Nanos(e.time()) - t0) / 1000), " ", name, " ",
              e.kind(), ": ", e.text(),
              e.duration_us() ? absl::StrCat(" (", Millis(e.duration_us()), ")")
                              : "")),
          "</title>");
      const char* ok = e.ok() ? "ok" : "bad";
      if (e.kind() == "step" || e.kind() == "fault") {
        const bool fault = e.kind() == "fault";
        double w = std::max(fault ? 4.0 : 2.0,
                            plot_w * (e.duration_us() * 1000.0 / span));
        absl::StrAppend(
            &svg, absl::StrFormat("<rect class=\"%s %s\" x=\"%.1f\" y=\"%d\" "
                                  "width=\"%.1f\" height=\"12\">%s</rect>\n",
                                  e.kind(), ok, px, y + 5, w, title));
        if (fault) {  // the fault's keyword next to its mark
          std::string label = e.text();
          if (absl::StartsWith(label, "nemesis: ")) label = label.substr(9);
          absl::StrAppend(
              &svg,
              absl::StrFormat("<text class=\"faultlabel\" x=\"%.1f\" "
                              "y=\"%d\">%s</text>\n",
                              px + w + 3, y + 15,
                              XmlEscape(label.substr(0, label.find(' ')))));
        }
      } else if (e.kind() == "membership") {
        absl::StrAppend(
            &svg, absl::StrFormat("<circle class=\"membership %s\" "
                                  "cx=\"%.1f\" cy=\"%d\" r=\"4\">%s</circle>\n",
                                  ok, px, y + 26, title));
      } else if (e.kind() == "message") {
        absl::StrAppend(&svg,
                        absl::StrFormat("<circle class=\"message\" cx=\"%.1f\" "
                                        "cy=\"%d\" r=\"3\">%s</circle>\n",
                                        px, y + 37, title));
      } else {  // peer: registered, gone, died
        absl::StrAppend(
            &svg, absl::StrFormat("<line class=\"peer %s\" x1=\"%.1f\" "
                                  "y1=\"%d\" x2=\"%.1f\" y2=\"%d\">%s</line>\n",
                                  ok, px, y + 2, px, y + lane_h - 2, title));
      }
    }
    absl::StrAppend(&svg, "</g>\n");
  }
  absl::StrAppend(&svg, "</svg>\n");

  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>peerlab run ",
      XmlEscape(s.run_id()), " - ", XmlEscape(s.script_name()),
      "</title>\n<style>\n"
      "body{font-family:sans-serif;margin:16px;color:#222}\n"
      "h1{font-size:20px} .PASSED{color:#187a2f} .FAILED,.ERROR,"
      ".CANCELLED{color:#b00020} .SKIPPED{color:#777}\n"
      "svg{border:1px solid #ccc;background:#fff}\n"
      ".lanebg{fill:#f7f7f7} .lanebg.odd{fill:#eef2f7}\n"
      ".label{font-size:13px;font-weight:bold;fill:#333}\n"
      ".axis{font-size:10px;fill:#666} .tick{stroke:#ddd}\n"
      ".faultlabel{font-size:11px;fill:#a05a00;font-weight:bold}\n"
      "rect.step.ok{fill:#2e9d4a} rect.fault.ok{fill:#e08a00}\n"
      "rect.bad{fill:#d0312d}\n"
      "circle.membership.ok{fill:#1f6fd1} circle.membership.bad{fill:#d0312d}\n"
      "circle.message{fill:#888}\n"
      "line.msg{stroke:#1f6fd1;stroke-width:1;opacity:.6}\n"
      "line.msg:hover{stroke-width:3;opacity:1} line.column{stroke:#bbb}\n"
      "path.kv{fill:#8a3ffc} .kvlabel{font-size:10px;fill:#8a3ffc}\n"
      "#timeline{cursor:grab}\n"
      "line.peer.ok{stroke:#000;stroke-width:2} "
      "line.peer.bad{stroke:#d0312d;stroke-width:3}\n"
      "table{border-collapse:collapse;margin:8px 0;font-size:13px}\n"
      "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}\n"
      ".legend span{display:inline-block;margin-right:14px}\n"
      ".sw{display:inline-block;width:12px;height:12px;margin-right:4px;"
      "vertical-align:middle}\n"
      "</style>\n</head>\n<body>\n");
  absl::StrAppend(&html, "<h1>", XmlEscape(s.script_name()),
                  " &mdash; <span class=\"", StateName(s.state()),
                  "\" id=\"verdict\">", StateName(s.state()), "</span></h1>\n");
  absl::StrAppend(&html, "<p>run <b>", XmlEscape(s.run_id()), "</b>, seed <b>",
                  s.seed(), "</b>, started ", LocalTime(s.started()), ", ",
                  Millis((t1 - t0) / 1000), " shown",
                  s.verdict().empty() ? "" : " &mdash; ",
                  XmlEscape(s.verdict()), "</p>\n");
  absl::StrAppend(
      &html,
      "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#2e9d4a\">"
      "</i>step</span><span><i class=\"sw\" style=\"background:#e08a00\"></i>"
      "fault</span><span><i class=\"sw\" style=\"background:#d0312d\"></i>"
      "failed</span><span><i class=\"sw\" style=\"background:#1f6fd1;"
      "border-radius:6px\"></i>membership</span><span><i class=\"sw\" "
      "style=\"background:#888;border-radius:6px\"></i>message</span><span>"
      "<i class=\"sw\" style=\"background:#000;width:3px\"></i>peer "
      "registered / gone</span></p>\n");
  absl::StrAppend(
      &html,
      "<p class=\"zoom\"><button id=\"zoomin\">zoom in</button> <button "
      "id=\"zoomout\">zoom out</button> <button id=\"zoomreset\">whole "
      "run</button> <span id=\"zoomlabel\">the whole run</span> (wheel: "
      "zoom, drag: pan, double click: whole run)</p>\n");
  absl::StrAppend(&html, svg);
  absl::StrAppend(&html, "<script>", TimelineZoomScript(), "</script>\n");
  if (std::string diagram = MessageDiagramSvg(s); !diagram.empty()) {
    absl::StrAppend(&html,
                    "<h2>Messages</h2>\n<p>Who sent what to whom: an arrow "
                    "from a chat message's sender (its <code>msg</code> step) "
                    "to each peer that showed it; diamonds: key/value "
                    "writes. Hover for details.</p>\n",
                    diagram);
  }

  absl::StrAppend(&html,
                  "<h2>Steps</h2>\n<table id=\"steps\"><tr><th>line</th><th>"
                  "step</th><th>outcome</th><th>time</th><th>message</th></tr>"
                  "\n");
  for (const auto& st : s.steps()) {
    if (IsFilterStep(st)) continue;
    absl::StrAppend(
        &html, "<tr><td>", st.line(), "</td><td>", XmlEscape(st.text()),
        "</td><td class=\"", OutcomeClass(st.outcome()), "\">",
        OutcomeName(st.outcome()), "</td><td>", Millis(st.duration_us()),
        "</td><td>", XmlEscape(st.message()), "</td></tr>\n");
  }
  absl::StrAppend(&html, "</table>\n");
  if (s.filters_size()) {
    absl::StrAppend(&html,
                    "<h2>Filters</h2>\n<table id=\"filters\"><tr><th>line</th>"
                    "<th>filter</th><th>expected</th><th>received</th><th>"
                    "outcome</th></tr>\n");
    for (const auto& f : s.filters()) {
      absl::StrAppend(&html, "<tr><td>", f.line(), "</td><td>",
                      XmlEscape(FilterText(f)), "</td><td>",
                      XmlEscape(f.op() == "never"
                                    ? std::string("0 (never)")
                                    : absl::StrCat(f.op(), " ", f.expected())),
                      "</td><td>", f.received(), "</td><td class=\"",
                      OutcomeClass(f.outcome()), "\">",
                      OutcomeName(f.outcome()), "</td></tr>\n");
    }
    absl::StrAppend(&html, "</table>\n");
  }
  if (s.warnings_size()) {
    absl::StrAppend(&html, "<h2>Warnings</h2>\n<ul>\n");
    for (const auto& w : s.warnings()) {
      absl::StrAppend(&html, "<li>", XmlEscape(w), "</li>\n");
    }
    absl::StrAppend(&html, "</ul>\n");
  }
  absl::StrAppend(&html,
                  "<h2>Timeline</h2>\n<table id=\"entries\"><tr><th>+time</th>"
                  "<th>peer</th><th>kind</th><th>text</th></tr>\n");
  for (const auto& e : s.timeline()) {
    absl::StrAppend(
        &html, "<tr><td>+", Millis((Nanos(e.time()) - t0) / 1000), "</td><td>",
        XmlEscape(e.peer().empty() ? "harness" : e.peer()), "</td><td>",
        XmlEscape(e.kind()), "</td><td>", XmlEscape(e.text()), "</td></tr>\n");
  }
  absl::StrAppend(&html, "</table>\n</body>\n</html>\n");
  return html;
}

std::string FlakyReport(const std::vector<RunSummary>& runs) {
  // key -> (passed, failed)
  std::map<std::string, std::pair<int, int>> counts;
  std::vector<std::string> order;
  auto count = [&](const std::string& key, bool ok) {
    auto [it, inserted] = counts.try_emplace(key, 0, 0);
    if (inserted) order.push_back(key);
    (ok ? it->second.first : it->second.second)++;
  };
  for (const RunSummary& s : runs) {
    for (const auto& st : s.steps()) {
      if (st.outcome() == ::harness::v1::OUTCOME_SKIPPED || IsFilterStep(st)) {
        continue;
      }
      count(absl::StrCat("step   line ", st.line(), ": ", st.text()),
            st.outcome() == ::harness::v1::OUTCOME_OK);
    }
    for (const auto& f : s.filters()) {
      if (f.outcome() == ::harness::v1::OUTCOME_SKIPPED) continue;
      count(absl::StrCat("filter line ", f.line(), ": ", FilterText(f)),
            f.outcome() == ::harness::v1::OUTCOME_OK);
    }
  }
  std::string out;
  for (const auto& key : order) {
    auto [passed, failed] = counts[key];
    if (passed > 0 && failed > 0) {
      absl::StrAppend(&out, "  FLAKY  ", key, "  (failed ", failed, " of ",
                      passed + failed, ")\n");
    }
  }
  return out;
}

absl::Status WriteReport(const std::string& dir, const RunSummary& s) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  std::string script_file =
      std::filesystem::path(s.script_name()).filename().string();
  if (script_file.empty() || script_file == "summary.json" ||
      script_file == "junit.xml" || script_file == "timeline.html") {
    script_file = "script.cmd";
  }
  const std::pair<std::string, std::string> files[] = {
      {script_file, s.script_text()},
      {"summary.json", SummaryJson(s)},
      {"junit.xml", JunitXml(s)},
      {"timeline.html", TimelineHtml(s)},
  };
  for (const auto& [name, contents] : files) {
    std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::trunc);
    out << contents;
    out.close();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace peerlab::harness
