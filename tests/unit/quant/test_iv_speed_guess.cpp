// Initial guess of the implied volatility solver (Let's Be Rational with a tabulated guess): close
// enough that one Householder(3) step reaches full precision, checked against the independent
// long-double Black-76 evaluation of tests/support/reference_black.hpp (the s used to price is the
// expected value; nothing is taken from the code under test). No timings: the step count is what
// the speed depends on, and docs/PERFORMANCE.md has the benchmark.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "reference_black.hpp"
#include "vrp/quant/black.hpp"
#include "vrp/quant/implied_vol.hpp"

namespace {

using vrp::quant::option_type;
using vrp::quant::status;

// Normalised out-of-the-money call price beta = b(x, s) for x <= 0 from the long-double reference
// (F = 1, K = e^{-x}, beta = price / sqrt(F K)).
double reference_beta(double x, double s) {
  const long double strike = std::exp(-static_cast<long double>(x));
  return static_cast<double>(vrp::test::reference_price(1.0L, strike, s, 1.0) / std::sqrt(strike));
}

// A Householder(3) step from a guess within e leaves ~C e^4; the solver accepts one step when it
// moved s by less than 1e-4 relative, so the guess must be within that on the region that matters:
// |ln(K/F)| <= 6, s = vol sqrt(t) <= 2.5, |h| = |x|/s in [0.01, 6] (121 x 121 log-spaced points).
TEST(iv_speed_guess, initial_guess_is_within_one_step_reach_on_realistic_domain) {
  int points = 0;
  int one_step = 0;
  double worst_guess = 0.0;
  double worst_vol = 0.0;
  for (int ih = 0; ih <= 120; ++ih) {
    const double h = -0.01 * std::pow(600.0, ih / 120.0);
    for (int is = 0; is <= 120; ++is) {
      const double s = 0.005 * std::pow(600.0, is / 120.0);
      const double x = h * s;
      if (-x > 6.0 || s > 2.5) continue;
      const double beta = reference_beta(x, s);
      if (!(beta > 1e-280)) continue;
      ++points;
      const auto guess = vrp::quant::normalised_implied_vol_limited(beta, x, 1.0, 0);
      ASSERT_EQ(guess.code, status::ok) << h << " " << s;
      const double guess_error = std::fabs(guess.vol / s - 1.0);
      EXPECT_LE(guess_error, 1e-4) << "h=" << h << " s=" << s;
      worst_guess = std::max(worst_guess, guess_error);
      const auto r = vrp::quant::normalised_implied_vol(beta, x, 1.0);
      ASSERT_EQ(r.code, status::ok) << h << " " << s;
      if (r.iterations == 1) ++one_step;
      const double vol_error = std::fabs(r.vol / s - 1.0);
      EXPECT_LE(vol_error, 1e-13) << "h=" << h << " s=" << s;
      worst_vol = std::max(worst_vol, vol_error);
    }
  }
  std::printf("[guess] %d points, worst guess %.3g, worst vol %.3g, %d in one step\n", points,
              worst_guess, worst_vol, one_step);
  EXPECT_GT(points, 13000);
  // A guess within 1e-4 moves s by about as much in the first step; allow a sliver at the boundary.
  EXPECT_GE(one_step, points - points / 100);
}

// The benchmark's grid (tests/bench/bench_iv.cpp): ln(K/F) = k vol sqrt(t), k = -2.75..2.75 step
// 0.5, t = 1, 7, 30, 90, 365 days, vol 0.2..2, calls and puts, priced in long double. Every option
// is solved in exactly one step and to 1e-13 relative.
TEST(iv_speed_guess, benchmark_grid_is_solved_in_one_step) {
  const double forward = 100.0;
  int options = 0;
  for (int ik = 0; ik < 12; ++ik) {
    const double k = -2.75 + 0.5 * ik;
    for (double days : {1.0, 7.0, 30.0, 90.0, 365.0}) {
      for (double vol : {0.2, 0.5, 1.0, 2.0}) {
        const double t = days / 365.0;
        const double s = vol * std::sqrt(t);
        const double strike = forward * std::exp(k * s);
        for (auto type : {option_type::call, option_type::put}) {
          const double price = static_cast<double>(
              vrp::test::reference_price(forward, strike, s, vrp::quant::sign(type)));
          const auto r = vrp::quant::implied_vol_black76(price, forward, strike, t, type);
          ASSERT_EQ(r.code, status::ok) << k << " " << days << " " << vol;
          EXPECT_EQ(r.iterations, 1) << k << " " << days << " " << vol;
          EXPECT_LE(std::fabs(r.vol - vol), 1e-13 * vol) << k << " " << days << " " << vol;
          ++options;
        }
      }
    }
  }
  EXPECT_EQ(options, 480);
}

// Outside the tabulated rectangle (|ln(K/F)| > 8, |h| < 4e-4, price within 10% of its maximum) the
// four-branch guess takes over; accuracy must not depend on which guess ran.
TEST(iv_speed_guess, inputs_outside_the_table_still_converge) {
  struct point {
    double h, s;
  };
  for (const point p : {point{-4.6, 3.0}, point{-1.5, 6.0}, point{-1e-5, 0.5}, point{-2e-4, 0.05},
                        point{-0.1, 5.0}, point{-7.5, 0.02}, point{-0.02, 4.0}}) {
    const double x = p.h * p.s;
    const double beta = reference_beta(x, p.s);
    const auto r = vrp::quant::normalised_implied_vol(beta, x, 1.0);
    ASSERT_EQ(r.code, status::ok) << p.h << " " << p.s;
    EXPECT_LE(r.iterations, 2);
    // Price resolution: 16 ulp of beta move s by 16 eps beta / (s b'), b' the vega.
    const double kappa = beta / (p.s * vrp::quant::normalised_vega(x, p.s));
    const double tol = 1e-13 + 16.0 * std::numeric_limits<double>::epsilon() * kappa;
    EXPECT_LE(std::fabs(r.vol / p.s - 1.0), tol) << p.h << " " << p.s;
  }
}

}  // namespace
