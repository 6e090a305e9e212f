#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "bybit_bars.hpp"
#include "deribit_chain.hpp"
#include "vrp/quant/realized.hpp"

namespace {

using vrp::quant::bar_log_returns;
using vrp::quant::bipower_variation;
using vrp::quant::bns_jump_test;
using vrp::quant::daily_realized_variance;
using vrp::quant::daily_rv;
using vrp::quant::ohlc_bar;
using vrp::quant::realized_measures;
using vrp::quant::realized_variance;
using vrp::quant::realized_vol;
using vrp::quant::rolling_realized_vol;
using vrp::quant::rv_estimator;
using vrp::quant::status;
using vrp::quant::timed_return;
using vrp::quant::tripower_quarticity;

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t hour_ms = 3'600'000;

const std::vector<rv_estimator> all_estimators = {
    rv_estimator::close_to_close, rv_estimator::parkinson, rv_estimator::garman_klass,
    rv_estimator::rogers_satchell, rv_estimator::yang_zhang};

bool needs_previous_close(rv_estimator e) {
  return e == rv_estimator::close_to_close || e == rv_estimator::yang_zhang;
}

// ---- Independent reference: the textbook formulas, two-pass, in long double ----

long double sample_var(const std::vector<long double>& x) {
  long double mean = 0;
  for (long double v : x) mean += v;
  mean /= static_cast<long double>(x.size());
  long double ss = 0;
  for (long double v : x) ss += (v - mean) * (v - mean);
  return ss / static_cast<long double>(x.size() - 1);
}

long double mean_of(const std::vector<long double>& x) {
  long double s = 0;
  for (long double v : x) s += v;
  return s / static_cast<long double>(x.size());
}

// Per-bar variance of the window made of bars [begin, end) (for close_to_close / yang_zhang the
// bar begin-1 supplies the previous close), annualized.
double reference_vol(rv_estimator e, const std::vector<ohlc_bar>& bars, std::size_t begin,
                     std::size_t end, double periods_per_year) {
  std::vector<long double> close_ret, overnight, open_close, park, gk, rs;
  const long double ln2 = std::log(2.0L);
  for (std::size_t i = begin; i < end; ++i) {
    const long double o = std::log(static_cast<long double>(bars[i].open));
    const long double h = std::log(static_cast<long double>(bars[i].high));
    const long double l = std::log(static_cast<long double>(bars[i].low));
    const long double c = std::log(static_cast<long double>(bars[i].close));
    if (needs_previous_close(e)) {
      const long double c_prev = std::log(static_cast<long double>(bars[i - 1].close));
      close_ret.push_back(c - c_prev);
      overnight.push_back(o - c_prev);
    }
    open_close.push_back(c - o);
    park.push_back((h - l) * (h - l) / (4.0L * ln2));
    gk.push_back(0.5L * (h - l) * (h - l) - (2.0L * ln2 - 1.0L) * (c - o) * (c - o));
    rs.push_back((h - c) * (h - o) + (l - c) * (l - o));
  }
  long double var = 0;
  switch (e) {
    case rv_estimator::close_to_close:
      var = sample_var(close_ret);
      break;
    case rv_estimator::parkinson:
      var = mean_of(park);
      break;
    case rv_estimator::garman_klass:
      var = mean_of(gk);
      break;
    case rv_estimator::rogers_satchell:
      var = mean_of(rs);
      break;
    case rv_estimator::yang_zhang: {
      const long double n = static_cast<long double>(end - begin);
      const long double k = 0.34L / (1.34L + (n + 1) / (n - 1));
      var = sample_var(overnight) + k * sample_var(open_close) + (1 - k) * mean_of(rs);
      break;
    }
  }
  if (var < 0) var = 0;
  return static_cast<double>(std::sqrt(var * periods_per_year));
}

// Random but valid bars with overnight gaps (open != previous close), so that every term of
// Yang-Zhang is exercised.
std::vector<ohlc_bar> random_bars(std::size_t n, std::uint64_t seed, double drift_per_bar = 0.0,
                                  double scale = 0.01) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<ohlc_bar> bars;
  double prev_close = 30000.0;
  for (std::size_t i = 0; i < n; ++i) {
    ohlc_bar b;
    b.open = prev_close * std::exp(0.2 * scale * z(rng));
    b.close = b.open * std::exp(drift_per_bar + scale * z(rng));
    b.high = std::max(b.open, b.close) * std::exp(scale * u(rng));
    b.low = std::min(b.open, b.close) * std::exp(-scale * u(rng));
    bars.push_back(b);
    prev_close = b.close;
  }
  return bars;
}

