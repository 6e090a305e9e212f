#include "vrp/quant/garch.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "garch_special.hpp"

namespace vrp::quant {

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint64_t egarch_mc_seed = 0x9e3779b97f4a7c15ULL;
// The egarch-t long-horizon limit stops adding shocks once |beta|^j falls below this weight.
constexpr double egarch_mc_tail_weight = 1e-10;
constexpr int egarch_mc_max_horizon = 100000;

bool all_finite(const garch_params& p) {
  return std::isfinite(p.mu) && std::isfinite(p.omega) && std::isfinite(p.alpha) &&
         std::isfinite(p.gamma) && std::isfinite(p.beta) && std::isfinite(p.nu);
}

// Uniform on (0, 1) from the top 53 bits, never 0.
double uniform01(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

// Standardized (unit-variance) Student-t draw by Bailey's polar method (Bailey 1994, Math. Comp.
// 62, eq. 2): T = U sqrt(nu (W^(-2/nu) - 1) / W) for (U, V) uniform in the unit disc, W = U^2 +
// V^2.
double draw_standardized_t(std::mt19937_64& rng, double nu, double unit_scale) {
  for (;;) {
    const double u = 2 * uniform01(rng) - 1;
    const double v = 2 * uniform01(rng) - 1;
    const double w = u * u + v * v;
    if (w > 0 && w < 1) {
      return unit_scale * u * std::sqrt(nu * (std::pow(w, -2 / nu) - 1) / w);
    }
  }
}

// Monte Carlo for egarch-t: for each antithetic pair of shock sequences (w_j) and (-w_j) and each
// m in [0, m_count), accumulates exp(A_m) with A_m = sum_{j<m} beta^j g(w_j), g(z) = alpha z +
// gamma (|z| - E|z|). Every pair has its own seed, so the draws of a pair do not depend on the
// horizon: the step-k forecast converges path by path to the long-horizon limit.
// When `all_steps` is false only acc[0] receives exp(A_{m_count}).
void egarch_t_paths(const garch_params& p, double expected_abs_z, int pairs, int m_count,
                    bool all_steps, double* acc) {
  const double unit_scale = std::sqrt((p.nu - 2) / p.nu);
  std::mt19937_64 rng;
  for (int pair = 0; pair < pairs; ++pair) {
    rng.seed(egarch_mc_seed + static_cast<std::uint64_t>(pair));
    double sum_sign = 0;  // sum beta^j alpha w_j
    double sum_size = 0;  // sum beta^j gamma (|w_j| - E|z|)
    double weight = 1;
    for (int m = 0; m < m_count; ++m) {
      if (all_steps) acc[m] += std::exp(sum_size + sum_sign) + std::exp(sum_size - sum_sign);
      const double w = draw_standardized_t(rng, p.nu, unit_scale);
      sum_sign += weight * p.alpha * w;
      sum_size += weight * p.gamma * (std::fabs(w) - expected_abs_z);
      weight *= p.beta;
    }
    if (!all_steps) acc[0] += std::exp(sum_size + sum_sign) + std::exp(sum_size - sum_sign);
  }
}

int egarch_t_limit_horizon(double beta) {
  const double ab = std::fabs(beta);
  if (ab < egarch_mc_tail_weight) return 1;
  const double m = std::ceil(std::log(egarch_mc_tail_weight) / std::log(ab));
  return m > egarch_mc_max_horizon ? egarch_mc_max_horizon : static_cast<int>(m) + 1;
}

// Stationary ln E[h] of egarch-normal: omega / (1 - beta) + sum_j ln E[exp(beta^j g(z))]
// (Nelson 1991, Theorem 2.1). Once the weight c = beta^j is small the remaining terms are summed
// through the cumulant expansion ln E[exp(c g)] = c^2 k2 / 2 + c^3 k3 / 6 + O(c^4), with
// k2 = alpha^2 + gamma^2 (1 - m^2) and k3 = 3 alpha^2 gamma m + gamma^3 (2 m^3 - m), m = E|z|.
double egarch_normal_log_unconditional(const garch_params& p) {
  const double m = std::sqrt(2 / detail::garch_pi);
  const double scale = std::fabs(p.alpha) + std::fabs(p.gamma);
  double log_v = p.omega / (1 - p.beta);
  double c = 1;
  int j = 0;
  constexpr int max_terms = 10000000;
  while (std::fabs(c) * scale > 1e-3 && j < max_terms) {
    log_v += detail::egarch_normal_log_mgf(p.alpha, p.gamma, m, c);
    c *= p.beta;
    ++j;
  }
  const double k2 = p.alpha * p.alpha + p.gamma * p.gamma * (1 - m * m);
  const double k3 =
      3 * p.alpha * p.alpha * p.gamma * m + p.gamma * p.gamma * p.gamma * (2 * m * m * m - m);
  const double b2 = p.beta * p.beta;
  const double b3 = b2 * p.beta;
  log_v += c * c / (1 - b2) * k2 / 2 + c * c * c / (1 - b3) * k3 / 6;
  return log_v;
}

}  // namespace

const char* to_string(garch_model m) {
  switch (m) {
    case garch_model::garch:
      return "garch";
    case garch_model::gjr:
      return "gjr";
    case garch_model::egarch:
      return "egarch";
  }
  return "unknown";
}

const char* to_string(garch_dist d) {
  switch (d) {
    case garch_dist::normal:
      return "normal";
    case garch_dist::student_t:
      return "t";
  }
  return "unknown";
}

const char* to_string(garch_mean m) {
  switch (m) {
    case garch_mean::constant:
      return "constant";
    case garch_mean::zero:
      return "zero";
  }
  return "unknown";
}

bool parse_garch_model(std::string_view s, garch_model& out) {
  if (s == "garch") {
    out = garch_model::garch;
  } else if (s == "gjr" || s == "gjr-garch" || s == "gjrgarch") {
    out = garch_model::gjr;
  } else if (s == "egarch") {
    out = garch_model::egarch;
  } else {
    return false;
  }
  return true;
}

bool parse_garch_dist(std::string_view s, garch_dist& out) {
  if (s == "normal" || s == "norm") {
    out = garch_dist::normal;
  } else if (s == "t" || s == "student_t" || s == "std") {
    out = garch_dist::student_t;
  } else {
    return false;
  }
  return true;
}

bool parse_garch_mean(std::string_view s, garch_mean& out) {
  if (s == "constant") {
    out = garch_mean::constant;
  } else if (s == "zero") {
    out = garch_mean::zero;
  } else {
    return false;
  }
  return true;
}

int garch_parameter_count(const garch_spec& spec) {
  int k = 3;  // omega alpha beta
  if (spec.mean == garch_mean::constant) ++k;
  if (spec.model != garch_model::garch) ++k;
  if (spec.dist == garch_dist::student_t) ++k;
  return k;
}

bool garch_params_valid(const garch_spec& spec, const garch_params& p) {
  return garch_params_admissible(spec, p) &&
         (spec.model == garch_model::egarch || garch_persistence(spec, p) < 1);
}

bool garch_params_admissible(const garch_spec& spec, const garch_params& p) {
  if (!all_finite(p)) return false;
  if (spec.mean == garch_mean::zero && p.mu != 0) return false;
  if (spec.model == garch_model::garch && p.gamma != 0) return false;
  if (spec.dist == garch_dist::normal && p.nu != 0) return false;
  if (spec.dist == garch_dist::student_t && !(p.nu > 2)) return false;
  switch (spec.model) {
    case garch_model::garch:
    case garch_model::gjr:
      if (!(p.omega > 0) || p.alpha < 0 || p.beta < 0) return false;
      return spec.model != garch_model::gjr || p.alpha + p.gamma >= 0;
    case garch_model::egarch:
      return std::fabs(p.beta) < 1;
  }
  return false;
}

double garch_persistence(const garch_spec& spec, const garch_params& p) {
  switch (spec.model) {
    case garch_model::garch:
      return p.alpha + p.beta;
    case garch_model::gjr:
      return p.alpha + 0.5 * p.gamma + p.beta;
    case garch_model::egarch:
      return p.beta;
  }
  return nan_v;
}

double garch_expected_abs_z(garch_dist dist, double nu) {
  if (dist == garch_dist::normal) return std::sqrt(2 / detail::garch_pi);
  if (!(nu > 2) || !std::isfinite(nu)) return nan_v;
  return detail::student_t_expected_abs(nu);
}

double garch_log_density(garch_dist dist, double nu, double eps, double variance) {
  if (!(variance > 0)) return nan_v;
  if (dist == garch_dist::normal) {
    return -0.5 * (detail::garch_ln_2pi + std::log(variance) + eps * eps / variance);
  }
  if (!(nu > 2)) return nan_v;
  return detail::student_t_log_const(nu) - 0.5 * std::log(variance) -
         0.5 * (nu + 1) * std::log1p(eps * eps / (variance * (nu - 2)));
}

double garch_unconditional_variance(const garch_spec& spec, const garch_params& p) {
  if (!garch_params_valid(spec, p)) return nan_v;
  if (spec.model != garch_model::egarch) {
    // Bollerslev (1986), Theorem 1; GJR with symmetric errors puts half of gamma on average.
    return p.omega / (1 - garch_persistence(spec, p));
  }
  if (spec.dist == garch_dist::normal) return std::exp(egarch_normal_log_unconditional(p));
  const int m = egarch_t_limit_horizon(p.beta);
  const int pairs = (garch_egarch_default_paths + 1) / 2;
  double acc = 0;
  egarch_t_paths(p, garch_expected_abs_z(spec.dist, p.nu), pairs, m, false, &acc);
  const double v = std::exp(p.omega / (1 - p.beta)) * acc / (2.0 * pairs);
  return std::isfinite(v) && v > 0 ? v : nan_v;
}

status garch_filter(const garch_spec& spec, const garch_params& p, std::span<const double> returns,
                    std::span<double> variances, double* loglik, double* next_variance) {
  if (!variances.empty() && variances.size() != returns.size()) return status::invalid_input;
  if (returns.empty()) return status::insufficient_data;
  if (!garch_params_admissible(spec, p)) return status::invalid_input;
  const std::size_t n = returns.size();
  double sum_sq = 0;
  for (const double r : returns) {
    if (!std::isfinite(r)) return status::invalid_input;
    sum_sq += (r - p.mu) * (r - p.mu);
  }
  const double s2 = sum_sq / static_cast<double>(n);
  // Start of Fiorentini, Calzolari & Panattoni (1996): eps_0^2 = h_0 = s2.
  double h = 0;
  switch (spec.model) {
    case garch_model::garch:
      h = p.omega + (p.alpha + p.beta) * s2;
      break;
    case garch_model::gjr:
      h = p.omega + (p.alpha + 0.5 * p.gamma + p.beta) * s2;
      break;
    case garch_model::egarch:
      h = s2;
      break;
  }
  const bool is_t = spec.dist == garch_dist::student_t;
  const double ez = garch_expected_abs_z(spec.dist, p.nu);
  const double log_const = is_t ? detail::student_t_log_const(p.nu) : -0.5 * detail::garch_ln_2pi;
  const double half_nu1 = 0.5 * (p.nu + 1);
  const double inv_nu2 = is_t ? 1 / (p.nu - 2) : 0;
  double ll = 0;
  for (std::size_t t = 0; t < n; ++t) {
    if (!(h > 0) || !(h < std::numeric_limits<double>::infinity())) return status::degenerate;
    if (!variances.empty()) variances[t] = h;
    const double eps = returns[t] - p.mu;
    // Normal: Bollerslev (1986) eq. 18; standardized t: Bollerslev (1987) eq. 2.
    ll += is_t ? log_const - 0.5 * std::log(h) - half_nu1 * std::log1p(eps * eps / h * inv_nu2)
               : log_const - 0.5 * (std::log(h) + eps * eps / h);
    h = garch_next_variance(spec, p, ez, returns[t], h);
  }
  if (!(h > 0) || !std::isfinite(h) || !std::isfinite(ll)) return status::degenerate;
  if (loglik != nullptr) *loglik = ll;
  if (next_variance != nullptr) *next_variance = h;
  return status::ok;
}

status garch_forecast(const garch_spec& spec, const garch_params& p, double next_variance,
                      std::span<double> variances, int egarch_paths) {
  if (!garch_params_admissible(spec, p)) return status::invalid_input;
  if (!std::isfinite(next_variance) || !(next_variance > 0)) return status::invalid_input;
  const std::size_t steps = variances.size();
  if (steps == 0) return status::ok;
  if (spec.model != garch_model::egarch) {
    // E[h_{k+1}] = omega + persistence E[h_k] (Bollerslev 1986, eq. 7 generalised).
    const double pers = garch_persistence(spec, p);
    double h = next_variance;
    for (std::size_t k = 0; k < steps; ++k) {
      variances[k] = h;
      h = p.omega + pers * h;
    }
    return status::ok;
  }
  const double log_h1 = std::log(next_variance);
  if (spec.dist == garch_dist::normal) {
    // ln E[h_{n+k}] = beta^(k-1) ln h_{n+1} + omega sum_{j<k-1} beta^j
    //                 + sum_{j<k-1} ln E[exp(beta^j g(z))] (Nelson 1991, eq. 2.1 iterated).
    const double ez = garch_expected_abs_z(spec.dist, p.nu);
    double pow_b = 1;
    double sum_det = 0;
    for (std::size_t k = 0; k < steps; ++k) {
      const double v = k == 0 ? next_variance : std::exp(pow_b * log_h1 + sum_det);
      if (!std::isfinite(v) || !(v > 0)) return status::degenerate;
      variances[k] = v;
      sum_det += pow_b * p.omega + detail::egarch_normal_log_mgf(p.alpha, p.gamma, ez, pow_b);
      pow_b *= p.beta;
    }
    return status::ok;
  }
  if (egarch_paths < 2) return status::invalid_input;
  const int pairs = (egarch_paths + 1) / 2;
  for (auto& v : variances) v = 0;
  egarch_t_paths(p, garch_expected_abs_z(spec.dist, p.nu), pairs, static_cast<int>(steps), true,
                 variances.data());
  double pow_b = 1;
  double sum_omega = 0;
  for (std::size_t k = 0; k < steps; ++k) {
    const double v = k == 0 ? next_variance
                            : std::exp(pow_b * log_h1 + sum_omega) * variances[k] / (2.0 * pairs);
    if (!std::isfinite(v) || !(v > 0)) return status::degenerate;
    variances[k] = v;
    sum_omega += pow_b * p.omega;
    pow_b *= p.beta;
  }
  return status::ok;
}

double garch_average_variance(const garch_spec& spec, const garch_params& p, double next_variance,
                              int steps) {
  if (steps < 1 || !garch_params_admissible(spec, p)) return nan_v;
  if (!std::isfinite(next_variance) || !(next_variance > 0)) return nan_v;
  if (spec.model != garch_model::egarch) {
    // Geometric sum of E[h_{n+k}] = hbar + pers^(k-1) (h_{n+1} - hbar), k = 1..steps.
    // Without stationarity (persistence >= 1) the same sum has no long-run level.
    const double pers = garch_persistence(spec, p);
    const double m = static_cast<double>(steps);
    if (pers == 1) return next_variance + p.omega * (m - 1) / 2;
    const double hbar = p.omega / (1 - pers);
    const double sum = m * hbar + (next_variance - hbar) * (1 - std::pow(pers, m)) / (1 - pers);
    return sum / m;
  }
  std::vector<double> path(static_cast<std::size_t>(steps));
  if (garch_forecast(spec, p, next_variance, path) != status::ok) return nan_v;
  double sum = 0;
  for (const double v : path) sum += v;
  return sum / steps;
}

garch_online::garch_online(const garch_spec& spec, const garch_params& p, double next_variance)
    : spec_(spec),
      params_(p),
      expected_abs_z_(garch_expected_abs_z(spec.dist, p.nu)),
      variance_(next_variance) {}

double garch_online::update(double r) noexcept {
  if (!std::isfinite(r)) {
    ++rejected_;
    return variance_;
  }
  variance_ = garch_next_variance(spec_, params_, expected_abs_z_, r, variance_);
  ++updates_;
  return variance_;
}

void garch_online::reset(const garch_params& p, double next_variance) noexcept {
  params_ = p;
  expected_abs_z_ = garch_expected_abs_z(spec_.dist, p.nu);
  variance_ = next_variance;
}

}  // namespace vrp::quant
