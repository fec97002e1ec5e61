// issue 12: every setting of a real peer survives saveconfig + loadconfig,
// whatever the order of its keys (memberlist.profile sets others).
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/app/peer_app.h"

namespace peerlab::peer {
namespace {

// A valid value of `key` other than `current`, found by asking the key.
std::string OtherValue(cli::ConfigRegistry& config, const std::string& key,
                       const std::string& current) {
  std::vector<std::string> candidates;
  int64_t i;
  double d;
  absl::Duration t;
  // Every reading of `current` gives candidates; the key says which fit.
  if (key == "memberlist.profile") candidates = {"wan", "local", "lan"};
  if (current == "true" || current == "false") {
    candidates.push_back(current == "true" ? "false" : "true");
  }
  if (absl::SimpleAtoi(current, &i)) {
    candidates.push_back(absl::StrCat(i + 1));
    candidates.push_back(absl::StrCat(i - 1));
  }
  if (absl::SimpleAtod(current, &d)) {
    candidates.push_back(absl::StrCat(d + 0.25));
    candidates.push_back(absl::StrCat(d - 0.25));
  }
  if (absl::ParseDuration(current, &t)) {
    candidates.push_back(absl::FormatDuration(t * 2 + absl::Milliseconds(7)));
  }
  candidates.push_back(absl::StrCat(current, "x"));
  for (const auto& c : candidates) {
    if (c == current) continue;
    std::string before = config.Get(key).value_or("");
    if (config.Set(key, c).ok()) {
      std::string now = config.Get(key).value_or("");
      (void)config.Set(key, before);
      if (now != current) return c;
    }
  }
  return "";
}

TEST(ConfigRoundTripTest, EveryKeyLoadsBackToTheSavedValue) {
  PeerOptions options;
  options.name = "roundtrip";
  options.bootstrap = "127.0.0.1:1";
  auto app = PeerApp::Create(options);
  ASSERT_TRUE(app.ok()) << app.status();
  cli::ConfigRegistry& config = (*app)->config();
  const auto dir = std::filesystem::temp_directory_path() /
                   absl::StrCat("peerlab-config-roundtrip-", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string defaults = (dir / "defaults.json").string();
  const std::string changed = (dir / "changed.json").string();
  ASSERT_TRUE(config.SaveFile(defaults).ok());

  // Every key to another value; the profile first (it resets the others).
  ASSERT_TRUE(config.Set("memberlist.profile", "wan").ok());
  std::map<std::string, std::string> want;
  for (const auto& row : config.Rows()) {
    if (row.name == "memberlist.profile") continue;
    std::string v = OtherValue(config, row.name, row.value);
    ASSERT_FALSE(v.empty()) << "no other value for " << row.name;
    ASSERT_TRUE(config.Set(row.name, v).ok()) << row.name;
  }
  for (const auto& row : config.Rows()) want[row.name] = row.value;
  ASSERT_TRUE(config.SaveFile(changed).ok());

  ASSERT_TRUE(config.LoadFile(defaults).ok());
  ASSERT_TRUE(config.LoadFile(changed).ok());
  for (const auto& row : config.Rows()) {
    EXPECT_EQ(row.value, want[row.name]) << row.name;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace peerlab::peer
