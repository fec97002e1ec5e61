#include "peer/cluster/tags.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace peerlab::cluster {
namespace {

TEST(TagsTest, KeysAndValuesAreValidated) {
  struct Case {
    std::string text;
    std::string error;  // "" = accepted
  };
  const std::vector<Case> cases = {
      {"role=web", ""},
      {"dc.zone-1_a=eu west;1=2%", ""},
      {"k==", ""},  // the value is "="
      {"role", "\"role\": expected KEY=VALUE"},
      {"=v", "tag key: empty"},
      {"ro le=x",
       "tag key \"ro le\": only letters, digits, '_', '.' and "
       "'-' are allowed"},
      {"k;x=v",
       "tag key \"k;x\": only letters, digits, '_', '.' and '-' "
       "are allowed"},
      {"role=", "tag role: empty value (tags del role removes a tag)"},
      {std::string(65, 'k') + "=v",
       "tag key kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: 65 bytes, at most 64"},
      {"k=" + std::string(4097, 'v'),
       "tag k: value of 4097 bytes, at most "
       "4096"},
  };
  for (const Case& c : cases) {
    auto r = ParseTagAssignment(c.text);
    if (c.error.empty()) {
      EXPECT_TRUE(r.ok()) << c.text << ": " << r.status();
    } else {
      ASSERT_FALSE(r.ok()) << c.text;
      EXPECT_EQ(r.status().message(), c.error);
    }
  }
  Tags many;
  for (int i = 0; i <= 64; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_EQ(ValidateTags(many).message(), "65 tags, at most 64");
}

TEST(TagsTest, ValuesRoundTripThroughTheMetadataFields) {
  const std::vector<std::string> values = {
      "web",      "a;b=c%d", std::string("nul\0byte\n", 9),
      "\xff\xfe", "100%",    "tag.x=y;chat=evil"};
  for (const std::string& v : values) {
    const std::string escaped = EscapeTagValue(v);
    EXPECT_EQ(escaped.find_first_of(";="), std::string::npos) << escaped;
    auto back = UnescapeTagValue(escaped);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, v);
  }
  EXPECT_EQ(EscapeTagValue("a;b=c%"), "a%3Bb%3Dc%25");
  for (const char* bad : {"%", "%4", "%zz", "ab%G1"}) {
    EXPECT_FALSE(UnescapeTagValue(bad).ok()) << bad;
  }
}

TEST(TagsTest, TagsNeverCollideWithThePeersFields) {
  Tags tags = {{"chat", "1.2.3.4:5"}, {"role", "a;chat=evil"}, {"id", "x"}};
  // What the peer does: its own fields, then the tag fields, "k=v;..."
  std::map<std::string, std::string> fields = {
      {"chat", "127.0.0.1:4000"}, {"id", "uuid"}, {"started", "17"}};
  for (auto& [k, v] : TagFields(tags)) fields[k] = v;
  std::string meta;
  for (const auto& [k, v] : fields) {
    if (!meta.empty()) meta += ';';
    meta += k + "=" + v;
  }
  EXPECT_EQ(meta,
            "chat=127.0.0.1:4000;id=uuid;started=17;tag.chat=1.2.3.4:5;tag.id="
            "x;tag.role=a%3Bchat%3Devil");
  EXPECT_EQ(DecodeTags(meta), tags);
  // Not tags: the peer's fields, bad keys, bad escapes, empty values.
  EXPECT_TRUE(
      DecodeTags("chat=x;tag.=v;tag.a b=v;tag.k=%zz;tag.e=;tag.ok").empty());
}

}  // namespace
}  // namespace peerlab::cluster
