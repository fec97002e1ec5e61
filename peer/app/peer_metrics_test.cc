#include "peer/app/peer_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::peer {
namespace {

using ::testing::HasSubstr;

TEST(PeerMetricsTest, WithoutANodeOnlyTheNodeGauge) {
  const std::string text =
      metrics::RenderText(MembershipFamilies(std::nullopt));
  EXPECT_EQ(text,
            "# HELP peerlab_membership_node 1 while this peer has a "
            "membership node\n# TYPE peerlab_membership_node gauge\n"
            "peerlab_membership_node 0\n");
  EXPECT_TRUE(ChatFamilies(std::nullopt).empty());
}

TEST(PeerMetricsTest, MembershipSamplesAfterTheNodeGauge) {
  const MetricSamples samples = {
      {"memberlist.health.score", MetricSample::Kind::kGauge, {}, 2, "score"},
      {"memberlist.msg.suspect", MetricSample::Kind::kCounter, {}, 4, ""}};
  const std::string text = metrics::RenderText(MembershipFamilies(samples));
  EXPECT_THAT(text, HasSubstr("\npeerlab_membership_node 1\n"));
  EXPECT_THAT(text, HasSubstr("\nmemberlist_health_score 2\n"));
  EXPECT_THAT(text, HasSubstr("\nmemberlist_msg_suspect_total 4\n"));
}

TEST(PeerMetricsTest, ChatCounters) {
  chat::ChatStats stats;
  stats.sent = 4;
  stats.acked = 8;
  stats.senders = 2;
  const std::string text = metrics::RenderText(ChatFamilies(stats));
  EXPECT_THAT(text, HasSubstr("\npeerlab_chat_sent_total 4\n"));
  EXPECT_THAT(text, HasSubstr("\npeerlab_chat_acked_total 8\n"));
  EXPECT_THAT(text, HasSubstr("\npeerlab_chat_senders 2\n"));
}

TEST(PeerMetricsTest, HandlerCounters) {
  handlers::HandlerRunner::Stats stats;
  stats.dispatched = 5;
  stats.dropped = 2;
  const std::string text = metrics::RenderText(HandlerFamilies(stats));
  EXPECT_THAT(text, HasSubstr("\npeerlab_handlers_dispatched_total 5\n"));
  EXPECT_THAT(text, HasSubstr("\npeerlab_handlers_dropped_total 2\n"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE peerlab_handlers_timed_out_total counter"));
}

}  // namespace
}  // namespace peerlab::peer
