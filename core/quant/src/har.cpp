#include "vrp/quant/har.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>

namespace vrp::quant {

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr int har_newey_west_lags = 5;

bool valid_rv(double v) {
  return std::isfinite(v) && v >= 0.0;
}

// Regressors of the HAR row whose last daily value is rv[t]: 1, RV_t, RV_t^{(w)}, RV_t^{(m)}.
Eigen::Vector4d har_regressors(std::span<const double> rv, std::size_t t) {
  double weekly = 0.0;
  for (std::size_t j = t + 1 - har_weekly_days; j <= t; ++j) weekly += rv[j];
  double monthly = 0.0;
  for (std::size_t j = t + 1 - har_monthly_days; j <= t; ++j) monthly += rv[j];
  return {1.0, rv[t], weekly / har_weekly_days, monthly / har_monthly_days};
}

}  // namespace

har_fit_result har_fit(std::span<const double> rv_daily) {
  har_fit_result fit;
  if (!std::all_of(rv_daily.begin(), rv_daily.end(), valid_rv)) {
    fit.code = status::invalid_input;
    return fit;
  }
  if (rv_daily.size() <
      static_cast<std::size_t>(har_monthly_days) + static_cast<std::size_t>(har_min_observations)) {
    fit.code = status::insufficient_data;
    return fit;
  }
  const std::size_t first = har_monthly_days - 1;
  const auto rows = static_cast<Eigen::Index>(rv_daily.size() - har_monthly_days);
  Eigen::MatrixXd x(rows, 4);
  Eigen::VectorXd y(rows);
  for (Eigen::Index r = 0; r < rows; ++r) {
    const std::size_t t = first + static_cast<std::size_t>(r);
    x.row(r) = har_regressors(rv_daily, t).transpose();
    y(r) = rv_daily[t + 1];
  }

  // Corsi (2009, eq. 8) by OLS; column-pivoting QR exposes a rank-deficient design (constant or
  // perfectly trending series) instead of returning meaningless coefficients.
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(x);
  const double sst = (y.array() - y.mean()).square().sum();
  if (qr.rank() < 4 || !(sst > 0.0)) {
    fit.code = status::degenerate;
    fit.observations = static_cast<int>(rows);
    return fit;
  }
  const Eigen::Vector4d beta = qr.solve(y);
  const Eigen::VectorXd resid = y - x * beta;
  const double ssr = resid.squaredNorm();
  const auto dof = static_cast<double>(rows - 4);
  const double s2 = ssr / dof;

  // (X'X)^{-1} = P R^{-1} R^{-T} P' from the QR factors, better conditioned than inverting X'X.
  const Eigen::Matrix4d r_factor =
      qr.matrixR().topLeftCorner(4, 4).template triangularView<Eigen::Upper>();
  const Eigen::Matrix4d r_inv =
      r_factor.triangularView<Eigen::Upper>().solve(Eigen::Matrix4d::Identity());
  const Eigen::Matrix4d perm = qr.colsPermutation().toDenseMatrix().cast<double>();
  const Eigen::Matrix4d xtx_inv = perm * r_inv * r_inv.transpose() * perm.transpose();

  // Newey & West (1987): S = sum u_t^2 x_t x_t' + sum_l w_l sum_t u_t u_{t-l} (x_t x_{t-l}' +
  // x_{t-l} x_t'), w_l = 1 - l / (L + 1); Var(beta) = (X'X)^{-1} S (X'X)^{-1}.
  Eigen::Matrix4d s = Eigen::Matrix4d::Zero();
  for (Eigen::Index t = 0; t < rows; ++t) {
    const Eigen::Vector4d xu = x.row(t).transpose() * resid(t);
    s += xu * xu.transpose();
  }
  for (int lag = 1; lag <= har_newey_west_lags && lag < rows; ++lag) {
    const double w = 1.0 - static_cast<double>(lag) / (har_newey_west_lags + 1.0);
    Eigen::Matrix4d g = Eigen::Matrix4d::Zero();
    for (Eigen::Index t = lag; t < rows; ++t) {
      const Eigen::Vector4d a = x.row(t).transpose() * resid(t);
      const Eigen::Vector4d b = x.row(t - lag).transpose() * resid(t - lag);
      g += a * b.transpose();
    }
    s += w * (g + g.transpose());
  }
  const Eigen::Matrix4d nw_cov = xtx_inv * s * xtx_inv;

  fit.beta0 = beta(0);
  fit.beta_d = beta(1);
  fit.beta_w = beta(2);
  fit.beta_m = beta(3);
  fit.r2 = 1.0 - ssr / sst;
  fit.observations = static_cast<int>(rows);
  fit.residual_variance = s2;
  fit.se_beta0 = std::sqrt(s2 * xtx_inv(0, 0));
  fit.se_beta_d = std::sqrt(s2 * xtx_inv(1, 1));
  fit.se_beta_w = std::sqrt(s2 * xtx_inv(2, 2));
  fit.se_beta_m = std::sqrt(s2 * xtx_inv(3, 3));
  fit.nw_se_beta0 = std::sqrt(std::max(nw_cov(0, 0), 0.0));
  fit.nw_se_beta_d = std::sqrt(std::max(nw_cov(1, 1), 0.0));
  fit.nw_se_beta_w = std::sqrt(std::max(nw_cov(2, 2), 0.0));
  fit.nw_se_beta_m = std::sqrt(std::max(nw_cov(3, 3), 0.0));
  const bool finite = std::isfinite(fit.beta0) && std::isfinite(fit.beta_d) &&
                      std::isfinite(fit.beta_w) && std::isfinite(fit.beta_m) &&
                      std::isfinite(fit.r2) && std::isfinite(fit.se_beta_d);
  fit.code = finite ? status::ok : status::degenerate;
  return fit;
}

