// An Output that keeps what a command printed, for tests.
#ifndef PEERLAB_PEER_CLI_TEST_OUTPUT_H_
#define PEERLAB_PEER_CLI_TEST_OUTPUT_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "peer/cli/command.h"

namespace peerlab::cli {

class CapturingOutput : public Output {
 public:
  void ToView(absl::string_view view, absl::string_view text) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      lines_.push_back(std::string(line));
      views_.push_back(std::string(view));
    }
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  std::vector<std::string> views() const {
    std::lock_guard<std::mutex> lock(mu_);
    return views_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<std::string> views_;
};

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_TEST_OUTPUT_H_
