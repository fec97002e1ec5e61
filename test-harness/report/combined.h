// The combined report of one peerlab-test invocation that ran several
// scripts: one line a run (its verdict), the totals, and the invocation's
// exit code (the worst of its runs). Pure functions (no I/O).
#ifndef PEERLAB_TEST_HARNESS_REPORT_COMBINED_H_
#define PEERLAB_TEST_HARNESS_REPORT_COMBINED_H_

#include <string>
#include <vector>

#include "proto/harness/v1/coordinator.pb.h"

namespace peerlab::harness {

// One run of a script, as the client ended it.
struct ScriptRun {
  std::string script;  // the path as given
  // 0 passed, 1 a check failed, 2 the harness could not run it.
  int exit_code = 2;
  bool have_summary = false;
  ::harness::v1::RunSummary summary;  // when have_summary
  std::string error;                  // why the harness could not run it
  std::string report_dir;             // "" when none was written
};

// The exit code of the invocation: the worst of its runs, 2 (the harness
// could not run a script) > 1 (a check failed) > 0 (passed); 0 for none.
int WorstExitCode(const std::vector<ScriptRun>& runs);

// For a terminal: a line a run (verdict, script, run id, counts, the
// problem), the totals of runs, steps and filters, and the exit code.
std::string CombinedTable(const std::vector<ScriptRun>& runs);

// The same as JSON (numbers as numbers): {"runs": [...], "totals": {...},
// "exit_code": N}.
std::string CombinedJson(const std::vector<ScriptRun>& runs);

// JUnit XML with one testsuite per run (as JunitXml writes each); a run
// without a summary is a testsuite with one errored testcase.
std::string CombinedJunitXml(const std::vector<ScriptRun>& runs);

}  // namespace peerlab::harness

#endif  // PEERLAB_TEST_HARNESS_REPORT_COMBINED_H_
