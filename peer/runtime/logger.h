// Logger: where library code (membership, chat, the runtime) writes its log
// lines, injected like the Scheduler, so a library drags no logging library
// into its users' link lines and a simulated run logs virtual time.
//
//   Logger         the interface a program implements (or picks below):
//                  is a level enabled for a component, write one record.
//   NullLogger()   writes nothing.
//   StderrLogger   one line per record on standard error, no dependency;
//                  DefaultLogger() is one at kWarn, what a library uses when
//                  it was given no logger.
//   ComponentLog   what a component holds: a Logger, the component's name
//                  and its clock (the Scheduler's Now(), so a simulated
//                  node's lines carry the SimClock's time). Formats only
//                  records whose level is enabled.
//
// Programs built on spdlog pass base/logging.h's SpdlogLogger, which keeps
// their format, files, views and `--log-level`.
//
// Thread safety: every Logger must be safe to call from any thread at once
// (a node logs from its loop, its receive thread and its caller's thread).
// A record's strings are valid only during Write.
#ifndef PEERLAB_PEER_RUNTIME_LOGGER_H_
#define PEERLAB_PEER_RUNTIME_LOGGER_H_

#include <atomic>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "peerlab/runtime/scheduler.h"

namespace peerlab::runtime {

// Ordered: a logger at kWarn writes kWarn, kError and kCritical.
enum class LogLevel : int {
  kTrace = 0,
  kDebug,
  kInfo,
  kWarn,
  kError,
  kCritical,
  kOff,  // as a threshold only: nothing is written
};

// "trace", "debug", "info", "warning", "error", "critical", "off" (spdlog's
// names).
absl::string_view LogLevelName(LogLevel level);
// The names above, and "warn", "err". InvalidArgument otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);

// One log line. The strings are only valid during Logger::Write.
struct LogRecord {
  absl::Time time;  // the component's clock (virtual when simulated)
  LogLevel level = LogLevel::kInfo;
  absl::string_view component;  // "membership", "grpc-server", …
  absl::string_view message;    // one line; not escaped (may hold anything)
};

class Logger {
 public:
  virtual ~Logger() = default;
  // Whether a record at `level` from `component` would be written; callers
  // skip formatting otherwise. Thread-safe.
  virtual bool Enabled(LogLevel level, absl::string_view component) const = 0;
  // Writes `record`. Callers check Enabled first (Write may assume it).
  // Thread-safe; must not call back into the component that logs.
  virtual void Write(const LogRecord& record) = 0;
};

// Writes nothing; Enabled is always false. Never destroyed.
Logger* NullLogger();

// "2026-12-07T03:52:52.123 warning [membership] text": the record's time in
// the local time zone, the level, the component, the message with control
// characters escaped (one record, one line), written to standard error with
// one write(2) per record. Thread-safe (the level is atomic).
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel min_level = LogLevel::kWarn)
      : min_level_(min_level) {}
  void set_min_level(LogLevel level) { min_level_.store(level); }
  LogLevel min_level() const { return min_level_.load(); }

  bool Enabled(LogLevel level, absl::string_view component) const override;
  void Write(const LogRecord& record) override;

  // The line Write writes, without its newline. Pure; for tests.
  static std::string Format(const LogRecord& record);

 private:
  std::atomic<LogLevel> min_level_;
};

// What a library logs to when it was given no logger: a StderrLogger at
// kWarn. Never destroyed.
Logger* DefaultLogger();

// A component's view of its Logger: the logger, the component's name and
// the clock that dates its records. Copyable, cheap (a pointer, a string, a
// pointer). Thread safety: as the logger, and as `clock->Now()` (EventLoop's
// Now is thread-safe; a simulated scheduler's only on the simulator's
// thread, where simulated code runs).
class ComponentLog {
 public:
  // `logger` nullptr: DefaultLogger(). `clock` nullptr: absl::Now(). Not
  // owned; both must outlive this object and its copies.
  explicit ComponentLog(Logger* logger = nullptr, std::string component = "",
                        const Scheduler* clock = nullptr)
      : logger_(logger != nullptr ? logger : DefaultLogger()),
        component_(std::move(component)),
        clock_(clock) {}

  bool Enabled(LogLevel level) const {
    return logger_->Enabled(level, component_);
  }
  // Writes `message` at `level` when enabled.
  void Write(LogLevel level, absl::string_view message) const;

  // The pieces (anything absl::StrCat takes) are concatenated only when the
  // level is enabled: log.Warn(name, ": refused ", addr).
  template <typename... Pieces>
  void Trace(const Pieces&... p) const {
    Emit(LogLevel::kTrace, p...);
  }
  template <typename... Pieces>
  void Debug(const Pieces&... p) const {
    Emit(LogLevel::kDebug, p...);
  }
  template <typename... Pieces>
  void Info(const Pieces&... p) const {
    Emit(LogLevel::kInfo, p...);
  }
  template <typename... Pieces>
  void Warn(const Pieces&... p) const {
    Emit(LogLevel::kWarn, p...);
  }
  template <typename... Pieces>
  void Error(const Pieces&... p) const {
    Emit(LogLevel::kError, p...);
  }

  Logger* logger() const { return logger_; }
  const std::string& component() const { return component_; }

 private:
  template <typename... Pieces>
  void Emit(LogLevel level, const Pieces&... p) const {
    if (!Enabled(level)) return;
    const std::string message = absl::StrCat(p...);
    WriteEnabled(level, message);
  }
  void WriteEnabled(LogLevel level, absl::string_view message) const;

  Logger* logger_;
  std::string component_;
  const Scheduler* clock_;
};

}  // namespace peerlab::runtime

#endif  // PEERLAB_PEER_RUNTIME_LOGGER_H_
