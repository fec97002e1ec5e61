#include "base/metrics.h"

#include <cmath>
#include <limits>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peerlab::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct RenderCase {
  std::string label;
  std::vector<Family> families;
  std::string want;
};

TEST(RenderTextTest, Table) {
  Family hist{"rpc_seconds", "latency", Type::kHistogram, {}, {}};
  hist.histograms.push_back({{{"method", "Join"}}, {0.1, 1}, {2, 3}, 1.75, 4});
  const std::vector<RenderCase> cases = {
      {"empty", {}, ""},
      {"counter without labels",
       {CounterOf("a_total", "things done", 3)},
       "# HELP a_total things done\n# TYPE a_total counter\na_total 3\n"},
      {"gauge with labels and a fraction",
       {Family{"g", "", Type::kGauge, {{{{"x", "1"}, {"y", "b"}}, 0.25}}, {}}},
       "# TYPE g gauge\ng{x=\"1\",y=\"b\"} 0.25\n"},
      {"label value escaped",
       {Family{"g", "", Type::kGauge, {{{{"v", "a\"b\\c\nd"}}, 1}}, {}}},
       "# TYPE g gauge\ng{v=\"a\\\"b\\\\c\\nd\"} 1\n"},
      {"help escaped (quotes stay)",
       {CounterOf("c", "say \"hi\"\\\nnext", 0)},
       "# HELP c say \"hi\"\\\\\\nnext\n# TYPE c counter\nc 0\n"},
      {"invalid utf-8 replaced",
       {Family{"g", "", Type::kGauge, {{{{"v", "a\xff"}}, 1}}, {}}},
       "# TYPE g gauge\ng{v=\"a\xef\xbf\xbd\"} 1\n"},
      {"special values",
       {Family{"g",
               "",
               Type::kGauge,
               {{{{"k", "nan"}}, std::nan("")},
                {{{"k", "inf"}}, std::numeric_limits<double>::infinity()},
                {{{"k", "-inf"}}, -std::numeric_limits<double>::infinity()},
                {{{"k", "small"}}, 1e-5},
                {{{"k", "big"}}, 1e20}},
               {}}},
       "# TYPE g gauge\ng{k=\"nan\"} NaN\ng{k=\"inf\"} +Inf\n"
       "g{k=\"-inf\"} -Inf\ng{k=\"small\"} 1e-05\ng{k=\"big\"} 1e+20\n"},
      {"histogram",
       {hist},
       "# HELP rpc_seconds latency\n# TYPE rpc_seconds histogram\n"
       "rpc_seconds_bucket{method=\"Join\",le=\"0.1\"} 2\n"
       "rpc_seconds_bucket{method=\"Join\",le=\"1\"} 3\n"
       "rpc_seconds_bucket{method=\"Join\",le=\"+Inf\"} 4\n"
       "rpc_seconds_sum{method=\"Join\"} 1.75\n"
       "rpc_seconds_count{method=\"Join\"} 4\n"},
      {"invalid metric name left out",
       {CounterOf("bad name\n# TYPE x counter", "", 1), CounterOf("ok", "", 1)},
       "# TYPE ok counter\nok 1\n"},
      {"invalid label name left out",
       {Family{"g", "", Type::kGauge, {{{{"a-b", "1"}}, 1}}, {}}},
       ""},
  };
  for (const RenderCase& c : cases) {
    EXPECT_EQ(RenderText(c.families), c.want) << c.label;
  }
}

TEST(MetricNamesTest, Rules) {
  EXPECT_TRUE(CheckMetricName("peerlab_calls_total").ok());
  EXPECT_TRUE(CheckMetricName("memberlist:tcp_sent").ok());
  EXPECT_TRUE(CheckMetricName("_x1").ok());
  EXPECT_FALSE(CheckMetricName("").ok());
  EXPECT_FALSE(CheckMetricName("1abc").ok());
  EXPECT_FALSE(CheckMetricName("a-b").ok());
  EXPECT_FALSE(CheckMetricName("a b").ok());
  EXPECT_TRUE(CheckLabelName("method").ok());
  EXPECT_FALSE(CheckLabelName("__name__").ok());
  EXPECT_FALSE(CheckLabelName("a:b").ok());
  EXPECT_FALSE(CheckLabelName("le").ok());
  EXPECT_FALSE(CheckLabelName("9").ok());
}

TEST(FormatValueTest, Table) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(4194304), "4194304");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatValue(9007199254740992.0), "9007199254740992");
}