namespace {

// Runs the iterated HAR recursion, handing each daily forecast to sink(k, value). Allocation-free:
// the last 22 values live in a fixed ring.
template <class Sink>
status har_iterate(const har_fit_result& fit, std::span<const double> rv_daily, int steps,
                   Sink&& sink) {
  if (fit.code != status::ok) return status::invalid_input;
  if (rv_daily.size() < static_cast<std::size_t>(har_monthly_days)) {
    return status::insufficient_data;
  }
  std::array<double, har_monthly_days> ring{};  // ring[(head + j) % 22], j = 0 oldest
  const std::size_t base = rv_daily.size() - har_monthly_days;
  for (int j = 0; j < har_monthly_days; ++j) {
    const double v = rv_daily[base + static_cast<std::size_t>(j)];
    if (!valid_rv(v)) return status::invalid_input;
    ring[static_cast<std::size_t>(j)] = v;
  }
  std::size_t head = 0;  // index of the oldest value
  for (int k = 0; k < steps; ++k) {
    double weekly = 0.0;
    double monthly = 0.0;
    for (int j = 0; j < har_monthly_days; ++j) {
      const double v = ring[(head + static_cast<std::size_t>(j)) % har_monthly_days];
      monthly += v;
      if (j >= har_monthly_days - har_weekly_days) weekly += v;
    }
    const double daily = ring[(head + har_monthly_days - 1) % har_monthly_days];
    // Corsi (2009, eq. 8), iterated: today's forecast becomes tomorrow's RV_t.
    const double f = fit.beta0 + fit.beta_d * daily + fit.beta_w * weekly / har_weekly_days +
                     fit.beta_m * monthly / har_monthly_days;
    if (!std::isfinite(f) || f <= 0.0) return status::degenerate;
    sink(k, f);
    ring[head] = f;  // overwrite the oldest
    head = (head + 1) % har_monthly_days;
  }
  return status::ok;
}

}  // namespace

status har_forecast(const har_fit_result& fit, std::span<const double> rv_daily,
                    std::span<double> out) {
  const status code = har_iterate(fit, rv_daily, static_cast<int>(out.size()),
                                  [&](int k, double f) { out[static_cast<std::size_t>(k)] = f; });
  if (code != status::ok) std::fill(out.begin(), out.end(), nan_value);
  return code;
}

har_forecast_mean_result har_forecast_mean(const har_fit_result& fit,
                                           std::span<const double> rv_daily, int horizon_days) {
  har_forecast_mean_result out;
  if (horizon_days < 1) {
    out.code = status::invalid_input;
    return out;
  }
  double sum = 0.0;
  out.code = har_iterate(fit, rv_daily, horizon_days, [&](int, double f) { sum += f; });
  if (out.code == status::ok) out.mean_variance = sum / horizon_days;
  return out;
}

