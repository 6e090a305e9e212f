// Golden exposition texts written by hand from the text format 0.0.4 spec
// (https://prometheus.io/docs/instrumenting/exposition_formats/), registration errors and
// histogram bucket edges.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "vrp/core/metrics.hpp"

namespace {

using namespace vrp::core;

template <class F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no std::invalid_argument>";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(metrics_exposition, empty_registry_exposes_nothing) {
  metrics_registry reg;
  EXPECT_EQ(reg.expose(), "");
}

TEST(metrics_exposition, families_are_grouped_even_when_registered_interleaved) {
  metrics_registry reg;
  auto& deribit = reg.counter("vrp_frames_total", "Frames received.", {{"venue", "deribit"}});
  auto& fill = reg.gauge("vrp_ring_fill_ratio", "Ring fill.");
  auto& replay = reg.counter("vrp_frames_total", "Frames received.", {{"venue", "replay"}});
  deribit.inc(3);
  replay.inc();
  replay.inc(4);
  fill.set(0.25);
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_frames_total Frames received.\n"
            "# TYPE vrp_frames_total counter\n"
            "vrp_frames_total{venue=\"deribit\"} 3\n"
            "vrp_frames_total{venue=\"replay\"} 5\n"
            "# HELP vrp_ring_fill_ratio Ring fill.\n"
            "# TYPE vrp_ring_fill_ratio gauge\n"
            "vrp_ring_fill_ratio 0.25\n");
}

TEST(metrics_exposition, large_counters_print_every_digit) {
  metrics_registry reg;
  reg.counter("vrp_bytes_total", "Bytes.").set(18446744073709551615ULL);
  reg.counter("vrp_msgs_total", "Msgs.").set(9007199254740993ULL);  // not representable as double
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_bytes_total Bytes.\n"
            "# TYPE vrp_bytes_total counter\n"
            "vrp_bytes_total 18446744073709551615\n"
            "# HELP vrp_msgs_total Msgs.\n"
            "# TYPE vrp_msgs_total counter\n"
            "vrp_msgs_total 9007199254740993\n");
}

TEST(metrics_exposition, label_values_and_help_are_escaped) {
  metrics_registry reg;
  reg.gauge("vrp_info", "Line one\nline two with \\ and \"quotes\".",
            {{"path", "C:\\data"}, {"quote", "say \"hi\""}, {"multi", "a\nb"}})
      .set(1);
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_info Line one\\nline two with \\\\ and \"quotes\".\n"
            "# TYPE vrp_info gauge\n"
            "vrp_info{path=\"C:\\\\data\",quote=\"say \\\"hi\\\"\",multi=\"a\\nb\"} 1\n");
}

TEST(metrics_exposition, labels_keep_registration_order_and_utf8_values) {
  metrics_registry reg;
  reg.gauge("vrp_iv", "IV.", {{"tenor", "30d"}, {"bucket", "25d_put"}, {"unit", "\xcf\x83"}})
      .set(0.5);
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_iv IV.\n"
            "# TYPE vrp_iv gauge\n"
            "vrp_iv{tenor=\"30d\",bucket=\"25d_put\",unit=\"\xcf\x83\"} 0.5\n");
}

TEST(metrics_exposition, gauges_print_doubles_and_non_finite_values) {
  metrics_registry reg;
  auto& a = reg.gauge("vrp_g", "G.", {{"k", "a"}});
  auto& b = reg.gauge("vrp_g", "G.", {{"k", "b"}});
  auto& c = reg.gauge("vrp_g", "G.", {{"k", "c"}});
  auto& d = reg.gauge("vrp_g", "G.", {{"k", "d"}});
  a.set(-1.5e-7);
  b.set(std::numeric_limits<double>::quiet_NaN());
  c.set(std::numeric_limits<double>::infinity());
  d.set(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_g G.\n"
            "# TYPE vrp_g gauge\n"
            "vrp_g{k=\"a\"} -1.5e-07\n"
            "vrp_g{k=\"b\"} NaN\n"
            "vrp_g{k=\"c\"} +Inf\n"
            "vrp_g{k=\"d\"} -Inf\n");
}

TEST(metrics_exposition, gauge_add_accumulates) {
  metrics_registry reg;
  auto& g = reg.gauge("vrp_depth", "Depth.");
  g.add(2.5);
  g.add(-1.0);
  EXPECT_EQ(g.value(), 1.5);
  EXPECT_EQ(reg.expose(), "# HELP vrp_depth Depth.\n# TYPE vrp_depth gauge\nvrp_depth 1.5\n");
}

