// The metrics registry: exact exposition text, the registration rules, and updates
// from many threads.
#include "services/ops/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pathway::ops {
namespace {

TEST(MetricsTest, EmptyRegistryRendersNothing) {
  Registry registry;
  EXPECT_EQ(registry.Render(), "");
}

TEST(MetricsTest, Counter) {
  Registry registry;
  Counter& c = registry.AddCounter("pathway_events_emitted_total", "Events written to the outbox.");
  EXPECT_EQ(c.value(), 0u);
  c.Inc();
  c.Inc(4);
  EXPECT_EQ(c.value(), 5u);
  EXPECT_EQ(registry.Render(),
            "# HELP pathway_events_emitted_total Events written to the outbox.\n"
            "# TYPE pathway_events_emitted_total counter\n"
            "pathway_events_emitted_total 5\n");
}

TEST(MetricsTest, GaugeWithLabelsSharesOneHelpAndType) {
  Registry registry;
  Gauge& p3 = registry.AddGauge("pathway_consumer_lag", "Messages behind.", {{"partition", "3"}});
  // Labels are rendered sorted by name, series sorted by their labels.
  Gauge& p10 = registry.AddGauge("pathway_consumer_lag", "Messages behind.",
                                 {{"partition", "10"}, {"group", "intake"}});
  p3.Set(42);
  p10.Set(-1.5);
  p10.Add(0.25);
  EXPECT_EQ(p10.value(), -1.25);
  EXPECT_EQ(registry.Render(),
            "# HELP pathway_consumer_lag Messages behind.\n"
            "# TYPE pathway_consumer_lag gauge\n"
            "pathway_consumer_lag{group=\"intake\",partition=\"10\"} -1.25\n"
            "pathway_consumer_lag{partition=\"3\"} 42\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry registry;
  Histogram& h = registry.AddHistogram("pathway_step_seconds", "Time per engine step.",
                                       {0.25, 1, 2.5}, {{"stage", "intake"}});
  for (double v : {0.125, 0.25, 0.5, 3.0, 100.0}) h.Observe(v);  // 0.25 is in le="0.25"
  EXPECT_EQ(registry.Render(),
            "# HELP pathway_step_seconds Time per engine step.\n"
            "# TYPE pathway_step_seconds histogram\n"
            "pathway_step_seconds_bucket{stage=\"intake\",le=\"0.25\"} 2\n"
            "pathway_step_seconds_bucket{stage=\"intake\",le=\"1\"} 3\n"
            "pathway_step_seconds_bucket{stage=\"intake\",le=\"2.5\"} 3\n"
            "pathway_step_seconds_bucket{stage=\"intake\",le=\"+Inf\"} 5\n"
            "pathway_step_seconds_sum{stage=\"intake\"} 103.875\n"
            "pathway_step_seconds_count{stage=\"intake\"} 5\n");
  Histogram::Snapshot snap = h.snapshot();
  EXPECT_EQ(snap.cumulative, (std::vector<uint64_t>{2, 3, 3, 5}));
  EXPECT_EQ(snap.count, 5u);
  EXPECT_EQ(snap.sum, 103.875);
}

TEST(MetricsTest, HistogramWithoutLabelsOrBounds) {
  Registry registry;
  Histogram& h = registry.AddHistogram("h", "", {});
  h.Observe(-7);
  EXPECT_EQ(registry.Render(),
            "# TYPE h histogram\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_sum -7\n"
            "h_count 1\n");
}

TEST(MetricsTest, HistogramTrailingInfinityIsDroppedAndNanGoesToInf) {
  Registry registry;
  Histogram& h = registry.AddHistogram("h", "", {1, 1e6, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.bounds(), (std::vector<double>{1, 1e6}));
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  h.Observe(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(registry.Render(),
            "# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 1\n"
            "h_bucket{le=\"1e+06\"} 1\n"
            "h_bucket{le=\"+Inf\"} 2\n"
            "h_sum NaN\n"
            "h_count 2\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.AddGauge("g", "first line\nback\\slash \"quoted\"", {{"reason", "a\\b\"c\nd"}}).Set(1);
  EXPECT_EQ(registry.Render(),
            "# HELP g first line\\nback\\\\slash \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{reason=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(MetricsTest, MetricAndLabelNames) {
  for (const char* ok : {"a", "_a", ":a", "a:b_c9", "pathway_events_total", "A_Z"}) {
    EXPECT_TRUE(Registry::IsValidMetricName(ok)) << ok;
  }
  for (const char* bad : {"", "9a", "a-b", "a b", "a.b", "caf\xc3\xa9", "a\n"}) {
    EXPECT_FALSE(Registry::IsValidMetricName(bad)) << bad;
  }
  EXPECT_TRUE(Registry::IsValidLabelName("partition_2"));
  EXPECT_FALSE(Registry::IsValidLabelName("a:b"));
  EXPECT_FALSE(Registry::IsValidLabelName("2a"));
  EXPECT_FALSE(Registry::IsValidLabelName(""));

  Registry registry;
  EXPECT_THROW(registry.AddCounter("9lives", ""), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("has-dash", ""), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("g", "", {{"a:b", "x"}}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("g", "", {{"__name__", "x"}}), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("g", "", {{"a", "x"}, {"a", "y"}}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "", {1}, {{"le", "x"}}), std::invalid_argument);
  EXPECT_NO_THROW(registry.AddGauge("not_a_histogram", "", {{"le", "x"}}));
  // Nothing invalid was registered.
  EXPECT_EQ(registry.Render(),
            "# TYPE not_a_histogram gauge\n"
            "not_a_histogram{le=\"x\"} 0\n");
}

TEST(MetricsTest, RegistrationConflicts) {
  Registry registry;
  registry.AddCounter("c_total", "Help.");
  registry.AddCounter("c_total", "Help.", {{"k", "v"}});
  EXPECT_THROW(registry.AddCounter("c_total", "Help."), std::invalid_argument);  // same labels
  EXPECT_THROW(registry.AddCounter("c_total", "Other help."), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("c_total", "Help.", {{"k", "w"}}), std::invalid_argument);

  registry.AddHistogram("latency_seconds", "", {1});
  EXPECT_THROW(registry.AddCounter("latency_seconds_count", ""), std::invalid_argument);
  EXPECT_THROW(registry.AddGauge("latency_seconds_bucket", ""), std::invalid_argument);
  registry.AddGauge("queue_sum", "");
  EXPECT_THROW(registry.AddHistogram("queue", "", {1}), std::invalid_argument);

  EXPECT_THROW(registry.AddHistogram("b", "", {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("b", "", {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("b", "", {std::nan("")}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("b", "", {-std::numeric_limits<double>::infinity(), 1}),
               std::invalid_argument);
  EXPECT_THROW(registry.AddCallbackGauge("cb", "", nullptr), std::invalid_argument);
}

TEST(MetricsTest, CallbackGaugeIsEvaluatedAtEachRender) {
  Registry registry;
  std::atomic<int> depth{3};
  registry.AddCallbackGauge("pathway_outbox_depth", "Entries waiting.",
                            [&depth] { return static_cast<double>(depth.load()); });
  registry.AddGauge("pathway_outbox_depth", "Entries waiting.", {{"kind", "static"}}).Set(1);
  const char* kBefore =
      "# HELP pathway_outbox_depth Entries waiting.\n"
      "# TYPE pathway_outbox_depth gauge\n"
      "pathway_outbox_depth 3\n"
      "pathway_outbox_depth{kind=\"static\"} 1\n";
  EXPECT_EQ(registry.Render(), kBefore);
  depth = 7;
  EXPECT_NE(registry.Render().find("pathway_outbox_depth 7\n"), std::string::npos);
}

TEST(MetricsTest, OutputIsSortedWhateverTheRegistrationOrder) {
  Registry forward;
  forward.AddCounter("a_total", "A.");
  forward.AddGauge("m", "M.", {{"x", "1"}});
  forward.AddGauge("m", "M.", {{"x", "2"}});
  forward.AddHistogram("z", "Z.", {1});
  Registry backward;
  backward.AddHistogram("z", "Z.", {1});
  backward.AddGauge("m", "M.", {{"x", "2"}});
  backward.AddGauge("m", "M.", {{"x", "1"}});
  backward.AddCounter("a_total", "A.");
  std::string text = forward.Render();
  EXPECT_EQ(text, backward.Render());
  EXPECT_LT(text.find("a_total"), text.find("# TYPE m"));
  EXPECT_LT(text.find("m{x=\"1\"}"), text.find("m{x=\"2\"}"));
  EXPECT_LT(text.find("# TYPE m"), text.find("# TYPE z"));
  EXPECT_EQ(text, forward.Render());
}

TEST(MetricsTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1), "1");
  EXPECT_EQ(FormatValue(-1.5), "-1.5");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(0.00001), "1e-05");
  EXPECT_EQ(FormatValue(123456), "123456");
  EXPECT_EQ(FormatValue(1e6), "1e+06");
  EXPECT_EQ(FormatValue(1234567), "1.234567e+06");
  EXPECT_EQ(FormatValue(1e100), "1e+100");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(MetricsTest, ConcurrentUpdatesAreExact) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  Registry registry;
  Counter& counter = registry.AddCounter("c_total", "");
  Gauge& gauge = registry.AddGauge("g", "");
  Histogram& histogram = registry.AddHistogram("h", "", {0.5});
  std::atomic<bool> done{false};
  // A reader renders while the writers run (checked by the sanitizers).
  std::thread reader([&] {
    for (int i = 0; i < 1000 && !done.load(); ++i) {
      std::string text = registry.Render();
      EXPECT_FALSE(text.empty());
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.Inc();
        gauge.Add(1);
        histogram.Observe(t % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  constexpr uint64_t kTotal = uint64_t{kThreads} * kPerThread;
  EXPECT_EQ(counter.value(), kTotal);
  EXPECT_EQ(gauge.value(), static_cast<double>(kTotal));
  Histogram::Snapshot snap = histogram.snapshot();
  EXPECT_EQ(snap.count, kTotal);
  EXPECT_EQ(snap.cumulative, (std::vector<uint64_t>{kTotal / 2, kTotal}));
  EXPECT_NE(registry.Render().find("c_total " + std::to_string(kTotal) + "\n"), std::string::npos);
}

}  // namespace
}  // namespace pathway::ops
