// Logging set-up shared by every binary: spdlog to stderr and, on request, to
// a file. Components get named loggers so levels can be set per component.
// SpdlogLogger is the runtime::Logger (peer/runtime/logger.h) programs give
// the libraries, so library lines look like the program's own.
//
// Library peerlab_logging (spdlog): programs link it, the membership,
// runtime and CLI libraries do not.
#ifndef PEERLAB_BASE_LOGGING_H_
#define PEERLAB_BASE_LOGGING_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "base/escape.h"
#include "peer/runtime/logger.h"
#include "spdlog/formatter.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/spdlog.h"

// Debian's abseil has its own string_view type (not std::string_view), which
// fmt cannot print by itself. Include this header wherever spdlog is used.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace peerlab {

// A spdlog formatter: `pattern` (as spdlog::set_pattern takes it) applied to
// the record whose message has gone through EscapeControl (a tab escaped
// too), so one record is always one line. Give it to a sink
// (sink->set_formatter) or a logger (logger->set_formatter: every sink).
class EscapingFormatter final : public spdlog::formatter {
 public:
  explicit EscapingFormatter(std::string pattern)
      : pattern_(std::move(pattern)),
        inner_(std::make_unique<spdlog::pattern_formatter>(pattern_)) {}

  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    const absl::string_view payload(msg.payload.data(), msg.payload.size());
    std::string escaped = EscapeControl(payload, /*escape_tab=*/true);
    if (escaped.size() == payload.size()) {  // nothing escaped
      inner_->format(msg, dest);
      return;
    }
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
    inner_->format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<EscapingFormatter>(pattern_);
  }

 private:
  const std::string pattern_;
  std::unique_ptr<spdlog::pattern_formatter> inner_;
};

// The usual way to use it.
inline std::unique_ptr<spdlog::formatter> MakeEscapingFormatter(
    std::string pattern) {
  return std::make_unique<EscapingFormatter>(std::move(pattern));
}

// Configures the default logger: stderr, plus `log_file` when not empty.
// `level` is one of trace, debug, info, warn, error, critical, off.
// Returns InvalidArgument for an unknown level or a file that cannot be
// opened. Call once, early in main().
absl::Status SetUpLogging(const std::string& program, const std::string& level,
                          const std::string& log_file);

// A logger named `component` that shares the default logger's sinks.
// Thread-safe; returns the same logger for the same name.
std::shared_ptr<spdlog::logger> ComponentLogger(const std::string& component);

// A runtime::Logger that writes to spdlog: to `logger`, or (nullptr) to
// spdlog's default logger as it is at each record, so SetUpLogging, the
// peer's logView and files and `log level` apply to library lines as to the
// program's own. The record's component is not shown (the spdlog logger's
// name is); its time becomes the spdlog record's time (virtual time in
// peerlab-sim). Thread-safe, as spdlog's loggers are.
class SpdlogLogger final : public runtime::Logger {
 public:
  explicit SpdlogLogger(std::shared_ptr<spdlog::logger> logger = nullptr)
      : logger_(std::move(logger)) {}
  bool Enabled(runtime::LogLevel level,
               absl::string_view component) const override;
  void Write(const runtime::LogRecord& record) override;

 private:
  spdlog::logger* Target() const {
    return logger_ ? logger_.get() : spdlog::default_logger_raw();
  }
  const std::shared_ptr<spdlog::logger> logger_;
};

// The spdlog level of a runtime::LogLevel.
spdlog::level::level_enum ToSpdlogLevel(runtime::LogLevel level);

// One SpdlogLogger on the default logger, for the whole program. Never
// destroyed.
runtime::Logger* DefaultSpdlogLogger();

}  // namespace peerlab

#endif  // PEERLAB_BASE_LOGGING_H_
