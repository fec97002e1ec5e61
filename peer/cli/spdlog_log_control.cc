#include "peer/cli/spdlog_log_control.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"

namespace peerlab::cli {

absl::Status SpdlogLogControl::SetLevel(runtime::LogLevel level,
                                        const std::string& component) {
  const spdlog::level::level_enum lvl = ToSpdlogLevel(level);
  if (component.empty()) {
    spdlog::set_level(lvl);
    return absl::OkStatus();
  }
  auto logger = spdlog::get(component);
  if (!logger) {
    std::vector<std::string> names;
    spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) {
      if (!l->name().empty()) names.push_back(l->name());
    });
    std::sort(names.begin(), names.end());
    return absl::NotFoundError(
        absl::StrCat("no logger named \"", component, "\"; loggers: ",
                     names.empty() ? "(none)" : absl::StrJoin(names, ", ")));
  }
  logger->set_level(lvl);
  return absl::OkStatus();
}

absl::Status SpdlogLogControl::FileOn(const std::string& path) {
  FileOff();
  std::lock_guard<std::mutex> lock(mu_);
  try {
    sink_ = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  } catch (const spdlog::spdlog_ex& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot log to ", path, ": ", e.what()));
  }
  sink_->set_formatter(
      MakeEscapingFormatter("%Y-%m-%dT%H:%M:%S.%e %-5l [%n] %v"));
  spdlog::apply_all([this](std::shared_ptr<spdlog::logger> l) {
    l->sinks().push_back(sink_);
  });
  return absl::OkStatus();
}

void SpdlogLogControl::FileOff() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!sink_) return;
  spdlog::apply_all([this](std::shared_ptr<spdlog::logger> l) {
    auto& sinks = l->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  });
  sink_.reset();
}

void SpdlogLogControl::Info(const std::string& message) {
  spdlog::info("{}", message);
}

SpdlogLogControl* DefaultSpdlogLogControl() {
  static auto* const control = new SpdlogLogControl();
  return control;
}

}  // namespace peerlab::cli
