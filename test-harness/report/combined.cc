#include "test-harness/report/combined.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "test-harness/report/report.h"

namespace peerlab::harness {
namespace {

using Json = ::nlohmann::ordered_json;

// Outcomes of a run's steps or filters.
struct Tally {
  int total = 0, ok = 0, failed = 0, skipped = 0;
  void Add(::harness::v1::Outcome o) {
    ++total;
    if (o == ::harness::v1::OUTCOME_OK) ++ok;
    if (o == ::harness::v1::OUTCOME_FAILED) ++failed;
    if (o == ::harness::v1::OUTCOME_SKIPPED) ++skipped;
  }
  void Add(const Tally& t) {
    total += t.total;
    ok += t.ok;
    failed += t.failed;
    skipped += t.skipped;
  }
  std::string Text() const {
    return absl::StrCat(total, " (", ok, " OK, ", failed, " failed, ", skipped,
                        " skipped)");
  }
  Json ToJson() const {
    return Json{
        {"total", total}, {"ok", ok}, {"failed", failed}, {"skipped", skipped}};
  }
};

Tally Steps(const ScriptRun& r) {
  Tally t;
  if (!r.have_summary) return t;
  for (const auto& s : r.summary.steps()) {
    if (s.kind() != "filter") t.Add(s.outcome());  // filters count below
  }
  return t;
}

Tally Filters(const ScriptRun& r) {
  Tally t;
  if (!r.have_summary) return t;
  for (const auto& f : r.summary.filters()) t.Add(f.outcome());
  return t;
}

std::string State(const ScriptRun& r) {
  return r.have_summary ? StateName(r.summary.state()) : "ERROR";
}

// Why the run did not pass ("" when it did).
std::string Problem(const ScriptRun& r) {
  if (!r.error.empty()) return r.error;
  return r.have_summary ? r.summary.verdict() : "no summary";
}

int64_t Millis(const ScriptRun& r) {
  if (!r.have_summary || !r.summary.has_finished()) return 0;
  using ::google::protobuf::util::TimeUtil;
  return (TimeUtil::TimestampToNanoseconds(r.summary.finished()) -
          TimeUtil::TimestampToNanoseconds(r.summary.started())) /
         1000000;
}

const char* ExitMeaning(int code) {
  switch (code) {
    case 0:
      return "every run passed";
    case 1:
      return "a check failed";
    default:
      return "the harness could not run a script";
  }
}

}  // namespace

int WorstExitCode(const std::vector<ScriptRun>& runs) {
  int worst = 0;
  for (const ScriptRun& r : runs) worst = std::max(worst, r.exit_code);
  return worst;
}

std::string CombinedTable(const std::vector<ScriptRun>& runs) {
  std::string out =
      absl::StrCat("Combined summary of ", runs.size(), " runs:\n");
  Tally steps, filters;
  int passed = 0, failed = 0, errors = 0;
  for (const ScriptRun& r : runs) {
    const Tally s = Steps(r), f = Filters(r);
    steps.Add(s);
    filters.Add(f);
    passed += r.exit_code == 0;
    failed += r.exit_code == 1;
    errors += r.exit_code >= 2;
    std::string line = absl::StrFormat("  %-9s %s", State(r), r.script);
    if (r.have_summary) {
      absl::StrAppend(&line, "  run ", r.summary.run_id(), ": ", s.total,
                      " steps, ", f.total, " filters (", Millis(r), " ms)");
    }
    if (r.exit_code != 0) absl::StrAppend(&line, "  -- ", Problem(r));
    absl::StrAppend(&out, line, "\n");
  }
  absl::StrAppend(&out, "Totals: ", runs.size(), " runs: ", passed, " passed, ",
                  failed, " failed, ", errors, " could not run; steps ",
                  steps.Text(), "; filters ", filters.Text(), "\n");
  const int code = WorstExitCode(runs);
  absl::StrAppend(&out, "Exit code ", code, ": ", ExitMeaning(code),
                  " (the worst run: 2 could not run > 1 failed > 0 passed)\n");
  return out;
}

std::string CombinedJson(const std::vector<ScriptRun>& runs) {
  Json list = Json::array();
  Tally steps, filters;
  int passed = 0, failed = 0, errors = 0;
  for (const ScriptRun& r : runs) {
    const Tally s = Steps(r), f = Filters(r);
    steps.Add(s);
    filters.Add(f);
    passed += r.exit_code == 0;
    failed += r.exit_code == 1;
    errors += r.exit_code >= 2;
    list.push_back(Json{
        {"script", r.script},
        {"run_id", r.have_summary ? r.summary.run_id() : ""},
        {"state", State(r)},
        {"verdict", r.exit_code == 0 ? "" : Problem(r)},
        {"exit_code", r.exit_code},
        {"seed", r.have_summary ? r.summary.seed() : 0},
        {"duration_ms", Millis(r)},
        {"report_dir", r.report_dir},
        {"steps", s.ToJson()},
        {"filters", f.ToJson()},
    });
  }
  Json out{
      {"runs", std::move(list)},
      {"totals", Json{{"runs", runs.size()},
                      {"passed", passed},
                      {"failed", failed},
                      {"errors", errors},
                      {"steps", steps.ToJson()},
                      {"filters", filters.ToJson()}}},
      {"exit_code", WorstExitCode(runs)},
  };
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string CombinedJunitXml(const std::vector<ScriptRun>& runs) {
  JunitCounts counts;
  std::string suites;
  for (const ScriptRun& r : runs) {
    if (r.have_summary) {
      absl::StrAppend(&suites, JunitSuite(r.summary, &counts));
      continue;
    }
    ++counts.tests;
    ++counts.errors;
    const std::string name = XmlEscape(r.script);
    absl::StrAppend(&suites, "  <testsuite name=\"", name,
                    "\" tests=\"1\" failures=\"0\" errors=\"1\" "
                    "skipped=\"0\" time=\"0.000\">\n    <testcase classname=\"",
                    name, "\" name=\"verdict\"><error message=\"",
                    XmlEscape(Problem(r)), "\"/></testcase>\n  </testsuite>\n");
  }
  return absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                      "<testsuites name=\"peerlab\" tests=\"", counts.tests,
                      "\" failures=\"", counts.failures, "\" errors=\"",
                      counts.errors, "\" time=\"",
                      absl::StrFormat("%.3f", counts.seconds), "\">\n", suites,
                      "</testsuites>\n");
}

}  // namespace peerlab::harness
