// Running command lines against a registry, with output going to views:
// the glue that the prompt, piped input, scripts given by flag and remote
// control share.
#ifndef PEERLAB_PEER_CLI_SESSION_H_
#define PEERLAB_PEER_CLI_SESSION_H_

#include <functional>
#include <istream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "peerlab/cli/registry.h"
#include "peerlab/cli/view.h"

namespace peerlab::cli {

// An Output that writes to a ViewHub and keeps a copy of what it wrote (for
// remote Execute, which returns a command's lines). Thread-safe.
class ViewOutput : public Output {
 public:
  // `hub` must outlive this object.
  explicit ViewOutput(ViewHub* hub, bool capture = false)
      : hub_(hub), capture_(capture) {}
  void ToView(absl::string_view view, absl::string_view text) override;
  // The lines written so far (empty unless capturing).
  std::vector<ViewLine> captured() const;

 private:
  ViewHub* const hub_;
  const bool capture_;
  mutable std::mutex mu_;
  std::vector<ViewLine> captured_;
};

// Runs one line through `registry`. When it fails, "error: MESSAGE" goes to
// outputView (so every watcher, the terminal included, sees it) and the
// status is returned.
absl::Status RunLine(const Registry& registry, absl::string_view line,
                     Output& out, bool remote = false);

// Runs the lines of `in` one by one (blank lines and '#' comments skipped)
// until the end of input or until `stop()` returns true. Returns how many
// lines failed; the run goes on after a failure, like a shell.
int RunLines(const Registry& registry, std::istream& in, Output& out,
             const std::function<bool()>& stop);

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_SESSION_H_