TEST(metrics_exposition, callbacks_are_read_at_each_scrape) {
  metrics_registry reg;
  double uptime_s = 12.5;
  double restarts = 7;
  reg.gauge_callback("vrp_uptime_seconds", "Uptime.", {}, [&] { return uptime_s; });
  reg.counter_callback("vrp_restarts_total", "Restarts.", {{"venue", "deribit"}},
                       [&] { return restarts; });
  const std::string first =
      "# HELP vrp_uptime_seconds Uptime.\n"
      "# TYPE vrp_uptime_seconds gauge\n"
      "vrp_uptime_seconds 12.5\n"
      "# HELP vrp_restarts_total Restarts.\n"
      "# TYPE vrp_restarts_total counter\n"
      "vrp_restarts_total{venue=\"deribit\"} 7\n";
  EXPECT_EQ(reg.expose(), first);
  uptime_s = 13;
  restarts = 8;
  const std::string second =
      "# HELP vrp_uptime_seconds Uptime.\n"
      "# TYPE vrp_uptime_seconds gauge\n"
      "vrp_uptime_seconds 13\n"
      "# HELP vrp_restarts_total Restarts.\n"
      "# TYPE vrp_restarts_total counter\n"
      "vrp_restarts_total{venue=\"deribit\"} 8\n";
  EXPECT_EQ(reg.expose(), second);
}

TEST(metrics_exposition, callback_and_stored_series_share_one_family) {
  metrics_registry reg;
  reg.counter("vrp_drops_total", "Drops.", {{"ring", "a"}}).inc(2);
  reg.counter_callback("vrp_drops_total", "Drops.", {{"ring", "b"}}, [] { return 3.0; });
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_drops_total Drops.\n"
            "# TYPE vrp_drops_total counter\n"
            "vrp_drops_total{ring=\"a\"} 2\n"
            "vrp_drops_total{ring=\"b\"} 3\n");
}

TEST(metrics_exposition, empty_help_omits_the_help_line) {
  metrics_registry reg;
  reg.gauge("vrp_x", "").set(1);
  EXPECT_EQ(reg.expose(), "# TYPE vrp_x gauge\nvrp_x 1\n");
}

TEST(metrics_exposition, expose_appends_to_the_buffer) {
  metrics_registry reg;
  reg.gauge("vrp_x", "X.").set(2);
  std::string out = "prefix\n";
  reg.expose(out);
  EXPECT_EQ(out, "prefix\n# HELP vrp_x X.\n# TYPE vrp_x gauge\nvrp_x 2\n");
}

TEST(metrics_exposition, histogram_buckets_are_cumulative_with_le_last) {
  metrics_registry reg;
  auto& h = reg.histogram("vrp_decode_seconds", "Decode time.", {0.25, 0.5, 1, 2},
                          {{"venue", "deribit"}});
  // Dyadic values so the sum is exact: 0.125+0.25+0.5+0.75+3+2 = 6.625.
  for (double v : {0.125, 0.25, 0.5, 0.75, 3.0, 2.0}) h.observe(v);
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_decode_seconds Decode time.\n"
            "# TYPE vrp_decode_seconds histogram\n"
            "vrp_decode_seconds_bucket{venue=\"deribit\",le=\"0.25\"} 2\n"
            "vrp_decode_seconds_bucket{venue=\"deribit\",le=\"0.5\"} 3\n"
            "vrp_decode_seconds_bucket{venue=\"deribit\",le=\"1\"} 4\n"
            "vrp_decode_seconds_bucket{venue=\"deribit\",le=\"2\"} 5\n"
            "vrp_decode_seconds_bucket{venue=\"deribit\",le=\"+Inf\"} 6\n"
            "vrp_decode_seconds_sum{venue=\"deribit\"} 6.625\n"
            "vrp_decode_seconds_count{venue=\"deribit\"} 6\n");
}

TEST(metrics_exposition, histogram_without_labels_and_le_in_exponent_form) {
  metrics_registry reg;
  auto& h = reg.histogram("vrp_size_bytes", "Size.", {1e-6, 0.001, 1e6});
  h.observe(2e6);
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_size_bytes Size.\n"
            "# TYPE vrp_size_bytes histogram\n"
            "vrp_size_bytes_bucket{le=\"1e-06\"} 0\n"
            "vrp_size_bytes_bucket{le=\"0.001\"} 0\n"
            "vrp_size_bytes_bucket{le=\"1e+06\"} 0\n"
            "vrp_size_bytes_bucket{le=\"+Inf\"} 1\n"
            "vrp_size_bytes_sum 2e+06\n"
            "vrp_size_bytes_count 1\n");
}

