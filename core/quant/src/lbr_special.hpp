#pragma once

// Special functions for the implied volatility solver (private to vrp::quant), inline so that the
// solver's hot loop has no calls into them: the scaled complementary error function and the
// inverse of the standard normal distribution function.

#include <cmath>

namespace vrp::quant::lbr {

// 1/sqrt(pi).
inline constexpr double inv_sqrt_pi = 0.56418958354775628694807945156077259;

// erfcx(y) = exp(y²) erfc(y) for y >= 0: W. J. Cody, "Rational Chebyshev approximations for the
// error function", Math. Comp. 23 (1969) 631-637, with the coefficients of his CALERF (ACM TOMS
// Algorithm 715, 1993): erf(y) = y P(y²)/Q(y²) below 0.46875, erfcx(y) = P(y)/Q(y) on [0.46875, 4],
// erfcx(y) = (1/sqrt(pi) + z P(z)/Q(z)) / y with z = 1/y² beyond.
inline double erfcx_nonnegative(double y) {
  if (y < 0.46875) {
    const double z = y * y;
    const double num =
        (((0.185777706184603153 * z + 3.1611237438705656) * z + 113.864154151050156) * z +
         377.485237685302021) *
            z +
        3209.37758913846947;
    const double den =
        (((z + 23.6012909523441209) * z + 244.024637934444173) * z + 1282.61652607737228) * z +
        2844.23683343917062;
    // exp(z) for 0 <= z < 0.22 by its Taylor series to z^12 (truncation < 3e-17 relative),
    // evaluated inline: cheaper than a library call here.
    const double z2 = z * z;
    const double z4 = z2 * z2;
    const double z8 = z4 * z4;
    const double exp_z =
        (1.0 + z) + (0.5 + z * (1.0 / 6.0)) * z2 +
        ((1.0 / 24.0 + z * (1.0 / 120.0)) + (1.0 / 720.0 + z * (1.0 / 5040.0)) * z2) * z4 +
        ((1.0 / 40320.0 + z * (1.0 / 362880.0)) + (1.0 / 3628800.0 + z * (1.0 / 39916800.0)) * z2 +
         (1.0 / 479001600.0) * z4) *
            z8;
    return exp_z * (1.0 - y * num / den);
  }
  // Estrin's scheme (powers y², y⁴, y⁸) instead of Horner: the same coefficients, a third of the
  // dependent multiply-add chain, which is what bounds the latency without hardware fma.
  if (y <= 4.0) {
    const double y2 = y * y;
    const double y4 = y2 * y2;
    const double y8 = y4 * y4;
    const double num = (1230.33935479799725 + 2051.07837782607147 * y) +
                       (1712.04761263407058 + 881.95222124176909 * y) * y2 +
                       ((298.635138197400131 + 66.1191906371416295 * y) +
                        (8.88314979438837594 + 0.564188496988670089 * y) * y2) *
                           y4 +
                       2.15311535474403846e-8 * y8;
    const double den = (1230.33935480374942 + 3439.36767414372164 * y) +
                       (4362.61909014324716 + 3290.79923573345963 * y) * y2 +
                       ((1621.38957456669019 + 537.181101862009858 * y) +
                        (117.693950891312499 + 15.7449261107098347 * y) * y2) *
                           y4 +
                       y8;
    return num / den;
  }
  const double z = 1.0 / (y * y);
  const double z2 = z * z;
  const double z4 = z2 * z2;
  const double num = (6.58749161529837803e-4 + 0.0160837851487422766 * z) +
                     (0.125781726111229246 + 0.360344899949804439 * z) * z2 +
                     (0.305326634961232344 + 0.0163153871373020978 * z) * z4;
  const double den = (0.00233520497626869185 + 0.0605183413124413191 * z) +
                     (0.527905102951428412 + 1.87295284992346047 * z) * z2 +
                     (2.56852019228982242 + z) * z4;
  return (inv_sqrt_pi - z * num / den) / y;
}

// erfcx for any real y: erfc(-y) = 2 - erfc(y) gives erfcx(y) = 2 exp(y²) - erfcx(-y) below zero.
inline double erfcx(double y) {
  if (y >= 0.0) return erfcx_nonnegative(y);
  return 2.0 * std::exp(y * y) - erfcx_nonnegative(-y);
}

// AS 241 tails: N^{-1}(p) = -z(r) for r = sqrt(-ln p) >= sqrt(-ln 0.075) (Wichura 1988).
inline double inverse_norm_tail(double r) {
  double z;
  if (r <= 5.0) {
    r -= 1.6;
    const double num = ((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r +
                            2.41780725177450611770e-1) *
                               r +
                           1.27045825245236838258) *
                              r +
                          3.64784832476320460504) *
                             r +
                         5.76949722146069140550) *
                            r +
                        4.63033784615654529590) *
                           r +
                       1.42343711074968357734;
    const double den = ((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r +
                            1.51986665636164571966e-2) *
                               r +
                           1.48103976427480074590e-1) *
                              r +
                          6.89767334985100004550e-1) *
                             r +
                         1.67638483018380384940) *
                            r +
                        2.05319162663775882187) *
                           r +
                       1.0;
    z = num / den;
  } else {
    r -= 5.0;
    const double num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r +
                            1.24266094738807843860e-3) *
                               r +
                           2.65321895265761230930e-2) *
                              r +
                          2.96560571828504891230e-1) *
                             r +
                         1.78482653991729133580) *
                            r +
                        5.46378491116411436990) *
                           r +
                       6.65790464350110377720;
    const double den = ((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r +
                            1.84631831751005468180e-5) *
                               r +
                           7.86869131145613259100e-4) *
                              r +
                          1.48753612908506148525e-2) *
                             r +
                         1.36929880922735805310e-1) *
                            r +
                        5.99832206555887937690e-1) *
                           r +
                       1.0;
    z = num / den;
  }
  return z;
}

