// Network coordinates and protocol statistics on real peers: three
// peerlab-peer processes on loopback (200 ms probes), then `rtt` and
// `stats` through PeerControl.
//
// What the RTT test asserts: for every ordered pair (p, q), p's `rtt q`
// prints an estimate E (q's coordinate from q's acks against p's own) and
// what p's probes of q measured, M (the median of the last three direct
// ping-ack round trips, loopback plus both event loops: typically 0.1-1
// ms); within the deadline, a poll finds |E - M| <= 25 % of M. Loopback
// round trips jitter by more than that from one probe to the next, so the
// test asks for agreement at one poll, not at every one.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/app/e2e_testing.h"

namespace peerlab::peer {
namespace {

using ::peerlab::peer::e2e::Eventually;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(30);

class CoordinatesE2eTest : public e2e::PeerE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpBootstrap("peerlab-coords-e2e"));
    ASSERT_NO_FATAL_FAILURE(WriteConfig());
  }
  std::unique_ptr<e2e::WatchedPeer> Start(const std::string& name) {
    return StartWatchedPeer(
        name,
        {"--bootstrap", bootstrap_.address, "--config", config_, "--serve"},
        kDeadline);
  }
};

// "estimated rtt A <-> B: 0.412 ms (probes measured 0.380 ms)": the two
// numbers, or false.
bool ParseRtt(const std::string& line, double* estimate, double* measured) {
  const std::string kEst = ": ", kMeas = "(probes measured ";
  size_t e = line.find(kEst);
  size_t m = line.find(kMeas);
  if (!absl::StartsWith(line, "estimated rtt ") || e == std::string::npos ||
      m == std::string::npos) {
    return false;
  }
  std::vector<std::string> est =
      absl::StrSplit(line.substr(e + kEst.size()), ' ');
  std::vector<std::string> meas =
      absl::StrSplit(line.substr(m + kMeas.size()), ' ');
  return !est.empty() && !meas.empty() && absl::SimpleAtod(est[0], estimate) &&
         absl::SimpleAtod(meas[0], measured);
}

TEST_F(CoordinatesE2eTest, RttEstimateAgreesWithProbesAndStatsCountThem) {
  const std::vector<std::string> names = {"alice", "bob", "carol"};
  std::vector<std::unique_ptr<e2e::WatchedPeer>> peers;
  for (const std::string& name : names) {
    peers.push_back(Start(name));
    ASSERT_TRUE(peers.back()) << name;
  }
  for (const std::string& name : {"bob", "carol"}) {
    ASSERT_TRUE(peers[0]->WaitForLine(
        "messagesView", absl::StrCat("<joined> ", name, " has joined")));
  }
  ASSERT_TRUE(Eventually(
      [&] {
        for (auto& p : peers) {
          if (!absl::StrContains(
                  p->Output("stats memberlist.node.instances"),
                  "memberlist.node.instances{node_state=\"alive\"} 3")) {
            return false;
          }
        }
        return true;
      },
      kDeadline));

  for (size_t i = 0; i < peers.size(); ++i) {
    for (size_t j = 0; j < peers.size(); ++j) {
      if (i == j) continue;
      std::string last;
      double estimate = 0, measured = 0;
      const bool agreed = Eventually(
          [&] {
            last = peers[i]->Output(absl::StrCat("rtt ", names[j]));
            return ParseRtt(last, &estimate, &measured) && measured > 0 &&
                   std::abs(estimate - measured) <= 0.25 * measured;
          },
          absl::Seconds(8));
      EXPECT_TRUE(agreed) << names[i] << ": " << last;
      std::printf("%s: %s\n", names[i].c_str(), last.c_str());
      EXPECT_LT(measured, 50.0) << "a loopback round trip: " << last;
    }
  }
  // Between two others, from their coordinates alone.
  EXPECT_THAT(peers[0]->Output("rtt bob carol"),
              HasSubstr("estimated rtt bob <-> carol: "));
  EXPECT_THAT(peers[0]->Output("rtt nobody"),
              HasSubstr("no coordinate for nobody"));

  const std::string stats = peers[0]->Output("stats");
  for (const char* sample :
       {"memberlist.health.score 0",
        "memberlist.messages.sent{kind=\"ping\",path=\"udp\"} ",
        "memberlist.messages.received{kind=\"ack\",path=\"udp\"} ",
        "memberlist.probeNode{outcome=\"ack\"} ", "memberlist.udp.sent ",
        "memberlist.coordinate.updates "}) {
    EXPECT_THAT(stats, HasSubstr(sample));
  }
  EXPECT_THAT(peers[0]->Output("stats memberlist.msg."),
              HasSubstr("memberlist.msg.alive "));
}

}  // namespace
}  // namespace peerlab::peer