TEST(metrics_exposition, histogram_with_no_bounds_has_only_the_inf_bucket) {
  metrics_registry reg;
  auto& h = reg.histogram("vrp_any_seconds", "Any.", {});
  h.observe(0.5);
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_any_seconds Any.\n"
            "# TYPE vrp_any_seconds histogram\n"
            "vrp_any_seconds_bucket{le=\"+Inf\"} 1\n"
            "vrp_any_seconds_sum 0.5\n"
            "vrp_any_seconds_count 1\n");
}

TEST(metrics_histogram, value_on_a_bound_goes_into_that_bucket) {
  metric_histogram h({0.001, 0.01, 0.1});
  h.observe(0.001);  // le: v <= bound
  h.observe(0.01);
  h.observe(0.0100001);
  h.observe(0.1);
  h.observe(std::nextafter(0.1, 1.0));
  EXPECT_EQ(h.bucket_count(0), 1U);
  EXPECT_EQ(h.bucket_count(1), 1U);
  EXPECT_EQ(h.bucket_count(2), 2U);
  EXPECT_EQ(h.bucket_count(3), 1U);
  EXPECT_EQ(h.count(), 5U);
}

TEST(metrics_histogram, values_below_the_first_bound_and_negative_go_into_the_first_bucket) {
  metric_histogram h({0.0, 1.0});
  h.observe(-5.0);
  h.observe(-std::numeric_limits<double>::infinity());
  h.observe(0.0);
  h.observe(-0.0);
  EXPECT_EQ(h.bucket_count(0), 4U);
  EXPECT_EQ(h.bucket_count(1), 0U);
  EXPECT_EQ(h.bucket_count(2), 0U);
}

TEST(metrics_histogram, nan_and_infinity_go_into_the_inf_bucket) {
  metric_histogram h({1.0});
  h.observe(std::numeric_limits<double>::quiet_NaN());
  h.observe(std::numeric_limits<double>::infinity());
  EXPECT_EQ(h.bucket_count(0), 0U);
  EXPECT_EQ(h.bucket_count(1), 2U);
  EXPECT_EQ(h.count(), 2U);
  EXPECT_TRUE(std::isnan(h.sum()));
}

