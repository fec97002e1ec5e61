#include "peer/runtime/logger.h"

#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/escape.h"  // header-only: EscapeControl

namespace peerlab::runtime {
namespace {

class NullLoggerImpl final : public Logger {
 public:
  bool Enabled(LogLevel, absl::string_view) const override { return false; }
  void Write(const LogRecord&) override {}
};

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kCritical:
      return "critical";
    case LogLevel::kOff:
      return "off";
  }
  return "off";
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (LogLevel level :
       {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
        LogLevel::kError, LogLevel::kCritical, LogLevel::kOff}) {
    if (lower == LogLevelName(level)) return level;
  }
  if (lower == "warn") return LogLevel::kWarn;
  if (lower == "err") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", name,
                   "\" (trace, debug, info, warn, error, critical, off)"));
}

Logger* NullLogger() {
  static auto* const logger = new NullLoggerImpl;
  return logger;
}

bool StderrLogger::Enabled(LogLevel level, absl::string_view) const {
  const LogLevel min = min_level_.load(std::memory_order_relaxed);
  return min != LogLevel::kOff && level != LogLevel::kOff && level >= min;
}

std::string StderrLogger::Format(const LogRecord& record) {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3S", record.time,
                                       absl::LocalTimeZone()),
                      " ", LogLevelName(record.level), " [", record.component,
                      "] ", EscapeControl(record.message, /*escape_tab=*/true));
}

void StderrLogger::Write(const LogRecord& record) {
  std::string line = Format(record);
  line.push_back('\n');
  // One write per record: lines of several threads do not interleave.
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n =
        ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

Logger* DefaultLogger() {
  static auto* const logger = new StderrLogger(LogLevel::kWarn);
  return logger;
}

void ComponentLog::Write(LogLevel level, absl::string_view message) const {
  if (Enabled(level)) WriteEnabled(level, message);
}

void ComponentLog::WriteEnabled(LogLevel level,
                                absl::string_view message) const {
  LogRecord record;
  record.time = clock_ != nullptr ? clock_->Now() : absl::Now();
  record.level = level;
  record.component = component_;
  record.message = message;
  logger_->Write(record);
}

}  // namespace peerlab::runtime
