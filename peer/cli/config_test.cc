#include "peer/cli/config.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::cli {
namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() {
    EXPECT_TRUE(config_.AddInt("port", "a port", &port_, 0, 65535).ok());
    EXPECT_TRUE(config_.AddString("name", "a name", &name_).ok());
    EXPECT_TRUE(config_.AddBool("fast", "a flag", &fast_).ok());
    EXPECT_TRUE(config_.AddDouble("ratio", "a ratio", &ratio_, 0, 1).ok());
    EXPECT_TRUE(config_
                    .AddDuration("interval", "a period", &interval_,
                                 absl::Milliseconds(1))
                    .ok());
  }
  std::string TempPath(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            absl::StrCat("peerlab-config-test-", ::getpid(), "-", name))
        .string();
  }

  ConfigRegistry config_;
  int64_t port_ = 7946;
  std::string name_ = "alice";
  bool fast_ = false;
  double ratio_ = 0.5;
  absl::Duration interval_ = absl::Seconds(1);
};

TEST_F(ConfigTest, SetConvertsAndValidates) {
  EXPECT_TRUE(config_.Set("port", "8000").ok());
  EXPECT_EQ(port_, 8000);
  EXPECT_TRUE(config_.Set("fast", "true").ok());
  EXPECT_TRUE(fast_);
  EXPECT_TRUE(config_.Set("interval", "200ms").ok());
  EXPECT_EQ(interval_, absl::Milliseconds(200));
  EXPECT_EQ(*config_.Get("interval"), "200ms");

  absl::Status bad = config_.Set("port", "70000");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("port:"));
  EXPECT_EQ(port_, 8000);
  EXPECT_FALSE(config_.Set("port", "abc").ok());
  EXPECT_FALSE(config_.Set("ratio", "2").ok());
  EXPECT_FALSE(config_.Set("interval", "0s").ok());
  EXPECT_FALSE(config_.Set("fast", "maybe").ok());
  absl::Status unknown = config_.Set("prot", "1");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.message()),
              HasSubstr("did you mean: port, fast?"));
}

// A component says when its values apply (membership: at the next
// memberlistcreate); `set` prints it.
TEST_F(ConfigTest, NoticesMatchByPrefix) {
  bool later = false;
  config_.AddNotice(
      "po", [&]() -> std::string { return later ? "takes effect later" : ""; });
  config_.AddNotice("port", [] { return std::string("and again"); });
  EXPECT_EQ(config_.Notice("port"), "and again");
  later = true;
  EXPECT_EQ(config_.Notice("port"), "takes effect later; and again");
  EXPECT_EQ(config_.Notice("name"), "");
}

TEST_F(ConfigTest, DuplicateKeyRefused) {
  int64_t other;
  EXPECT_EQ(config_.AddInt("port", "", &other, 0, 1).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(ConfigTest, SaveLoadRoundTrip) {
  std::string path = TempPath("roundtrip.json");
  ASSERT_TRUE(config_.Set("port", "1234").ok());
  ASSERT_TRUE(config_.Set("name", "bob smith").ok());
  ASSERT_TRUE(config_.Set("interval", "1.5s").ok());
  ASSERT_TRUE(config_.SaveFile(path).ok());
  port_ = 1;
  name_ = "x";
  interval_ = absl::Seconds(9);
  ASSERT_TRUE(config_.LoadFile(path).ok());
  EXPECT_EQ(port_, 1234);
  EXPECT_EQ(name_, "bob smith");
  EXPECT_EQ(interval_, absl::Milliseconds(1500));
  std::filesystem::remove(path);
}

TEST_F(ConfigTest, BadFilesChangeNothing) {
  std::string path = TempPath("bad.json");
  auto load = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    return config_.LoadFile(path);
  };
  // A good key before a bad one must not be applied.
  absl::Status s = load(R"({"port": 1, "nosuchkey": 2})");
  EXPECT_THAT(std::string(s.message()), HasSubstr("nosuchkey"));
  EXPECT_EQ(port_, 7946);
  s = load(R"({"port": 1, "ratio": 7})");
  EXPECT_THAT(std::string(s.message()), HasSubstr("ratio"));
  EXPECT_EQ(port_, 7946);
  EXPECT_FALSE(load("not json").ok());
  EXPECT_FALSE(load("[1, 2]").ok());
  EXPECT_FALSE(load(R"({"port": [1]})").ok());
  EXPECT_EQ(port_, 7946);
  EXPECT_EQ(config_.LoadFile(TempPath("missing.json")).code(),
            absl::StatusCode::kNotFound);
  std::filesystem::remove(path);
}

TEST_F(ConfigTest, JsonUsesNativeTypes) {
  std::string json = config_.ToJson();
  EXPECT_THAT(json, HasSubstr("\"port\": 7946"));
  EXPECT_THAT(json, HasSubstr("\"fast\": false"));
  EXPECT_THAT(json, HasSubstr("\"name\": \"alice\""));
  EXPECT_THAT(json, HasSubstr("\"interval\": \"1s\""));
}

// issue 12: a key that sets others (a profile) is applied before them,
// whatever the names' order, so a file is "profile, then these values".
TEST(ConfigOrderTest, KeyThatSetsOthersIsAppliedFirst) {
  ConfigRegistry config;
  std::string profile = "lan";
  int64_t early = 1, late = 1;  // "m.early" sorts before "m.profile"
  auto apply_profile = [&](const std::string& p) {
    profile = p;
    early = late = p == "wan" ? 100 : 1;
  };
  ConfigRegistry::Key key{
      "m.profile",
      "resets m.early and m.late",
      ConfigRegistry::Type::kString,
      [](const std::string& v) -> absl::StatusOr<std::string> { return v; },
      apply_profile,
      [&] { return profile; }};
  key.apply_first = true;
  ASSERT_TRUE(config.Add(key).ok());
  ASSERT_TRUE(config.AddInt("m.early", "", &early, 0, 1000).ok());
  ASSERT_TRUE(config.AddInt("m.late", "", &late, 0, 1000).ok());

  ASSERT_TRUE(
      config.LoadJson(R"({"m.early": 7, "m.profile": "wan", "m.late": 8})")
          .ok());
  EXPECT_EQ(profile, "wan");
  EXPECT_EQ(early, 7);
  EXPECT_EQ(late, 8);
  // A saved file loads back to exactly the saved values.
  ASSERT_TRUE(config.Set("m.early", "42").ok());
  std::string saved = config.ToJson();
  ASSERT_TRUE(config.Set("m.profile", "lan").ok());
  ASSERT_TRUE(config.LoadJson(saved).ok());
  EXPECT_EQ(config.ToJson(), saved);
  EXPECT_EQ(early, 42);
}

TEST_F(ConfigTest, FilesAreReadBoundedAndClearly) {
  std::string dir = TempPath("a-directory");
  std::filesystem::create_directories(dir);
  absl::Status s = config_.LoadFile(dir);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(dir));
  std::filesystem::remove_all(dir);
  std::string big = TempPath("big.json");
  {
    std::ofstream out(big);
    out << "{\"name\": \"" << std::string(8 << 20, 'x') << "\"}";
  }
  s = config_.LoadFile(big);
  std::filesystem::remove(big);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(name_ == "alice");  // unchanged (not printed: 8 MiB)
  EXPECT_THAT(std::string(config_.LoadFile(TempPath("missing")).message()),
              HasSubstr("no such file"));
}

