// Implied volatility (Let's Be Rational): reference values of group
// `iv_lets_be_rational_testvalues` and `black76_py_vollib` in tests/data/refdata/cases.json,
// statuses, and a property grid against an independent long-double Black-76 evaluation.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "refdata.hpp"
#include "reference_black.hpp"
#include "vrp/quant/black.hpp"
#include "vrp/quant/implied_vol.hpp"

namespace {

using vrp::quant::option_type;
using vrp::quant::status;

constexpr double eps = std::numeric_limits<double>::epsilon();

// Upstream regression tolerance "abs a, rel r" read as |got - expected| <= a + r |expected|.
void expect_close(double got, double expected, const nlohmann::json& tol, const std::string& what) {
  const double bound =
      tol.at("abs").get<double>() + tol.at("rel").get<double>() * std::fabs(expected);
  EXPECT_NEAR(got, expected, bound) << what;
}

TEST(implied_vol_reference, lbr_prices_match_reference_outputs) {
  const auto group = vrp::test::load_refdata_group("iv_lets_be_rational_testvalues");
  int checked = 0;
  for (const auto& c : group.at("cases")) {
    const auto& in = c.at("inputs");
    if (!in.contains("F")) continue;
    const std::string id = c.at("id");
    const double f = in.at("F");
    const double k = in.at("K");
    const double t = in.at("T");
    const double vol = in.at("vol_used_to_price");
    const double q = in.at("q");
    const double expected = c.at("expected").at("black_price");
    const auto& tol = c.at("tolerance").at("price");
    const auto type = q > 0 ? option_type::call : option_type::put;
    expect_close(vrp::quant::black76_price(f, k, t, vol, type), expected, tol, id + " black76");
    const double via_normalised =
        std::sqrt(f) * std::sqrt(k) *
        vrp::quant::normalised_black(std::log(f / k), vol * std::sqrt(t), q);
    expect_close(via_normalised, expected, tol, id + " normalised");
    ++checked;
  }
  EXPECT_EQ(checked, 21);
}

TEST(implied_vol_reference, lbr_implied_vols_match_reference_outputs) {
  const auto group = vrp::test::load_refdata_group("iv_lets_be_rational_testvalues");
  int checked = 0;
  for (const auto& c : group.at("cases")) {
    const auto& in = c.at("inputs");
    if (!in.contains("F")) continue;
    const std::string id = c.at("id");
    const auto type = in.at("q").get<double>() > 0 ? option_type::call : option_type::put;
    const auto r = vrp::quant::implied_vol_black76(c.at("expected").at("black_price"), in.at("F"),
                                                   in.at("K"), in.at("T"), type);
    ASSERT_EQ(r.code, status::ok) << id;
    EXPECT_LE(r.iterations, 2) << id;
    expect_close(r.vol, c.at("expected").at("iv"), c.at("tolerance").at("iv"), id);
    ++checked;
  }
  EXPECT_EQ(checked, 21);
}

TEST(implied_vol_reference, lbr_normalised_functions_match_reference_outputs) {
  const auto group = vrp::test::load_refdata_group("iv_lets_be_rational_testvalues");
  int checked = 0;
  for (const auto& c : group.at("cases")) {
    const auto& in = c.at("inputs");
    if (!in.contains("x")) continue;
    const std::string id = c.at("id");
    const double x = in.at("x");
    const double s = in.at("s");
    const double q = in.at("q");
    const auto& exp = c.at("expected");
    const auto& tol_p = c.at("tolerance").at("price");
    expect_close(vrp::quant::normalised_black(x, s, q), exp.at("normalised_black"), tol_p, id);
    expect_close(vrp::quant::normalised_black(x, s, 1.0), exp.at("normalised_black_call"), tol_p,
                 id + " call");
    expect_close(vrp::quant::normalised_vega(x, s), exp.at("normalised_vega"), tol_p, id + " vega");
    // LBR inverts its own normalised price; where that price has lost the information (deep in the
    // money, lbr_normalised_02) the expected s is LBR's output, not the s used to price.
    const auto r = vrp::quant::normalised_implied_vol(exp.at("normalised_black"), x, q);
    ASSERT_EQ(r.code, status::ok) << id;
    EXPECT_LE(r.iterations, 2) << id;
    expect_close(r.vol, exp.at("normalised_iv"), c.at("tolerance").at("iv"), id + " iv");
    ++checked;
  }
  EXPECT_EQ(checked, 11);
}

TEST(implied_vol_reference, py_vollib_round_trip_recovers_vol) {
  const auto group = vrp::test::load_refdata_group("black76_py_vollib");
  int checked = 0;
  for (const auto& c : group.at("cases")) {
    if (c.at("id") != "b76_iv_roundtrip") continue;
    const auto& in = c.at("inputs");
    const double t = in.at("t");
    const double discount = std::exp(-in.at("r").get<double>() * t);
    const auto r = vrp::quant::implied_vol_black76(in.at("price"), in.at("F"), in.at("K"), t,
                                                   option_type::call, discount);
    ASSERT_EQ(r.code, status::ok);
    EXPECT_NEAR(r.vol, c.at("expected").at("vol").get<double>(),
                c.at("tolerance").at("abs").get<double>());
    ++checked;
  }
  EXPECT_EQ(checked, 1);
}

TEST(implied_vol_status, invalid_inputs_are_reported_not_thrown) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const auto call = option_type::call;
  using vrp::quant::implied_vol_black76;
  EXPECT_EQ(implied_vol_black76(nan, 100, 100, 1, call).code, status::invalid_input);
  EXPECT_EQ(implied_vol_black76(5, inf, 100, 1, call).code, status::invalid_input);
  EXPECT_EQ(implied_vol_black76(5, 100, nan, 1, call).code, status::invalid_input);
  EXPECT_EQ(implied_vol_black76(-1, 100, 100, 1, call).code, status::invalid_input);
  EXPECT_EQ(implied_vol_black76(5, 0, 100, 1, call).code, status::invalid_input);
  EXPECT_EQ(implied_vol_black76(5, 100, -3, 1, call).code, status::invalid_input);
  EXPECT_EQ(implied_vol_black76(5, 100, 100, 0, call).code, status::invalid_input);
  EXPECT_EQ(implied_vol_black76(5, 100, 100, 1, call, 0.0).code, status::invalid_input);
  EXPECT_EQ(vrp::quant::normalised_implied_vol(0.1, 0.0, 0.5).code, status::invalid_input);
  EXPECT_EQ(vrp::quant::normalised_implied_vol(nan, 0.0, 1.0).code, status::invalid_input);
}

