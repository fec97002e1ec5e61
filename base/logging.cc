#include "base/logging.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/escape.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace peerlab {

absl::Status SetUpLogging(const std::string& program, const std::string& level,
                          const std::string& log_file) {
  spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-level: unknown level \"", level,
                     "\" (trace, debug, info, warn, error, critical, off)"));
  }
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!log_file.empty()) {
    try {
      sinks.push_back(
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file));
    } catch (const spdlog::spdlog_ex& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--log-file: cannot open ", log_file, ": ", e.what()));
    }
  }
  auto logger =
      std::make_shared<spdlog::logger>(program, sinks.begin(), sinks.end());
  logger->set_level(lvl);
  logger->set_formatter(
      MakeEscapingFormatter("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v"));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  return absl::OkStatus();
}

std::shared_ptr<spdlog::logger> ComponentLogger(const std::string& component) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (auto existing = spdlog::get(component)) return existing;
  auto base = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      component, base->sinks().begin(), base->sinks().end());
  logger->set_level(base->level());
  logger->flush_on(spdlog::level::info);
  logger->set_formatter(
      MakeEscapingFormatter("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v"));
  spdlog::register_logger(logger);
  return logger;
}

spdlog::level::level_enum ToSpdlogLevel(runtime::LogLevel level) {
  switch (level) {
    case runtime::LogLevel::kTrace:
      return spdlog::level::trace;
    case runtime::LogLevel::kDebug:
      return spdlog::level::debug;
    case runtime::LogLevel::kInfo:
      return spdlog::level::info;
    case runtime::LogLevel::kWarn:
      return spdlog::level::warn;
    case runtime::LogLevel::kError:
      return spdlog::level::err;
    case runtime::LogLevel::kCritical:
      return spdlog::level::critical;
    case runtime::LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::off;
}

bool SpdlogLogger::Enabled(runtime::LogLevel level, absl::string_view) const {
  return level != runtime::LogLevel::kOff &&
         Target()->should_log(ToSpdlogLevel(level));
}

void SpdlogLogger::Write(const runtime::LogRecord& record) {
  Target()->log(
      absl::ToChronoTime(record.time), spdlog::source_loc{},
      ToSpdlogLevel(record.level),
      spdlog::string_view_t(record.message.data(), record.message.size()));
}

runtime::Logger* DefaultSpdlogLogger() {
  static auto* const logger = new SpdlogLogger();
  return logger;
}

}  // namespace peerlab