// AS 241 centre: N^{-1}(1/2 + q) for |q| <= 0.425 (Wichura 1988), taking q itself so that a
// caller holding q exactly (q = beta/2 at the money) keeps its full relative precision.
inline double inverse_norm_central(double q) {
  const double r = 0.180625 - q * q;
  const double num =
      (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r +
           45921.953931549871457) *
              r +
          13731.693765509461125) *
             r +
         1971.5909503065514427) *
            r +
        133.14166789178437745) *
           r +
       3.3871328727963666080);
  const double den =
      (((((((5226.4952788528545610 * r + 28729.085735721942674) * r + 39307.895800092710610) * r +
           21213.794301586595867) *
              r +
          5394.1960214247511077) *
             r +
         687.18700749205790830) *
            r +
        42.313330701600911252) *
           r +
       1.0);
  return q * num / den;
}

// Inverse standard normal distribution function for 0 < p < 1: M. J. Wichura, "Algorithm AS 241:
// The percentage points of the normal distribution", Applied Statistics 37 (1988) 477-484,
// PPND16 (relative accuracy about 1e-16): a rational function of (p - 1/2)² in the centre
// |p - 1/2| <= 0.425, else of r = sqrt(-ln min(p, 1 - p)) on r <= 5 and r > 5.
inline double inverse_norm_cdf(double p) {
  const double q = p - 0.5;
  if (std::fabs(q) <= 0.425) return inverse_norm_central(q);
  const double z = inverse_norm_tail(std::sqrt(-std::log(q < 0.0 ? p : 1.0 - p)));
  return q < 0.0 ? -z : z;
}

// N^{-1}(p) for p < 1/2 given ln p, which saves the caller a root or power taken only to be
// logged again (AS 241 evaluates its tails in sqrt(-ln p) anyway).
inline double inverse_norm_cdf_from_log(double log_p) {
  // ln(0.075): below it AS 241 uses its tail approximation, p - 1/2 < -0.425.
  constexpr double log_tail_edge = -2.5902671654458267;
  if (log_p < log_tail_edge) return -inverse_norm_tail(std::sqrt(-log_p));
  return inverse_norm_cdf(std::exp(log_p));
}

}  // namespace vrp::quant::lbr
