#include "peer/membership/config.h"

#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

// The numbers of memberlist's DefaultLANConfig, DefaultWANConfig and
// DefaultLocalConfig (config.go), but for Lan()'s suspicion (Lifeguard's
// tuning: a minimum half memberlist's, the same maximum, K = 2).
TEST(ConfigTest, ProfilesMatchMemberlist) {
  Config lan = Config::Lan();
  EXPECT_EQ(lan.probe_interval, absl::Seconds(1));
  EXPECT_EQ(lan.probe_timeout, absl::Milliseconds(500));
  EXPECT_EQ(lan.indirect_checks, 3);
  EXPECT_EQ(lan.retransmit_mult, 4);
  EXPECT_EQ(lan.suspicion_mult, 2);
  EXPECT_EQ(lan.suspicion_max_timeout_mult, 12);
  EXPECT_EQ(lan.suspicion_confirmations, 2);
  // memberlist's maximum: 4 * 6 probe intervals (times log10(N)).
  EXPECT_EQ(lan.suspicion_mult * lan.suspicion_max_timeout_mult, 4 * 6);
  EXPECT_EQ(lan.push_pull_interval, absl::Seconds(30));
  EXPECT_EQ(lan.gossip_nodes, 3);
  EXPECT_EQ(lan.gossip_interval, absl::Milliseconds(200));
  EXPECT_EQ(lan.gossip_to_the_dead_time, absl::Seconds(30));
  EXPECT_EQ(lan.reliable_timeout, absl::Seconds(10));
  EXPECT_EQ(lan.awareness_max_multiplier, 8);
  EXPECT_EQ(lan.packet_size, 1400);

  Config wan = Config::Wan();
  EXPECT_EQ(wan.reliable_timeout, absl::Seconds(30));
  EXPECT_EQ(wan.suspicion_mult, 6);
  EXPECT_EQ(wan.suspicion_max_timeout_mult, 6);
  EXPECT_EQ(wan.suspicion_confirmations, -1);  // memberlist's 6 - 2
  EXPECT_EQ(wan.push_pull_interval, absl::Seconds(60));
  EXPECT_EQ(wan.probe_timeout, absl::Seconds(3));
  EXPECT_EQ(wan.probe_interval, absl::Seconds(5));
  EXPECT_EQ(wan.gossip_nodes, 4);
  EXPECT_EQ(wan.gossip_interval, absl::Milliseconds(500));
  EXPECT_EQ(wan.gossip_to_the_dead_time, absl::Seconds(60));

  Config local = Config::Local();
  EXPECT_EQ(local.reliable_timeout, absl::Seconds(1));
  EXPECT_EQ(local.indirect_checks, 1);
  EXPECT_EQ(local.retransmit_mult, 2);
  EXPECT_EQ(local.suspicion_mult, 3);
  EXPECT_EQ(local.push_pull_interval, absl::Seconds(15));
  EXPECT_EQ(local.probe_timeout, absl::Milliseconds(200));
  EXPECT_EQ(local.probe_interval, absl::Seconds(1));
  EXPECT_EQ(local.gossip_interval, absl::Milliseconds(100));
  EXPECT_EQ(local.gossip_to_the_dead_time, absl::Seconds(15));
}

TEST(ConfigTest, FromProfileKeepsName) {
  Config c;
  c.name = "alice";
  ASSERT_TRUE(Config::FromProfile("wan", &c).ok());
  EXPECT_EQ(c.name, "alice");
  EXPECT_EQ(c.probe_interval, absl::Seconds(5));
  EXPECT_FALSE(Config::FromProfile("mars", &c).ok());
}

TEST(ConfigTest, ValidateNamesTheField) {
  Config c = Config::Local();
  EXPECT_FALSE(c.Validate().ok());  // no name
  c.name = "alice";
  EXPECT_TRUE(c.Validate().ok());
  Config bad = c;
  bad.probe_timeout = absl::Seconds(5);
  EXPECT_NE(bad.Validate().message().find("probe_timeout"), std::string::npos);
  bad = c;
  bad.gossip_nodes = 0;
  EXPECT_NE(bad.Validate().message().find("gossip_nodes"), std::string::npos);
  bad = c;
  bad.packet_size = 100;
  EXPECT_FALSE(bad.Validate().ok());
  bad = c;
  bad.retired_key_time = absl::Seconds(-1);
  EXPECT_NE(bad.Validate().message().find("retired_key_time"),
            std::string::npos);
  bad = c;
  bad.max_retired_keys = 65;
  EXPECT_NE(bad.Validate().message().find("max_retired_keys"),
            std::string::npos);
  EXPECT_EQ(c.retired_key_time, absl::Hours(24));
  EXPECT_EQ(c.max_retired_keys, 8);
}

// Vivaldi's settings: Serf's coordinate.DefaultConfig() by default,
// configurable, and checked (naming the field) when coordinates are on.
TEST(ConfigTest, VivaldiSettingsHaveSerfsDefaultsAndAreChecked) {
  Config c = Config::Lan();
  c.name = "alice";
  EXPECT_EQ(c.coordinate.dimensionality, 8);
  EXPECT_EQ(c.coordinate.vivaldi_error_max, 1.5);
  EXPECT_EQ(c.coordinate.vivaldi_ce, 0.25);
  EXPECT_EQ(c.coordinate.vivaldi_cc, 0.25);
  EXPECT_EQ(c.coordinate.adjustment_window_size, 20);
  EXPECT_EQ(c.coordinate.height_min, 10.0e-6);
  EXPECT_EQ(c.coordinate.latency_filter_size, 3);
  EXPECT_EQ(c.coordinate.gravity_rho, 150.0);
  c.coordinate.dimensionality = 3;
  EXPECT_TRUE(c.Validate().ok());
  Config bad = c;
  bad.coordinate.dimensionality = 17;
  EXPECT_NE(bad.Validate().message().find("dimensionality"), std::string::npos);
  bad = c;
  bad.coordinate.vivaldi_ce = 0;
  EXPECT_NE(bad.Validate().message().find("vivaldi_ce"), std::string::npos);
  bad.coordinates = false;  // off: not used, not checked
  EXPECT_TRUE(bad.Validate().ok());
}

}  // namespace
}  // namespace peerlab::membership
