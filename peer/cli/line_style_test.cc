#include "peer/cli/line_style.h"

#include "gtest/gtest.h"

namespace peerlab::cli {
namespace {

TEST(LineStyleTest, TagsAtTheStartChooseTheColour) {
  EXPECT_EQ(StyleOf("messagesView", "<joined> bob has joined"),
            LineStyle::kGood);
  EXPECT_EQ(StyleOf("outputView", "<info> ready"), LineStyle::kGood);
  EXPECT_EQ(StyleOf("messagesView", "<left> bob is leaving"),
            LineStyle::kNotice);
  EXPECT_EQ(StyleOf("outputView", "<warn> slow"), LineStyle::kNotice);
  EXPECT_EQ(StyleOf("outputView", "<failed> x"), LineStyle::kBad);
  EXPECT_EQ(StyleOf("outputView", "<error> y"), LineStyle::kBad);
  EXPECT_EQ(StyleOf("outputView", "error: unknown command \"x\""),
            LineStyle::kBad);
}

TEST(LineStyleTest, OtherLinesArePlainAndLogsDim) {
  EXPECT_EQ(StyleOf("messagesView", "<bob> <joined> is just text"),
            LineStyle::kPlain);
  EXPECT_EQ(StyleOf("outputView", " error: indented"), LineStyle::kPlain);
  EXPECT_EQ(StyleOf("outputView", "no error: here"), LineStyle::kPlain);
  EXPECT_EQ(StyleOf("outputView", ""), LineStyle::kPlain);
  EXPECT_EQ(StyleOf("logView", "error: even errors"), LineStyle::kQuiet);
  EXPECT_EQ(StyleOf("logView", "info  [alice] up"), LineStyle::kQuiet);
}

TEST(LineStyleTest, RenderWrapsInSgrCodes) {
  EXPECT_EQ(Render(LineStyle::kPlain, "hi"), "hi");
  EXPECT_EQ(Render(LineStyle::kGood, "<joined> a"),
            "\x1b[1;32m<joined> a\x1b[0m");
  EXPECT_EQ(Render(LineStyle::kNotice, "<left> a"),
            "\x1b[1;33m<left> a\x1b[0m");
  EXPECT_EQ(Render(LineStyle::kBad, "error: x"), "\x1b[1;31merror: x\x1b[0m");
  EXPECT_EQ(Render(LineStyle::kQuiet, "log"), "\x1b[2mlog\x1b[0m");
}

TEST(LineStyleTest, ControlCharactersAreDefused) {
  EXPECT_EQ(Sanitize("a\tb"), "a\tb");
  EXPECT_EQ(Sanitize("\x1b[2Jgone"), "^[[2Jgone");
  EXPECT_EQ(Sanitize("bell\a\r"), "bell^G^M");
  EXPECT_EQ(Sanitize("del\x7f"), "del^?");
  EXPECT_EQ(Sanitize("csi\xc2\x9b"
                     "31m"),
            "csi?31m");
  EXPECT_EQ(Sanitize("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");
  EXPECT_EQ(Render(LineStyle::kBad, "error: \x1b]0;title\a"),
            "\x1b[1;31merror: ^[]0;title^G\x1b[0m");
}

}  // namespace
}  // namespace peerlab::cli
