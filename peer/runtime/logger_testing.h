// CapturingLogger: a runtime::Logger for tests that keeps every record it
// is given (copied), at or above a level. Thread-safe. Not installed.
#ifndef PEERLAB_PEER_RUNTIME_LOGGER_TESTING_H_
#define PEERLAB_PEER_RUNTIME_LOGGER_TESTING_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "peer/runtime/logger.h"

namespace peerlab::runtime {

class CapturingLogger final : public Logger {
 public:
  struct Line {
    absl::Time time;
    LogLevel level;
    std::string component;
    std::string message;
  };

  explicit CapturingLogger(LogLevel min_level = LogLevel::kTrace)
      : min_level_(min_level) {}

  bool Enabled(LogLevel level, absl::string_view) const override {
    return level >= min_level_ && level != LogLevel::kOff;
  }
  void Write(const LogRecord& record) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back({record.time, record.level, std::string(record.component),
                      std::string(record.message)});
  }

  std::vector<Line> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  // The lines whose message contains `text`.
  std::vector<Line> Matching(absl::string_view text) const {
    std::vector<Line> out;
    for (Line& line : lines()) {
      if (absl::StrContains(line.message, text)) out.push_back(line);
    }
    return out;
  }

 private:
  const LogLevel min_level_;
  mutable std::mutex mu_;
  std::vector<Line> lines_;
};

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_LOGGER_TESTING_H_
