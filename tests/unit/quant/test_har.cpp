#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bybit_bars.hpp"
#include "vrp/quant/har.hpp"
#include "vrp/quant/realized.hpp"

namespace {

using vrp::quant::diebold_mariano;
using vrp::quant::evaluate_forecasts;
using vrp::quant::har_fit;
using vrp::quant::har_fit_result;
using vrp::quant::har_forecast;
using vrp::quant::har_forecast_mean;
using vrp::quant::qlike;
using vrp::quant::squared_error;
using vrp::quant::status;

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

struct har_betas {
  double b0, bd, bw, bm;
};

// One HAR step written out independently of the library (Corsi 2009, eq. 8).
double har_step(const std::vector<double>& rv, const har_betas& b) {
  const std::size_t t = rv.size() - 1;
  long double w = 0, m = 0;
  for (std::size_t j = t - 4; j <= t; ++j) w += rv[j];
  for (std::size_t j = t - 21; j <= t; ++j) m += rv[j];
  return static_cast<double>(b.b0 + b.bd * rv[t] + b.bw * (w / 5) + b.bm * (m / 22));
}

// A HAR process with mean-zero, skewed but bounded-below errors e = c (exp(s z - s^2/2) - 1) >= -c,
// so with b0 >= c the series stays non-negative.
std::vector<double> simulate_har(const har_betas& b, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  const double c = 0.1, s = 0.5;
  const double mean = b.b0 / (1.0 - b.bd - b.bw - b.bm);
  std::vector<double> rv(22, mean);
  const std::size_t burn_in = 500;
  while (rv.size() < n + burn_in) {
    const double e = c * (std::exp(s * z(rng) - 0.5 * s * s) - 1.0);
    rv.push_back(har_step(rv, b) + e);
  }
  return std::vector<double>(rv.end() - static_cast<std::ptrdiff_t>(n), rv.end());
}

// Independent OLS: the normal equations X'X b = X'y in long double, Gaussian elimination with
// partial pivoting.
std::array<long double, 4> reference_ols(const std::vector<double>& rv) {
  std::array<std::array<long double, 5>, 4> a{};  // augmented [X'X | X'y]
  for (std::size_t t = 21; t + 1 < rv.size(); ++t) {
    long double w = 0, m = 0;
    for (std::size_t j = t - 4; j <= t; ++j) w += rv[j];
    for (std::size_t j = t - 21; j <= t; ++j) m += rv[j];
    const std::array<long double, 4> x = {1.0L, rv[t], w / 5, m / 22};
    for (int i = 0; i < 4; ++i) {
      for (int k = 0; k < 4; ++k) a[i][k] += x[i] * x[k];
      a[i][4] += x[i] * rv[t + 1];
    }
  }
  for (int col = 0; col < 4; ++col) {
    int pivot = col;
    for (int r = col + 1; r < 4; ++r) {
      if (std::fabs(a[r][col]) > std::fabs(a[pivot][col])) pivot = r;
    }
    std::swap(a[col], a[pivot]);
    for (int r = 0; r < 4; ++r) {
      if (r == col) continue;
      const long double f = a[r][col] / a[col][col];
      for (int k = col; k < 5; ++k) a[r][k] -= f * a[col][k];
    }
  }
  return {a[0][4] / a[0][0], a[1][4] / a[1][1], a[2][4] / a[2][2], a[3][4] / a[3][3]};
}

// Simulated HAR processes: OLS recovers the true betas within 3 of its own standard errors. The
// errors are iid and independent of the regressors, so the conventional OLS standard errors are
// the right yardstick. A single fit misses 3 SE on one of its 4 coefficients with probability
// ~1 % (1 - 0.9973^4), so rather than one seed we fit 30 independent samples (fixed seeds) and
// check calibration: z = (beta_hat - beta) / se has rms in [0.7, 1.3] and |mean| < 0.6 per
// coefficient (sd of the mean over 30 is 0.18; the small-sample OLS bias of autoregressions adds
// ~0.2), and at most 2 of the 120 z exceed 3 in size (0.3 expected). The Newey-West standard
// errors agree with the OLS ones within 30 % in this homoskedastic case.
TEST(har_fit, recovers_simulated_betas_within_three_standard_errors) {
  const har_betas truth{0.1, 0.35, 0.3, 0.2};
  const int replications = 30;
  std::array<double, 4> sum_z{}, sum_z2{};
  int beyond_three = 0;
  for (int rep = 0; rep < replications; ++rep) {
    const std::vector<double> rv = simulate_har(truth, 2000, 1000 + rep);
    const har_fit_result fit = har_fit(rv);
    ASSERT_EQ(fit.code, status::ok);
    EXPECT_EQ(fit.observations, 2000 - 22);
    const std::array<double, 4> z = {
        (fit.beta0 - truth.b0) / fit.se_beta0, (fit.beta_d - truth.bd) / fit.se_beta_d,
        (fit.beta_w - truth.bw) / fit.se_beta_w, (fit.beta_m - truth.bm) / fit.se_beta_m};
    for (std::size_t k = 0; k < 4; ++k) {
      sum_z[k] += z[k];
      sum_z2[k] += z[k] * z[k];
      beyond_three += std::fabs(z[k]) > 3.0;
    }
    EXPECT_NEAR(fit.nw_se_beta_d / fit.se_beta_d, 1.0, 0.3);
    EXPECT_NEAR(fit.nw_se_beta_w / fit.se_beta_w, 1.0, 0.3);
    EXPECT_NEAR(fit.nw_se_beta_m / fit.se_beta_m, 1.0, 0.3);
    // The standard errors are informative (not so wide that the checks are empty).
    EXPECT_LT(fit.se_beta_d, 0.05);
    EXPECT_LT(fit.se_beta_w, 0.1);
    EXPECT_LT(fit.se_beta_m, 0.1);
    if (rep == 0) {
      std::cout << "[ har ] simulated (first sample): b0 " << fit.beta0 << " (" << fit.se_beta0
                << ") b_d " << fit.beta_d << " (" << fit.se_beta_d << ") b_w " << fit.beta_w << " ("
                << fit.se_beta_w << ") b_m " << fit.beta_m << " (" << fit.se_beta_m << ") r2 "
                << fit.r2 << "\n";
    }
  }
  const char* names[] = {"beta0", "beta_d", "beta_w", "beta_m"};
  for (std::size_t k = 0; k < 4; ++k) {
    const double mean_z = sum_z[k] / replications;
    const double rms_z = std::sqrt(sum_z2[k] / replications);
    std::cout << "[ har ] " << names[k] << " z over " << replications << " samples: mean " << mean_z
              << " rms " << rms_z << "\n";
    EXPECT_LT(std::fabs(mean_z), 0.6) << names[k];
    EXPECT_GT(rms_z, 0.7) << names[k];
    EXPECT_LT(rms_z, 1.3) << names[k];
  }
  EXPECT_LE(beyond_three, 2);
}

// Coefficients equal an independent normal-equations solve; r2 equals 1 - SSR/SST recomputed
// from the residuals; s^2 = SSR / (n - 4).
TEST(har_fit, coefficients_and_r2_match_independent_ols) {
  const std::vector<double> rv = simulate_har({0.05, 0.4, 0.25, 0.15}, 600, 7);
  const har_fit_result fit = har_fit(rv);
  ASSERT_EQ(fit.code, status::ok);
  const auto ref = reference_ols(rv);
  EXPECT_NEAR(fit.beta0, static_cast<double>(ref[0]), 1e-9);
  EXPECT_NEAR(fit.beta_d, static_cast<double>(ref[1]), 1e-9);
  EXPECT_NEAR(fit.beta_w, static_cast<double>(ref[2]), 1e-9);
  EXPECT_NEAR(fit.beta_m, static_cast<double>(ref[3]), 1e-9);

  long double ssr = 0, mean = 0;
  const std::size_t n = rv.size() - 22;
  for (std::size_t t = 21; t + 1 < rv.size(); ++t) mean += rv[t + 1];
  mean /= n;
  long double sst = 0;
  for (std::size_t t = 21; t + 1 < rv.size(); ++t) {
    std::vector<double> head(rv.begin(), rv.begin() + static_cast<std::ptrdiff_t>(t + 1));
    const double fitted = har_step(head, {fit.beta0, fit.beta_d, fit.beta_w, fit.beta_m});
    ssr += (rv[t + 1] - fitted) * (rv[t + 1] - fitted);
    sst += (rv[t + 1] - mean) * (rv[t + 1] - mean);
  }
  EXPECT_NEAR(fit.r2, static_cast<double>(1 - ssr / sst), 1e-10);
  EXPECT_NEAR(fit.residual_variance, static_cast<double>(ssr / (n - 4)),
              1e-10 * fit.residual_variance);
  EXPECT_GT(fit.r2, 0.0);
  EXPECT_LT(fit.r2, 1.0);
}

TEST(har_fit, bad_input_returns_status) {
  std::vector<double> rv = simulate_har({0.1, 0.35, 0.3, 0.2}, 40, 3);
  EXPECT_EQ(har_fit({}).code, status::insufficient_data);
  EXPECT_EQ(har_fit(std::span(rv).first(31)).code, status::insufficient_data);
  const har_fit_result min_fit = har_fit(std::span(rv).first(32));
  EXPECT_EQ(min_fit.code, status::ok);
  EXPECT_EQ(min_fit.observations, 10);
  for (double bad : {nan_value, -1e-6, std::numeric_limits<double>::infinity()}) {
    std::vector<double> x = rv;
    x[30] = bad;
    const har_fit_result fit = har_fit(x);
    EXPECT_EQ(fit.code, status::invalid_input);
  }
  // Constant and linearly trending series make the regressors collinear.
  EXPECT_EQ(har_fit(std::vector<double>(60, 0.5)).code, status::degenerate);
  std::vector<double> trend(60);
  for (std::size_t i = 0; i < trend.size(); ++i) trend[i] = 0.1 + 0.01 * static_cast<double>(i);
  EXPECT_EQ(har_fit(trend).code, status::degenerate);
}

// Iterated forecasts equal the recursion written out here, converge to the unconditional mean
// b0 / (1 - b_d - b_w - b_m), and har_forecast_mean is their average.
TEST(har_forecast, iterates_the_recursion_and_converges_to_the_mean) {
  har_fit_result fit;
  fit.code = status::ok;
  fit.beta0 = 0.1;
  fit.beta_d = 0.35;
  fit.beta_w = 0.3;
  fit.beta_m = 0.2;
  std::vector<double> history = simulate_har({0.1, 0.35, 0.3, 0.2}, 100, 5);
  history.back() = 2.5;  // a shock, so the path is not flat
  std::vector<double> out(30);
  ASSERT_EQ(har_forecast(fit, history, out), status::ok);
  std::vector<double> path = history;
  long double sum = 0;
  for (std::size_t k = 0; k < out.size(); ++k) {
    const double expected = har_step(path, {0.1, 0.35, 0.3, 0.2});
    EXPECT_NEAR(out[k], expected, 1e-14) << k;
    path.push_back(expected);
    sum += expected;
  }
  EXPECT_GT(out[0], out[29]);  // decays from the shock
  const auto mean30 = har_forecast_mean(fit, history, 30);
  ASSERT_EQ(mean30.code, status::ok);
  EXPECT_NEAR(mean30.mean_variance, static_cast<double>(sum / 30), 1e-14);

  std::vector<double> long_run(3000);
  ASSERT_EQ(har_forecast(fit, history, long_run), status::ok);
  EXPECT_NEAR(long_run.back(), 0.1 / (1.0 - 0.85), 1e-9);

  std::vector<double> none;
  EXPECT_EQ(har_forecast(fit, history, none), status::ok);
}

TEST(har_forecast, bad_input_returns_status) {
  const std::vector<double> history = simulate_har({0.1, 0.35, 0.3, 0.2}, 60, 9);
  const har_fit_result fit = har_fit(history);
  ASSERT_EQ(fit.code, status::ok);
  std::vector<double> out(5, 1.0);
  har_fit_result failed = fit;
  failed.code = status::degenerate;
  EXPECT_EQ(har_forecast(failed, history, out), status::invalid_input);
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(har_forecast(fit, std::span(history).first(21), out), status::insufficient_data);
  std::vector<double> with_nan = history;
  with_nan.back() = nan_value;
  EXPECT_EQ(har_forecast(fit, with_nan, out), status::invalid_input);
  EXPECT_EQ(har_forecast_mean(fit, history, 0).code, status::invalid_input);
  EXPECT_EQ(har_forecast_mean(fit, std::span(history).first(10), 5).code,
            status::insufficient_data);
  // Betas that drive the forecast negative: degenerate, never a negative variance.
  har_fit_result negative = fit;
  negative.beta0 = -10.0;
  EXPECT_EQ(har_forecast(negative, history, out), status::degenerate);
  for (double v : out) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(har_forecast_mean(negative, history, 5).code, status::degenerate);
}

// ---- Losses ----

TEST(har_losses, qlike_and_squared_error_values) {
  EXPECT_DOUBLE_EQ(qlike(1.0, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(qlike(0.04, 0.04), 0.0);
  EXPECT_NEAR(qlike(2.0, 1.0), 1.0 - std::log(2.0), 1e-15);
  EXPECT_NEAR(qlike(1.0, 2.0), 0.5 + std::log(2.0) - 1.0, 1e-15);
  // Asymmetric: under-forecasting costs more than over-forecasting by the same factor.
  EXPECT_GT(qlike(2.0, 1.0), qlike(1.0, 2.0));
  EXPECT_TRUE(std::isnan(qlike(0.0, 1.0)));
  EXPECT_TRUE(std::isnan(qlike(1.0, 0.0)));
  EXPECT_TRUE(std::isnan(qlike(1.0, -1.0)));
  EXPECT_TRUE(std::isnan(qlike(nan_value, 1.0)));
  EXPECT_DOUBLE_EQ(squared_error(3.0, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(vrp::quant::mse(1.0, 3.0), 4.0);
  EXPECT_TRUE(std::isnan(squared_error(nan_value, 1.0)));
}

// Patton (2011): with a noisy but unbiased proxy (r = sigma^2 z^2), expected QLIKE is minimized at
// the true variance: on a grid of forecasts the true one has the lowest mean loss.
TEST(har_losses, qlike_is_minimized_at_the_true_variance_with_a_noisy_proxy) {
  std::mt19937_64 rng(2011);
  std::normal_distribution<double> z(0.0, 1.0);
  const double variance = 0.04;
  std::vector<double> proxy(20000);
  for (double& r : proxy) {
    const double x = z(rng);
    r = variance * x * x;
  }
  double best_factor = 0, best_loss = std::numeric_limits<double>::infinity();
  for (double factor : {0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0}) {
    std::vector<double> f(proxy.size(), variance * factor);
    const auto res = evaluate_forecasts(proxy, f);
    ASSERT_EQ(res.code, status::ok);
    if (res.mean_qlike < best_loss) {
      best_loss = res.mean_qlike;
      best_factor = factor;
    }
  }
  EXPECT_EQ(best_factor, 1.0);
}

TEST(har_losses, evaluator_skips_non_finite_and_rejects_bad_pairs) {
  const std::vector<double> r = {1.0, 2.0, nan_value, 0.0, 0.5};
  const std::vector<double> f = {1.0, 1.0, 1.0, 1.0, std::numeric_limits<double>::infinity()};
  const auto res = evaluate_forecasts(r, f);
  ASSERT_EQ(res.code, status::ok);
  EXPECT_EQ(res.count, 2u);
  EXPECT_EQ(res.skipped, 3u);
  EXPECT_NEAR(res.mean_qlike, (0.0 + (1.0 - std::log(2.0))) / 2.0, 1e-15);
  EXPECT_NEAR(res.mean_mse, (0.0 + 1.0) / 2.0, 1e-15);

  EXPECT_EQ(evaluate_forecasts(r, std::span(f).first(4)).code, status::invalid_input);
  EXPECT_EQ(evaluate_forecasts(std::vector<double>{1.0}, std::vector<double>{0.0}).code,
            status::invalid_input);
  EXPECT_EQ(evaluate_forecasts(std::vector<double>{1.0}, std::vector<double>{-1.0}).code,
            status::invalid_input);
  EXPECT_EQ(evaluate_forecasts(std::vector<double>{-1.0}, std::vector<double>{1.0}).code,
            status::invalid_input);
  EXPECT_EQ(evaluate_forecasts({}, {}).code, status::insufficient_data);
  EXPECT_EQ(evaluate_forecasts(std::vector<double>{nan_value}, std::vector<double>{1.0}).code,
            status::insufficient_data);
}

// Diebold-Mariano: equals the statistic computed here (Bartlett long-run variance), detects a
// clearly worse forecast and does not reject between two equally good ones.
TEST(har_losses, diebold_mariano_statistic) {
  std::mt19937_64 rng(1995);
  std::normal_distribution<double> z(0.0, 1.0);
  const std::size_t n = 1000;
  const double variance = 0.04;
  std::vector<double> good(n), worse(n), twin_a(n), twin_b(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = z(rng);
    const double r = variance * x * x;
    good[i] = qlike(r, variance);
    worse[i] = qlike(r, 2.0 * variance);
    twin_a[i] = qlike(r, variance * std::exp(0.3 * z(rng)));
    twin_b[i] = qlike(r, variance * std::exp(0.3 * z(rng)));
  }
  for (int h : {1, 3}) {
    const auto dm = diebold_mariano(good, worse, h);
    ASSERT_EQ(dm.code, status::ok);
    long double mean = 0;
    for (std::size_t i = 0; i < n; ++i) mean += good[i] - worse[i];
    mean /= n;
    long double lrv = 0;
    for (int lag = 0; lag < h; ++lag) {
      long double g = 0;
      for (std::size_t i = static_cast<std::size_t>(lag); i < n; ++i) {
        g += (good[i] - worse[i] - mean) * (good[i - lag] - worse[i - lag] - mean);
      }
      g /= n;
      lrv += (lag == 0 ? 1.0L : 2.0L * (1.0L - static_cast<long double>(lag) / h)) * g;
    }
    const double expected = static_cast<double>(mean / std::sqrt(lrv / n));
    EXPECT_NEAR(dm.statistic, expected, 1e-9 * std::fabs(expected));
    EXPECT_LT(dm.statistic, -3.0);
    EXPECT_LT(dm.p_value, 0.01);
    EXPECT_EQ(dm.count, n);
  }
  const auto tie = diebold_mariano(twin_a, twin_b, 1);
  ASSERT_EQ(tie.code, status::ok);
  EXPECT_LT(std::fabs(tie.statistic), 3.0);
  EXPECT_EQ(diebold_mariano(good, good).code, status::degenerate);
  EXPECT_EQ(diebold_mariano(good, std::span(worse).first(10)).code, status::invalid_input);
  EXPECT_EQ(diebold_mariano(good, worse, 0).code, status::invalid_input);
  EXPECT_EQ(diebold_mariano(std::span(good).first(9), std::span(worse).first(9)).code,
            status::insufficient_data);
}

// ---- Real data: HAR on Bybit BTCUSDT daily RV from 1 h bars ----

std::vector<double> load_daily_rv(const std::string& symbol) {
  const vrp::test::bar_series bars = vrp::test::load_bybit_hourly(symbol);
  const auto& open_ms = bars.open_ms;
  const auto& close = bars.close;
  std::vector<vrp::quant::daily_rv> days;
  const auto res = vrp::quant::daily_realized_variance(open_ms, close, 3'600'000, 0.9, days);
  EXPECT_EQ(res.code, status::ok);
  std::vector<double> rv;
  for (const auto& d : days) rv.push_back(d.variance);
  return rv;
}

// The fit on two years of BTC daily RV (731 days; the gap day is skipped): printed for the record;
// it must be a proper fit with a positive, stationary persistence and a sensible forecast. Out of
// sample (fit on the first 450 days, 1-day-ahead forecasts over the rest), HAR must beat the
// random walk RV_{t+1} = RV_t in QLIKE, as Corsi (2009) found out of sample.
TEST(har_real_data, btc_daily_rv_fit_and_out_of_sample_qlike) {
  const std::vector<double> rv = load_daily_rv("BTCUSDT");
  ASSERT_EQ(rv.size(), 731u);
  const har_fit_result fit = har_fit(rv);
  ASSERT_EQ(fit.code, status::ok);
  EXPECT_EQ(fit.observations, 731 - 22);
  std::cout << "[ har ] BTCUSDT daily RV HAR fit: b0 " << fit.beta0 << " (nw se " << fit.nw_se_beta0
            << ") b_d " << fit.beta_d << " (" << fit.nw_se_beta_d << ") b_w " << fit.beta_w << " ("
            << fit.nw_se_beta_w << ") b_m " << fit.beta_m << " (" << fit.nw_se_beta_m << ") r2 "
            << fit.r2 << " n " << fit.observations << "\n";
  ::testing::Test::RecordProperty("btc_har_beta_d", std::to_string(fit.beta_d));
  ::testing::Test::RecordProperty("btc_har_beta_w", std::to_string(fit.beta_w));
  ::testing::Test::RecordProperty("btc_har_beta_m", std::to_string(fit.beta_m));
  ::testing::Test::RecordProperty("btc_har_r2", std::to_string(fit.r2));
  const double persistence = fit.beta_d + fit.beta_w + fit.beta_m;
  EXPECT_GT(persistence, 0.2);
  EXPECT_LT(persistence, 1.0);
  EXPECT_GT(fit.r2, 0.05);
  EXPECT_LT(fit.r2, 0.9);

  const auto mean30 = har_forecast_mean(fit, rv, 30);
  ASSERT_EQ(mean30.code, status::ok);
  const double vol30 = std::sqrt(365.0 * mean30.mean_variance);
  std::cout << "[ har ] BTCUSDT 30-day HAR forecast vol (annualized): " << vol30 << "\n";
  EXPECT_GT(vol30, 0.1);
  EXPECT_LT(vol30, 1.5);

  const std::size_t split = 450;
  const har_fit_result in_sample = har_fit(std::span(rv).first(split));
  ASSERT_EQ(in_sample.code, status::ok);
  std::vector<double> realized, har_f, rw_f;
  for (std::size_t t = split; t < rv.size(); ++t) {
    double f = 0;
    ASSERT_EQ(har_forecast(in_sample, std::span(rv).first(t), std::span(&f, 1)), status::ok);
    realized.push_back(rv[t]);
    har_f.push_back(f);
    rw_f.push_back(rv[t - 1]);
  }
  const auto har_loss = evaluate_forecasts(realized, har_f);
  const auto rw_loss = evaluate_forecasts(realized, rw_f);
  ASSERT_EQ(har_loss.code, status::ok);
  ASSERT_EQ(rw_loss.code, status::ok);
  std::vector<double> la, lb;
  for (std::size_t i = 0; i < realized.size(); ++i) {
    la.push_back(qlike(realized[i], har_f[i]));
    lb.push_back(qlike(realized[i], rw_f[i]));
  }
  const auto dm = diebold_mariano(la, lb, 1);
  std::cout << "[ har ] BTCUSDT out-of-sample (" << har_loss.count << " days) QLIKE HAR "
            << har_loss.mean_qlike << " vs random walk " << rw_loss.mean_qlike << "; MSE "
            << har_loss.mean_mse << " vs " << rw_loss.mean_mse << "; DM " << dm.statistic << " (p "
            << dm.p_value << ")\n";
  EXPECT_LT(har_loss.mean_qlike, rw_loss.mean_qlike);
  EXPECT_LT(har_loss.mean_mse, rw_loss.mean_mse);
}

}  // namespace
