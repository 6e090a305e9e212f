// Number formatting and name validation. Expected strings are written by hand from Go's
// strconv.FormatFloat(v, 'g', -1, 64) rules (shortest round-trip digits; %e form when the decimal
// exponent is < -4 or >= 6, exponent with at least two digits) and the exposition format spec.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "vrp/core/metrics.hpp"

namespace {

using namespace vrp::core;

std::string fmt(double v) {
  std::string out;
  append_metric_value(out, v);
  return out;
}

TEST(metrics_format, integers_print_without_a_decimal_point) {
  EXPECT_EQ(fmt(0.0), "0");
  EXPECT_EQ(fmt(1.0), "1");
  EXPECT_EQ(fmt(-1.0), "-1");
  EXPECT_EQ(fmt(100.0), "100");
  EXPECT_EQ(fmt(999999.0), "999999");
}

TEST(metrics_format, negative_zero_keeps_its_sign_like_go) {
  EXPECT_EQ(fmt(-0.0), "-0");
}

TEST(metrics_format, fractions_use_the_shortest_round_trip_digits) {
  EXPECT_EQ(fmt(0.25), "0.25");
  EXPECT_EQ(fmt(0.1), "0.1");
  EXPECT_EQ(fmt(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(fmt(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(fmt(123456.5), "123456.5");
  EXPECT_EQ(fmt(-42.125), "-42.125");
}

TEST(metrics_format, exponent_form_below_1e_minus_4_and_from_1e6) {
  EXPECT_EQ(fmt(0.0001), "0.0001");
  EXPECT_EQ(fmt(0.000123), "0.000123");
  EXPECT_EQ(fmt(0.00001), "1e-05");
  EXPECT_EQ(fmt(0.0000123), "1.23e-05");
  EXPECT_EQ(fmt(1e-6), "1e-06");
  EXPECT_EQ(fmt(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(fmt(1e6), "1e+06");
  EXPECT_EQ(fmt(1234567.0), "1.234567e+06");
  EXPECT_EQ(fmt(1e21), "1e+21");
  EXPECT_EQ(fmt(1e100), "1e+100");
  EXPECT_EQ(fmt(9007199254740993.0), "9.007199254740992e+15");  // 2^53 + 1 rounds to 2^53
}

TEST(metrics_format, extremes_round_trip) {
  EXPECT_EQ(fmt(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(fmt(std::numeric_limits<double>::denorm_min()), "5e-324");
  EXPECT_EQ(fmt(std::numeric_limits<double>::min()), "2.2250738585072014e-308");
}

TEST(metrics_format, non_finite_values_use_prometheus_spelling) {
  EXPECT_EQ(fmt(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(fmt(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(fmt(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(fmt(-std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(metrics_format, appends_to_existing_text) {
  std::string out = "x ";
  append_metric_value(out, 2.5);
  EXPECT_EQ(out, "x 2.5");
}

TEST(metrics_names, metric_names_follow_the_data_model) {
  EXPECT_TRUE(valid_metric_name("vrp_frames_total"));
  EXPECT_TRUE(valid_metric_name("job:rate5m"));
  EXPECT_TRUE(valid_metric_name(":leading_colon"));
  EXPECT_TRUE(valid_metric_name("_x9"));
  EXPECT_TRUE(valid_metric_name("A"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_FALSE(valid_metric_name("9lives"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name("a b"));
  EXPECT_FALSE(valid_metric_name("a.b"));
  EXPECT_FALSE(valid_metric_name("caf\xc3\xa9"));
}

TEST(metrics_names, label_names_exclude_colons_and_the_reserved_prefix) {
  EXPECT_TRUE(valid_label_name("venue"));
  EXPECT_TRUE(valid_label_name("_private"));
  EXPECT_TRUE(valid_label_name("tenor_30d"));
  EXPECT_TRUE(valid_label_name("le"));  // only reserved on histograms, checked at registration
  EXPECT_FALSE(valid_label_name(""));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("__x"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("1a"));
  EXPECT_FALSE(valid_label_name("a-b"));
}

TEST(metrics_buckets, exponential_buckets_multiply_from_start) {
  EXPECT_EQ(exponential_buckets(1.0, 2.0, 5), (std::vector<double>{1, 2, 4, 8, 16}));
  EXPECT_EQ(exponential_buckets(0.25, 4.0, 3), (std::vector<double>{0.25, 1, 4}));
  EXPECT_EQ(exponential_buckets(3.0, 1.5, 1), (std::vector<double>{3}));
}

TEST(metrics_buckets, exponential_buckets_round_away_binary_noise) {
  // 1e-6 * 10 is 9.999999999999999e-06 in binary floating point.
  EXPECT_EQ(exponential_buckets(1e-6, 10.0, 7),
            (std::vector<double>{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0}));
  EXPECT_EQ(exponential_buckets(0.001, 2.5, 4),
            (std::vector<double>{0.001, 0.0025, 0.00625, 0.015625}));
}

TEST(metrics_buckets, exponential_buckets_reject_degenerate_arguments) {
  EXPECT_THROW(exponential_buckets(0.0, 2.0, 3), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(-1.0, 2.0, 3), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(1.0, 1.0, 3), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(1.0, 2.0, 0), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(std::nan(""), 2.0, 3), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(1.0, 1.0 + 1e-15, 3), std::invalid_argument);
}

}  // namespace