TEST(realized_estimator, names_round_trip) {
  for (rv_estimator e : all_estimators) {
    rv_estimator parsed = rv_estimator::parkinson;
    ASSERT_TRUE(vrp::quant::parse_rv_estimator(vrp::quant::to_string(e), parsed));
    EXPECT_EQ(parsed, e);
  }
  EXPECT_STREQ(vrp::quant::to_string(rv_estimator::garman_klass), "garman_klass");
  rv_estimator untouched = rv_estimator::rogers_satchell;
  EXPECT_FALSE(vrp::quant::parse_rv_estimator("Parkinson", untouched));
  EXPECT_FALSE(vrp::quant::parse_rv_estimator("", untouched));
  EXPECT_FALSE(vrp::quant::parse_rv_estimator("yang_zhang ", untouched));
  EXPECT_EQ(untouched, rv_estimator::rogers_satchell);
}

// Hand-made bars (open gaps, a flat bar, a bar closing at its high): the library equals the
// long-double textbook computation, both as one window and as the last rolling value.
TEST(realized_estimator, matches_textbook_formulas_on_hand_made_bars) {
  const std::vector<ohlc_bar> bars = {
      {100.0, 102.0, 99.0, 101.0}, {101.5, 103.0, 100.5, 102.5}, {102.0, 102.0, 98.0, 98.5},
      {98.5, 99.8, 97.2, 99.8},    {100.2, 101.0, 100.2, 100.6}, {100.6, 100.6, 100.6, 100.6},
      {100.0, 104.0, 99.5, 103.2}, {103.0, 103.5, 101.0, 101.9},
  };
  const double ppy = 8760.0;
  for (rv_estimator e : all_estimators) {
    SCOPED_TRACE(vrp::quant::to_string(e));
    const std::size_t begin = needs_previous_close(e) ? 1 : 0;
    const double expected = reference_vol(e, bars, begin, bars.size(), ppy);
    ASSERT_GT(expected, 0.05);
    double vol = nan_value;
    ASSERT_EQ(realized_vol(e, bars, ppy, vol), status::ok);
    EXPECT_NEAR(vol, expected, 1e-12 * expected);

    const int window = static_cast<int>(bars.size() - begin);
    std::vector<double> rolling(bars.size());
    ASSERT_EQ(rolling_realized_vol(e, bars, window, ppy, rolling), status::ok);
    EXPECT_NEAR(rolling.back(), expected, 1e-12 * expected);
    for (std::size_t i = 0; i + 1 < bars.size(); ++i) EXPECT_TRUE(std::isnan(rolling[i])) << i;
  }
}

// Every rolling value equals a direct long-double recomputation over its window, for short and
// long windows and a series long enough to cross several periodic recomputations of the sums.
// Tolerance, on the annualized variance: 1e-10 relative, plus 1e-11 of the series' overall
// variance, because running sums carry an absolute error of a few ulps of sum (x - shift)^2, which
// is what an unusually quiet window (two nearly equal returns at window 2) sees.
TEST(realized_rolling, equals_direct_recomputation_per_window) {
  const std::vector<ohlc_bar> bars = random_bars(3000, 7);
  const double ppy = 8760.0;
  const double overall = reference_vol(rv_estimator::close_to_close, bars, 1, bars.size(), ppy);
  const double variance_floor = 1e-11 * overall * overall;
  for (rv_estimator e : all_estimators) {
    for (int window : {2, 5, 24, 1100}) {
      SCOPED_TRACE(std::string(vrp::quant::to_string(e)) + " window " + std::to_string(window));
      std::vector<double> vol(bars.size());
      ASSERT_EQ(rolling_realized_vol(e, bars, window, ppy, vol), status::ok);
      const std::size_t first =
          needs_previous_close(e) ? static_cast<std::size_t>(window) : window - 1;
      std::size_t mismatches = 0;
      for (std::size_t i = 0; i < bars.size(); ++i) {
        if (i < first) {
          if (!std::isnan(vol[i])) ++mismatches;
          continue;
        }
        // The O(window) reference is costly for the long window: every 4th value there.
        if (window > 100 && i % 4 != 0) continue;
        const double expected = reference_vol(e, bars, i + 1 - window, i + 1, ppy);
        const double err = std::fabs(vol[i] * vol[i] - expected * expected);
        if (!(err <= 1e-10 * expected * expected + variance_floor)) {
          if (mismatches++ == 0) ADD_FAILURE() << "i=" << i << " " << vol[i] << " vs " << expected;
        }
      }
      EXPECT_EQ(mismatches, 0u);
    }
  }
}

