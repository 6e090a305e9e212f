// Implied volatility after Peter Jäckel, "Let's Be Rational", Wilmott (January 2015) 40-53, and its
// 2016/2017 revisions. Written from the paper's description; notation follows the paper:
// x = ln(F/K), s = vol sqrt(t), h = x/s, t = s/2 (local to the normalised Black function), beta =
// price / sqrt(F K), theta = +1 call / -1 put. Everything is reduced to an out-of-the-money call
// (x <= 0) by put-call parity and the symmetry b(x, s, theta) = b(-x, s, -theta).

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>

#include "lbr_special.hpp"
#include "vrp/quant/implied_vol.hpp"

namespace vrp::quant {

namespace {

constexpr double eps_v = std::numeric_limits<double>::epsilon();
constexpr double inv_sqrt_2pi = 0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2;
constexpr double inv_sqrt2 = 0.5 * std::numbers::sqrt2;
constexpr double sqrt3 = 1.7320508075688772935;
// 2 pi / (3 sqrt 3), the scale of the lower map (Jäckel 2015, eq. 4.5).
constexpr double two_pi_over_sqrt27 = 2.0 * std::numbers::pi / (3.0 * sqrt3);
// Below this s and |x| the Taylor expansion in s replaces the difference of two normal
// integrals, whose cancellation would cost log10(|x/s| / s) digits.
constexpr double small_s = 0.1;
constexpr double small_x = 0.1;
// Rational cubic control parameters beyond this are treated as linear interpolation (2015, §5).
constexpr double max_rational_control = 2.0 / (eps_v * eps_v);

// Relative first Householder step below which the step's result is final (see the loop).
constexpr double one_step_tolerance = 1e-4;

// sqrt(pi/2): N(h)/N'(h) = sqrt(pi/2) erfcx(-h/sqrt2).
constexpr double sqrt_pi_over_2 = 1.2533141373155002512;

// Standard normal lower tail N(-z) and density N'(z) for z >= 0 from one exponential:
// N(-z) = erfcx(z/sqrt2) e^{-z²/2} / 2 (Cody 1969, the scaled form of erfc).
struct tail_and_density {
  double tail;
  double density;
};
tail_and_density normal_tail(double z) {
  const double e = std::exp(-0.5 * z * z);
  return {0.5 * e * lbr::erfcx_nonnegative(z * inv_sqrt2), inv_sqrt_2pi * e};
}

// Rounding error of the product a*a (Dekker 1971, exact two-product by Veltkamp splitting), so
// that exp(-h²/2) can be corrected to first order without a library fma.
double square_rounding_error(double a, double a_squared) {
  constexpr double splitter = 134217729.0;  // 2^27 + 1
  const double c = splitter * a;
  const double hi = c - (c - a);
  const double lo = a - hi;
  return ((hi * hi - a_squared) + 2.0 * hi * lo) + lo * lo;
}

// Value b, gap b_max - b and vega b' of the out-of-the-money normalised call, x <= 0, s > 0.
struct otm_values {
  double b;
  double gap;
  double vega;
};

// The out-of-the-money normalised call factored as b = E b_scaled (below the inflection point) or
// b = b_max - E gap_scaled (beyond it), with E = exp(-(h²+t²)/2) = sqrt(2 pi) b' kept as its
// logarithm `log_e`: the log-space objectives of the lower and upper branches need ln b or
// ln(b_max - b) and b'/b, which then cost one logarithm and no exponential.
struct otm_parts {
  double log_e;             // ln E without the correction below
  double log_e_correction;  // -(rounding error of h²)/2, kept apart to stay off the exp's path
  double scaled;            // b / E, or (b_max - b) / E when `above`
  bool above;               // h + t > 0: beyond the inflection point s_c = sqrt(2|x|)
};

// Jäckel 2015, eq. 2.3 with h t = x/2: e^{x/2} N(h+t) = E erfcx(-(h+t)/sqrt2)/2 and e^{-x/2}
// N(h-t) = E erfcx((t-h)/sqrt2)/2 (Jäckel 2017, "Let's be rational" revised, §3 region III; erfcx
// by Cody 1969). Beyond the inflection point N(h+t) = 1 - N(-(h+t)) makes b_max - b the sum of two
// positive terms, free of cancellation.
otm_parts otm_call_parts(double x, double s) {
  const double h = x / s;
  const double t = 0.5 * s;
  const double hh = h * h;
  const double t2 = t * t;
  // The rounding error of h² restored (h² reaches ~1500 before b underflows, so the plain product
  // would cost ~1e-13 relative in E).
  const double log_e = -0.5 * (hh + t2);
  const double log_e_correction = -0.5 * square_rounding_error(h, hh);
  if (s < small_s && -x < small_x) {
    // b = φ(h)φ(t)√(2π) [R(h+t) - R(h-t)], R = N/N' (Mills' ratio of the lower tail), expanded
    // in odd powers of t with R' = 1 + hR, R^(n+1) = n R^(n-1) + h R^(n) (Jäckel 2015, §3,
    // "small t expansion", derived here from the Mills' ratio ODE); R(h) = sqrt(pi/2)
    // erfcx(-h/sqrt2).
    const double r0 = sqrt_pi_over_2 * lbr::erfcx_nonnegative(-h * inv_sqrt2);
    const double r1 = 1.0 + h * r0;
    const double r2 = r0 + h * r1;
    const double r3 = 2.0 * r1 + h * r2;
    const double r4 = 3.0 * r2 + h * r3;
    const double r5 = 4.0 * r3 + h * r4;
    const double r6 = 5.0 * r4 + h * r5;
    const double r7 = 6.0 * r5 + h * r6;
    const double r8 = 7.0 * r6 + h * r7;
    const double r9 = 8.0 * r7 + h * r8;
    const double r10 = 9.0 * r8 + h * r9;
    const double r11 = 10.0 * r9 + h * r10;
    const double sum =
        r1 + t2 * (r3 * (1.0 / 6.0) +
                   t2 * (r5 * (1.0 / 120.0) +
                         t2 * (r7 * (1.0 / 5040.0) +
                               t2 * (r9 * (1.0 / 362880.0) + t2 * (r11 * (1.0 / 39916800.0))))));
    return {log_e, log_e_correction, inv_sqrt_2pi * 2.0 * t * sum, false};
  }
  const double a_plus = -(h + t) * inv_sqrt2;
  const double a_minus = (t - h) * inv_sqrt2;
  if (a_plus >= 0.0) {
    // Both terms positive; the difference loses at most log10(1/|x|) or log10(1/s) digits, both
    // bounded by the branch above.
    const double d = lbr::erfcx_nonnegative(a_plus) - lbr::erfcx_nonnegative(a_minus);
    return {log_e, log_e_correction, std::max(0.5 * d, 0.0), false};
  }
  const double sum = lbr::erfcx_nonnegative(-a_plus) + lbr::erfcx_nonnegative(a_minus);
  return {log_e, log_e_correction, 0.5 * sum, true};
}

otm_values otm_call_values(double x, double s, double b_max) {
  const otm_parts p = otm_call_parts(x, s);
  // e^{c} = 1 + c to first order: |c| <= 1500 eps/2.
  const double e = std::exp(p.log_e) * (1.0 + p.log_e_correction);
  const double vega = inv_sqrt_2pi * e;
  if (!p.above) {
    const double b = e * p.scaled;
    return {b, b_max - b, vega};
  }
  const double gap = e * p.scaled;
  return {std::max(b_max - gap, 0.0), gap, vega};
}

double otm_call(double x, double s, double b_max) {
  return otm_call_values(x, s, b_max).b;
}

// Vega of the normalised Black function (Jäckel 2015, eq. 2.6).
double vega_of(double x, double s) {
  const double h = x / s;
  const double t = 0.5 * s;
  return inv_sqrt_2pi * std::exp(-0.5 * (h * h + t * t));
}

// Rational cubic interpolation of Delbourgo & Gregory (1985) on [x_l, x_r] with end values,
// end slopes and control parameter r; r = 3 is the cubic Hermite interpolant, r -> inf linear
// (Jäckel 2015, eq. 5.1).
double rational_cubic(double x, double x_l, double x_r, double y_l, double y_r, double d_l,
                      double d_r, double r) {
  const double h = x_r - x_l;
  if (!(std::fabs(h) > 0.0)) return 0.5 * (y_l + y_r);
  const double t = (x - x_l) / h;
  if (!(r < max_rational_control)) return y_r * t + y_l * (1.0 - t);
  const double omt = 1.0 - t;
  const double t2 = t * t;
  const double omt2 = omt * omt;
  return (y_r * t2 * t + (r * y_r - h * d_r) * t2 * omt + (r * y_l + h * d_l) * t * omt2 +
          y_l * omt2 * omt) /
         (1.0 + (r - 3.0) * t * omt);
}

// Smallest control parameter that keeps the interpolant monotone (Delbourgo & Gregory 1985:
// r >= (d_l + d_r) / Δ) and, for convex or concave data, convex or concave (both end second
// derivatives of the right sign, the condition for r = 3 generalised).
double minimum_shape_preserving_r(double d_l, double d_r, double delta) {
  double r_min = -1.0 + std::sqrt(eps_v);
  const bool monotone = d_l * delta >= 0.0 && d_r * delta >= 0.0 && delta != 0.0;
  if (monotone) r_min = std::max(r_min, (d_l + d_r) / delta);
  const bool convex = d_l <= delta && delta <= d_r;
  const bool concave = d_l >= delta && delta >= d_r;
  if ((convex || concave) && d_l != d_r) {
    const double slope_span = d_r - d_l;
    if (delta != d_l) r_min = std::max(r_min, slope_span / (delta - d_l));
    if (delta != d_r) r_min = std::max(r_min, slope_span / (d_r - delta));
  }
  return r_min;
}

// Control parameter r of the rational cubic from r * slope_gap = h y''/2 + d_r - d_l, where
// slope_gap is Δ - d_l for the curvature at x_l (Jäckel 2015, eq. 5.4) and d_r - Δ at x_r
// (eq. 5.5).
double control_for_curvature(double h, double delta, double d_l, double d_r, double second,
                             double slope_gap) {
  const double numerator = 0.5 * h * second + (d_r - d_l);
  double r = std::fabs(slope_gap) > 0.0 ? numerator / slope_gap : max_rational_control;
  if (!std::isfinite(r)) r = max_rational_control;
  return std::max(r, minimum_shape_preserving_r(d_l, d_r, delta));
}

// Control parameter making the interpolant's second derivative equal `second` at x_l.
double control_for_left_curvature(double x_l, double x_r, double y_l, double y_r, double d_l,
                                  double d_r, double second) {
  const double h = x_r - x_l;
  const double delta = (y_r - y_l) / h;
  return control_for_curvature(h, delta, d_l, d_r, second, delta - d_l);
}

// Mirror image at x_r.
double control_for_right_curvature(double x_l, double x_r, double y_l, double y_r, double d_l,
                                   double d_r, double second) {
  const double h = x_r - x_l;
  const double delta = (y_r - y_l) / h;
  return control_for_curvature(h, delta, d_l, d_r, second, d_r - delta);
}

// ln(F/K) to full relative precision: near the money log(F/K) would inherit the rounding of F/K
// as an absolute error of ~1e-16, i.e. a relative error of 1e-16/|x|, which at small s moves the
// price by |h|/s times that (h = x/s) and the implied vol accordingly. F - K is exact there.
double log_moneyness(double forward, double strike) {
  const double ratio = forward / strike;
  if (ratio > 0.5 && ratio < 2.0) return std::log1p((forward - strike) / strike);
  return std::log(ratio);
}

// Tabulated initial guess. The four-branch guess (four_branch_guess below) is within 1e-3 in the
// middle branches and up to 9% in the lower one (h ~ -2), so it needs two Householder steps; one
// step needs the guess within ~2e-4 (order four: the remaining error is ~(1e-4)^4 times the
// objective's derivative ratios). The table interpolates g = ln(beta / s) in two coordinates in
// which g is smooth over the whole rectangle:
//   u = ln(beta / |x|). For small s, b = s B(h) + O(s³) with B(h) = N'(h) + h N(h), the
//       normalised Bachelier price (the small-t expansion of otm_call_parts to first order), so
//       beta / |x| = B(h) / |h| fixes h and g -> ln B(h); as h -> 0 (u -> inf) g tends to a
//       function of beta / b_max alone, the at-the-money inversion.
//   v = sqrt(r), r = (beta / p_max + |x| / c_max) / b_max. At fixed u, r is proportional to
//       |x| e^{|x|/2}, so r <= 1 bounds both p = beta / b_max <= p_max (away from b_max, where
//       s -> inf) and |x| <= 8; the root spreads the cells near r = 0, where s² ~ x² varies
//       fastest.
// For given (u, r) the equation |x| e^{|x|/2} = r / (e^u / p_max + 1 / c_max) has exactly one root,
// so every node is a valid option: the table has no holes. The nodes are this solver's own
// converged results (four-branch guess and two steps, ~1e-14), computed on first use (~1 ms); there
// are no fitted constants. Tensor cubic Lagrange interpolation on 4 x 4 nodes is within 1e-4
// relative in s on |x| <= 6, s <= 2.5, |h| in [0.01, 6] (tests/unit/quant/test_iv_speed_guess.cpp,
// against the long-double reference), so one Householder step reaches full precision there. Outside
// the rectangle (|h| <~ 4e-4 or >~ 7, p > 0.9, |x| > 8) the four-branch guess is used; wherever the
// first step is not below one_step_tolerance a second follows, as before.
namespace guess_table {
constexpr double u_min = -27.0;  // |h| ~ 7 at small s
constexpr double u_max = 7.0;    // |h| ~ 4e-4
constexpr double du = 0.5;
constexpr int nu = 69;  // (u_max - u_min) / du + 1
constexpr int nv = 41;
constexpr double p_max = 0.9;
constexpr double c_max = 437.0;  // 8 e^4: |x| <= 8

struct table {
  std::array<double, nu * nv> g{};
};

// Lagrange weights of the nodes -1, 0, 1, 2 at f in [0, 1] (or just outside, at the table edges).
inline void cubic_weights(double f, double* w) {
  const double fm1 = f - 1.0;
  const double fm2 = f - 2.0;
  const double fp1 = f + 1.0;
  w[0] = -(1.0 / 6.0) * f * fm1 * fm2;
  w[1] = 0.5 * fp1 * fm1 * fm2;
  w[2] = -0.5 * fp1 * f * fm2;
  w[3] = (1.0 / 6.0) * fp1 * f * fm1;
}
}  // namespace guess_table

enum class branch { lower, lower_middle, upper_middle, upper };

struct initial_guess {
  branch br;
  double s;
  double s_lo;  // bracket of the branch, kept by the steps
  double s_hi;
};

// Jäckel's four-branch rational-cubic guess (2015, §4-5) for x < 0, 0 < beta < b_max.
initial_guess four_branch_guess(double beta, double x, double b_max) {
  // The inflection point s_c = sqrt(2|x|) of b(s) and the tangent there (Jäckel 2015, eq. 4.1-4.3);
  // at s_c, h + t = 0 and the vega is e^{x/2}/sqrt(2 pi). e^{-x/2} N(-s_c) = b_max erfcx(sqrt|x|)/2
  // because e^{-s_c²/2} = e^{x} = b_max² (Cody 1969 scaled form, no exponential needed).
  const double ax = -x;
  const double s_c = std::sqrt(2.0 * ax);
  const double b_c = 0.5 * b_max * (1.0 - lbr::erfcx_nonnegative(std::sqrt(ax)));
  const double v_c = b_max * inv_sqrt_2pi;

  branch br;
  double s;
  double s_lo = 0.0;
  double s_hi = std::numeric_limits<double>::infinity();
  if (beta < b_c) {
    const double s_l = s_c - b_c / v_c;
    const otm_values at_l =
        s_l > 0.0 ? otm_call_values(x, s_l, b_max) : otm_values{0.0, b_max, 0.0};
    const double b_l = at_l.b;
    if (beta < b_l) {
      br = branch::lower;
      s_hi = s_l;
      // Lower map f(s) = 2π|x|/(3√3) N(-z)³, z = |x|/(√3 s), which matches b as s -> 0 (Jäckel
      // 2015, eq. 4.5), interpolated in beta on [0, b_l] with f(0) = 0, f'(0) = 1.
      const double c = two_pi_over_sqrt27 * ax;
      const double z = ax / (sqrt3 * s_l);
      const auto [g, pz] = normal_tail(z);
      const double f_l = c * g * g * g;
      const double f_s = 3.0 * c * g * g * pz * z / s_l;
      const double f_ss = 3.0 * c * (g * pz * z / (s_l * s_l)) * (2.0 * pz * z + g * (z * z - 2.0));
      const double v_l = at_l.vega;
      const double eta2_l = x * x / (s_l * s_l * s_l) - 0.25 * s_l;
      const double df = f_s / v_l;
      // d²f/dβ² = (f_ss - f_s b_ss/b_s) / b_s².
      const double d2f = (f_ss - f_s * eta2_l) / (v_l * v_l);
      const double r = control_for_right_curvature(0.0, b_l, 0.0, f_l, 1.0, df, d2f);
      double f = rational_cubic(beta, 0.0, b_l, 0.0, f_l, 1.0, df, r);
      if (!(f > 0.0)) {
        const double u = beta / b_l;
        f = (f_l * u + b_l * (1.0 - u)) * u;
      }
      // Inverse of the lower map: s = |x| / (√3 |N^{-1}((f/c)^{1/3})|), the cube root taken in
      // the logarithm that the inverse normal needs in its tail anyway.
      const double zf = -lbr::inverse_norm_cdf_from_log(std::log(f / c) * (1.0 / 3.0));
      s = zf > 0.0 ? ax / (sqrt3 * zf) : s_l;
    } else {
      br = branch::lower_middle;
      s_lo = s_l;
      s_hi = s_c;
      // s(beta) itself between (b_l, s_l) and (b_c, s_c), slopes 1/b', zero curvature at the
      // inflection point (Jäckel 2015, eq. 4.4).
      const double v_l = at_l.vega;
      const double d_l = v_l > 0.0 ? 1.0 / v_l : max_rational_control;
      const double r = control_for_right_curvature(b_l, b_c, s_l, s_c, d_l, 1.0 / v_c, 0.0);
      s = rational_cubic(beta, b_l, b_c, s_l, s_c, d_l, 1.0 / v_c, r);
    }
  } else {
    const double s_u = s_c + (b_max - b_c) / v_c;
    const otm_values at_u = otm_call_values(x, s_u, b_max);
    const double b_u = at_u.b;
    const double v_u = at_u.vega;
    if (beta <= b_u) {
      br = branch::upper_middle;
      s_lo = s_c;
      s_hi = s_u;
      const double r = control_for_left_curvature(b_c, b_u, s_c, s_u, 1.0 / v_c, 1.0 / v_u, 0.0);
      s = rational_cubic(beta, b_c, b_u, s_c, s_u, 1.0 / v_c, 1.0 / v_u, r);
    } else {
      br = branch::upper;
      s_lo = s_u;
      // Upper map f(s) = N(-s/2), linear in b_max - b as s -> inf with slope -1/2 (Jäckel 2015,
      // eq. 4.7), interpolated in beta on [b_u, b_max].
      const auto [f_u, p_u] = normal_tail(0.5 * s_u);
      const double f_s = -0.5 * p_u;
      const double f_ss = 0.125 * s_u * p_u;
      const double eta2_u = x * x / (s_u * s_u * s_u) - 0.25 * s_u;
      const double df = f_s / v_u;
      const double d2f = (f_ss - f_s * eta2_u) / (v_u * v_u);
      const double r = control_for_left_curvature(b_u, b_max, f_u, 0.0, df, -0.5, d2f);
      double f = rational_cubic(beta, b_u, b_max, f_u, 0.0, df, -0.5, r);
      if (!(f > 0.0)) {
        const double u = (beta - b_u) / (b_max - b_u);
        f = (f_u * (1.0 - u) + 0.5 * (b_max - b_u) * u) * (1.0 - u);
      }
      s = f > 0.0 && f < 0.5 ? -2.0 * lbr::inverse_norm_cdf(f) : s_u;
    }
  }
  return {br, s, s_lo, s_hi};
}

iv_result otm_call_implied_s(double beta, double x, double b_max, int max_iterations,
                             bool use_table);

// |x| from w = |x| e^{|x|/2} > 0 by Newton in L = ln|x| on L + e^L/2 = ln w: convex and increasing
// in L, so from a start right of the root (F(ln w) = w/2 > 0; F(ln(2 ln w)) > 0 for w > e) the
// iterates decrease monotonically to it.
double abs_x_from_weight(double w) {
  const double ln_w = std::log(w);
  double l = w <= std::numbers::e ? ln_w : std::log(2.0 * ln_w);
  for (int i = 0; i < 100; ++i) {
    const double e = std::exp(l);
    const double step = (l + 0.5 * e - ln_w) / (1.0 + 0.5 * e);
    l -= step;
    if (!(std::fabs(step) > 4.0 * eps_v * std::max(std::fabs(l), 1.0))) break;
  }
  return std::exp(l);
}

guess_table::table build_guess_table() {
  using namespace guess_table;
  table t;
  for (int i = 0; i < nu; ++i) {
    const double u = u_min + du * i;
    const double ratio = std::exp(u);  // beta / |x|
    for (int j = 0; j < nv; ++j) {
      const double v = static_cast<double>(j) / (nv - 1);
      // r = 0 is the Bachelier limit s -> 0; r = 1e-12 stands for it (|x| <~ 1e-9, so the O(s²)
      // terms are below 1e-18).
      const double r = j == 0 ? 1e-12 : v * v;
      const double ax = abs_x_from_weight(r / (ratio / p_max + 1.0 / c_max));
      const double beta = ratio * ax;
      const iv_result res = otm_call_implied_s(beta, -ax, std::exp(-0.5 * ax), 2, false);
      // A failed node (none on this rectangle) is NaN, which makes the lookup decline its cells.
      t.g[static_cast<std::size_t>(i * nv + j)] = res.code == status::ok && res.vol > 0.0
                                                      ? std::log(beta / res.vol)
                                                      : std::numeric_limits<double>::quiet_NaN();
    }
  }
  return t;
}

// Initial guess from the table for 0 < beta < b_max, ax = |x| > 0; false outside the table. The
// guess comes with the b - beta objective and no bracket: it is close enough that the objective's
// global behaviour does not matter.
bool table_guess(double beta, double ax, double b_max, initial_guess& out) {
  using namespace guess_table;
  static const table t = build_guess_table();
  const double u = std::log(beta / ax);
  const double r = (beta * (1.0 / p_max) + ax * (1.0 / c_max)) / b_max;
  if (!(u >= u_min && u <= u_max && r <= 1.0)) return false;
  const double fu = (u - u_min) * (1.0 / du);
  const double fv = std::sqrt(r) * (nv - 1);
  const int i = std::clamp(static_cast<int>(fu), 1, nu - 3);
  const int j = std::clamp(static_cast<int>(fv), 1, nv - 3);
  double wu[4];
  double wv[4];
  cubic_weights(fu - i, wu);
  cubic_weights(fv - j, wv);
  const double* row = &t.g[static_cast<std::size_t>((i - 1) * nv + (j - 1))];
  double g = 0.0;
  for (int k = 0; k < 4; ++k, row += nv) {
    g += wu[k] * ((wv[0] * row[0] + wv[1] * row[1]) + (wv[2] * row[2] + wv[3] * row[3]));
  }
  const double s = beta * std::exp(-g);
  if (!(s > 0.0) || !std::isfinite(s)) return false;
  out = {branch::lower_middle, s, 0.0, std::numeric_limits<double>::infinity()};
  return true;
}

// Implied s of an out-of-the-money call: x <= 0, 0 < beta < b_max = e^{x/2}. b_max is passed in
// because near the maximum the gap b_max - beta carries the information, and sqrt(K/F) from the
// price inputs is more accurate than exp(x/2) (whose error grows with |x|).
iv_result otm_call_implied_s(double beta, double x, double b_max, int max_iterations,
                             bool use_table) {
  const double ax = -x;
  if (ax == 0.0) {
    // At the money b = 2 N(s/2) - 1 (Jäckel 2015, eq. 2.3 with x = 0), so s = 2 N^{-1}((1+beta)/2)
    // in closed form: the AS 241 centre takes q = beta/2 exactly, its tail 1 - p = (1 - beta)/2,
    // exact for beta >= 1/2 (Sterbenz). Both are accurate to ~1e-16 relative: no step needed.
    const double q = 0.5 * beta;
    const double s0 = q <= 0.425 ? 2.0 * lbr::inverse_norm_central(q)
                                 : 2.0 * lbr::inverse_norm_tail(std::sqrt(-std::log(0.5 - q)));
    if (!(s0 > 0.0) || !std::isfinite(s0)) return {0.0, status::no_convergence, 0};
    return {s0, status::ok, 0};
  }
  initial_guess guess;
  if (!(use_table && table_guess(beta, ax, b_max, guess))) {
    guess = four_branch_guess(beta, x, b_max);
  }
  const branch br = guess.br;
  double s = guess.s;
  const double s_lo = guess.s_lo;
  const double s_hi = guess.s_hi;
  if (!(s > 0.0) || !std::isfinite(s)) return {0.0, status::no_convergence, 0};

  // Householder(3) steps on the branch objective (Jäckel 2015, §4: g = 1/ln b - 1/ln beta in the
  // lower branch, ln((b_max - beta)/(b_max - b)) in the upper, b - beta in between).
  const double ln_beta = br == branch::lower ? std::log(beta) : 0.0;
  const double ln_gap = br == branch::upper ? std::log(b_max - beta) : 0.0;
  int n = 0;
  for (; n < max_iterations; ++n) {
    const double inv_s = 1.0 / s;
    const double hh_over_s = x * x * (inv_s * inv_s * inv_s);
    // b''/b' and b'''/b' from ln b' = -(h² + t²)/2 + const (Jäckel 2015, eq. 2.7).
    const double eta2 = hh_over_s - 0.25 * s;
    const double eta3 = eta2 * eta2 - 3.0 * hh_over_s * inv_s - 0.25;
    double nu;
    double h2;
    double h3;
    if (br == branch::lower) {
      const otm_parts p = otm_call_parts(x, s);
      if (!(p.scaled > 0.0) || p.above) break;
      // ln b = ln E + ln(b/E) and u = b'/b = 1/(sqrt(2 pi) b/E): no exponential.
      const double ln_b = (p.log_e + p.log_e_correction) + std::log(p.scaled);
      const double u = inv_sqrt_2pi / p.scaled;
      // g' = -u/L², h2 = g''/g', h3 = g'''/g' for g = 1/L - 1/ln beta, L = ln b, u = b'/b.
      nu = ln_b * (ln_beta - ln_b) / (ln_beta * u);
      const double u1 = eta2 * u - u * u;
      h2 = eta2 - u * (1.0 + 2.0 / ln_b);
      h3 = eta3 - 3.0 * eta2 * u + 2.0 * u * u - 6.0 * u1 / ln_b + 6.0 * u * u / (ln_b * ln_b);
    } else if (br == branch::upper) {
      const otm_parts p = otm_call_parts(x, s);
      if (!(p.scaled > 0.0) || !p.above) break;
      // ln(b_max - b) = ln E + ln((b_max - b)/E), psi = b'/(b_max - b) likewise.
      const double psi = inv_sqrt_2pi / p.scaled;
      nu = ((p.log_e + p.log_e_correction) + std::log(p.scaled) - ln_gap) / psi;
      h2 = eta2 + psi;
      h3 = eta3 + 3.0 * eta2 * psi + 2.0 * psi * psi;
    } else {
      const otm_values at_s = otm_call_values(x, s, b_max);
      if (!(at_s.vega > 0.0)) break;
      nu = (beta - at_s.b) / at_s.vega;
      h2 = eta2;
      h3 = eta3;
    }
    // Householder's method of order 3 in terms of the Newton step nu.
    const double ds = nu * (1.0 + 0.5 * h2 * nu) / (1.0 + nu * (h2 + h3 * nu / 6.0));
    double s_new = std::isfinite(ds) ? s + ds : s;
    // Stay inside the branch's bracket; fall back to halfway steps at its edges.
    if (!(s_new > s_lo)) s_new = 0.5 * (s + std::max(s_lo, 0.0));
    if (!(s_new < s_hi)) s_new = 0.5 * (s + s_hi);
    // Householder(3) converges with order four (Householder 1970), e_{n+1} ~ C e_n^4, and |ds|/s
    // estimates e_n: over the out-of-the-money points of the 96,000-point property grid a first
    // step below one_step_tolerance (46,392 points, most from the tabulated guess) differs from two
    // steps by <= 1.1e-14 relative, so a second would only add rounding.
    const double step_tolerance = n == 0 ? one_step_tolerance : eps_v;
    const bool converged = std::fabs(s_new - s) <= step_tolerance * s;
    s = s_new;
    if (converged) {
      ++n;
      break;
    }
  }
  if (!(s > 0.0) || !std::isfinite(s)) return {0.0, status::no_convergence, n};
  return {s, status::ok, n};
}

// Normalised implied s with the in-the-money part already removed: beta_otm is the out-of-the-
// money time value, x_otm <= 0.
iv_result implied_s_from_otm(double beta_otm, double x_otm, double b_max, int max_iterations) {
  if (beta_otm <= 0.0) return {0.0, status::ok, 0};
  if (beta_otm >= b_max) return {0.0, status::above_maximum, 0};
  return otm_call_implied_s(beta_otm, x_otm, b_max, max_iterations, true);
}

iv_result normalised_iv_impl(double beta, double x, double theta, int max_iterations) {
  if (!std::isfinite(beta) || !std::isfinite(x) || !(theta == 1.0 || theta == -1.0) || beta < 0.0) {
    return {0.0, status::invalid_input, 0};
  }
  // Upper bound of b: e^{theta x / 2} (forward for calls, strike for puts, normalised).
  if (beta >= std::exp(0.5 * theta * x)) return {0.0, status::above_maximum, 0};
  double beta_otm = beta;
  if (theta * x > 0.0) {
    const double iota = normalised_intrinsic(x, theta);
    beta_otm = beta - iota;
    // Rounding of a price quoted at intrinsic may leave it a few ulp below.
    if (beta_otm < -4.0 * eps_v * std::max(beta, iota)) return {0.0, status::below_intrinsic, 0};
  }
  const double x_otm = -std::fabs(x);
  return implied_s_from_otm(beta_otm, x_otm, std::exp(0.5 * x_otm), max_iterations);
}

}  // namespace

double normalised_intrinsic(double x, double theta) {
  if (theta * x <= 0.0) return 0.0;
  // e^{|x|/2} - e^{-|x|/2} = 2 sinh(|x|/2): sinh avoids the cancellation of the difference, which
  // would cost ~1/|x| ulp and, in the money, that many ulp of the time value.
  return 2.0 * std::sinh(0.5 * std::fabs(x));
}

double normalised_black(double x, double s, double theta) {
  if (!std::isfinite(x) || std::isnan(s) || !(theta == 1.0 || theta == -1.0)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double iota = normalised_intrinsic(x, theta);
  if (s <= 0.0) return iota;
  const double x_otm = -std::fabs(x);
  if (std::isinf(s)) return std::exp(0.5 * theta * x);
  const double b_max = std::exp(0.5 * x_otm);
  return iota + otm_call(x_otm, s, b_max);
}

double scaled_erfc(double y) {
  return lbr::erfcx(y);
}

double inverse_norm_cdf(double p) {
  if (!(p >= 0.0 && p <= 1.0)) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0.0) return -std::numeric_limits<double>::infinity();
  if (p == 1.0) return std::numeric_limits<double>::infinity();
  return lbr::inverse_norm_cdf(p);
}

double normalised_vega(double x, double s) {
  if (!(s > 0.0) || !std::isfinite(x)) return 0.0;
  return vega_of(x, s);
}

iv_result normalised_implied_vol(double beta, double x, double theta) {
  return normalised_iv_impl(beta, x, theta, 2);
}

iv_result normalised_implied_vol_limited(double beta, double x, double theta, int max_iterations) {
  return normalised_iv_impl(beta, x, theta, std::max(max_iterations, 0));
}

iv_result implied_vol_black76(double price, double forward, double strike, double t_years,
                              option_type type, double discount) {
  if (!std::isfinite(price) || !std::isfinite(forward) || !std::isfinite(strike) ||
      !std::isfinite(t_years) || !std::isfinite(discount) || price < 0.0 || forward <= 0.0 ||
      strike <= 0.0 || t_years <= 0.0 || discount <= 0.0) {
    return {0.0, status::invalid_input, 0};
  }
  const double theta = sign(type);
  const double p = price / discount;
  const double upper = type == option_type::call ? forward : strike;
  if (p >= upper) return {0.0, status::above_maximum, 0};
  // Intrinsic value in price space, exact for representable F and K (no e^{x/2} rounding).
  const double iota = std::max(theta * (forward - strike), 0.0);
  const double time_value = p - iota;
  if (time_value < -4.0 * eps_v * std::max(forward, strike)) {
    return {0.0, status::below_intrinsic, 0};
  }
  if (time_value <= 0.0) return {0.0, status::ok, 0};
  const double x = log_moneyness(forward, strike);
  const double beta_otm = time_value / (std::sqrt(forward) * std::sqrt(strike));
  // Maximum of the out-of-the-money call in normalised units: e^{-|x|/2} = sqrt(min(F,K)/max(F,K)).
  const double b_max = std::sqrt(std::min(forward, strike) / std::max(forward, strike));
  iv_result r = implied_s_from_otm(beta_otm, -std::fabs(x), b_max, 2);
  if (r.code != status::ok) return r;
  r.vol /= std::sqrt(t_years);
  return r;
}

}  // namespace vrp::quant