TEST(implied_vol_status, bounds_are_classified) {
  using vrp::quant::implied_vol_black76;
  const auto call = option_type::call;
  const auto put = option_type::put;
  // Below intrinsic: an in-the-money call under F - K, a put under K - F (discounted).
  EXPECT_EQ(implied_vol_black76(9.0, 110, 100, 1, call).code, status::below_intrinsic);
  EXPECT_EQ(implied_vol_black76(0.9 * 9.5, 100, 110, 1, put, 0.95).code, status::below_intrinsic);
  // At or above the maximum: call >= discount F, put >= discount K.
  EXPECT_EQ(implied_vol_black76(100, 100, 90, 1, call).code, status::above_maximum);
  EXPECT_EQ(implied_vol_black76(0.9 * 90, 100, 90, 1, put, 0.9).code, status::above_maximum);
  EXPECT_EQ(implied_vol_black76(120, 100, 90, 1, call).code, status::above_maximum);
  // Exactly at intrinsic (and zero for out of the money): vol 0 with ok.
  auto r = implied_vol_black76(10.0, 110, 100, 1, call);
  EXPECT_EQ(r.code, status::ok);
  EXPECT_EQ(r.vol, 0.0);
  r = implied_vol_black76(0.0, 100, 110, 1, call);
  EXPECT_EQ(r.code, status::ok);
  EXPECT_EQ(r.vol, 0.0);
  // A discounted intrinsic value that rounds a few ulp low is still at intrinsic.
  const double discount = 0.97;
  r = implied_vol_black76(discount * 10.0, 110, 100, 1, call, discount);
  EXPECT_EQ(r.code, status::ok);
  EXPECT_EQ(r.vol, 0.0);
  r = implied_vol_black76(std::nextafter(10.0, 0.0), 110, 100, 1, call);
  EXPECT_EQ(r.code, status::ok);
  EXPECT_EQ(r.vol, 0.0);
}

