// issue 12: a log record is one line of logView, whatever the names and
// texts it carries from the network.
#include "peer/app/view_log_sink.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace peerlab::peer {
namespace {

TEST(ViewLogSinkTest, ARecordWithControlCharactersStaysOneEscapedLine) {
  cli::ViewHub hub;
  auto sink = std::make_shared<ViewLogSink>(&hub);
  spdlog::logger logger("alice", sink);
  logger.warn("member {} joined",
              "eve\ninfo  [alice] member mallory left\x1b[2K");
  auto lines = hub.History(cli::kLogView);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text,
            "warning [alice] member eve\\ninfo  [alice] member mallory "
            "left\\x1b[2K joined");
}

}  // namespace
}  // namespace peerlab::peer
