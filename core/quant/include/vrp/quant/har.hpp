#pragma once

// HAR-RV model of daily realized variance and the losses used to compare variance forecasts.
//
// HAR-RV (Corsi 2009, eq. 8, here on realized variance levels):
//   RV_{t+1} = b0 + b_d RV_t + b_w RV_t^{(w)} + b_m RV_t^{(m)} + e_{t+1},
//   RV_t^{(w)} = mean(RV_{t-4..t}),  RV_t^{(m)} = mean(RV_{t-21..t}),
// fitted by ordinary least squares (Eigen, column-pivoting Householder QR). With n daily values
// (index 0..n-1) the regression rows are t = 21..n-2, so observations = n - 22.
//
// Units: rv_daily is per-day realized variance (e.g. daily_realized_variance in realized.hpp);
// forecasts are in the same units. Annualize by the caller's days per year (365 for crypto).
//
// Forecast losses (Patton 2011, "Volatility forecast comparison using imperfect volatility
// proxies"), on variances:
//   QLIKE(r, f) = r / f - ln(r / f) - 1   (robust to noise in the proxy r; 0 iff f == r)
//   SE(r, f)    = (r - f)^2

#include <cstddef>
#include <span>

#include "vrp/quant/status.hpp"

namespace vrp::quant {

inline constexpr int har_weekly_days = 5;
inline constexpr int har_monthly_days = 22;
// Fewest regression rows har_fit accepts (so at least har_monthly_days + har_min_observations
// daily values).
inline constexpr int har_min_observations = 10;

struct har_fit_result {
  status code = status::invalid_input;
  double beta0 = 0, beta_d = 0, beta_w = 0, beta_m = 0;
  double r2 = 0;  // 1 - SSR / SST of the regression (centred SST)
  int observations = 0;
  // Conventional OLS standard errors, sqrt(s^2 (X'X)^{-1}_jj), s^2 = SSR / (observations - 4).
  double se_beta0 = 0, se_beta_d = 0, se_beta_w = 0, se_beta_m = 0;
  // Newey-West (1987) HAC standard errors, Bartlett kernel with 5 lags (Corsi 2009 reports the
  // HAC ones because daily RV residuals are autocorrelated and heteroskedastic).
  double nw_se_beta0 = 0, nw_se_beta_d = 0, nw_se_beta_w = 0, nw_se_beta_m = 0;
  double residual_variance = 0;  // s^2
};

// Status: invalid_input (any value NaN/Inf or negative), insufficient_data (fewer than
// har_monthly_days + har_min_observations values), degenerate (the regressors are collinear, e.g.
// a constant series, or SST == 0).
har_fit_result har_fit(std::span<const double> rv_daily);

// Iterated multi-step forecast: out[k] is the forecast of the daily RV k + 1 days after the last
// value of rv_daily, each step feeding the previous forecasts back into the daily, weekly and
// monthly regressors. Uses the last har_monthly_days values of rv_daily (which should be the
// sample the fit came from, or its continuation). Allocation-free.
// Status: invalid_input (fit.code != ok, a NaN/negative value among the last 22), insufficient_data
// (rv_daily shorter than har_monthly_days), degenerate (a forecast is not finite or <= 0; out is
// then filled with NaN). An empty out is ok and does nothing.
status har_forecast(const har_fit_result& fit, std::span<const double> rv_daily,
                    std::span<double> out);

struct har_forecast_mean_result {
  status code = status::invalid_input;
  double mean_variance = 0;  // mean of the daily forecasts over days 1..horizon_days (per day)
};
// Mean of the iterated forecasts over the next horizon_days days (the average daily variance
// over [now, now + horizon], which is what the premium needs: annualize with * 365).
// Allocation-free. Status as har_forecast, plus invalid_input when horizon_days < 1.
har_forecast_mean_result har_forecast_mean(const har_fit_result& fit,
                                           std::span<const double> rv_daily, int horizon_days);

// ---- Forecast losses ----

// Patton (2011, eq. for QLIKE as the robust loss in his family with b = -2):
// r / f - ln(r / f) - 1. Returns NaN unless r > 0 and f > 0 and both are finite.
double qlike(double realized_variance, double forecast_variance);
// Squared error (r - f)^2 (Patton 2011's robust loss with b = 0, up to the factor 1/2). NaN on a
// non-finite input.
double squared_error(double realized_variance, double forecast_variance);
// The per-pair loss whose mean is the MSE; same as squared_error.
inline double mse(double realized_variance, double forecast_variance) {
  return squared_error(realized_variance, forecast_variance);
}

struct forecast_loss_result {
  status code = status::invalid_input;
  double mean_qlike = 0;
  double mean_mse = 0;      // mean squared error
  std::size_t count = 0;    // pairs used
  std::size_t skipped = 0;  // pairs skipped: a non-finite value, or realized == 0 (QLIKE undefined)
};
// Mean QLIKE and mean squared error over the pairs (realized[i], forecast[i]). Pairs with a
// non-finite value are skipped (counted), as are pairs with realized == 0, so both means are over
// the same pairs. Status: invalid_input (size mismatch, a finite forecast <= 0, a finite realized
// < 0), insufficient_data (no usable pair).
forecast_loss_result evaluate_forecasts(std::span<const double> realized,
                                        std::span<const double> forecast);

struct diebold_mariano_result {
  status code = status::invalid_input;
  double mean_difference = 0;  // mean of d_t = loss_a_t - loss_b_t (negative: a is better)
  double statistic = 0;        // mean_difference / sqrt(long-run variance / n), N(0,1) under H0
  double p_value = 1;          // two-sided
  std::size_t count = 0;
};
// Diebold & Mariano (1995, eq. for S1): equal predictive accuracy of two loss series, with the
// long-run variance of d_t estimated by Newey-West (Bartlett weights) with horizon_days - 1 lags
// (the h-step forecast errors are MA(h-1) under optimality). Pairs with a non-finite loss are
// skipped. Status: invalid_input (size mismatch, horizon_days < 1), insufficient_data (fewer than
// 10 usable pairs), degenerate (long-run variance <= 0, e.g. identical series).
diebold_mariano_result diebold_mariano(std::span<const double> loss_a,
                                       std::span<const double> loss_b, int horizon_days = 1);

}  // namespace vrp::quant
