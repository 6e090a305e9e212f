#include "vrp/quant/black.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace vrp::quant {

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

bool finite_all(std::initializer_list<double> xs) {
  return std::all_of(xs.begin(), xs.end(), [](double x) { return std::isfinite(x); });
}

greeks invalid_greeks() {
  greeks g{nan_v, nan_v, nan_v, nan_v, nan_v, nan_v, status::invalid_input};
  return g;
}

}  // namespace

double norm_pdf(double x) {
  return std::exp(-0.5 * x * x) * (0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2);
}

// N(x) = erfc(-x/√2)/2 keeps full relative accuracy in the lower tail, unlike 1 - N(-x).
double norm_cdf(double x) {
  return 0.5 * std::erfc(-x * (0.5 * std::numbers::sqrt2));
}

double intrinsic(double forward, double strike, option_type type) {
  return std::max(sign(type) * (forward - strike), 0.0);
}

// Price alone: the same formula and inputs checks as black76_greeks, without the density, the
// rate and the sensitivities (Black 1976: discount q [F N(q d1) - K N(q d2)]).
double black76_price(double forward, double strike, double t_years, double vol, option_type type,
                     double discount) {
  if (!std::isfinite(forward) || !std::isfinite(strike) || !std::isfinite(t_years) ||
      !std::isfinite(vol) || !std::isfinite(discount) || forward <= 0.0 || strike <= 0.0 ||
      t_years < 0.0 || vol < 0.0 || discount <= 0.0) {
    return nan_v;
  }
  const double s = vol * std::sqrt(t_years);
  if (s <= 0.0) return discount * intrinsic(forward, strike, type);
  const double q = sign(type);
  const double d1 = std::log(forward / strike) / s + 0.5 * s;
  const double d2 = d1 - s;
  return discount * q * (forward * norm_cdf(q * d1) - strike * norm_cdf(q * d2));
}

greeks black76_greeks(double forward, double strike, double t_years, double vol, option_type type,
                      double discount) {
  if (!finite_all({forward, strike, t_years, vol, discount}) || forward <= 0.0 || strike <= 0.0 ||
      t_years < 0.0 || vol < 0.0 || discount <= 0.0) {
    return invalid_greeks();
  }
  const double q = sign(type);
  const double s = vol * std::sqrt(t_years);
  const double rate = t_years > 0.0 ? -std::log(discount) / t_years : 0.0;
  greeks g;
  if (s <= 0.0) {
    // Zero total volatility: the option is worth its discounted intrinsic value.
    g.price = discount * intrinsic(forward, strike, type);
    g.delta = q * (forward - strike) > 0.0 ? q * discount : 0.0;
    g.theta = rate * g.price;
    g.rho = -t_years * g.price;
    return g;
  }
  const double d1 = std::log(forward / strike) / s + 0.5 * s;
  const double d2 = d1 - s;
  const double nd1 = norm_cdf(q * d1);
  const double nd2 = norm_cdf(q * d2);
  const double pdf1 = norm_pdf(d1);
  g.price = discount * q * (forward * nd1 - strike * nd2);
  g.delta = discount * q * nd1;
  g.gamma = discount * pdf1 / (forward * s);
  g.vega = discount * forward * pdf1 * std::sqrt(t_years);
  g.theta = rate * g.price - discount * forward * pdf1 * vol / (2.0 * std::sqrt(t_years));
  g.rho = -t_years * g.price;
  return g;
}

double bsm_price(double spot, double strike, double t_years, double vol, double rate, double div,
                 option_type type) {
  return bsm_greeks(spot, strike, t_years, vol, rate, div, type).price;
}

greeks bsm_greeks(double spot, double strike, double t_years, double vol, double rate, double div,
                  option_type type) {
  if (!finite_all({spot, strike, t_years, vol, rate, div}) || spot <= 0.0 || strike <= 0.0 ||
      t_years < 0.0 || vol < 0.0) {
    return invalid_greeks();
  }
  const double q = sign(type);
  const double df_r = std::exp(-rate * t_years);
  const double df_q = std::exp(-div * t_years);
  const double s = vol * std::sqrt(t_years);
  greeks g;
  if (s <= 0.0) {
    const double fwd_value = spot * df_q - strike * df_r;
    g.price = std::max(q * fwd_value, 0.0);
    const bool itm = q * fwd_value > 0.0;
    g.delta = itm ? q * df_q : 0.0;
    g.theta = itm ? q * (div * spot * df_q - rate * strike * df_r) : 0.0;
    g.rho = itm ? q * strike * t_years * df_r : 0.0;
    return g;
  }
  const double d1 = (std::log(spot / strike) + (rate - div) * t_years) / s + 0.5 * s;
  const double d2 = d1 - s;
  const double nd1 = norm_cdf(q * d1);
  const double nd2 = norm_cdf(q * d2);
  const double pdf1 = norm_pdf(d1);
  const double sqrt_t = std::sqrt(t_years);
  g.price = q * (spot * df_q * nd1 - strike * df_r * nd2);
  g.delta = q * df_q * nd1;
  g.gamma = df_q * pdf1 / (spot * s);
  g.vega = spot * df_q * pdf1 * sqrt_t;
  // Haug (2007) §1.1: theta = -S e^{-qt} φ(d1) σ / (2√t) ± q S e^{-qt} N(±d1) ∓ r K e^{-rt} N(±d2).
  g.theta = -spot * df_q * pdf1 * vol / (2.0 * sqrt_t) + q * div * spot * df_q * nd1 -
            q * rate * strike * df_r * nd2;
  g.rho = q * strike * t_years * df_r * nd2;
  return g;
}

}  // namespace vrp::quant