// Grid: ln(K/F) = k vol sqrt(t) with k in [-5, 5] (40 points), t from one minute to 3 years (30,
// log-spaced), vol from 1% to 1000% (40, log-spaced), calls and puts: 96,000 inversions.
//
// Information criterion: kappa = price / (vol dprice/dvol) is the relative vol change per relative
// price change. A price perturbed by 16 ulp (16 eps relative, the rounding of the reference price
// plus the few-ulp error of any double evaluation) moves the implied vol by up to 16 eps kappa.
// The price "carries the information" for 1e-12 when 16 eps kappa <= 1e-12 (kappa <= ~281); there
// the vol must be recovered to 1e-12 relative. Elsewhere the vol error must stay within
// 16 eps kappa (the price's own resolution) and the round-trip price must agree to 16 ulp.
TEST(implied_vol_property, iv_recovers_vol_across_grid) {
  constexpr double tol = 1e-12;
  const double f = 1000.0;
  long total = 0, informative = 0, at_max = 0, at_intrinsic = 0;
  double worst_informative = 0.0, worst_k = 0.0, worst_t = 0.0, worst_vol = 0.0;
  int max_iterations = 0;
  for (int ik = 0; ik < 40; ++ik) {
    const double k = -5.0 + 10.0 * ik / 39.0;
    for (int it = 0; it < 30; ++it) {
      const double t = (1.0 / 525600.0) * std::pow(3.0 * 525600.0, it / 29.0);
      for (int iv = 0; iv < 40; ++iv) {
        const double vol = 0.01 * std::pow(1000.0, iv / 39.0);
        const double s = vol * std::sqrt(t);
        const double strike = f * std::exp(k * s);
        for (auto type : {option_type::call, option_type::put}) {
          ++total;
          const double theta = vrp::quant::sign(type);
          long double cancelling = 0.0L;
          const double price =
              static_cast<double>(vrp::test::reference_price(f, strike, s, theta, &cancelling));
          // Error of the reference itself, as an absolute price error.
          const double ref_error =
              static_cast<double>(64.0L * std::numeric_limits<long double>::epsilon() * cancelling);
          const auto r = vrp::quant::implied_vol_black76(price, f, strike, t, type);
          const double upper = type == option_type::call ? f : strike;
          if (price >= upper * (1.0 - 4.0 * eps)) {
            // Within 4 ulp of the maximum the time value is lost in rounding: nothing to invert
            // (above_maximum), or a vol whose price is again that close to the maximum.
            EXPECT_TRUE(r.code == status::above_maximum || r.code == status::ok);
            ++at_max;
            continue;
          }
          ASSERT_EQ(r.code, status::ok) << k << " " << t << " " << vol << " " << theta;
          max_iterations = std::max(max_iterations, r.iterations);
          EXPECT_LE(r.iterations, 2);
          if (price <= std::max(theta * (f - strike), 0.0)) {
            // The time value is below half an ulp of the intrinsic value.
            EXPECT_EQ(r.vol, 0.0);
            ++at_intrinsic;
            continue;
          }
          const double vega_s =
              std::sqrt(f * strike) * vrp::quant::normalised_vega(std::log(f / strike), s) * s;
          const double kappa = price / vega_s;
          const double err = std::fabs(r.vol - vol) / vol;
          if (16.0 * eps * kappa <= tol) {
            ++informative;
            EXPECT_LE(err, tol) << "k=" << k << " t=" << t << " vol=" << vol << " theta=" << theta;
            if (err > worst_informative) {
              worst_informative = err;
              worst_k = k;
              worst_t = t;
              worst_vol = vol;
            }
          } else {
            EXPECT_LE(err, 16.0 * eps * kappa + tol) << k << " " << t << " " << vol;
          }
          const double back = static_cast<double>(
              vrp::test::reference_price(f, strike, r.vol * std::sqrt(t), theta));
          // Measured accuracy of the double time value (normalised_black against mpmath): up to
          // ~1e4 eps at |h| = |k| = 5 and s ~ 1e-3-0.2 (cancellation of the two normal integrals, a
          // known gap: the paper's asymptotic expansion for large -h is not used). It
          // grows like h², as does the price's sensitivity to s, so the vol error stays ~60 eps.
          const double b_tol = (16.0 + 512.0 * k * k) * eps;
          EXPECT_LE(std::fabs(back - price), b_tol * price + 2.0 * ref_error)
              << k << " " << t << " " << vol;
        }
      }
    }
  }
  std::printf(
      "[grid] %ld points, %ld informative (worst rel vol error %.3g at k=%.3f t=%.3g y vol=%.3g), "
      "%ld at maximum, %ld at intrinsic, max iterations %d\n",
      total, informative, worst_informative, worst_k, worst_t, worst_vol, at_max, at_intrinsic,
      max_iterations);
  EXPECT_GT(informative, total / 2);
}

// Round trip through the normalised functions alone, including the put/call symmetry
// b(x, s, theta) = b(-x, s, -theta) that the inversion relies on (Jäckel 2015, eq. 2.4).
TEST(implied_vol_property, normalised_round_trip_and_symmetry) {
  for (double x : {-3.0, -0.7, -1e-3, 0.0, 1e-3, 0.7, 3.0}) {
    for (double s : {1e-3, 0.05, 0.3, 1.0, 4.0}) {
      for (double theta : {1.0, -1.0}) {
        const double b = vrp::quant::normalised_black(x, s, theta);
        EXPECT_EQ(b, vrp::quant::normalised_black(-x, s, -theta));
        if (b < 1e-300) continue;       // underflowed time value: nothing to invert
        if (theta * x > 0.0) continue;  // out of the money only: in the money loses digits
        const auto r = vrp::quant::normalised_implied_vol(b, x, theta);
        ASSERT_EQ(r.code, status::ok);
        EXPECT_NEAR(r.vol, s, 1e-13 * s) << x << " " << s << " " << theta;
      }
    }
  }
}