// A steady trend with tiny noise: mean^2 / variance of the returns is ~1e8, where a naive
// sum x^2 - (sum x)^2 / n would lose every digit. The shifted, compensated sums keep 1e-6.
TEST(realized_rolling, close_to_close_survives_strong_trend) {
  const std::vector<ohlc_bar> bars = random_bars(5000, 11, 0.01, 1e-6);
  std::vector<double> vol(bars.size());
  ASSERT_EQ(rolling_realized_vol(rv_estimator::close_to_close, bars, 50, 8760.0, vol), status::ok);
  for (std::size_t i = 50; i < bars.size(); i += 37) {
    const double expected =
        reference_vol(rv_estimator::close_to_close, bars, i + 1 - 50, i + 1, 8760.0);
    EXPECT_NEAR(vol[i], expected, 1e-6 * expected) << i;
  }
}

TEST(realized_rolling, first_value_index_per_estimator) {
  const std::vector<ohlc_bar> bars = random_bars(40, 3);
  const int window = 10;
  for (rv_estimator e : all_estimators) {
    SCOPED_TRACE(vrp::quant::to_string(e));
    std::vector<double> vol(bars.size());
    ASSERT_EQ(rolling_realized_vol(e, bars, window, 365.0, vol), status::ok);
    const std::size_t first = needs_previous_close(e) ? window : window - 1;
    EXPECT_EQ(vrp::quant::bars_needed(e, window), static_cast<int>(first + 1));
    for (std::size_t i = 0; i < bars.size(); ++i) {
      EXPECT_EQ(std::isnan(vol[i]), i < first) << i;
      if (i >= first) {
        EXPECT_GT(vol[i], 0.0);
      }
    }
    // Exactly one window of bars is enough; one bar fewer is not.
    std::vector<double> short_out(first + 1);
    EXPECT_EQ(rolling_realized_vol(e, std::span(bars).first(first + 1), window, 365.0, short_out),
              status::ok);
    std::vector<double> too_short(first);
    EXPECT_EQ(rolling_realized_vol(e, std::span(bars).first(first), window, 365.0, too_short),
              status::insufficient_data);
  }
}

