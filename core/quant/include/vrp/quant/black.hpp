#pragma once

#include "vrp/quant/status.hpp"

namespace vrp::quant {

// Standard normal density and distribution function.
double norm_pdf(double x);
double norm_cdf(double x);

// Price and sensitivities of a European option. Units (ARCHITECTURE.md §5.1): delta and gamma with
// respect to the underlying of the model (forward for Black-76, spot for BSM), vega per 1.00 of
// volatility, theta per year (-dV/dt), rho per 1.00 of rate.
struct greeks {
  double price = 0.0;
  double delta = 0.0;
  double gamma = 0.0;
  double vega = 0.0;
  double theta = 0.0;
  double rho = 0.0;
  status code = status::ok;
};

// Black (1976): discount * [F N(d1) - K N(d2)] for a call, d1,2 = (ln(F/K) ± vol² t / 2) / (vol
// √t). `discount` is the zero-coupon factor to the payment date (1 when no rate is known). Returns
// NaN on invalid input (non-finite, forward/strike <= 0, t < 0, vol < 0, discount <= 0).
double black76_price(double forward, double strike, double t_years, double vol, option_type type,
                     double discount = 1.0);

// Greeks of black76_price. theta assumes the discount comes from a constant rate
// r = -ln(discount)/t, so theta = r V - discount F φ(d1) vol / (2√t); rho = -t V (forward held).
greeks black76_greeks(double forward, double strike, double t_years, double vol, option_type type,
                      double discount = 1.0);

// Generalised Black-Scholes-Merton with continuous dividend (carry) yield `div`:
// call = S e^{-div t} N(d1) - K e^{-rate t} N(d2) (Haug 2007, eq. 1.1 with b = rate - div).
double bsm_price(double spot, double strike, double t_years, double vol, double rate, double div,
                 option_type type);
greeks bsm_greeks(double spot, double strike, double t_years, double vol, double rate, double div,
                  option_type type);

// Intrinsic value of a forward-settled option (undiscounted).
double intrinsic(double forward, double strike, option_type type);

}  // namespace vrp::quant