TEST(metrics_histogram, rejects_bounds_that_are_not_ascending_and_finite) {
  EXPECT_THROW(metric_histogram({1.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(metric_histogram({2.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(metric_histogram({1.0, std::numeric_limits<double>::infinity()}),
               std::invalid_argument);
  EXPECT_THROW(metric_histogram({std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
}

TEST(metrics_registry, invalid_names_are_rejected_with_the_metric_named) {
  metrics_registry reg;
  EXPECT_TRUE(
      contains(invalid_argument_message([&] { reg.counter("9bad_total", "x"); }), "'9bad_total'"));
  EXPECT_TRUE(contains(invalid_argument_message([&] { reg.gauge("bad-name", "x"); }), "bad-name"));
  const auto msg = invalid_argument_message([&] {
    reg.gauge("vrp_ok", "x", {{"__reserved", "v"}});
  });
  EXPECT_TRUE(contains(msg, "vrp_ok"));
  EXPECT_TRUE(contains(msg, "__reserved"));
  EXPECT_TRUE(contains(invalid_argument_message([&] {
                         reg.gauge("vrp_ok", "x", {{"a:b", "v"}});
                       }),
                       "a:b"));
  EXPECT_EQ(reg.expose(), "");  // nothing half-registered
}

TEST(metrics_registry, a_label_name_given_twice_is_rejected) {
  metrics_registry reg;
  const auto msg = invalid_argument_message([&] {
    reg.gauge("vrp_g", "G.", {{"a", "1"}, {"a", "2"}});
  });
  EXPECT_TRUE(contains(msg, "vrp_g"));
  EXPECT_TRUE(contains(msg, "'a'"));
}

TEST(metrics_registry, type_clash_is_rejected) {
  metrics_registry reg;
  reg.counter("vrp_events_total", "Events.", {{"k", "a"}});
  const auto msg = invalid_argument_message([&] {
    reg.gauge("vrp_events_total", "Events.", {{"k", "b"}});
  });
  EXPECT_TRUE(contains(msg, "vrp_events_total"));
  EXPECT_TRUE(contains(msg, "gauge"));
  EXPECT_TRUE(contains(msg, "counter"));
  EXPECT_THROW(reg.histogram("vrp_events_total", "Events.", {1.0}, {{"k", "c"}}),
               std::invalid_argument);
  EXPECT_THROW(reg.gauge_callback("vrp_events_total", "Events.", {{"k", "d"}}, [] { return 1.0; }),
               std::invalid_argument);
}

TEST(metrics_registry, help_mismatch_within_a_family_is_rejected) {
  metrics_registry reg;
  reg.gauge("vrp_g", "One.", {{"k", "a"}});
  EXPECT_TRUE(contains(invalid_argument_message([&] {
                         reg.gauge("vrp_g", "Two.", {{"k", "b"}});
                       }),
                       "help"));
}

TEST(metrics_registry, duplicate_label_set_is_rejected_whatever_the_label_order) {
  metrics_registry reg;
  reg.counter("vrp_c_total", "C.", {{"a", "1"}, {"b", "2"}});
  const auto msg = invalid_argument_message([&] {
    reg.counter("vrp_c_total", "C.", {{"b", "2"}, {"a", "1"}});
  });
  EXPECT_TRUE(contains(msg, "vrp_c_total"));
  EXPECT_TRUE(contains(msg, "duplicate"));
  reg.gauge("vrp_plain", "P.");
  EXPECT_THROW(reg.gauge("vrp_plain", "P."), std::invalid_argument);
  EXPECT_THROW(reg.gauge_callback("vrp_plain", "P.", {}, [] { return 0.0; }),
               std::invalid_argument);
  // Same label names, other values: a new series.
  reg.counter("vrp_c_total", "C.", {{"a", "1"}, {"b", "3"}}).inc();
  EXPECT_EQ(reg.expose(),
            "# HELP vrp_c_total C.\n"
            "# TYPE vrp_c_total counter\n"
            "vrp_c_total{a=\"1\",b=\"2\"} 0\n"
            "vrp_c_total{a=\"1\",b=\"3\"} 1\n"
            "# HELP vrp_plain P.\n"
            "# TYPE vrp_plain gauge\n"
            "vrp_plain 0\n");
}

TEST(metrics_registry, le_is_reserved_on_histograms_only) {
  metrics_registry reg;
  const auto msg = invalid_argument_message([&] {
    reg.histogram("vrp_h_seconds", "H.", {1.0}, {{"le", "1"}});
  });
  EXPECT_TRUE(contains(msg, "vrp_h_seconds"));
  EXPECT_TRUE(contains(msg, "le"));
  EXPECT_NO_THROW(reg.gauge("vrp_g", "G.", {{"le", "1"}}));
}

TEST(metrics_registry, bad_histogram_bounds_are_rejected_and_leave_no_family) {
  metrics_registry reg;
  const auto msg = invalid_argument_message([&] {
    reg.histogram("vrp_h_seconds", "H.", {0.5, 0.1});
  });
  EXPECT_TRUE(contains(msg, "vrp_h_seconds"));
  EXPECT_TRUE(contains(msg, "ascending"));
  EXPECT_TRUE(contains(invalid_argument_message([&] {
                         reg.histogram("vrp_h_seconds", "H.",
                                       {std::numeric_limits<double>::infinity()});
                       }),
                       "finite"));
  EXPECT_EQ(reg.expose(), "");
}

TEST(metrics_registry, histogram_series_names_cannot_be_reused_by_other_families) {
  metrics_registry reg;
  reg.histogram("vrp_lat_seconds", "L.", {1.0});
  EXPECT_THROW(reg.counter("vrp_lat_seconds_count", "C."), std::invalid_argument);
  EXPECT_THROW(reg.gauge("vrp_lat_seconds_sum", "S."), std::invalid_argument);
  EXPECT_THROW(reg.gauge("vrp_lat_seconds_bucket", "B."), std::invalid_argument);
  EXPECT_NO_THROW(reg.gauge("vrp_lat_seconds_max", "M."));
  reg.counter("vrp_req_count", "R.");
  EXPECT_THROW(reg.histogram("vrp_req", "H.", {1.0}), std::invalid_argument);
}

TEST(metrics_registry, empty_callback_is_rejected) {
  metrics_registry reg;
  EXPECT_THROW(reg.gauge_callback("vrp_g", "G.", {}, {}), std::invalid_argument);
  EXPECT_THROW(reg.counter_callback("vrp_c_total", "C.", {}, {}), std::invalid_argument);
  EXPECT_EQ(reg.expose(), "");
}

TEST(metrics_registry, references_stay_valid_as_the_registry_grows) {
  metrics_registry reg;
  auto& first = reg.counter("vrp_first_total", "F.");
  auto& first_series = reg.gauge("vrp_many", "M.", {{"i", "0"}});
  for (int i = 1; i < 500; ++i) {
    reg.gauge("vrp_many", "M.", {{"i", std::to_string(i)}});
    reg.counter("vrp_other_" + std::to_string(i) + "_total", "O.");
  }
  first.inc(11);
  first_series.set(4);
  const auto text = reg.expose();
  EXPECT_TRUE(contains(text, "\nvrp_first_total 11\n"));
  EXPECT_TRUE(contains(text, "\nvrp_many{i=\"0\"} 4\n"));
}

}  // namespace