TEST(realized_rolling, bad_input_returns_status_and_nan_output) {
  const std::vector<ohlc_bar> good = random_bars(30, 5);
  std::vector<double> out(good.size(), 1.0);
  const auto all_nan = [&] {
    return std::all_of(out.begin(), out.end(), [](double v) { return std::isnan(v); });
  };
  // Window too small.
  EXPECT_EQ(rolling_realized_vol(rv_estimator::close_to_close, good, 1, 365.0, out),
            status::invalid_input);
  EXPECT_TRUE(all_nan());
  EXPECT_EQ(rolling_realized_vol(rv_estimator::yang_zhang, good, 1, 365.0, out),
            status::invalid_input);
  EXPECT_EQ(rolling_realized_vol(rv_estimator::parkinson, good, 0, 365.0, out),
            status::invalid_input);
  EXPECT_EQ(rolling_realized_vol(rv_estimator::parkinson, good, 1, 365.0, out), status::ok);
  // periods_per_year.
  for (double ppy : {0.0, -1.0, nan_value, std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(rolling_realized_vol(rv_estimator::garman_klass, good, 5, ppy, out),
              status::invalid_input);
  }
  // Size mismatch.
  std::vector<double> wrong(good.size() - 1);
  EXPECT_EQ(rolling_realized_vol(rv_estimator::parkinson, good, 5, 365.0, wrong),
            status::invalid_input);
  // Empty.
  std::vector<double> none;
  EXPECT_EQ(
      rolling_realized_vol(rv_estimator::parkinson, std::span<const ohlc_bar>(), 5, 365.0, none),
      status::insufficient_data);
  // Inconsistent or non-finite bars, anywhere in the series.
  const std::vector<ohlc_bar> bad_bars = {
      {100, 99, 98, 100.5},       // high below close
      {100, 101, 100.2, 100.5},   // low above open
      {100, 101, 99, nan_value},  // NaN close
      {100, 101, 0.0, 100.5},     // zero low
      {-1, 101, 99, 100.5},       // negative open
      {100, std::numeric_limits<double>::infinity(), 99, 100.5},
  };
  for (const ohlc_bar& bad : bad_bars) {
    std::vector<ohlc_bar> bars = good;
    bars[17] = bad;
    EXPECT_FALSE(vrp::quant::valid_bar(bad));
    for (rv_estimator e : all_estimators) {
      std::fill(out.begin(), out.end(), 1.0);
      EXPECT_EQ(rolling_realized_vol(e, bars, 5, 365.0, out), status::invalid_input);
      EXPECT_TRUE(all_nan());
      double vol = 42.0;
      EXPECT_EQ(realized_vol(e, bars, 365.0, vol), status::invalid_input);
      EXPECT_EQ(vol, 42.0);
    }
  }
  // Single-window form: too few bars.
  double vol = 42.0;
  EXPECT_EQ(realized_vol(rv_estimator::close_to_close, std::span(good).first(2), 365.0, vol),
            status::insufficient_data);
  EXPECT_EQ(realized_vol(rv_estimator::yang_zhang, std::span(good).first(1), 365.0, vol),
            status::insufficient_data);
  EXPECT_EQ(realized_vol(rv_estimator::parkinson, std::span<const ohlc_bar>(), 365.0, vol),
            status::insufficient_data);
  EXPECT_EQ(vol, 42.0);
  EXPECT_EQ(realized_vol(rv_estimator::parkinson, std::span(good).first(1), 365.0, vol),
            status::ok);
  EXPECT_TRUE(std::isfinite(vol));
}

// ---- Monte Carlo: geometric Brownian motion with fine sub-steps ----

// Bars of a driftless log-price Brownian motion with per-bar variance sigma_bar^2, observed on
// `substeps` points per bar. The discrete extremes miss the continuous ones by about
// beta sigma sqrt(dt), beta = -zeta(1/2) / sqrt(2 pi) = 0.5826 (Broadie, Glasserman & Kou 1997);
// the bars get that continuity correction so that the range estimators see near-continuous
// extremes (without it their variance would be ~6 % low at 500 sub-steps).
std::vector<ohlc_bar> gbm_bars(std::size_t n, int substeps, double sigma_bar, std::uint64_t seed,
                               double overnight_sigma = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  const double step_sd = sigma_bar / std::sqrt(static_cast<double>(substeps));
  const double bgk = 0.5826 * step_sd;
  std::vector<ohlc_bar> bars;
  bars.reserve(n);
  double log_price = std::log(30000.0);
  for (std::size_t i = 0; i < n; ++i) {
    log_price += overnight_sigma * z(rng);
    const double open = log_price;
    double hi = open, lo = open;
    for (int k = 0; k < substeps; ++k) {
      log_price += step_sd * z(rng);
      hi = std::max(hi, log_price);
      lo = std::min(lo, log_price);
    }
    bars.push_back({std::exp(open), std::exp(hi + bgk), std::exp(lo - bgk), std::exp(log_price)});
  }
  return bars;
}

// Each estimator recovers the known vol. Tolerance: the relative standard error of a vol
// estimate from N bars is about 1 / sqrt(2 eff N), with eff the estimator's efficiency relative
// to close-to-close (1 for close-to-close, ~5.2 Parkinson, ~7.4 Garman-Klass, ~6 Rogers-Satchell,
// Yang-Zhang >= Rogers-Satchell; Garman & Klass 1980, Rogers & Satchell 1991, Yang & Zhang 2000);
// we allow 4 standard errors plus 1.5 % for the residual discretisation bias of the extremes.
TEST(realized_monte_carlo, estimators_recover_known_vol) {
  const double sigma_annual = 0.6;
  const double ppy = 8760.0;
  const std::size_t n = 3000;
  const std::vector<ohlc_bar> bars = gbm_bars(n, 500, sigma_annual / std::sqrt(ppy), 2024);
  const std::vector<std::pair<rv_estimator, double>> efficiency = {
      {rv_estimator::close_to_close, 1.0},
      {rv_estimator::parkinson, 5.2},
      {rv_estimator::garman_klass, 7.4},
      {rv_estimator::rogers_satchell, 6.0},
      {rv_estimator::yang_zhang, 6.0}};
  for (const auto& [e, eff] : efficiency) {
    double vol = 0.0;
    ASSERT_EQ(realized_vol(e, bars, ppy, vol), status::ok);
    const double rel_se = 1.0 / std::sqrt(2.0 * eff * static_cast<double>(n));
    const double bias = e == rv_estimator::close_to_close ? 0.0 : 0.015;
    const double tol = (4.0 * rel_se + bias) * sigma_annual;
    std::cout << "[ realized ] " << vrp::quant::to_string(e) << " vol " << vol << " (true "
              << sigma_annual << ", tol " << tol << ")\n";
    EXPECT_NEAR(vol, sigma_annual, tol) << vrp::quant::to_string(e);
  }
}

// With overnight gaps (open != previous close) only close-to-close and Yang-Zhang see the gap
// variance; the intraday range estimators miss it by construction.
TEST(realized_monte_carlo, yang_zhang_includes_opening_jumps) {
  const double ppy = 365.0;
  const double sigma_day = 0.03;
  const double sigma_overnight = 0.02;
  const std::vector<ohlc_bar> bars = gbm_bars(3000, 200, sigma_day, 99, sigma_overnight);
  const double total = std::sqrt((sigma_day * sigma_day + sigma_overnight * sigma_overnight) * ppy);
  const double intraday = sigma_day * std::sqrt(ppy);
  double yz = 0.0, rs = 0.0, cc = 0.0;
  ASSERT_EQ(realized_vol(rv_estimator::yang_zhang, bars, ppy, yz), status::ok);
  ASSERT_EQ(realized_vol(rv_estimator::rogers_satchell, bars, ppy, rs), status::ok);
  ASSERT_EQ(realized_vol(rv_estimator::close_to_close, bars, ppy, cc), status::ok);
  // Same tolerance reasoning as above: 4 standard errors plus the extremes' bias.
  EXPECT_NEAR(yz, total, (4.0 / std::sqrt(2.0 * 3.0 * 3000) + 0.02) * total);
  EXPECT_NEAR(cc, total, 4.0 / std::sqrt(2.0 * 3000) * total);
  EXPECT_NEAR(rs, intraday, (4.0 / std::sqrt(2.0 * 6.0 * 3000) + 0.02) * intraday);
}

// Intraday returns of days with constant but different vols: RV and BV recover the integrated
// variance and TQ the integrated quarticity. Per day, Var(RV)/IV^2 = 2/M and Var(BV)/IV^2 =
// ((pi/2)^2 + pi - 3)/M = 2.61/M (Barndorff-Nielsen & Shephard 2004); over D days the mean ratio
// has sd sqrt(that / D); we allow 4 sd. TQ's sampling error is larger (quarticity), 10 %.
TEST(realized_measures, recover_integrated_variance_without_jumps) {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> z(0.0, 1.0);
  const int m = 288;
  const int days = 300;
  std::vector<double> r(m);
  double sum_rv = 0, sum_bv = 0, sum_tq = 0;
  for (int d = 0; d < days; ++d) {
    const double sigma_day = 0.01 + 0.04 * (d % 7) / 6.0;  // 1 % .. 5 % per day
    for (double& x : r) x = sigma_day / std::sqrt(static_cast<double>(m)) * z(rng);
    const double iv = sigma_day * sigma_day;
    const auto meas = realized_measures(r);
    ASSERT_EQ(meas.code, status::ok);
    EXPECT_DOUBLE_EQ(meas.rv, realized_variance(r));
    EXPECT_DOUBLE_EQ(meas.bv, bipower_variation(r));
    EXPECT_DOUBLE_EQ(meas.tq, tripower_quarticity(r));
    sum_rv += meas.rv / iv;
    sum_bv += meas.bv / iv;
    sum_tq += meas.tq / (iv * iv);
  }
  const double mean_rv = sum_rv / days, mean_bv = sum_bv / days, mean_tq = sum_tq / days;
  std::cout << "[ realized ] RV/IV " << mean_rv << " BV/IV " << mean_bv << " TQ/IQ " << mean_tq
            << "\n";
  EXPECT_NEAR(mean_rv, 1.0, 4.0 * std::sqrt(2.0 / m / days));
  EXPECT_NEAR(mean_bv, 1.0, 4.0 * std::sqrt(2.61 / m / days));
  EXPECT_NEAR(mean_tq, 1.0, 0.10);
}

// Direct textbook sums on a tiny series (values checked by hand).
TEST(realized_measures, textbook_values_on_small_series) {
  const std::vector<double> r = {0.01, -0.02, 0.03, -0.01};
  EXPECT_NEAR(realized_variance(r), 1e-4 + 4e-4 + 9e-4 + 1e-4, 1e-18);
  // (pi/2) (4/3) (0.01*0.02 + 0.02*0.03 + 0.03*0.01) = (pi/2)(4/3)(1.1e-3)
  EXPECT_NEAR(bipower_variation(r), std::numbers::pi / 2.0 * 4.0 / 3.0 * 1.1e-3, 1e-15);
  const long double mu43 = std::pow(2.0L, 2.0L / 3.0L) * std::tgamma(7.0L / 6.0L) /
                           std::sqrt(std::numbers::pi_v<long double>);
  const long double s =
      std::pow(0.01L * 0.02L * 0.03L, 4.0L / 3.0L) + std::pow(0.02L * 0.03L * 0.01L, 4.0L / 3.0L);
  const long double tq = 4.0L * (4.0L / 2.0L) * s / (mu43 * mu43 * mu43);
  EXPECT_NEAR(tripower_quarticity(r), static_cast<double>(tq), 1e-12 * static_cast<double>(tq));
}

TEST(realized_measures, bad_input_is_nan_or_status) {
  const std::vector<double> with_nan = {0.01, nan_value, 0.02, 0.01};
  EXPECT_TRUE(std::isnan(realized_variance({})));
  EXPECT_TRUE(std::isnan(realized_variance(with_nan)));
  EXPECT_TRUE(std::isnan(bipower_variation(std::vector<double>{0.01})));
  EXPECT_TRUE(std::isnan(tripower_quarticity(std::vector<double>{0.01, 0.02})));
  EXPECT_EQ(realized_measures(with_nan).code, status::invalid_input);
  EXPECT_EQ(realized_measures(std::vector<double>{0.01, 0.02}).code, status::insufficient_data);
  EXPECT_EQ(bns_jump_test({}).code, status::insufficient_data);
  EXPECT_EQ(bns_jump_test(with_nan).code, status::invalid_input);
  const std::vector<double> ok = {0.01, -0.02, 0.03, -0.01, 0.005};
  EXPECT_EQ(bns_jump_test(ok, 0.0).code, status::invalid_input);
  EXPECT_EQ(bns_jump_test(ok, 1.0).code, status::invalid_input);
  EXPECT_EQ(bns_jump_test(ok, nan_value).code, status::invalid_input);
  EXPECT_EQ(bns_jump_test(ok, 0.05).code, status::ok);
  EXPECT_EQ(bns_jump_test(std::vector<double>(10, 0.0)).code, status::degenerate);
  // Every other return zero: BV = 0 although RV > 0.
  EXPECT_EQ(bns_jump_test(std::vector<double>{0.01, 0.0, 0.02, 0.0, 0.01}).code,
            status::degenerate);
}

// Without jumps the test rejects at about its nominal level (binomial sd over 1500 days is 0.56 %
// at 5 %; the ratio statistic is near-nominal at M = 288, Huang & Tauchen 2005, so we accept
// 2.5-8 %); a jump carrying half the day's quadratic variation is detected almost always.
TEST(realized_jump_test, size_near_alpha_and_detects_large_jump) {
  std::mt19937_64 rng(123);
  std::normal_distribution<double> z(0.0, 1.0);
  const int m = 288;
  const int days = 1500;
  const double sigma_day = 0.03;
  std::vector<double> r(m);
  int reject5 = 0, reject1 = 0;
  for (int d = 0; d < days; ++d) {
    for (double& x : r) x = sigma_day / std::sqrt(static_cast<double>(m)) * z(rng);
    const auto t5 = bns_jump_test(r, 0.05);
    ASSERT_EQ(t5.code, status::ok);
    EXPECT_NEAR(t5.p_value, 0.5 * std::erfc(t5.z / std::sqrt(2.0)), 1e-15);
    reject5 += t5.jump;
    reject1 += bns_jump_test(r, 0.01).jump;
  }
  const double rate5 = static_cast<double>(reject5) / days;
  const double rate1 = static_cast<double>(reject1) / days;
  std::cout << "[ realized ] BNS rejection rate without jumps: " << rate5 << " at 5 %, " << rate1
            << " at 1 %\n";
  EXPECT_GE(rate5, 0.025);
  EXPECT_LE(rate5, 0.08);
  EXPECT_LE(rate1, 0.025);

  int detected = 0;
  const int jump_days = 200;
  std::uniform_int_distribution<int> where(0, m - 1);
  for (int d = 0; d < jump_days; ++d) {
    for (double& x : r) x = sigma_day / std::sqrt(static_cast<double>(m)) * z(rng);
    r[where(rng)] += (d % 2 ? 1.0 : -1.0) * sigma_day;  // jump^2 = the diffusive IV
    const auto t = bns_jump_test(r, 0.01);
    ASSERT_EQ(t.code, status::ok);
    detected += t.jump;
  }
  std::cout << "[ realized ] BNS detection rate with a jump of one daily sd: "
            << static_cast<double>(detected) / jump_days << "\n";
  EXPECT_GE(detected, jump_days * 95 / 100);
}

// ---- Gap-aware returns and daily RV ----

TEST(realized_gaps, returns_across_gaps_are_dropped_not_bridged) {
  // 1 h bars from 2024-01-01 22:00 UTC: 22:00, 23:00, 00:00, [gap: 01:00, 02:00 missing], 03:00,
  // 04:00, then an off-grid bar at 04:30.
  const std::int64_t day0 = 1704067200000;  // 2024-01-01 00:00:00 UTC
  const std::vector<std::int64_t> t = {day0 + 22 * hour_ms, day0 + 23 * hour_ms,
                                       day0 + 24 * hour_ms, day0 + 27 * hour_ms,
                                       day0 + 28 * hour_ms, day0 + 28 * hour_ms + hour_ms / 2};
  const std::vector<double> c = {100, 101, 99, 105, 104, 104.5};
  std::vector<timed_return> out;
  const auto res = bar_log_returns(t, c, hour_ms, out);
  ASSERT_EQ(res.code, status::ok);
  EXPECT_EQ(res.returns, 3u);
  EXPECT_EQ(res.dropped_gaps, 2u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].bar_open_ms, t[1]);
  EXPECT_DOUBLE_EQ(out[0].log_return, std::log(101.0 / 100.0));
  EXPECT_EQ(out[1].bar_open_ms, t[2]);
  EXPECT_DOUBLE_EQ(out[1].log_return, std::log(99.0 / 101.0));
  EXPECT_EQ(out[2].bar_open_ms, t[4]);
  EXPECT_DOUBLE_EQ(out[2].log_return, std::log(104.0 / 105.0));

  // Daily: day 1 has bar 23:00's return (1 of 24), day 2 has 00:00 and 04:00 (2 of 24).
  std::vector<daily_rv> days;
  auto d = daily_realized_variance(t, c, hour_ms, 1.0 / 24.0, days);
  ASSERT_EQ(d.code, status::ok);
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(d.days_kept, 2u);
  EXPECT_EQ(d.dropped_gaps, 2u);
  EXPECT_EQ(days[0].day_start_ms, day0);
  EXPECT_EQ(days[0].returns, 1);
  EXPECT_DOUBLE_EQ(days[0].variance, std::pow(std::log(101.0 / 100.0), 2));
  EXPECT_EQ(days[1].day_start_ms, day0 + 24 * hour_ms);
  EXPECT_EQ(days[1].returns, 2);
  EXPECT_NEAR(days[1].variance,
              std::pow(std::log(99.0 / 101.0), 2) + std::pow(std::log(104.0 / 105.0), 2), 1e-18);
  // Coverage 2/24 keeps only day 2.
  d = daily_realized_variance(t, c, hour_ms, 2.0 / 24.0, days);
  ASSERT_EQ(d.code, status::ok);
  EXPECT_EQ(d.days_kept, 1u);
  EXPECT_EQ(d.days_dropped, 1u);
  EXPECT_EQ(days.size(), 1u);
  // Nothing reaches full coverage.
  d = daily_realized_variance(t, c, hour_ms, 1.0, days);
  EXPECT_EQ(d.code, status::insufficient_data);
  EXPECT_TRUE(days.empty());
}