TEST(RegistryTest, CountersGaugesHistogramsRender) {
  Registry registry;
  auto calls = registry.AddCounter("calls_total", "calls", {"method", "code"});
  ASSERT_TRUE(calls.ok()) << calls.status();
  (*calls)->WithLabels({"Join", "OK"}).Increment();
  (*calls)->WithLabels({"Join", "OK"}).Increment(2);
  (*calls)->WithLabels({"Leave", "NOT_FOUND"}).Increment();
  (*calls)->WithLabels({"Leave", "NOT_FOUND"}).Increment(-5);  // ignored
  auto up = registry.AddGauge("up", "");
  ASSERT_TRUE(up.ok());
  (*up)->Get().Set(1);
  (*up)->Get().Add(0.5);
  auto lat = registry.AddHistogram("lat_seconds", "", {}, {0.5, 1});
  ASSERT_TRUE(lat.ok());
  (*lat)->Get().Observe(0.2);
  (*lat)->Get().Observe(0.7);
  (*lat)->Get().Observe(3);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("calls_total{method=\"Join\",code=\"OK\"} 3\n"));
  EXPECT_THAT(
      text, HasSubstr("calls_total{method=\"Leave\",code=\"NOT_FOUND\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("up 1.5\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{le=\"0.5\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_sum 3.9\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_count 3\n"));
}

TEST(RegistryTest, RefusesBadAndRepeatedNames) {
  Registry registry;
  EXPECT_EQ(registry.AddCounter("a b", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("a", "", {"__x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("a", "", {"x", "x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.AddCounter("a", "").ok());
  EXPECT_EQ(registry.AddGauge("a", "").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddHistogram("h", "", {}, {1, 0.5}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      registry.AddHistogram("h", "", {}, {1, std::nan("")}).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, SeriesBeyondTheBoundShareOther) {
  Registry registry;
  auto f = registry.AddCounter("c", "", {"peer"}, /*max_series=*/2);
  ASSERT_TRUE(f.ok());
  (*f)->WithLabels({"a"}).Increment();
  (*f)->WithLabels({"b"}).Increment();
  (*f)->WithLabels({"c"}).Increment();
  (*f)->WithLabels({"d"}).Increment();
  (*f)->WithLabels({"a"}).Increment();
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("c{peer=\"a\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("c{peer=\"_other\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("peer=\"d\"")));
  EXPECT_EQ(registry.series_overflow(), 2u);
  EXPECT_THAT(text, HasSubstr("peerlab_metrics_series_overflow_total 2\n"));
}

TEST(RegistryTest, CollectorsRenderAfterPushedAndBadOnesAreSkipped) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("pushed", "").ok());
  int calls = 0;
  registry.AddCollector([&calls] {
    ++calls;
    return std::vector<Family>{GaugeOf("members", "alive members", 3),
                               GaugeOf("pushed", "clash", 1),
                               GaugeOf("bad name", "", 1)};
  });
  const std::string text = registry.Render();
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(text, HasSubstr("# TYPE members gauge\nmembers 3\n"));
  EXPECT_THAT(text, Not(HasSubstr("clash")));
  EXPECT_THAT(text, HasSubstr("peerlab_metrics_collect_errors_total 2\n"));
  EXPECT_LT(text.find("# TYPE pushed"), text.find("# TYPE members"));
}

TEST(FamiliesOfTest, DottedSamplesBecomeFamilies) {
  const MetricSamples samples = {
      {"memberlist.msg.alive", MetricSample::Kind::kCounter, {}, 3, "alives"},
      {"memberlist.node.instances",
       MetricSample::Kind::kGauge,
       {{"node_state", "alive"}},
       2,
       "members"},
      {"memberlist.node.instances",
       MetricSample::Kind::kGauge,
       {{"node_state", "dead"}},
       1,
       "members"},
      {"memberlist.probeNode",
       MetricSample::Kind::kCounter,
       {{"outcome", "ack"}},
       9,
       "probes"}};
  EXPECT_EQ(RenderText(FamiliesOf(samples)),
            "# HELP memberlist_msg_alive_total alives\n"
            "# TYPE memberlist_msg_alive_total counter\n"
            "memberlist_msg_alive_total 3\n"
            "# HELP memberlist_node_instances members\n"
            "# TYPE memberlist_node_instances gauge\n"
            "memberlist_node_instances{node_state=\"alive\"} 2\n"
            "memberlist_node_instances{node_state=\"dead\"} 1\n"
            "# HELP memberlist_probeNode_total probes\n"
            "# TYPE memberlist_probeNode_total counter\n"
            "memberlist_probeNode_total{outcome=\"ack\"} 9\n");
}

TEST(RegistryTest, ThreadSafeUpdates) {
  Registry registry;
  auto c = registry.AddCounter("c", "", {"t"});
  auto h = registry.AddHistogram("h", "", {}, {1});
  ASSERT_TRUE(c.ok() && h.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        (*c)->WithLabels({t % 2 ? "odd" : "even"}).Increment();
        (*h)->Get().Observe(0.5);
        if (i % 100 == 0) (void)registry.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("c{t=\"even\"} 2000\n"));
  EXPECT_THAT(text, HasSubstr("c{t=\"odd\"} 2000\n"));
  EXPECT_THAT(text, HasSubstr("h_count 4000\n"));
}

}  // namespace
}  // namespace peerlab::metrics
