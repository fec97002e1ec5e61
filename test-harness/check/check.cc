#include "test-harness/check/check.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace peerlab::harness::check {

std::string FormatCheckResult(const CheckResult& result) {
  std::string out =
      absl::StrCat("check ", result.checker, ": ", result.ok ? "OK" : "FAILED",
                   ": ", result.summary);
  if (result.ok || result.counterexample.empty()) return out;
  for (absl::string_view line :
       absl::StrSplit(result.counterexample, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "\n  ", line);
  }
  return out;
}

}  // namespace peerlab::harness::check
