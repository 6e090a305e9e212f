// Raw SVI: fit, butterfly and calendar checks. Expected values come from the generating
// parameters (exact synthetic data), from the Gatheral–Jacquier (2014) published example, or from
// an independent finite-difference evaluation of the density condition written here.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "vrp/quant/svi.hpp"

namespace vrp::quant {
namespace {

// Independent evaluation of raw SVI (Gatheral 2004), written out without the library.
double ref_w(const svi_params& p, double k) {
  return p.a + p.b * (p.rho * (k - p.m) + std::sqrt((k - p.m) * (k - p.m) + p.sigma * p.sigma));
}

// g(k) of Gatheral & Jacquier (2014) with central finite differences of ref_w (h = 1e-4).
double ref_g_fd(const svi_params& p, double k) {
  const double h = 1e-4;
  const double w = ref_w(p, k);
  const double w1 = (ref_w(p, k + h) - ref_w(p, k - h)) / (2 * h);
  const double w2 = (ref_w(p, k + h) - 2 * w + ref_w(p, k - h)) / (h * h);
  const double t1 = 1 - k * w1 / (2 * w);
  return t1 * t1 - w1 * w1 / 4 * (1 / w + 0.25) + w2 / 2;
}

struct synthetic_slice {
  std::vector<double> strikes, ivs;
};

synthetic_slice make_slice(const svi_params& p, double t, double forward, double k_lo, double k_hi,
                           int n) {
  synthetic_slice s;
  for (int i = 0; i < n; ++i) {
    const double k = k_lo + (k_hi - k_lo) * i / (n - 1);
    s.strikes.push_back(forward * std::exp(k));
    s.ivs.push_back(std::sqrt(ref_w(p, k) / t));
  }
  return s;
}

// Parameter sets inside the fit's constraint set (|rho| < 0.999, b (1 + |rho|) <= 4,
// a + b sigma (1 - |rho|) >= 0), covering negative a, both skews and short/long maturities.
struct recovery_case {
  svi_params p;
  double t;
};
const recovery_case recovery_cases[] = {
    {{0.04, 0.4, -0.4, 0.05, 0.15}, 0.25},   {{-0.01, 0.3, -0.2, 0.1, 0.3}, 1.0},
    {{0.002, 0.05, 0.3, -0.02, 0.05}, 0.02}, {{0.0004, 0.02, -0.6, 0.01, 0.03}, 0.003},
    {{0.1, 0.8, 0.5, -0.1, 0.4}, 2.0},
};

TEST(svi, total_variance_matches_raw_formula) {
  const svi_params p{0.04, 0.4, -0.4, 0.05, 0.15};
  for (double k = -2.0; k <= 2.0; k += 0.1) {
    EXPECT_NEAR(svi_total_variance(p, k), ref_w(p, k), 1e-15);
    EXPECT_NEAR(svi_implied_vol(p, k, 0.5), std::sqrt(ref_w(p, k) / 0.5), 1e-14);
  }
  EXPECT_TRUE(std::isnan(svi_implied_vol(p, 0.0, 0.0)));
}

TEST(svi, fit_recovers_known_parameters_from_exact_data) {
  for (const auto& c : recovery_cases) {
    const double span = 6.0 * std::sqrt(c.p.a + c.p.b * c.p.sigma + 0.01 * c.t);
    const auto s = make_slice(c.p, c.t, 100.0, -span, 0.8 * span, 40);
    const svi_fit_result r = svi_fit(c.t, 100.0, s.strikes, s.ivs);
    ASSERT_EQ(r.code, status::ok) << to_string(r.code);
    EXPECT_EQ(r.points_used, 40);
    // Exact data: the only error is the optimiser's tolerance (simplex size 1e-8 in m, ln sigma).
    EXPECT_LT(r.rmse_vol, 1e-6);
    EXPECT_NEAR(r.params.m, c.p.m, 1e-4 * (1 + std::abs(c.p.m)));
    EXPECT_NEAR(r.params.sigma, c.p.sigma, 1e-4 * c.p.sigma);
    EXPECT_NEAR(r.params.rho, c.p.rho, 1e-4);
    EXPECT_NEAR(r.params.b, c.p.b, 1e-4 * c.p.b);
    EXPECT_NEAR(r.params.a, c.p.a, 1e-4 * c.p.b * c.p.sigma);
  }
}

TEST(svi, warm_fit_recovers_parameters_from_a_nearby_start) {
  for (const auto& c : recovery_cases) {
    const double span = 6.0 * std::sqrt(c.p.a + c.p.b * c.p.sigma + 0.01 * c.t);
    const auto s = make_slice(c.p, c.t, 100.0, -span, 0.8 * span, 40);
    svi_params start = c.p;
    start.m += 0.1 * c.p.sigma;
    start.sigma *= 1.2;
    start.rho *= 0.8;
    const svi_fit_result r = svi_fit(c.t, 100.0, s.strikes, s.ivs, {}, &start);
    ASSERT_EQ(r.code, status::ok);
    EXPECT_LT(r.rmse_vol, 1e-6);
    EXPECT_NEAR(r.params.m, c.p.m, 1e-4 * (1 + std::abs(c.p.m)));
    EXPECT_NEAR(r.params.sigma, c.p.sigma, 1e-4 * c.p.sigma);
  }
}

// Exact data from parameters on the boundary of the constraint set: the inner least-squares
// problem's minimiser then sits on (or, by rounding, just outside) a face, so the fit has to solve
// it with that constraint active and still reach the generating parameters. Lee's bound
// b (1 + |rho|) = 4 in the first case, a + b sigma (1 - |rho|) = 0 (the linear sufficient
// condition for w >= 0) in the second, both at once in the third.
TEST(svi, fit_recovers_parameters_on_the_constraint_boundary) {
  const double b_lee = 4.0 / 1.5;
  const recovery_case cases[] = {
      {{0.01, b_lee, -0.5, 0.02, 0.1}, 0.5},
      {{-0.5 * 0.2 * 0.6, 0.5, -0.4, 0.0, 0.2}, 0.25},
      {{-b_lee * 0.1 * 0.5, b_lee, 0.5, -0.05, 0.1}, 1.0},
  };
  for (const auto& c : cases) {
    const auto s = make_slice(c.p, c.t, 100.0, -0.6, 0.5, 40);
    for (const svi_params* warm : {static_cast<const svi_params*>(nullptr), &c.p}) {
      const svi_fit_result r = svi_fit(c.t, 100.0, s.strikes, s.ivs, {}, warm);
      ASSERT_EQ(r.code, status::ok) << to_string(r.code);
      EXPECT_LT(r.rmse_vol, 1e-6);
      EXPECT_NEAR(r.params.b, c.p.b, 1e-4 * c.p.b);
      EXPECT_NEAR(r.params.rho, c.p.rho, 1e-4);
      EXPECT_NEAR(r.params.m, c.p.m, 1e-4);
      EXPECT_NEAR(r.params.sigma, c.p.sigma, 1e-4 * c.p.sigma);
      EXPECT_NEAR(r.params.a, c.p.a, 1e-4 * c.p.b * c.p.sigma);
    }
  }
}

// Data steeper than Lee's moment bound allows (b (1 + |rho|) = 4.8): the fit is the best smile
// inside the constraint set, which presses against the bound, never beyond it.
TEST(svi, fit_of_data_beyond_lees_bound_stays_within_it) {
  const svi_params p{0.01, 3.2, -0.5, 0.02, 0.1};
  const double t = 0.5;
  const auto s = make_slice(p, t, 100.0, -0.6, 0.5, 40);
  const svi_fit_result r = svi_fit(t, 100.0, s.strikes, s.ivs);
  ASSERT_EQ(r.code, status::ok) << to_string(r.code);
  ASSERT_TRUE(svi_is_admissible(r.params));
  const double lee = r.params.b * (1.0 + std::abs(r.params.rho));
  EXPECT_LE(lee, 4.0 * (1.0 + 1e-9));
  EXPECT_GT(lee, 3.9);
  EXPECT_GE(r.params.a + r.params.b * r.params.sigma * (1.0 - std::abs(r.params.rho)), -1e-12);
  // The data cannot be matched exactly inside the bound, but closely.
  EXPECT_GT(r.rmse_vol, 1e-6);
  EXPECT_LT(r.rmse_vol, 0.05);
}

TEST(svi, fit_handles_more_points_than_the_stack_buffer) {
  const recovery_case c = recovery_cases[0];
  const auto s = make_slice(c.p, c.t, 100.0, -0.8, 0.7, svi_fit_max_points + 100);
  const svi_fit_result r = svi_fit(c.t, 100.0, s.strikes, s.ivs);
  ASSERT_EQ(r.code, status::ok);
  EXPECT_EQ(r.points_used, svi_fit_max_points + 100);
  EXPECT_LT(r.rmse_vol, 1e-6);
  EXPECT_NEAR(r.params.rho, c.p.rho, 1e-4);
}

TEST(svi, fit_ignores_point_with_negligible_weight) {
  const recovery_case c = recovery_cases[0];
  auto s = make_slice(c.p, c.t, 100.0, -0.8, 0.7, 30);
  std::vector<double> weights(s.strikes.size(), 1.0);
  s.ivs[7] += 0.10;  // 10 vol points off
  weights[7] = 1e-12;
  const svi_fit_result r = svi_fit(c.t, 100.0, s.strikes, s.ivs, weights);
  ASSERT_EQ(r.code, status::ok);
  EXPECT_NEAR(r.params.b, c.p.b, 1e-3);
  EXPECT_NEAR(r.params.rho, c.p.rho, 1e-3);
  EXPECT_GT(r.max_abs_error_vol, 0.09);  // the outlier is still reported
  // With equal weights the same outlier moves the fit.
  const svi_fit_result r_eq = svi_fit(c.t, 100.0, s.strikes, s.ivs);
  ASSERT_EQ(r_eq.code, status::ok);
  EXPECT_GT(r_eq.rmse_vol, 1e-3);
}

TEST(svi, fit_with_outlier_rejection_drops_a_placeholder_mark) {
  const recovery_case c = recovery_cases[0];
  auto s = make_slice(c.p, c.t, 100.0, -0.8, 0.7, 30);
  s.ivs[14] += 0.30;  // a placeholder-like mark 30 vol points off, near the money
  const svi_fit_result plain = svi_fit(c.t, 100.0, s.strikes, s.ivs);
  ASSERT_EQ(plain.code, status::ok);
  EXPECT_GT(plain.rmse_vol, 0.01);
  svi_fit_options opt;
  opt.reject_outliers = true;
  const svi_fit_result r = svi_fit(c.t, 100.0, s.strikes, s.ivs, {}, nullptr, opt);
  ASSERT_EQ(r.code, status::ok);
  EXPECT_EQ(r.points_rejected, 1);
  EXPECT_EQ(r.points_used, 29);
  EXPECT_LT(r.rmse_vol, 1e-6);
  EXPECT_NEAR(r.params.b, c.p.b, 1e-4 * c.p.b);
  EXPECT_NEAR(r.params.rho, c.p.rho, 1e-4);
  // Clean data: nothing is rejected.
  const auto clean = make_slice(c.p, c.t, 100.0, -0.8, 0.7, 30);
  EXPECT_EQ(svi_fit(c.t, 100.0, clean.strikes, clean.ivs, {}, nullptr, opt).points_rejected, 0);
}

// The refit after a rejection starts from the caller's warm start (the last clean fit), not from
// the first fit that the outlier pulled: it still reaches the generating smile.
TEST(svi, fit_with_outlier_rejection_from_a_warm_start) {
  for (const auto& c : recovery_cases) {
    const double span = 6.0 * std::sqrt(c.p.a + c.p.b * c.p.sigma + 0.01 * c.t);
    auto s = make_slice(c.p, c.t, 100.0, -span, 0.8 * span, 30);
    s.ivs[14] += 0.30;
    svi_params start = c.p;
    start.m += 0.1 * c.p.sigma;
    start.sigma *= 1.2;
    svi_fit_options opt;
    opt.reject_outliers = true;
    const svi_fit_result r = svi_fit(c.t, 100.0, s.strikes, s.ivs, {}, &start, opt);
    ASSERT_EQ(r.code, status::ok);
    EXPECT_EQ(r.points_rejected, 1);
    EXPECT_LT(r.rmse_vol, 1e-6);
    EXPECT_NEAR(r.params.b, c.p.b, 1e-4 * c.p.b);
    EXPECT_NEAR(r.params.rho, c.p.rho, 1e-4);
  }
}

TEST(svi, fit_reports_insufficient_data_for_few_strikes_or_one_side) {
  const recovery_case c = recovery_cases[0];
  const auto four = make_slice(c.p, c.t, 100.0, -0.3, 0.3, 4);
  EXPECT_EQ(svi_fit(c.t, 100.0, four.strikes, four.ivs).code, status::insufficient_data);
  const auto calls_only = make_slice(c.p, c.t, 100.0, 0.01, 0.5, 20);
  EXPECT_EQ(svi_fit(c.t, 100.0, calls_only.strikes, calls_only.ivs).code,
            status::insufficient_data);
  const auto puts_only = make_slice(c.p, c.t, 100.0, -0.5, -0.01, 20);
  EXPECT_EQ(svi_fit(c.t, 100.0, puts_only.strikes, puts_only.ivs).code, status::insufficient_data);
  // Ten quotes on four distinct strikes are still four strikes.
  std::vector<double> k{90, 90, 95, 95, 105, 105, 110, 110, 110, 90};
  std::vector<double> v(k.size(), 0.5);
  EXPECT_EQ(svi_fit(c.t, 100.0, k, v).code, status::insufficient_data);
  // Unusable points (NaN, zero iv) do not count.
  auto s = make_slice(c.p, c.t, 100.0, -0.3, 0.3, 6);
  s.ivs[0] = std::nan("");
  s.ivs[1] = 0.0;
  const svi_fit_result r = svi_fit(c.t, 100.0, s.strikes, s.ivs);
  EXPECT_EQ(r.code, status::insufficient_data);
  EXPECT_EQ(r.points_used, 4);
}

TEST(svi, fit_rejects_invalid_input) {
  const recovery_case c = recovery_cases[0];
  const auto s = make_slice(c.p, c.t, 100.0, -0.3, 0.3, 10);
  EXPECT_EQ(svi_fit(0.0, 100.0, s.strikes, s.ivs).code, status::invalid_input);
  EXPECT_EQ(svi_fit(c.t, -1.0, s.strikes, s.ivs).code, status::invalid_input);
  EXPECT_EQ(svi_fit(c.t, 100.0, s.strikes, std::span(s.ivs).first(5)).code, status::invalid_input);
  const std::vector<double> w(3, 1.0);
  EXPECT_EQ(svi_fit(c.t, 100.0, s.strikes, s.ivs, w).code, status::invalid_input);
}

TEST(svi, fit_never_returns_degenerate_params_on_noisy_or_odd_smiles) {
  std::mt19937 rng(12345);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int trial = 0; trial < 60; ++trial) {
    const double t = 0.002 + 0.5 * (trial % 6) / 5.0;
    const double atm = 0.3 + 0.3 * std::abs(u(rng));
    std::vector<double> strikes, ivs;
    const int n = 5 + trial % 30;
    for (int i = 0; i < n; ++i) {
      const double k = (-0.6 + 1.2 * i / (n - 1)) * std::sqrt(t + 0.01);
      strikes.push_back(100.0 * std::exp(k));
      // Odd shapes: smiles, frowns, steep skews, and pure noise of up to 20 vol points.
      const double shape = (trial % 4 == 0) ? -0.5 : 1.0;
      ivs.push_back(std::max(0.05, atm + shape * 0.4 * k * k / (t + 0.01) + 0.3 * u(rng) * k +
                                       0.2 * (trial % 5 == 0) * u(rng)));
    }
    const svi_fit_result r = svi_fit(t, 100.0, strikes, ivs);
    ASSERT_TRUE(r.code == status::ok || r.code == status::no_convergence) << to_string(r.code);
    EXPECT_TRUE(svi_is_admissible(r.params)) << trial;
    EXPECT_TRUE(std::isfinite(r.rmse_vol) && std::isfinite(r.max_abs_error_vol)) << trial;
    EXPECT_GE(r.params.b * (1 + std::abs(r.params.rho)), 0.0);
    EXPECT_LE(r.params.b * (1 + std::abs(r.params.rho)), 4.0 + 1e-12);
  }
}

TEST(svi, g_matches_finite_difference_of_total_variance) {
  const svi_params sets[] = {{0.04, 0.4, -0.4, 0.05, 0.15},
                             {-0.0410, 0.1331, 0.3060, 0.3586, 0.4153}};
  for (const auto& p : sets) {
    for (double k = -2.0; k <= 2.0; k += 0.05) {
      EXPECT_NEAR(svi_g(p, k), ref_g_fd(p, k), 1e-5) << k;
    }
  }
}

TEST(svi, butterfly_check_flags_vogt_example) {
  // Gatheral & Jacquier (2014), §3 (Axel Vogt's example, t = 1): raw SVI with negative density.
  const svi_params vogt{-0.0410, 0.1331, 0.3060, 0.3586, 0.4153};
  const svi_check_result r = svi_butterfly_check(vogt);
  EXPECT_EQ(r.code, status::ok);
  EXPECT_FALSE(r.butterfly_free);
  EXPECT_LT(r.min_g, 0.0);
  // The reported minimum is a real negative value of g (independent finite differences) and no
  // grid point of the independent g is lower by more than the grid resolution allows.
  EXPECT_NEAR(ref_g_fd(vogt, r.argmin_k), r.min_g, 1e-5);
  double fd_min = 1e9;
  for (double k = -3.0; k <= 3.0; k += 0.001) fd_min = std::min(fd_min, ref_g_fd(vogt, k));
  EXPECT_NEAR(r.min_g, fd_min, 1e-5);
}

TEST(svi, butterfly_check_passes_arbitrage_free_smile) {
  const svi_params clean{0.04, 0.4, -0.4, 0.05, 0.15};
  const svi_check_result r = svi_butterfly_check(clean);
  EXPECT_EQ(r.code, status::ok);
  double fd_min = 1e9;
  for (double k = -3.0; k <= 3.0; k += 0.001) fd_min = std::min(fd_min, ref_g_fd(clean, k));
  ASSERT_GT(fd_min, 0.0);  // independent confirmation that the set is clean
  EXPECT_TRUE(r.butterfly_free);
  EXPECT_NEAR(r.min_g, fd_min, 1e-5);
}

TEST(svi, butterfly_check_rejects_inadmissible_params) {
  EXPECT_EQ(svi_butterfly_check({0.04, -0.1, 0.0, 0.0, 0.1}).code, status::invalid_input);
  EXPECT_EQ(svi_butterfly_check({0.04, 0.1, 1.0, 0.0, 0.1}).code, status::invalid_input);
  EXPECT_EQ(svi_butterfly_check({0.04, 0.1, 0.0, 0.0, 0.0}).code, status::invalid_input);
  EXPECT_EQ(svi_butterfly_check({-0.5, 0.1, 0.0, 0.0, 0.1}).code, status::invalid_input);
  EXPECT_EQ(svi_butterfly_check({0.04, 0.1, 0.0, 0.0, 0.1}, 1.0, -1.0).code, status::invalid_input);
}

TEST(svi, calendar_check_accepts_increasing_slices) {
  const svi_params s1{0.01, 0.1, -0.3, 0.0, 0.1};
  svi_params s2 = s1;
  s2.a *= 2.0;
  s2.b *= 1.5;
  const svi_params slices[] = {s1, s2};
  const double ts[] = {0.1, 0.2};
  const calendar_check_result r = svi_calendar_check(slices, ts);
  EXPECT_EQ(r.code, status::ok);
  EXPECT_TRUE(r.calendar_free);
  EXPECT_EQ(r.worst_violation, 0.0);
  EXPECT_EQ(r.slice_index, -1);
}

TEST(svi, calendar_check_flags_crossing_slices) {
  // Later slice: higher ATM variance but flatter wings, so the curves cross in the wings.
  const svi_params early{0.01, 0.3, -0.3, 0.0, 0.1};
  const svi_params late{0.03, 0.1, -0.3, 0.0, 0.1};
  const svi_params ok_mid{0.005, 0.2, -0.3, 0.0, 0.1};
  const svi_params slices[] = {ok_mid, early, late};
  const double ts[] = {0.05, 0.1, 0.2};
  const calendar_check_result r = svi_calendar_check(slices, ts);
  EXPECT_EQ(r.code, status::ok);
  EXPECT_FALSE(r.calendar_free);
  EXPECT_EQ(r.slice_index, 2);
  // Independent: the largest w_early - w_late on the same grid.
  double worst = 0, at = 0;
  for (int j = 0; j <= 300; ++j) {
    const double k = -1.5 + 0.01 * j;
    const double v = ref_w(early, k) - ref_w(late, k);
    if (v > worst) {
      worst = v;
      at = k;
    }
  }
  EXPECT_NEAR(r.worst_violation, worst, 1e-12);
  EXPECT_NEAR(r.at_k, at, 1e-9);
  EXPECT_GT(worst, 0.0);
}

TEST(svi, calendar_check_rejects_unsorted_or_mismatched_input) {
  const svi_params s{0.01, 0.1, -0.3, 0.0, 0.1};
  const svi_params slices[] = {s, s};
  const double unsorted[] = {0.2, 0.1};
  EXPECT_EQ(svi_calendar_check(slices, unsorted).code, status::invalid_input);
  const double one[] = {0.1};
  EXPECT_EQ(svi_calendar_check(slices, one).code, status::invalid_input);
}

}  // namespace
}  // namespace vrp::quant
