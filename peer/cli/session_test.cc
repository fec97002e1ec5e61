#include "peer/cli/session.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::cli {
namespace {

using ::testing::ElementsAre;

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() {
    EXPECT_TRUE(registry_
                    .Register({.name = "say",
                               .group = "demo",
                               .handler =
                                   [](const Call& call, Output& out) {
                                     out.Print(call.rest);
                                     out.ToView(kMessagesView,
                                                "<me> " + call.rest);
                                     return absl::OkStatus();
                                   }})
                    .ok());
  }
  std::vector<std::string> Texts(absl::string_view view) {
    std::vector<std::string> out;
    for (const auto& l : hub_.History(view)) out.push_back(l.text);
    return out;
  }
  Registry registry_;
  ViewHub hub_;
};

TEST_F(SessionTest, ViewOutputWritesAndCaptures) {
  ViewOutput out(&hub_, /*capture=*/true);
  ASSERT_TRUE(RunLine(registry_, "say hi there", out).ok());
  EXPECT_THAT(Texts(kOutputView), ElementsAre("hi there"));
  EXPECT_THAT(Texts(kMessagesView), ElementsAre("<me> hi there"));
  auto captured = out.captured();
  ASSERT_EQ(captured.size(), 2u);
  EXPECT_EQ(captured[0].view, kOutputView);
  EXPECT_EQ(captured[1].seq, captured[0].seq + 1);
}

TEST_F(SessionTest, FailuresGoToOutputView) {
  ViewOutput out(&hub_);
  EXPECT_FALSE(RunLine(registry_, "nope", out).ok());
  EXPECT_THAT(Texts(kOutputView),
              ElementsAre("error: unknown command \"nope\"; type help for the "
                          "list"));
}

TEST_F(SessionTest, RunLinesCountsFailuresAndGoesOn) {
  ViewOutput out(&hub_);
  std::istringstream in("say a\n# comment\n\nbad\nsay b\n");
  EXPECT_EQ(RunLines(registry_, in, out, nullptr), 1);
  EXPECT_THAT(Texts(kMessagesView), ElementsAre("<me> a", "<me> b"));
}

TEST_F(SessionTest, RunLinesStopsWhenAsked) {
  ViewOutput out(&hub_);
  std::istringstream in("say a\nsay b\n");
  int calls = 0;
  EXPECT_EQ(RunLines(registry_, in, out, [&] { return ++calls > 1; }), 0);
  EXPECT_THAT(Texts(kMessagesView), ElementsAre("<me> a"));
}

}  // namespace
}  // namespace peerlab::cli
