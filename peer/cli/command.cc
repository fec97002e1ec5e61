#include "peer/cli/command.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace peerlab::cli {

void Output::Print(absl::string_view text) { ToView("outputView", text); }

absl::StatusOr<int64_t> Call::Int(size_t i, absl::string_view what) const {
  int64_t value;
  if (i >= args.size() || !absl::SimpleAtoi(args[i], &value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": \"", i < args.size() ? args[i] : "", "\" is not a number"));
  }
  return value;
}

absl::StatusOr<double> Call::Double(size_t i, absl::string_view what) const {
  double value;
  if (i >= args.size() || !absl::SimpleAtod(args[i], &value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": \"", i < args.size() ? args[i] : "", "\" is not a number"));
  }
  return value;
}

absl::StatusOr<absl::Duration> Call::Seconds(size_t i,
                                             absl::string_view what) const {
  auto value = Double(i, what);
  if (!value.ok()) return value.status();
  if (!(*value >= 0) || *value > 1e9) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", args[i], " is not a number of seconds >= 0"));
  }
  return absl::Seconds(*value);
}

}  // namespace peerlab::cli
