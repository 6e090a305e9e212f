#pragma once

// Special functions shared by the GARCH filter, fit and forecasts (private to vrp::quant).

#include <cmath>

namespace vrp::quant::detail {

inline constexpr double garch_pi = 3.14159265358979323846;
inline constexpr double garch_ln_2pi = 1.83787706640934548356;

// Digamma by the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 6, then the asymptotic series
// (Abramowitz & Stegun 6.3.18); absolute error below 1e-14 for x > 0.
inline double digamma(double x) {
  double acc = 0;
  while (x < 6) {
    acc -= 1 / x;
    x += 1;
  }
  const double r = 1 / x;
  const double r2 = r * r;
  const double series =
      r2 * (1.0 / 12 - r2 * (1.0 / 120 - r2 * (1.0 / 252 - r2 * (1.0 / 240 - r2 * (1.0 / 132)))));
  return acc + std::log(x) - 0.5 * r - series;
}

// Log normalising constant of the standardized Student-t density (unit variance, nu > 2):
// ln Gamma((nu+1)/2) - ln Gamma(nu/2) - 0.5 ln(pi (nu - 2)) (Bollerslev 1987, eq. 2).
inline double student_t_log_const(double nu) {
  return std::lgamma(0.5 * (nu + 1)) - std::lgamma(0.5 * nu) - 0.5 * std::log(garch_pi * (nu - 2));
}

// d/dnu of student_t_log_const.
inline double student_t_log_const_dnu(double nu) {
  return 0.5 * digamma(0.5 * (nu + 1)) - 0.5 * digamma(0.5 * nu) - 0.5 / (nu - 2);
}

// E|z| of the standardized t: 2 sqrt(nu - 2) Gamma((nu+1)/2) / ((nu - 1) Gamma(nu/2) sqrt(pi))
// (Nelson 1991, p. 366, with the unit-variance scaling).
inline double student_t_expected_abs(double nu) {
  return 2 * std::sqrt(nu - 2) * std::exp(std::lgamma(0.5 * (nu + 1)) - std::lgamma(0.5 * nu)) /
         ((nu - 1) * std::sqrt(garch_pi));
}

// d ln E|z| / dnu for the standardized t (derivative of the log of the expression above).
inline double student_t_expected_abs_dlog_dnu(double nu) {
  return 0.5 / (nu - 2) + 0.5 * digamma(0.5 * (nu + 1)) - 1 / (nu - 1) - 0.5 * digamma(0.5 * nu);
}

// ln Phi(x), accurate in the far left tail through the Mills-ratio asymptotic series
// (Abramowitz & Stegun 26.2.12).
inline double log_norm_cdf(double x) {
  if (x > -30) return std::log(0.5 * std::erfc(-x / std::sqrt(2.0)));
  const double r2 = 1 / (x * x);
  return -0.5 * x * x - std::log(-x) - 0.5 * garch_ln_2pi +
         std::log1p(-r2 * (1 - 3 * r2 * (1 - 5 * r2)));
}

// ln E[exp(a z + b |z|)] for z ~ N(0, 1):
// exp((a+b)^2/2) Phi(a+b) + exp((a-b)^2/2) Phi(b-a) (Nelson 1991, proof of Theorem 2.1), in logs.
inline double log_mgf_normal_abs(double a, double b) {
  const double u = 0.5 * (a + b) * (a + b) + log_norm_cdf(a + b);
  const double v = 0.5 * (a - b) * (a - b) + log_norm_cdf(b - a);
  const double m = u > v ? u : v;
  return m + std::log(std::exp(u - m) + std::exp(v - m));
}

// ln E[exp(c g(z))] with g(z) = alpha z + gamma (|z| - E|z|), z ~ N(0, 1).
inline double egarch_normal_log_mgf(double alpha, double gamma, double expected_abs_z, double c) {
  return -c * gamma * expected_abs_z + log_mgf_normal_abs(c * alpha, c * gamma);
}

}  // namespace vrp::quant::detail