// Security settings are local_only by their name, whoever registers them
// and without a MarkLocalOnly call (issue 13: memberlist.keyfile was
// remotely settable, so a caller could point the peer at its own key).
TEST_F(ConfigTest, SecuritySettingsAreLocalOnlyByName) {
  for (const char* name :
       {"memberlist.keyfile", "memberlist.key_file",
        "bootstrap.admin_token_file", "memberlist.label",
        "memberlist.group_label", "memberlist.insecure_gossip",
        "harness.allow_faults", "x.allow_remote", "identity.secret",
        "chat.tls_ca", "security.anything", "memberlist.encrypt",
        "identity.pinned_keys", "coordinator.auth"}) {
    EXPECT_TRUE(cli::ConfigRegistry::IsSecuritySetting(name)) << name;
    std::string target;
    ASSERT_TRUE(config_.AddString(name, "a security setting", &target).ok());
    EXPECT_EQ(config_.Set(name, "evil", /*remote=*/true).code(),
              absl::StatusCode::kPermissionDenied)
        << name;
    EXPECT_EQ(config_
                  .LoadJson(absl::StrCat("{\"", name, "\": \"evil\"}"),
                            /*remote=*/true)
                  .code(),
              absl::StatusCode::kPermissionDenied)
        << name;
    EXPECT_EQ(target, "") << name;
    EXPECT_TRUE(config_.Set(name, "local").ok()) << name;  // the owner may
  }
  for (const char* name : {"memberlist.probe_interval", "chat.ping_timeout",
                           "memberlist.bind_port", "shell.timeout",
                           "memberlist.profile", "memberlist.gossip_nodes",
                           "bootstrap.lease", "memberlist.max_members"}) {
    EXPECT_FALSE(cli::ConfigRegistry::IsSecuritySetting(name)) << name;
  }
}

// local_only keys: refused to remote callers on the parsed key, whatever its
// JSON spelling; other keys, and the same text in a value, stay loadable.
TEST_F(ConfigTest, LocalOnlyKeysAreRefusedToRemoteCallers) {
  bool lock = false;
  ASSERT_TRUE(config_.AddBool("shell.allow_remote", "a lock", &lock).ok());
  EXPECT_EQ(config_.MarkLocalOnly("nope").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(config_.MarkLocalOnly("shell.allow_remote").ok());

  absl::Status set = config_.Set("shell.allow_remote", "true", /*remote=*/true);
  EXPECT_EQ(set.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(set.message()), HasSubstr("shell.allow_remote"));
  EXPECT_FALSE(lock);
  for (const char* json : {
           R"({"shell.allow\u005fremote": true})",
           R"({"shell.allow\u005Fremote": true})",
           R"({"\u0073hell\u002e\u0061llow_remote": true})",
           R"({"port": 1, "shell.allow\u005fremote": true})",
           R"({"shell.allow_remote": false, "shell.allow_remote": true})",
       }) {
    absl::Status s = config_.LoadJson(json, /*remote=*/true);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << json;
    EXPECT_THAT(std::string(s.message()), HasSubstr("nothing was changed"));
    EXPECT_FALSE(lock) << json;
    EXPECT_EQ(port_, 7946) << json;
  }
  // The words in a value decide nothing; other keys stay remotely settable.
  ASSERT_TRUE(
      config_.LoadJson(R"({"name": "shell.allow_remote", "port": 2})", true)
          .ok());
  EXPECT_EQ(name_, "shell.allow_remote");
  EXPECT_EQ(port_, 2);
  EXPECT_TRUE(config_.Set("port", "3", /*remote=*/true).ok());
  // Local callers change every key.
  ASSERT_TRUE(config_.LoadJson(R"({"shell.allow\u005fremote": true})").ok());
  EXPECT_TRUE(lock);
  EXPECT_TRUE(config_.Set("shell.allow_remote", "false").ok());
  EXPECT_FALSE(lock);
}

}  // namespace
}  // namespace peerlab::cli