// At the money (x = 0) b = erf(s / (2 sqrt 2)) (Jäckel 2015, eq. 2.3), inverted in closed form
// without Householder steps. Expected prices from long-double erf (independent of the code under
// test). Tolerance: 1e-13 plus the price's own resolution 16 eps kappa, kappa = b / (s b'), which
// only matters for s >~ 5 where b is within 1e-4 of its maximum 1.
TEST(implied_vol_property, at_the_money_inverts_in_closed_form) {
  for (int i = 0; i <= 200; ++i) {
    const double s = 1e-8 * std::pow(2e9, i / 200.0);  // 1e-8 .. 20
    const long double b_ref = std::erf(static_cast<long double>(s) / (2.0L * std::sqrt(2.0L)));
    const double b = static_cast<double>(b_ref);
    if (!(b < 1.0)) continue;
    const double kappa = b / (s * vrp::quant::normalised_vega(0.0, s));
    for (double theta : {1.0, -1.0}) {
      const auto r = vrp::quant::normalised_implied_vol(b, 0.0, theta);
      ASSERT_EQ(r.code, status::ok) << s;
      EXPECT_EQ(r.iterations, 0);
      EXPECT_NEAR(r.vol, s, (1e-13 + 16.0 * eps * kappa) * s) << s << " " << theta;
    }
  }
}

// erfcx against an independent long-double evaluation exp(y²) erfc(y) (64-bit mantissa, so its
// own error is ~1e-18 relative on this range). Below zero erfcx(y) = 2 exp(y²) - erfcx(-y) inherits
// the rounding of exp(y²), a few ulp.
TEST(implied_vol_special, scaled_erfc_matches_long_double_reference) {
  double worst_positive = 0.0;
  double worst_negative = 0.0;
  for (int i = 0; i <= 4000; ++i) {
    const double y = -3.0 + 33.0 * i / 4000.0;
    const long double ly = y;
    const long double expected = std::exp(ly * ly) * std::erfc(ly);
    const double err =
        static_cast<double>(std::fabs((vrp::quant::scaled_erfc(y) - expected) / expected));
    (y >= 0.0 ? worst_positive : worst_negative) =
        std::max(y >= 0.0 ? worst_positive : worst_negative, err);
  }
  EXPECT_LE(worst_positive, 8.0 * eps);
  EXPECT_LE(worst_negative, 32.0 * eps);
}

// Standard normal quantiles z(0.9), z(0.975), z(0.995) as commonly tabulated (1.2815515655446004,
// 1.959963984540054, 2.5758293035489), and the round trip N(N^{-1}(p)) = p against a long-double N
// over p from 1e-300 to 1 - 1e-16: the quantile error |N(z) - p| / N'(z) must stay within a few
// ulp of z (the independent check; the tabulated values only guard against a gross slip).
TEST(implied_vol_special, inverse_norm_cdf_matches_quantiles_and_round_trips) {
  EXPECT_NEAR(vrp::quant::inverse_norm_cdf(0.975), 1.959963984540054, 1e-15);
  EXPECT_NEAR(vrp::quant::inverse_norm_cdf(0.995), 2.5758293035489, 1e-12);
  EXPECT_NEAR(vrp::quant::inverse_norm_cdf(0.9), 1.2815515655446004, 1e-15);
  EXPECT_EQ(vrp::quant::inverse_norm_cdf(0.5), 0.0);
  EXPECT_EQ(vrp::quant::inverse_norm_cdf(0.0), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(vrp::quant::inverse_norm_cdf(1.5)));
  double worst = 0.0;
  for (int i = 0; i <= 3000; ++i) {
    const double p_low = std::pow(10.0, -300.0 + 300.0 * i / 3000.0);
    for (const double p : {p_low, 1.0 - p_low}) {
      if (!(p > 0.0 && p < 1.0)) continue;
      const double z = vrp::quant::inverse_norm_cdf(p);
      const long double lz = z;
      const long double n = 0.5L * std::erfc(-lz / std::sqrt(2.0L));
      const long double density = std::exp(-0.5L * lz * lz) / std::sqrt(2.0L * std::acos(-1.0L));
      // In the upper half p itself carries an absolute rounding of eps/2, which moves z by that
      // over the density: allow it.
      const long double p_rounding = p > 0.5 ? 0.5L * eps : 0.0L;
      const double err = static_cast<double>((std::fabs(n - p) - p_rounding) /
                                             (density * std::max(std::fabs(lz), 1.0L)));
      worst = std::max(worst, err);
    }
  }
  EXPECT_LE(worst, 8.0 * eps);
}

}  // namespace
