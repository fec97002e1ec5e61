#include "peer/cli/session.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace peerlab::cli {

void ViewOutput::ToView(absl::string_view view, absl::string_view text) {
  std::vector<ViewLine> lines = hub_->Write(view, text);
  if (!capture_) return;
  std::lock_guard<std::mutex> lock(mu_);
  captured_.insert(captured_.end(), lines.begin(), lines.end());
}

std::vector<ViewLine> ViewOutput::captured() const {
  std::lock_guard<std::mutex> lock(mu_);
  return captured_;
}

absl::Status RunLine(const Registry& registry, absl::string_view line,
                     Output& out, bool remote) {
  absl::Status status = registry.Execute(line, out, 0, remote);
  if (!status.ok()) out.Print(absl::StrCat("error: ", status.message()));
  return status;
}

int RunLines(const Registry& registry, std::istream& in, Output& out,
             const std::function<bool()>& stop) {
  int failures = 0;
  std::string line;
  while ((!stop || !stop()) && std::getline(in, line)) {
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (!RunLine(registry, trimmed, out).ok()) ++failures;
  }
  return failures;
}

}  // namespace peerlab::cli
