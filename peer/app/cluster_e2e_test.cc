// The cluster layer on real peers (issue 16): three peerlab-peer processes
// against a real peerlab-bootstrap on loopback. A tag set on one is seen
// by all (an update event on each eventsView), and a user event reaches
// all of them once. Every wait is a condition with a deadline.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"

namespace peerlab::peer {
namespace {

using ::peerlab::peer::e2e::Eventually;

constexpr absl::Duration kDeadline = absl::Seconds(10);

class ClusterE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("peerlab-cluster-e2e"));
    ASSERT_NO_FATAL_FAILURE(WriteConfig(R"({
      "memberlist.probe_interval": "200ms",
      "memberlist.probe_timeout": "100ms",
      "memberlist.gossip_interval": "50ms",
      "memberlist.reliable_timeout": "500ms",
      "event.order_delay": "200ms"
    })"));
  }
  std::unique_ptr<e2e::WatchedPeer> Start(const std::string& name) {
    return StartWatchedPeer(
        name,
        {"--bootstrap", bootstrap_.address, "--config", config_, "--serve"},
        absl::Seconds(30));
  }
};

TEST_F(ClusterE2eTest, TagsAndAnEventReachEveryPeer) {
  std::vector<std::unique_ptr<e2e::WatchedPeer>> peers;
  for (const char* name : {"alice", "bob", "charly"}) {
    peers.push_back(Start(name));
    ASSERT_NE(peers.back(), nullptr) << name;
  }
  for (auto& p : peers) {
    ASSERT_TRUE(Eventually(
        [&] {
          return absl::StrContains(p->Output("memberlist"), "3 member(s)");
        },
        absl::Seconds(30)));
  }
  e2e::WatchedPeer& alice = *peers[0];
  const auto set = alice.Execute("tags set role=web dc=eu-1");
  ASSERT_EQ(set.code(), 0) << set.message();
  EXPECT_EQ(alice.Output("tags"), "dc=eu-1\nrole=web\n2 tag(s)");
  for (size_t i = 1; i < peers.size(); ++i) {
    EXPECT_TRUE(Eventually(
        [&] {
          return absl::StrContains(peers[i]->Output("memberlist"),
                                   "tag.dc=eu-1;tag.role=web");
        },
        kDeadline))
        << i << ": " << peers[i]->Output("memberlist");
    EXPECT_TRUE(peers[i]->WaitForCount("eventsView", "member alice updated", 1,
                                       kDeadline))
        << i;
  }
  // Too large for the metadata: refused, naming the size and the limit.
  const auto big = alice.Execute("tags set big=" + std::string(600, 'x'));
  EXPECT_NE(big.code(), 0);
  EXPECT_TRUE(absl::StrContains(big.message(), "at most 512")) << big.message();

  const auto sent = alice.Execute("event deploy v1");
  ASSERT_EQ(sent.code(), 0) << sent.message();
  for (auto& p : peers) {
    EXPECT_TRUE(p->WaitForCount("eventsView", "<event> deploy v1 (from alice",
                                1, kDeadline));
  }
  // Once: still one each a moment later (another event after it arrived).
  ASSERT_EQ(alice.Execute("event marker").code(), 0);
  for (auto& p : peers) {
    ASSERT_TRUE(p->WaitForCount("eventsView", "<event> marker", 1, kDeadline));
    EXPECT_EQ(p->Lines("eventsView", "<event> deploy").size(), 1u);
  }
  // Larger than a datagram (issue 16): announced, the body fetched on the
  // reliable path by every peer, shown once, whole.
  const std::string body(40000, 'b');
  ASSERT_EQ(peers[1]->Execute("event blob " + body).code(), 0);
  for (auto& p : peers) {
    EXPECT_TRUE(p->WaitForCount(
        "eventsView", "<event> blob " + body + " (from bob", 1, kDeadline));
  }
}

}  // namespace
}  // namespace peerlab::peer