TEST(realized_gaps, bad_series_returns_status) {
  std::vector<timed_return> out;
  std::vector<daily_rv> days;
  const std::vector<std::int64_t> t = {0, hour_ms, 2 * hour_ms};
  const std::vector<double> c = {1.0, 1.1, 1.2};
  EXPECT_EQ(bar_log_returns(t, std::vector<double>{1.0, 1.1}, hour_ms, out).code,
            status::invalid_input);
  EXPECT_EQ(bar_log_returns(t, c, 0, out).code, status::invalid_input);
  EXPECT_EQ(bar_log_returns(t, std::vector<double>{1.0, nan_value, 1.2}, hour_ms, out).code,
            status::invalid_input);
  EXPECT_EQ(bar_log_returns(t, std::vector<double>{1.0, 0.0, 1.2}, hour_ms, out).code,
            status::invalid_input);
  EXPECT_EQ(bar_log_returns(std::vector<std::int64_t>{0, hour_ms, hour_ms}, c, hour_ms, out).code,
            status::invalid_input);
  EXPECT_EQ(bar_log_returns({}, {}, hour_ms, out).code, status::insufficient_data);
  EXPECT_EQ(
      bar_log_returns(std::vector<std::int64_t>{0}, std::vector<double>{1.0}, hour_ms, out).code,
      status::insufficient_data);
  EXPECT_EQ(daily_realized_variance(t, c, 7 * hour_ms, 0.5, days).code, status::invalid_input);
  EXPECT_EQ(daily_realized_variance(t, c, hour_ms, 0.0, days).code, status::invalid_input);
  EXPECT_EQ(daily_realized_variance(t, c, hour_ms, 1.5, days).code, status::invalid_input);
  EXPECT_EQ(daily_realized_variance(t, c, hour_ms, nan_value, days).code, status::invalid_input);
  EXPECT_EQ(daily_realized_variance({}, {}, hour_ms, 0.5, days).code, status::insufficient_data);
}

