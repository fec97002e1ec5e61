// StatsSnapshot on the simulator: the samples memberlist's names promise,
// and traffic counted by kind agreeing across senders and receivers.
#include "peer/membership/stats_snapshot.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "peer/membership/sim_cluster.h"
#include "peer/membership/wire.h"

namespace peerlab::membership {
namespace {

// The value of sample `name` with exactly `labels` (-1 when absent).
double Value(const MetricSamples& samples, const std::string& name,
             std::vector<std::pair<std::string, std::string>> labels = {}) {
  for (const MetricSample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return -1;
}

TEST(StatsSnapshotTest, CountsMembersProbesAndTrafficByKind) {
  SimCluster::Options options;
  options.nodes = 5;
  SimCluster cluster(options);
  cluster.StartAll();
  ASSERT_TRUE(
      cluster.RunUntil([&] { return cluster.Converged(); }, absl::Seconds(30)));
  cluster.RunFor(absl::Seconds(10));

  MetricSamples s = StatsSnapshot(cluster.node(0));
  EXPECT_EQ(Value(s, "memberlist.node.instances", {{"node_state", "alive"}}),
            5);
  EXPECT_EQ(Value(s, "memberlist.node.instances", {{"node_state", "dead"}}), 0);
  EXPECT_EQ(Value(s, "memberlist.health.score"), 0);
  EXPECT_GE(Value(s, "memberlist.incarnation"), 1);
  EXPECT_GE(Value(s, "memberlist.msg.alive"), 4);  // the four others joined
  EXPECT_GT(
      Value(s, "memberlist.messages.sent", {{"kind", "ping"}, {"path", "udp"}}),
      0);
  EXPECT_GT(Value(s, "memberlist.messages.received",
                  {{"kind", "ack"}, {"path", "udp"}}),
            0);
  // Node 0 is the one the others joined through.
  EXPECT_GE(Value(s, "memberlist.messages.received",
                  {{"kind", "push_pull"}, {"path", "tcp"}}),
            4);
  EXPECT_GE(Value(s, "memberlist.tcp.accept"), 4);
  EXPECT_GT(Value(s, "memberlist.probeNode", {{"outcome", "ack"}}), 0);
  EXPECT_EQ(Value(s, "memberlist.probeNode", {{"outcome", "failed"}}), 0);
  // Every probe has one outcome (or is still running).
  double outcomes = 0;
  for (const char* o :
       {"ack", "late_ack", "fallback_ack", "failed", "running"}) {
    outcomes += Value(s, "memberlist.probeNode", {{"outcome", o}});
  }
  EXPECT_EQ(outcomes, cluster.node(0).stats().probes);

  // Per-kind bytes add up to less than the datagrams' (headers, envelope),
  // and no lost datagram: what all sent of a kind, all received, once
  // nothing is in flight.
  for (int i = 0; i < cluster.size(); ++i) cluster.node(i).Shutdown();
  cluster.RunFor(absl::Seconds(1));
  std::map<int, uint64_t> sent, received;
  uint64_t bytes_sent = 0, bytes_received = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    const Stats& st = cluster.node(i).stats();
    for (int k = 0; k < Stats::kMaxKinds; ++k) {
      sent[k] += st.sent_by_kind[k].messages;
      received[k] += st.received_by_kind[k].messages;
    }
    bytes_sent += st.bytes_sent;
    bytes_received += st.bytes_received;
  }
  EXPECT_GT(sent[::peer::v1::Message::kPing], 0u);
  EXPECT_GT(bytes_sent, 0u);
  // Shutdown stops receiving at once, so a few datagrams sent just before
  // are not received: at most a handful.
  for (const auto& [kind, n] : sent) {
    EXPECT_LE(received[kind], n) << MessageKindName(kind);
    EXPECT_GE(received[kind] + 10, n) << MessageKindName(kind);
  }
  EXPECT_LE(bytes_received, bytes_sent);
}

TEST(StatsSnapshotTest, CountsSuspicionsAndDeaths) {
  SimCluster::Options options;
  options.nodes = 4;
  SimCluster cluster(options);
  cluster.StartAll();
  ASSERT_TRUE(
      cluster.RunUntil([&] { return cluster.Converged(); }, absl::Seconds(30)));
  cluster.Crash(3);
  ASSERT_TRUE(
      cluster.RunUntil([&] { return cluster.AllSee(3, MemberState::kDead); },
                       absl::Seconds(60)));
  uint64_t failed = 0, raised = 0;
  for (int i = 0; i < 3; ++i) {
    MetricSamples s = StatsSnapshot(cluster.node(i));
    EXPECT_GE(Value(s, "memberlist.msg.suspect"), 1) << i;
    EXPECT_EQ(Value(s, "memberlist.msg.dead"), 1) << i;
    EXPECT_EQ(Value(s, "memberlist.node.instances", {{"node_state", "dead"}}),
              1)
        << i;
    failed += static_cast<uint64_t>(
        Value(s, "memberlist.probeNode", {{"outcome", "failed"}}));
    raised += static_cast<uint64_t>(Value(s, "memberlist.suspicion.raised"));
  }
  EXPECT_GE(failed, 1u);
  EXPECT_EQ(failed, raised);
}

// memberlist.degraded.timeout (memberlist's name): a suspicion that ran
// out with fewer independent confirmations than Lifeguard expected. node0
// hears nobody (every link to it cut), so its suspicion of the crashed
// node5 gets no confirmation; the others confirm each other.
TEST(StatsSnapshotTest, ASuspicionOutOfTimeWithTooFewConfirmationsIsDegraded) {
  SimCluster::Options options;
  options.nodes = 6;
  SimCluster cluster(options);
  cluster.StartAll();
  ASSERT_TRUE(
      cluster.RunUntil([&] { return cluster.Converged(); }, absl::Seconds(30)));
  EXPECT_EQ(
      Value(StatsSnapshot(cluster.node(0)), "memberlist.degraded.timeout"), 0);
  for (int i = 1; i < 5; ++i) {
    cluster.net().Cut(static_cast<sim::NodeId>(i), 0);
  }
  cluster.Crash(5);
  cluster.RunFor(absl::Seconds(60));
  EXPECT_GE(
      Value(StatsSnapshot(cluster.node(0)), "memberlist.degraded.timeout"), 1);
  EXPECT_EQ(cluster.node(0).stats().degraded_timeouts,
            static_cast<uint64_t>(Value(StatsSnapshot(cluster.node(0)),
                                        "memberlist.degraded.timeout")));
}

TEST(StatsSnapshotTest, NodeNotStartedHasZeros) {
  SimCluster::Options options;
  options.nodes = 1;
  SimCluster cluster(options);
  MetricSamples s = StatsSnapshot(cluster.node(0));
  EXPECT_EQ(Value(s, "memberlist.udp.sent"), 0);
  EXPECT_EQ(Value(s, "memberlist.incarnation"), 0);
  for (const MetricSample& m : s) {
    EXPECT_FALSE(m.help.empty()) << m.name;
    EXPECT_EQ(m.name.rfind("memberlist.", 0), 0u) << m.name;
  }
}

TEST(StatsSnapshotTest, KindNames) {
  EXPECT_EQ(MessageKindName(::peer::v1::Message::kAlive), "alive");
  EXPECT_EQ(MessageKindName(::peer::v1::Message::kIndirectPing),
            "indirect_ping");
  EXPECT_EQ(MessageKindName(0), "other");
  EXPECT_EQ(MessageKindName(31), "other");
  EXPECT_EQ(RequestKindName(::peer::v1::ReliableRequest::kPushPull),
            "push_pull");
}

TEST(StatsSnapshotTest, FormatsOneLine) {
  MetricSample s{.name = "memberlist.messages.sent",
                 .labels = {{"kind", "ping"}, {"path", "udp"}},
                 .value = 12};
  EXPECT_EQ(FormatMetricSample(s),
            "memberlist.messages.sent{kind=\"ping\",path=\"udp\"} 12");
  s.labels.clear();
  s.value = 0.5;
  EXPECT_EQ(FormatMetricSample(s), "memberlist.messages.sent 0.5");
}

TEST(WireKindsTest, ForEachPacketMessageReadsKindsAndSizes) {
  ::peer::v1::Message ping, alive;
  ping.mutable_ping()->set_seq_no(7);
  alive.mutable_alive()->set_node("a-node");
  const std::vector<std::string> encoded = {EncodeMessage(ping),
                                            EncodeMessage(alive)};
  EXPECT_EQ(EncodedMessageKind(encoded[0]), ::peer::v1::Message::kPing);
  EXPECT_EQ(EncodedMessageKind(encoded[1]), ::peer::v1::Message::kAlive);
  const std::string packet = EncodePacket("me", encoded);
  std::vector<std::pair<int, size_t>> seen;
  ForEachPacketMessage(packet,
                       [&](int k, size_t n) { seen.emplace_back(k, n); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0],
            std::make_pair(int{::peer::v1::Message::kPing}, encoded[0].size()));
  EXPECT_EQ(seen[1], std::make_pair(int{::peer::v1::Message::kAlive},
                                    encoded[1].size()));
  // Every truncation, and garbage: no crash, never more than was there.
  for (size_t cut = 0; cut < packet.size(); ++cut) {
    int n = 0;
    ForEachPacketMessage(packet.substr(0, cut), [&](int, size_t) { ++n; });
    EXPECT_LE(n, 2);
  }
  ForEachPacketMessage(std::string(64, '\xff'), [](int, size_t) {});
  EXPECT_EQ(EncodedMessageKind(""), 0);
}

}  // namespace
}  // namespace peerlab::membership
