// Reports of a run, made from its RunSummary: the live line of an event,
// the summary table, summary.json, junit.xml, the self-contained
// timeline.html, and the flaky-step report of repeated runs. Pure functions
// (no I/O) except WriteReport.
#ifndef PEERLAB_TEST_HARNESS_REPORT_REPORT_H_
#define PEERLAB_TEST_HARNESS_REPORT_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/xml_escape.h"
#include "proto/harness/v1/coordinator.pb.h"

namespace peerlab::harness {

// The line printed live for `event` ("" for events that print nothing),
// without a trailing newline.
std::string FormatEvent(const ::harness::v1::RunEvent& event);

// "PASSED", "FAILED", "ERROR", "CANCELLED", "RUNNING".
std::string StateName(::harness::v1::RunState state);

// Every step (OK / FAILED / SKIPPED with the error) and every filter
// (expected vs received), then the verdict; for a terminal.
std::string SummaryTable(const ::harness::v1::RunSummary& summary);

// The summary as JSON (the proto's JSON mapping, indented).
std::string SummaryJson(const ::harness::v1::RunSummary& summary);

// JUnit XML for CI systems: one testsuite per run, a testcase per step, per
// filter and for the verdict; the run id and the seed as properties.
std::string JunitXml(const ::harness::v1::RunSummary& summary);

// What JunitSuite counted.
struct JunitCounts {
  int tests = 0;
  int failures = 0;
  int errors = 0;
  int skipped = 0;
  double seconds = 0;
};
// The <testsuite> element of JunitXml (indented by two spaces, ending in a
// newline); adds its counts to `*counts`.
std::string JunitSuite(const ::harness::v1::RunSummary& summary,
                       JunitCounts* counts);

// A self-contained HTML page (inline CSS and SVG, no network): one lane per
// peer (and one for harness-wide steps) with its steps, faults, membership
// events and messages on a shared time axis, then the steps, filters and
// every timeline entry as tables. Each lane is an SVG <g class="lane"
// data-peer="NAME">.
std::string TimelineHtml(const ::harness::v1::RunSummary& summary);

// For runs of the same script: the steps and filters that passed in some
// runs and failed in others ("" when there are none).
std::string FlakyReport(const std::vector<::harness::v1::RunSummary>& runs);

// Writes into `dir` (created if needed): the script (under its own base
// name), summary.json, junit.xml and timeline.html.
absl::Status WriteReport(const std::string& dir,
                         const ::harness::v1::RunSummary& summary);

// Escapes text for HTML and XML (base/xml_escape.h).
using ::peerlab::XmlEscape;

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_REPORT_REPORT_H_