// ---- Real data: Bybit spot 1 h bars, 2023-10-24 .. 2025-10-24 ----

using vrp::test::bar_series;
using vrp::test::parse_utc_ms;

bar_series load_bybit(const std::string& symbol) {
  return vrp::test::load_bybit_hourly(symbol);
}

TEST(realized_real_data, parses_utc_timestamps) {
  EXPECT_EQ(parse_utc_ms("1970-01-01 00:00:00"), 0);
  EXPECT_EQ(parse_utc_ms("2024-01-01 00:00:00"), 1704067200000);
  EXPECT_EQ(parse_utc_ms("2023-10-24 01:00:00"), 1698109200000);
}

// The files have 17,545 bars and one gap (23 missing hours: 2025-07-15 23:00 -> 2025-07-16 23:00).
// Gap handling drops exactly that 24 h return; 732 UTC days carry bars; the first day has 23
// returns (its first bar has no previous close) and 2025-07-16 has none.
TEST(realized_real_data, bybit_gap_is_dropped_and_days_counted) {
  for (const std::string symbol : {"BTCUSDT", "ETHUSDT"}) {
    SCOPED_TRACE(symbol);
    const bar_series s = load_bybit(symbol);
    ASSERT_EQ(s.bars.size(), 17545u);
    std::vector<timed_return> returns;
    const auto res = bar_log_returns(s.open_ms, s.close, hour_ms, returns);
    ASSERT_EQ(res.code, status::ok);
    EXPECT_EQ(res.dropped_gaps, 1u);
    EXPECT_EQ(res.returns, 17543u);
    // The dropped return is the one into 2025-07-16 23:00.
    const std::int64_t gap_bar = parse_utc_ms("2025-07-16 23:00:00");
    for (const timed_return& r : returns) ASSERT_NE(r.bar_open_ms, gap_bar);

    std::vector<daily_rv> days;
    auto d = daily_realized_variance(s.open_ms, s.close, hour_ms, 0.9, days);
    ASSERT_EQ(d.code, status::ok);
    EXPECT_EQ(d.days_kept + d.days_dropped, 732u);
    EXPECT_EQ(d.days_kept, 731u);
    EXPECT_EQ(d.days_dropped, 1u);  // 2025-07-16
    EXPECT_EQ(d.dropped_gaps, 1u);
    EXPECT_EQ(days.front().day_start_ms, parse_utc_ms("2023-10-24 00:00:00"));
    EXPECT_EQ(days.front().returns, 23);
    EXPECT_EQ(days.back().day_start_ms, parse_utc_ms("2025-10-24 00:00:00"));
    EXPECT_EQ(days.back().returns, 24);
    d = daily_realized_variance(s.open_ms, s.close, hour_ms, 1.0, days);
    EXPECT_EQ(d.days_kept, 730u);

    // Annualized realized vol over the two years: sqrt(365 * mean daily RV).
    d = daily_realized_variance(s.open_ms, s.close, hour_ms, 0.9, days);
    double sum = 0;
    for (const daily_rv& day : days) sum += day.variance;
    const double vol_from_daily = std::sqrt(365.0 * sum / static_cast<double>(days.size()));
    std::cout << "[ realized ] " << symbol << " 2y realized vol from daily RV: " << vol_from_daily
              << "\n";
    if (symbol == std::string("BTCUSDT")) {
      EXPECT_GT(vol_from_daily, 0.30);
      EXPECT_LT(vol_from_daily, 0.90);
    } else {
      EXPECT_GT(vol_from_daily, 0.40);
      EXPECT_LT(vol_from_daily, 1.20);
    }
  }
}

