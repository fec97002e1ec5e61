#include "base/xml_escape.h"

#include <string>

#include "gtest/gtest.h"

namespace peerlab {
namespace {

TEST(XmlEscapeTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(XmlEscape(""), "");
  EXPECT_EQ(XmlEscape("plain text, été"), "plain text, été");
}

TEST(XmlEscapeTest, ControlCharactersXmlForbidsBecomeQuestionMarks) {
  EXPECT_EQ(XmlEscape(std::string("a\x01"
                                  "b\x1b"
                                  "c\rd",
                                  7)),
            "a?b?c?d");
  EXPECT_EQ(XmlEscape("line\nnext\tcell"), "line\nnext\tcell");
  EXPECT_EQ(XmlEscape(std::string("nul\0end", 7)), "nul?end");
}

// Bytes that are not UTF-8 (a peer's name or chat text can carry any) make
// a document no XML parser reads: each becomes '?', and valid sequences
// are kept.
TEST(XmlEscapeTest, BytesThatAreNotUtf8BecomeQuestionMarks) {
  EXPECT_EQ(XmlEscape("a\xff"
                      "b"),
            "a?b");
  EXPECT_EQ(XmlEscape("\xc3"), "?");                 // cut short
  EXPECT_EQ(XmlEscape("\xc3(x"), "?(x");             // bad continuation
  EXPECT_EQ(XmlEscape("\xc0\xaf"), "??");            // overlong '/'
  EXPECT_EQ(XmlEscape("\xed\xa0\x80"), "???");       // a surrogate
  EXPECT_EQ(XmlEscape("\xf4\x90\x80\x80"), "????");  // past U+10FFFF
  EXPECT_EQ(XmlEscape("\xef\xbf\xbe"), "???");       // U+FFFE, not XML
  EXPECT_EQ(XmlEscape("\xe2\x82\xac \xf0\x9f\x98\x80"),
            "\xe2\x82\xac \xf0\x9f\x98\x80");  // € and an emoji kept
}

}  // namespace
}  // namespace peerlab