// ---- Forecast losses ----

double qlike(double realized_variance, double forecast_variance) {
  if (!std::isfinite(realized_variance) || !std::isfinite(forecast_variance) ||
      realized_variance <= 0.0 || forecast_variance <= 0.0) {
    return nan_value;
  }
  const double ratio = realized_variance / forecast_variance;
  // Patton (2011): QLIKE = r/f - ln(r/f) - 1.
  return ratio - std::log(ratio) - 1.0;
}

double squared_error(double realized_variance, double forecast_variance) {
  if (!std::isfinite(realized_variance) || !std::isfinite(forecast_variance)) return nan_value;
  const double e = realized_variance - forecast_variance;
  return e * e;
}

forecast_loss_result evaluate_forecasts(std::span<const double> realized,
                                        std::span<const double> forecast) {
  forecast_loss_result out;
  if (realized.size() != forecast.size()) {
    out.code = status::invalid_input;
    return out;
  }
  double sum_qlike = 0.0;
  double sum_se = 0.0;
  for (std::size_t i = 0; i < realized.size(); ++i) {
    const double r = realized[i];
    const double f = forecast[i];
    if (!std::isfinite(r) || !std::isfinite(f)) {
      ++out.skipped;
      continue;
    }
    if (f <= 0.0 || r < 0.0) {
      out = forecast_loss_result{};
      out.code = status::invalid_input;
      return out;
    }
    if (r == 0.0) {
      ++out.skipped;
      continue;
    }
    sum_qlike += qlike(r, f);
    sum_se += squared_error(r, f);
    ++out.count;
  }
  if (out.count == 0) {
    out.code = status::insufficient_data;
    return out;
  }
  out.mean_qlike = sum_qlike / static_cast<double>(out.count);
  out.mean_mse = sum_se / static_cast<double>(out.count);
  out.code = status::ok;
  return out;
}

diebold_mariano_result diebold_mariano(std::span<const double> loss_a,
                                       std::span<const double> loss_b, int horizon_days) {
  diebold_mariano_result out;
  if (loss_a.size() != loss_b.size() || horizon_days < 1) {
    out.code = status::invalid_input;
    return out;
  }
  auto usable = [&](std::size_t i) { return std::isfinite(loss_a[i]) && std::isfinite(loss_b[i]); };
  double sum = 0.0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < loss_a.size(); ++i) {
    if (!usable(i)) continue;
    sum += loss_a[i] - loss_b[i];
    ++n;
  }
  out.count = n;
  if (n < 10) {
    out.code = status::insufficient_data;
    return out;
  }
  const auto n_d = static_cast<double>(n);
  const double mean = sum / n_d;
  out.mean_difference = mean;
  // Newey & West (1987) long-run variance of d_t with Bartlett weights, lags 0..h-1.
  const int lags = horizon_days - 1;
  double lrv = 0.0;
  for (int lag = 0; lag <= lags; ++lag) {
    double gamma = 0.0;
    for (auto i = static_cast<std::size_t>(lag); i < loss_a.size(); ++i) {
      const std::size_t j = i - static_cast<std::size_t>(lag);
      if (!usable(i) || !usable(j)) continue;
      gamma += (loss_a[i] - loss_b[i] - mean) * (loss_a[j] - loss_b[j] - mean);
    }
    gamma /= n_d;
    const double w = lag == 0 ? 1.0 : 2.0 * (1.0 - static_cast<double>(lag) / (lags + 1.0));
    lrv += w * gamma;
  }
  if (!(lrv > 0.0) || !std::isfinite(lrv)) {
    out.code = status::degenerate;
    return out;
  }
  // Diebold & Mariano (1995): S = dbar / sqrt(2 pi f_d(0) / n), asymptotically N(0, 1).
  out.statistic = mean / std::sqrt(lrv / n_d);
  out.p_value = std::erfc(std::fabs(out.statistic) / std::numbers::sqrt2);
  out.code = status::ok;
  return out;
}

}  // namespace vrp::quant
