#include "peer/runtime/logger.h"

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/runtime/logger_testing.h"
#include "peer/runtime/sim_clock.h"
#include "peer/runtime/sim_scheduler.h"

namespace peerlab::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(LogLevelTest, ParsesSpdlogsNames) {
  struct Case {
    const char* name;
    LogLevel level;
  };
  for (const Case& c :
       {Case{"trace", LogLevel::kTrace}, Case{"debug", LogLevel::kDebug},
        Case{"info", LogLevel::kInfo}, Case{"warn", LogLevel::kWarn},
        Case{"warning", LogLevel::kWarn}, Case{"WARNING", LogLevel::kWarn},
        Case{"err", LogLevel::kError}, Case{"error", LogLevel::kError},
        Case{"critical", LogLevel::kCritical}, Case{"off", LogLevel::kOff}}) {
    auto level = ParseLogLevel(c.name);
    ASSERT_TRUE(level.ok()) << c.name;
    EXPECT_EQ(*level, c.level) << c.name;
  }
  auto bad = ParseLogLevel("loud");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_THAT(bad.status().message(), HasSubstr("\"loud\""));
}

TEST(StderrLoggerTest, WritesAtItsLevelAndAbove) {
  StderrLogger logger(LogLevel::kWarn);
  EXPECT_FALSE(logger.Enabled(LogLevel::kInfo, "membership"));
  EXPECT_TRUE(logger.Enabled(LogLevel::kWarn, "membership"));
  EXPECT_TRUE(logger.Enabled(LogLevel::kError, "membership"));
  logger.set_min_level(LogLevel::kOff);
  EXPECT_FALSE(logger.Enabled(LogLevel::kCritical, "membership"));
  EXPECT_FALSE(DefaultLogger()->Enabled(LogLevel::kInfo, "x"));
  EXPECT_TRUE(DefaultLogger()->Enabled(LogLevel::kWarn, "x"));
  EXPECT_FALSE(NullLogger()->Enabled(LogLevel::kCritical, "x"));
}

TEST(StderrLoggerTest, OneRecordIsOneLineWithTimeLevelAndComponent) {
  LogRecord record;
  record.time = absl::FromCivil(absl::CivilSecond(2026, 12, 7, 3, 52, 52),
                                absl::LocalTimeZone()) +
                absl::Milliseconds(123);
  record.level = LogLevel::kWarn;
  record.component = "membership";
  record.message = "alice: refused bob\n2026-12-07 forged line\x1b[2J";
  EXPECT_EQ(StderrLogger::Format(record),
            "2026-12-07T03:52:52.123 warning [membership] alice: refused "
            "bob\\n2026-12-07 forged line\\x1b[2J");
}

TEST(ComponentLogTest, DatesRecordsByItsSchedulersClock) {
  SimClock clock(absl::FromUnixSeconds(1000));
  SimScheduler scheduler(&clock);
  CapturingLogger logger;
  ComponentLog log(&logger, "membership", &scheduler);
  clock.RunFor(absl::Minutes(10));
  log.Info("alice: member ", "bob", " joined (", 3, ")");
  ASSERT_THAT(logger.lines(), SizeIs(1));
  const CapturingLogger::Line line = logger.lines()[0];
  EXPECT_EQ(line.time, absl::FromUnixSeconds(1000) + absl::Minutes(10));
  EXPECT_EQ(line.level, LogLevel::kInfo);
  EXPECT_EQ(line.component, "membership");
  EXPECT_EQ(line.message, "alice: member bob joined (3)");
}

TEST(ComponentLogTest, DisabledLevelsAreNotWritten) {
  CapturingLogger logger(LogLevel::kWarn);
  ComponentLog log(&logger, "membership");
  log.Debug("not ", "written");
  log.Write(LogLevel::kInfo, "not written either");
  EXPECT_THAT(logger.lines(), IsEmpty());
  log.Error("written");
  ASSERT_THAT(logger.lines(), SizeIs(1));
  // No clock: the wall clock.
  EXPECT_LT(absl::Now() - logger.lines()[0].time, absl::Minutes(1));
}

TEST(ComponentLogTest, NoLoggerMeansTheDefault) {
  ComponentLog log;
  EXPECT_EQ(log.logger(), DefaultLogger());
  ComponentLog silent(NullLogger(), "x");
  silent.Error("nothing happens");
  EXPECT_FALSE(silent.Enabled(LogLevel::kCritical));
}

}  // namespace
}  // namespace peerlab::runtime
