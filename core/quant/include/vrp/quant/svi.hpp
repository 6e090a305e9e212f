#pragma once

// Raw SVI smiles (Gatheral 2004): fit, evaluation and static-arbitrage checks.
// Conventions (ARCHITECTURE.md §4): log_moneyness k = ln(K/F) with F the forward of the expiry,
// total implied variance w = vol² t, t in years (365-day calendar), vols as decimals.

#include <span>

#include "vrp/quant/status.hpp"

namespace vrp::quant {

// Raw SVI parameters: w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)).
// Admissible (non-degenerate): all finite, b >= 0, |rho| < 1, sigma > 0 and
// min_k w = a + b sigma sqrt(1 - rho^2) >= 0.
struct svi_params {
  double a = 0, b = 0, rho = 0, m = 0, sigma = 0;
};

// True when `p` is in the admissible domain above.
bool svi_is_admissible(const svi_params& p);

// Gatheral (2004), raw SVI: w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)).
double svi_total_variance(const svi_params& p, double log_moneyness);

// vol = sqrt(w(k) / t). Returns NaN for t <= 0 or w(k) < 0 (only possible for inadmissible params).
double svi_implied_vol(const svi_params& p, double log_moneyness, double t_years);

// First and second derivatives of w with respect to k (analytic).
double svi_total_variance_dk(const svi_params& p, double log_moneyness);
double svi_total_variance_dk2(const svi_params& p, double log_moneyness);

// Gatheral & Jacquier (2014, "Arbitrage-free SVI volatility surfaces", §2, static arbitrage),
// density factor:
// g(k) = (1 - k w'/(2w))^2 - (w'^2/4)(1/w + 1/4) + w''/2; the smile is free of butterfly
// arbitrage iff g >= 0 (and w > 0). Returns NaN where w(k) <= 0.
double svi_g(const svi_params& p, double log_moneyness);

struct svi_fit_result {
  svi_params params;
  status code = status::ok;  // insufficient_data / degenerate / no_convergence / invalid_input
  double rmse_vol = 0;       // weighted RMS error in vol (decimal), over the points used
  double max_abs_error_vol = 0;
  bool butterfly_free = false;  // svi_butterfly_check on [-3, 3] of the fitted params
  double min_g = 0;
  double argmin_k = 0;
  int points_used = 0;      // points with finite positive strike, iv and weight, minus rejected
  int points_rejected = 0;  // outliers dropped by svi_fit_options::reject_outliers
  int iterations = 0;       // Nelder–Mead iterations of the outer (m, sigma) search
};

// Quasi-explicit calibration (De Marco & Martini 2009, "Zeliade" white paper): for fixed
// (m, sigma) the total variance is linear in (a, d = rho b sigma, c = b sigma), solved as a
// weighted least squares under linear constraints (|d| <= 0.999 c, |d| <= 4 sigma - c, i.e.
// b (1 + |rho|) <= 4 (Lee 2004), and a + c - |d| >= 0, which implies min w >= 0); the outer
// 2-D search over (m, ln sigma) is Nelder–Mead (cold: coarse grid first; warm: from
// `warm_start`).
//
// strikes, ivs (decimal) and optional weights (empty = equal weights) have equal length. A weight
// multiplies the squared vol error of its point (e.g. vega, or 1/(ask_iv - bid_iv)^2 for a
// bid/ask-width weighting); internally the vol error is mapped to total variance by
// dw = 2 vol t dvol. Points with a non-finite or non-positive strike, iv or weight are skipped.
// `warm_start`: previous fit of the same expiry (nullptr = cold); ignored when inadmissible.
//
// Status: invalid_input (t, forward non-finite or <= 0, length mismatch), insufficient_data (fewer
// than 5 distinct usable strikes, or none on one side of the forward), degenerate (never expected;
// kept as a guard), no_convergence (iteration cap hit; params are the best admissible point found).
// Never returns NaN or inadmissible parameters with status ok.
// Allocates nothing for up to svi_fit_max_points usable points.
inline constexpr int svi_fit_max_points = 512;
svi_fit_result svi_fit(double t_years, double forward, std::span<const double> strikes,
                       std::span<const double> ivs, std::span<const double> weights = {},
                       const svi_params* warm_start = nullptr);

// Venue marks contain placeholders (e.g. Binance writes 0.775 for strikes it cannot mark). With
// reject_outliers, points whose error after a first fit exceeds max(outlier_vol, 5 x the median
// absolute error) are dropped once and the slice is refitted (from warm_start if given, which
// should be the last fit accepted on clean data, else cold; never from the first fit, which the
// outliers pulled), unless that would drop more than a third of the points or leave too few
// strikes (then the first fit is returned).
struct svi_fit_options {
  bool reject_outliers = false;
  double outlier_vol = 0.05;  // decimal vol
};
svi_fit_result svi_fit(double t_years, double forward, std::span<const double> strikes,
                       std::span<const double> ivs, std::span<const double> weights,
                       const svi_params* warm_start, const svi_fit_options& options);

// Gatheral–Jacquier (2014) butterfly condition g(k) >= 0 on a uniform k grid (step 0.01) over
// [k_min, k_max], refined around the grid minimum. code = invalid_input for inadmissible params or
// a bad range, degenerate if w(k) <= 0 somewhere (then min_g = 0, argmin_k = that k).
struct svi_check_result {
  bool butterfly_free = false;
  double min_g = 0;
  double argmin_k = 0;
  status code = status::ok;
};
svi_check_result svi_butterfly_check(const svi_params& p, double k_min = -3.0, double k_max = 3.0);

// Calendar check (Gatheral & Jacquier 2014, §2, calendar spreads): total variance must be
// non-decreasing in t at every fixed k = ln(K/F_t). Checked for consecutive slices (sorted by t)
// on a 0.01 k grid over [k_min, k_max]. worst_violation = max over pairs and k of
// w_i(k) - w_{i+1}(k) when positive (0 when calendar_free); slice_index = index of the later slice
// of the worst pair (-1 if none). code = invalid_input for length mismatch, unsorted or
// non-positive t, or inadmissible params (then calendar_free = false).
struct calendar_check_result {
  bool calendar_free = true;
  double worst_violation = 0;
  double at_k = 0;
  int slice_index = -1;
  status code = status::ok;
};
calendar_check_result svi_calendar_check(std::span<const svi_params> slices,
                                         std::span<const double> t_years, double k_min = -1.5,
                                         double k_max = 1.5);

}  // namespace vrp::quant
