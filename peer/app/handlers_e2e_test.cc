// Event handlers on real peers: `--event-handler` programs (tiny /bin/sh
// scripts this test writes; the peer runs them without a shell) see the
// membership events of the group, and `handler add|list|remove` change the
// table at run time.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/testing/eventually.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"

namespace peerlab::peer {
namespace {

using ::peerlab::testing::Eventually;
using ::peerlab::testing::ReadFile;
using ::peerlab::testing::WriteFile;
using ::testing::HasSubstr;

class HandlersE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("handlers-e2e"));
    ASSERT_NO_FATAL_FAILURE(WriteConfig());
  }

  // An executable script that appends its event, the self name and its
  // standard input to OUT.
  std::string RecordingScript(const std::string& name, const std::string& out) {
    const std::string path = dir_->File(name);
    EXPECT_TRUE(
        WriteFile(path, absl::StrCat("#!/bin/sh\n{ echo \"$PEERLAB_EVENT "
                                     "$PEERLAB_SELF_NAME\"; cat; } >> ",
                                     out, "\n"))
            .ok());
    ::chmod(path.c_str(), 0700);
    return path;
  }

  std::unique_ptr<e2e::WatchedPeer> Start(const std::string& name,
                                          std::vector<std::string> extra) {
    std::vector<std::string> args = {"--serve", "--bootstrap",
                                     bootstrap_.address, "--config", config_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto peer = StartWatchedPeer(name, args);
    if (peer && !peer->WaitForLine("outputView", "init: done")) return nullptr;
    return peer;
  }
};

TEST_F(HandlersE2eTest, MemberJoinHandlerSeesTheNewcomer) {
  const std::string out = dir_->File("alice-events.txt");
  const std::string script = RecordingScript("record.sh", out);
  auto alice = Start("alice", {"--event-handler", "member-join=" + script});
  ASSERT_TRUE(alice);
  auto bob = Start("bob", {});
  ASSERT_TRUE(bob);
  std::string text;
  EXPECT_TRUE(Eventually(
      [&] {
        text = ReadFile(out).value_or("");
        return absl::StrContains(text, "\nbob\t");
      },
      absl::Seconds(20)))
      << text;
  EXPECT_THAT(text, HasSubstr("member-join alice\n"));
  EXPECT_THAT(text, HasSubstr("\talive\t"));
  EXPECT_THAT(alice->Output("handler list"),
              HasSubstr("1 member-join " + script));
}

TEST_F(HandlersE2eTest, HandlersAddedAndRemovedAtRunTime) {
  auto alice = Start("alice", {});
  ASSERT_TRUE(alice);
  const std::string out = dir_->File("failed.txt");
  const std::string script = RecordingScript("failed.sh", out);
  EXPECT_THAT(alice->Output("handler add member-leave,member-failed=" + script),
              HasSubstr("handler 1 added"));
  EXPECT_THAT(alice->Output("handler add nosuch=" + script),
              HasSubstr("is not one of"));
  auto bob = Start("bob", {});
  ASSERT_TRUE(bob);
  ASSERT_TRUE(Eventually(
      [&] { return absl::StrContains(alice->Output("memberlist"), "bob"); },
      absl::Seconds(20)));
  ASSERT_TRUE(bob->process().Kill().ok());
  std::string text;
  EXPECT_TRUE(Eventually(
      [&] {
        text = ReadFile(out).value_or("");
        return absl::StrContains(text, "member-failed alice\nbob\t");
      },
      absl::Seconds(20)))
      << text;
  EXPECT_THAT(alice->Output("handler remove 1"), HasSubstr("removed"));
  EXPECT_THAT(alice->Output("handler list"), HasSubstr("0 handlers"));
}

// A user event reaches every peer's user:deploy handler (its payload on
// standard input), and a query is answered by the query:whoami handler of
// each of three peers (its standard output is the response).
TEST_F(HandlersE2eTest, UserEventAndQueryHandlersOnThreePeers) {
  const std::string answer = dir_->File("whoami.sh");
  ASSERT_TRUE(
      WriteFile(answer, "#!/bin/sh\necho \"I am $PEERLAB_SELF_NAME\"\n").ok());
  ::chmod(answer.c_str(), 0700);
  std::vector<std::unique_ptr<e2e::WatchedPeer>> peers;
  std::vector<std::string> outs;
  const std::vector<std::string> names = {"alice", "bob", "carol"};
  for (const std::string& name : names) {
    outs.push_back(dir_->File(absl::StrCat(name, "-deploy.txt")));
    const std::string record =
        RecordingScript(absl::StrCat(name, "-deploy.sh"), outs.back());
    peers.push_back(Start(name, {"--event-handler", "user:deploy=" + record,
                                 "--event-handler", "query:whoami=" + answer}));
    ASSERT_TRUE(peers.back()) << name;
  }
  ASSERT_TRUE(Eventually(
      [&] {
        for (auto& p : peers) {
          if (!absl::StrContains(p->Output("memberlist"), "carol")) {
            return false;
          }
        }
        return absl::StrContains(peers[2]->Output("memberlist"), "alice");
      },
      absl::Seconds(20)));
  EXPECT_THAT(peers[0]->Output("event deploy v42"), HasSubstr("ltime"));
  for (size_t i = 0; i < peers.size(); ++i) {
    std::string text;
    EXPECT_TRUE(Eventually(
        [&] {
          text = ReadFile(outs[i]).value_or("");
          return absl::StrContains(text,
                                   absl::StrCat("user ", names[i], "\nv42"));
        },
        absl::Seconds(20)))
        << i << ": " << text;
  }
  const std::string out = peers[1]->Output("query whoami --timeout 5s");
  EXPECT_THAT(out, HasSubstr("I am alice"));
  EXPECT_THAT(out, HasSubstr("I am bob"));
  EXPECT_THAT(out, HasSubstr("I am carol"));
  EXPECT_THAT(out, HasSubstr("matched 3, acked 0, answered 3, missing 0"));
}

}  // namespace
}  // namespace peerlab::peer
