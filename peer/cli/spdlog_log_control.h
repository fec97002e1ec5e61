// SpdlogLogControl: the CLI's `log` command (builtins.h LogControl) in a
// program that logs with spdlog, as peerlab-peer does. Library
// peerlab_cli_spdlog: the CLI library itself links no spdlog.
#ifndef PEERLAB_PEER_CLI_SPDLOG_LOG_CONTROL_H_
#define PEERLAB_PEER_CLI_SPDLOG_LOG_CONTROL_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "peer/cli/builtins.h"
#include "peer/runtime/logger.h"
#include "spdlog/sinks/basic_file_sink.h"

namespace peerlab::cli {

// What the CLI's `log` command changes (cli::LogControl, peer/cli/builtins.h)
// in a program that logs with spdlog: levels of every logger or of one by
// name (NotFound listing the names), a file sink on every logger (records
// escaped, one a line), info lines on the default logger. Thread-safe.
class SpdlogLogControl final : public LogControl {
 public:
  ~SpdlogLogControl() override { FileOff(); }
  absl::Status SetLevel(runtime::LogLevel level,
                        const std::string& component) override;
  absl::Status FileOn(const std::string& path) override;
  void FileOff() override;
  void Info(const std::string& message) override;

 private:
  std::mutex mu_;
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> sink_;
};

// One SpdlogLogControl for the whole program (spdlog's loggers are
// process-wide too). Never destroyed.
SpdlogLogControl* DefaultSpdlogLogControl();

}  // namespace peerlab::cli

#endif  // PEERLAB_PEER_CLI_SPDLOG_LOG_CONTROL_H_
