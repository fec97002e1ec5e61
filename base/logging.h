// Logging set-up shared by every binary: spdlog to stderr and, on request, to
// a file. Components get named loggers so levels can be set per component.
#ifndef PEERLAB_BASE_LOGGING_H_
#define PEERLAB_BASE_LOGGING_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
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

// Configures the default logger: stderr, plus `log_file` when not empty.
// `level` is one of trace, debug, info, warn, error, critical, off.
// Returns InvalidArgument for an unknown level or a file that cannot be
// opened. Call once, early in main().
absl::Status SetUpLogging(const std::string& program, const std::string& level,
                          const std::string& log_file);

// A logger named `component` that shares the default logger's sinks.
// Thread-safe; returns the same logger for the same name.
std::shared_ptr<spdlog::logger> ComponentLogger(const std::string& component);

}  // namespace peerlab

#endif  // PEERLAB_BASE_LOGGING_H_
