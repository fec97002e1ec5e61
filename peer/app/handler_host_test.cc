// HandlerHost: what a member event hands a handler program.
#include "peer/app/handler_host.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::peer {
namespace {

using ::testing::Contains;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::StartsWith;

// A member's tags are its "tag.K" fields (cluster/tags.h): the program's
// PEERLAB_TAG_<KEY> and the member line carry those, never the peer's own
// fields (before: PEERLAB_TAG_CHAT with the chat address, and
// PEERLAB_TAG_TAG_ROLE).
TEST(HandlerHostTest, MemberEventsCarryTagsNotThePeersOwnFields) {
  auto dir = testing::TempDir::Create();
  ASSERT_TRUE(dir.ok());
  const std::string out = (*dir)->File("event.out");
  const std::string script = (*dir)->File("h.sh");
  ASSERT_TRUE(
      testing::WriteFile(
          script, absl::StrCat("#!/bin/sh\n(env | grep '^PEERLAB_TAG'; "
                               "cat) > ",
                               out, ".tmp; mv ", out, ".tmp ", out, "\n"))
          .ok());
  ::chmod(script.c_str(), 0700);
  HandlerHost host("alice", {});
  ASSERT_TRUE(host.AddAll({"member-join=" + script}).ok());
  host.OnJoin(membership::Member{.name = "alice",
                                 .addr = "127.0.0.1:7001",
                                 .meta = "chat=127.0.0.1:9;id=x;tag.role=web",
                                 .state = membership::MemberState::kAlive});
  ASSERT_TRUE(host.runner().WaitIdle(absl::Seconds(10)));
  auto text = testing::ReadFile(out);
  ASSERT_TRUE(text.ok()) << text.status();
  std::vector<std::string> lines = absl::StrSplit(*text, '\n');
  EXPECT_THAT(lines, Contains("PEERLAB_TAG_ROLE=web")) << *text;
  EXPECT_THAT(lines, Not(Contains(StartsWith("PEERLAB_TAG_CHAT")))) << *text;
  EXPECT_THAT(lines, Not(Contains(StartsWith("PEERLAB_TAG_ID")))) << *text;
  EXPECT_THAT(lines, Contains("alice\t127.0.0.1:7001\talive\trole=web"))
      << *text;
  host.Stop();
}

}  // namespace
}  // namespace peerlab::peer