// Every bar estimator over the segment before the gap (bar estimators do not see timestamps, so
// the caller splits at gaps) gives a plausible vol, and they agree with one another within 35 %
// (on these hourly bars the range estimators read 7-14 % above close-to-close: they are not
// equal estimates of one number, but must not be wildly apart).
TEST(realized_real_data, bybit_estimators_plausible_before_gap) {
  for (const std::string symbol : {"BTCUSDT", "ETHUSDT"}) {
    const bar_series s = load_bybit(symbol);
    std::size_t gap = 1;
    while (gap < s.open_ms.size() && s.open_ms[gap] - s.open_ms[gap - 1] == hour_ms) ++gap;
    ASSERT_EQ(gap, 15144u);  // file line 15146 (after the header) is 2025-07-16 23:00
    const std::span<const ohlc_bar> segment(s.bars.data(), gap);
    double cc = 0;
    ASSERT_EQ(realized_vol(rv_estimator::close_to_close, segment, 8760.0, cc), status::ok);
    for (rv_estimator e : all_estimators) {
      double vol = 0;
      ASSERT_EQ(realized_vol(e, segment, 8760.0, vol), status::ok);
      std::cout << "[ realized ] " << symbol << " " << vrp::quant::to_string(e) << " " << vol
                << "\n";
      EXPECT_GT(vol, symbol == "BTCUSDT" ? 0.25 : 0.35);
      EXPECT_LT(vol, symbol == "BTCUSDT" ? 0.90 : 1.20);
      EXPECT_NEAR(vol / cc, 1.0, 0.35) << vrp::quant::to_string(e);
      // The 30-day rolling path has no NaN after warm-up and stays in a sane range.
      std::vector<double> rolling(segment.size());
      ASSERT_EQ(rolling_realized_vol(e, segment, 720, 8760.0, rolling), status::ok);
      for (std::size_t i = 720; i < rolling.size(); ++i) {
        ASSERT_TRUE(rolling[i] > 0.05 && rolling[i] < 3.0) << i << " " << rolling[i];
      }
    }
  }
}

}  // namespace
