#pragma once

// Implied volatility by Peter Jäckel, "Let's Be Rational", Wilmott (January 2015) 40-53, with the
// refinements of the 2016/2017 revisions: Householder(3) steps from an initial guess, at most two.
// The guess is a cubic interpolation in a table of the normalised inversion (built once, on first
// use), within 1e-4 of the root on the usual domain so that one step suffices there; outside the
// table, the paper's four-branch rational-cubic guess and branch-specific objectives. Nothing
// throws; every failure is a status.

#include "vrp/quant/status.hpp"

namespace vrp::quant {

struct iv_result {
  double vol = 0.0;  // decimal (0.45), or s = vol * sqrt(t) for normalised_implied_vol
  status code = status::ok;
  int iterations = 0;  // Householder steps taken (at most 2)
};

// Black-76 implied volatility of the option price `price` (already discounted by `discount`),
// forward, strike, t_years > 0. Statuses: invalid_input (NaN/Inf, price < 0, forward/strike <= 0,
// t <= 0, discount <= 0), below_intrinsic (undiscounted price below max(theta (F - K), 0) beyond
// rounding), above_maximum (call >= discount F, put >= discount K). A price at intrinsic gives vol
// 0 with ok.
iv_result implied_vol_black76(double price, double forward, double strike, double t_years,
                              option_type type, double discount = 1.0);

// Normalised form (Jäckel 2015, §2): beta = undiscounted price / sqrt(F K), x = ln(F/K), theta =
// +1 call / -1 put. Returns s = vol * sqrt(t) in `vol`. Same statuses as implied_vol_black76 (the
// maximum is e^{theta x / 2}).
iv_result normalised_implied_vol(double beta, double x, double theta);

// As normalised_implied_vol but stopping after `max_iterations` Householder steps (0 = the initial
// guess alone); for tests of the initial guess.
iv_result normalised_implied_vol_limited(double beta, double x, double theta, int max_iterations);

// Normalised Black function b(x, s, theta) = theta [e^{x/2} N(theta(x/s + s/2)) - e^{-x/2}
// N(theta(x/s - s/2))] = undiscounted price / sqrt(F K) (Jäckel 2015, eq. 2.3), evaluated with
// full relative accuracy of the time value in all regimes (small-s expansion, cancellation-free
// out-of-the-money form). s <= 0 gives the normalised intrinsic value.
double normalised_black(double x, double s, double theta);

// db/ds = exp(-(x^2/s^2 + s^2/4)/2) / sqrt(2 pi) (Jäckel 2015, eq. 2.6); 0 for s <= 0.
double normalised_vega(double x, double s);

// Normalised intrinsic value max(theta (e^{x/2} - e^{-x/2}), 0), without cancellation near x = 0.
double normalised_intrinsic(double x, double theta);

// Scaled complementary error function erfcx(y) = exp(y²) erfc(y), by W. J. Cody's rational
// Chebyshev approximations (Math. Comp. 23, 1969); the building block of normalised_black.
double scaled_erfc(double y);

// Inverse of the standard normal distribution function for 0 < p < 1 (M. J. Wichura, Algorithm
// AS 241, Applied Statistics 37, 1988; relative accuracy ~1e-16). -inf at 0, +inf at 1, NaN
// outside [0, 1].
double inverse_norm_cdf(double p);

}  // namespace vrp::quant
