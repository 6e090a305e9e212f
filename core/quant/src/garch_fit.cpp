// Maximum-likelihood fit of the GARCH family (garch.hpp): analytic gradients through the
// variance recursion, SLSQP (Kraft 1988, via NLopt) on data standardized by its sample scale,
// several starts, and Hessian / Bollerslev–Wooldridge standard errors.

#include <nlopt.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "garch_special.hpp"
#include "vrp/quant/garch.hpp"

namespace vrp::quant {

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr double ln2 = 0.69314718055994530942;

// Positions in the full parameter vector; a spec frees a subset of them.
enum : int { i_mu = 0, i_omega, i_alpha, i_gamma, i_beta, i_nu, n_full };

// Stationarity margin kept by the optimizer, so that the returned point is strictly valid.
constexpr double persistence_max = 1 - 1e-7;
constexpr double egarch_beta_max = 1 - 1e-7;
constexpr double nu_min = 2.01;
constexpr double nu_max = 300;
// Variances of the standardized data outside this range mark a degenerate trial point.
constexpr double h_min = 1e-250;
constexpr double h_max = 1e250;
// Projected-gradient threshold (on the mean log-likelihood) accepting a roundoff-limited stop.
constexpr double kkt_tol = 1e-5;
// Hessian steps as fractions of each parameter's conditional standard error; egarch's mu gets a
// wide step to average over the kinks of |z_t| (see standard_errors).
constexpr double hessian_step_fraction = 0.01;
constexpr double hessian_step_fraction_kink = 0.5;

// Sum of logarithms as a mantissa in [1, 2) and a binary exponent, renormalised at every step:
// one log per evaluation instead of one per observation. Inputs must be normal, positive and
// below 2^1023.
struct log_sum {
  double mant = 1;
  std::int64_t exp2 = 0;
  void add(double x) {
    mant *= x;
    const auto b = std::bit_cast<std::uint64_t>(mant);
    exp2 += static_cast<std::int64_t>((b >> 52) & 0x7ff) - 1023;
    mant = std::bit_cast<double>((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  }
  double value() const { return std::log(mant) + static_cast<double>(exp2) * ln2; }
};

struct sample {
  const double* y = nullptr;
  int n = 0;
  double mean_y = 0;
  double mean_yy = 0;
};

// Log-likelihood of the (standardized) sample at the full parameter vector th and its gradient
// (grad, 6 entries). With Outer, also sum_t s_t s_t' of the per-observation scores (outer, 6x6,
// row-major). NaN when a variance leaves [h_min, h_max].
//
// Derivatives: garch/gjr dh_t/dtheta = x_t + beta dh_{t-1}/dtheta (Fiorentini, Calzolari &
// Panattoni 1996, eq. 7); egarch differentiates ln h_t the same way through z_{t-1}.
// The start h_1 depends on mu through s2 = mean (y - mu)^2, so ds2/dmu = -2 mean(y - mu).
template <garch_model M, garch_dist D, bool Outer>
double loglik_kernel(const sample& d, const double* th, double* grad, double* outer) {
  constexpr bool is_t = D == garch_dist::student_t;
  constexpr bool is_gjr = M == garch_model::gjr;
  const double* y = d.y;
  const int n = d.n;
  const double mu = th[i_mu];
  const double omega = th[i_omega];
  const double alpha = th[i_alpha];
  const double gamma = M == garch_model::garch ? 0.0 : th[i_gamma];
  const double beta = th[i_beta];
  const double nu = is_t ? th[i_nu] : 0.0;
  const double s2 = d.mean_yy - 2 * mu * d.mean_y + mu * mu;
  const double ds2_dmu = -2 * (d.mean_y - mu);
  if (!(s2 > 0)) return nan_v;

  double log_const = -0.5 * detail::garch_ln_2pi;
  double dconst_dnu = 0;
  double nu1 = 0;
  double inv_nu2 = 0;
  double ez = std::sqrt(2 / detail::garch_pi);
  double dez_dnu = 0;
  if constexpr (is_t) {
    if (!(nu > 2)) return nan_v;
    log_const = detail::student_t_log_const(nu);
    dconst_dnu = detail::student_t_log_const_dnu(nu);
    nu1 = nu + 1;
    inv_nu2 = 1 / (nu - 2);
    if constexpr (M == garch_model::egarch) {
      ez = detail::student_t_expected_abs(nu);
      dez_dnu = ez * detail::student_t_expected_abs_dlog_dnu(nu);
    }
  }

  double g[n_full] = {};
  double s[n_full] = {};
  double dv[n_full];  // dh_t (garch/gjr) or d ln h_t (egarch)
  log_sum sum_log_h;
  log_sum sum_log_q;            // t: sum ln(1 + q_t)
  double sum_z2 = 0;            // normal: sum eps^2 / h
  double sum_log_h_direct = 0;  // egarch keeps ln h itself

  auto accumulate = [&](double dl_dv, double dl_de, double dl_dnu) {
    for (int j = 0; j < n_full; ++j) s[j] = dl_dv * dv[j];
    s[i_mu] -= dl_de;
    s[i_nu] += dl_dnu;
    for (int j = 0; j < n_full; ++j) g[j] += s[j];
    if constexpr (Outer) {
      for (int a = 0; a < n_full; ++a) {
        for (int b = 0; b < n_full; ++b) outer[a * n_full + b] += s[a] * s[b];
      }
    }
  };

  if constexpr (M != garch_model::egarch) {
    const double p0 = alpha + 0.5 * gamma + beta;
    double h = omega + p0 * s2;
    dv[i_mu] = p0 * ds2_dmu;
    dv[i_omega] = 1;
    dv[i_alpha] = s2;
    dv[i_gamma] = is_gjr ? 0.5 * s2 : 0.0;
    dv[i_beta] = s2;
    dv[i_nu] = 0;
    for (int t = 0; t < n; ++t) {
      if (!(h > h_min) || !(h < h_max)) return nan_v;
      const double e = y[t] - mu;
      const double e2 = e * e;
      const double inv_h = 1 / h;
      sum_log_h.add(h);
      if constexpr (is_t) {
        const double q = e2 * inv_h * inv_nu2;
        if (!(q < h_max)) return nan_v;
        sum_log_q.add(1 + q);
        const double w = nu1 / (1 + q);
        // Standardized t score (Bollerslev 1987, eq. 2 differentiated); the -ln(1 + q) / 2 term
        // of the nu score is summed once at the end unless per-observation scores are wanted.
        const double lq_term = Outer ? -0.5 * std::log1p(q) : 0.0;
        accumulate(0.5 * (w * q - 1) * inv_h, -w * e * inv_h * inv_nu2,
                   dconst_dnu + lq_term + 0.5 * w * q * inv_nu2);
      } else {
        const double e2h = e2 * inv_h;
        sum_z2 += e2h;
        accumulate(0.5 * (e2h - 1) * inv_h, -e * inv_h, 0.0);
      }
      const bool neg = e < 0;
      const double a = (is_gjr && neg) ? alpha + gamma : alpha;
      dv[i_mu] = -2 * a * e + beta * dv[i_mu];
      dv[i_omega] = 1 + beta * dv[i_omega];
      dv[i_alpha] = e2 + beta * dv[i_alpha];
      if constexpr (is_gjr) dv[i_gamma] = (neg ? e2 : 0.0) + beta * dv[i_gamma];
      dv[i_beta] = h + beta * dv[i_beta];
      h = omega + a * e2 + beta * h;
    }
  } else {
    double log_h = std::log(s2);
    double h = s2;
    dv[i_mu] = ds2_dmu / s2;
    for (int j = 1; j < n_full; ++j) dv[j] = 0;
    for (int t = 0; t < n; ++t) {
      const double e = y[t] - mu;
      const double inv_sd = 1 / std::sqrt(h);
      const double z = e * inv_sd;
      const double z2 = z * z;
      sum_log_h_direct += log_h;
      if constexpr (is_t) {
        const double q = z2 * inv_nu2;
        if (!(q < h_max)) return nan_v;
        sum_log_q.add(1 + q);
        const double w = nu1 / (1 + q);
        const double lq_term = Outer ? -0.5 * std::log1p(q) : 0.0;
        accumulate(0.5 * (w * q - 1), -w * z * inv_sd * inv_nu2,
                   dconst_dnu + lq_term + 0.5 * w * q * inv_nu2);
      } else {
        sum_z2 += z2;
        accumulate(0.5 * (z2 - 1), -z * inv_sd, 0.0);
      }
      const double az = std::fabs(z);
      const double slope = alpha + (z > 0 ? gamma : (z < 0 ? -gamma : 0.0));
      // dz_t = d eps_t / sqrt(h_t) - z_t / 2 d ln h_t, with d eps / dmu = -1.
      for (int j = 0; j < n_full; ++j) dv[j] = (beta - 0.5 * slope * z) * dv[j];
      dv[i_mu] -= slope * inv_sd;
      dv[i_omega] += 1;
      dv[i_alpha] += z;
      dv[i_gamma] += az - ez;
      dv[i_beta] += log_h;
      dv[i_nu] -= gamma * dez_dnu;
      // Nelson (1991), eq. 2.1 (rugarch parameterisation).
      log_h = omega + alpha * z + gamma * (az - ez) + beta * log_h;
      if (!(std::fabs(log_h) < 575)) return nan_v;
      h = std::exp(log_h);
    }
  }

  double ll = n * log_const;
  if constexpr (M == garch_model::egarch) {
    ll -= 0.5 * sum_log_h_direct;
  } else {
    ll -= 0.5 * sum_log_h.value();
  }
  if constexpr (is_t) {
    ll -= 0.5 * nu1 * sum_log_q.value();
  } else {
    ll -= 0.5 * sum_z2;
  }
  if constexpr (is_t && !Outer) g[i_nu] -= 0.5 * sum_log_q.value();
  for (int j = 0; j < n_full; ++j) grad[j] = g[j];
  return std::isfinite(ll) ? ll : nan_v;
}

using kernel_fn = double (*)(const sample&, const double*, double*, double*);

template <bool Outer>
kernel_fn pick_kernel(const garch_spec& spec) {
  const bool t = spec.dist == garch_dist::student_t;
  switch (spec.model) {
    case garch_model::garch:
      return t ? &loglik_kernel<garch_model::garch, garch_dist::student_t, Outer>
               : &loglik_kernel<garch_model::garch, garch_dist::normal, Outer>;
    case garch_model::gjr:
      return t ? &loglik_kernel<garch_model::gjr, garch_dist::student_t, Outer>
               : &loglik_kernel<garch_model::gjr, garch_dist::normal, Outer>;
    case garch_model::egarch:
      return t ? &loglik_kernel<garch_model::egarch, garch_dist::student_t, Outer>
               : &loglik_kernel<garch_model::egarch, garch_dist::normal, Outer>;
  }
  return nullptr;
}

struct problem {
  garch_spec spec;
  sample data;
  kernel_fn kernel = nullptr;
  int k = 0;
  std::array<int, n_full> free_idx{};
  std::array<int, n_full> pos{};  // position of a full index in x, or -1
  std::array<double, n_full> theta{};
  std::array<double, n_full> grad_full{};
  std::array<double, n_full> lower{};
  std::array<double, n_full> upper{};
  double inv_n = 0;
  int evaluations = 0;

  void set_theta(const double* x) {
    for (int i = 0; i < k; ++i) theta[free_idx[i]] = x[i];
  }
  // Log-likelihood and its gradient over the free parameters (grad_x nullable).
  double loglik(const double* x, double* grad_x) {
    set_theta(x);
    const double ll = kernel(data, theta.data(), grad_full.data(), nullptr);
    if (grad_x != nullptr) {
      for (int i = 0; i < k; ++i) grad_x[i] = grad_full[free_idx[i]];
    }
    return ll;
  }
};

// NLopt objective: minus the mean log-likelihood (O(1) whatever the sample size).
double objective(unsigned k, const double* x, double* grad, void* data) {
  auto& p = *static_cast<problem*>(data);
  ++p.evaluations;
  p.set_theta(x);
  const double ll = p.kernel(p.data, p.theta.data(), p.grad_full.data(), nullptr);
  if (!std::isfinite(ll)) {
    if (grad != nullptr) std::fill(grad, grad + k, 0.0);
    return HUGE_VAL;
  }
  if (grad != nullptr) {
    for (unsigned i = 0; i < k; ++i) grad[i] = -p.grad_full[p.free_idx[i]] * p.inv_n;
  }
  return -ll * p.inv_n;
}

// alpha + gamma / 2 + beta <= persistence_max (gamma only for gjr).
double persistence_constraint(unsigned k, const double* x, double* grad, void* data) {
  const auto& p = *static_cast<const problem*>(data);
  const double g_weight = p.spec.model == garch_model::gjr ? 0.5 : 0.0;
  if (grad != nullptr) {
    std::fill(grad, grad + k, 0.0);
    grad[p.pos[i_alpha]] = 1;
    grad[p.pos[i_beta]] = 1;
    if (p.pos[i_gamma] >= 0) grad[p.pos[i_gamma]] = g_weight;
  }
  double v = x[p.pos[i_alpha]] + x[p.pos[i_beta]] - persistence_max;
  if (p.pos[i_gamma] >= 0) v += g_weight * x[p.pos[i_gamma]];
  return v;
}

// gjr: -(alpha + gamma) <= 0.
double gjr_sign_constraint(unsigned k, const double* x, double* grad, void* data) {
  const auto& p = *static_cast<const problem*>(data);
  if (grad != nullptr) {
    std::fill(grad, grad + k, 0.0);
    grad[p.pos[i_alpha]] = -1;
    grad[p.pos[i_gamma]] = -1;
  }
  return -(x[p.pos[i_alpha]] + x[p.pos[i_gamma]]);
}

// Scaling of the data: y = r / scale. Parameters map as mu = scale mu', garch/gjr omega =
// scale^2 omega', egarch omega = omega' + (1 - beta) ln scale^2; the others are unchanged.
garch_params to_original(const garch_spec& spec, const std::array<double, n_full>& th,
                         double scale) {
  garch_params p;
  p.mu = spec.mean == garch_mean::constant ? th[i_mu] * scale : 0.0;
  p.alpha = th[i_alpha];
  p.gamma = spec.model == garch_model::garch ? 0.0 : th[i_gamma];
  p.beta = th[i_beta];
  p.nu = spec.dist == garch_dist::student_t ? th[i_nu] : 0.0;
  p.omega = spec.model == garch_model::egarch ? th[i_omega] + (1 - th[i_beta]) * 2 * std::log(scale)
                                              : th[i_omega] * scale * scale;
  return p;
}

std::array<double, n_full> to_scaled(const garch_spec& spec, const garch_params& p, double scale) {
  std::array<double, n_full> th{};
  th[i_mu] = spec.mean == garch_mean::constant ? p.mu / scale : 0.0;
  th[i_alpha] = p.alpha;
  th[i_gamma] = spec.model == garch_model::garch ? 0.0 : p.gamma;
  th[i_beta] = p.beta;
  th[i_nu] = spec.dist == garch_dist::student_t ? p.nu : 0.0;
  th[i_omega] = spec.model == garch_model::egarch ? p.omega - (1 - p.beta) * 2 * std::log(scale)
                                                  : p.omega / (scale * scale);
  return th;
}

void set_bounds(problem& pr, double mean_y) {
  auto& lo = pr.lower;
  auto& hi = pr.upper;
  lo[i_mu] = mean_y - 5;
  hi[i_mu] = mean_y + 5;
  lo[i_nu] = nu_min;
  hi[i_nu] = nu_max;
  if (pr.spec.model == garch_model::egarch) {
    lo[i_omega] = -10;
    hi[i_omega] = 10;
    lo[i_alpha] = -3;
    hi[i_alpha] = 3;
    lo[i_gamma] = -3;
    hi[i_gamma] = 3;
    lo[i_beta] = -egarch_beta_max;
    hi[i_beta] = egarch_beta_max;
  } else {
    lo[i_omega] = 1e-10;
    hi[i_omega] = 50;
    lo[i_alpha] = 0;
    hi[i_alpha] = 1;
    lo[i_gamma] = -1;
    hi[i_gamma] = 2;
    lo[i_beta] = 0;
    hi[i_beta] = 1;
  }
}

// Clamps a scaled start into the feasible region (bounds and, for garch/gjr, the constraints).
void make_feasible(const problem& pr, std::array<double, n_full>& th) {
  for (int j = 0; j < n_full; ++j) {
    const double span = pr.upper[j] - pr.lower[j];
    th[j] = std::clamp(th[j], pr.lower[j] + 1e-6 * span, pr.upper[j] - 1e-6 * span);
  }
  if (pr.spec.model == garch_model::egarch) return;
  if (pr.spec.model == garch_model::gjr && th[i_alpha] + th[i_gamma] < 0) {
    th[i_gamma] = -th[i_alpha];
  }
  const double g_weight = pr.spec.model == garch_model::gjr ? 0.5 : 0.0;
  const double pers = th[i_alpha] + g_weight * th[i_gamma] + th[i_beta];
  const double target = 0.999;
  if (pers > target) {
    const double shrink = target / pers;
    th[i_alpha] *= shrink;
    th[i_gamma] *= shrink;
    th[i_beta] *= shrink;
  }
}

// Deterministic starting points on the standardized data (unit sample variance).
std::array<double, n_full> start_point(const garch_spec& spec, int index, double mean_y,
                                       std::mt19937_64& rng) {
  std::array<double, n_full> th{};
  th[i_mu] = spec.mean == garch_mean::constant ? mean_y : 0.0;
  static constexpr std::array<double, 4> nu_starts = {8, 5, 12, 4};
  th[i_nu] = spec.dist == garch_dist::student_t ? nu_starts[index % 4] : 0.0;
  double a = 0;
  double g = 0;
  double b = 0;
  if (index < 4) {
    switch (spec.model) {
      case garch_model::garch: {
        static constexpr std::array<std::array<double, 2>, 4> tab = {
            {{0.05, 0.90}, {0.10, 0.80}, {0.15, 0.60}, {0.03, 0.96}}};
        a = tab[index][0];
        b = tab[index][1];
        break;
      }
      case garch_model::gjr: {
        static constexpr std::array<std::array<double, 3>, 4> tab = {
            {{0.03, 0.06, 0.90}, {0.05, 0.10, 0.80}, {0.10, 0.05, 0.60}, {0.02, 0.03, 0.95}}};
        a = tab[index][0];
        g = tab[index][1];
        b = tab[index][2];
        break;
      }
      case garch_model::egarch: {
        static constexpr std::array<std::array<double, 3>, 4> tab = {
            {{-0.03, 0.15, 0.95}, {-0.05, 0.25, 0.90}, {0.0, 0.30, 0.70}, {-0.02, 0.10, 0.98}}};
        a = tab[index][0];
        g = tab[index][1];
        b = tab[index][2];
        break;
      }
    }
  } else {
    std::uniform_real_distribution<double> u(0, 1);
    if (spec.model == garch_model::egarch) {
      a = -0.1 + 0.2 * u(rng);
      g = 0.05 + 0.4 * u(rng);
      b = 0.5 + 0.49 * u(rng);
    } else {
      a = 0.01 + 0.2 * u(rng);
      g = spec.model == garch_model::gjr ? 0.2 * u(rng) : 0.0;
      b = (0.98 - a - 0.5 * g) * (0.5 + 0.5 * u(rng));
    }
    if (spec.dist == garch_dist::student_t) th[i_nu] = 3 + 17 * u(rng);
  }
  th[i_alpha] = a;
  th[i_gamma] = g;
  th[i_beta] = b;
  // Variance targeting on the unit-variance data: omega = 1 - persistence (egarch: ln 1 = 0).
  th[i_omega] = spec.model == garch_model::egarch ? 0.0 : 1 - a - 0.5 * g - b;
  return th;
}

// Karush–Kuhn–Tucker check of a minimum of the mean negative log-likelihood under the bounds
// (general constraints near activity are trusted to the optimizer).
bool kkt_satisfied(problem& pr, const double* x) {
  std::array<double, n_full> g{};
  const double ll = pr.loglik(x, g.data());
  if (!std::isfinite(ll)) return false;
  for (int i = 0; i < pr.k; ++i) {
    const int j = pr.free_idx[i];
    const double df = -g[i] * pr.inv_n;  // derivative of the minimised function
    const double span = pr.upper[j] - pr.lower[j];
    const bool at_lo = x[i] - pr.lower[j] < 1e-9 * span;
    const bool at_hi = pr.upper[j] - x[i] < 1e-9 * span;
    if (at_lo && df >= -kkt_tol) continue;
    if (at_hi && df <= kkt_tol) continue;
    if (std::fabs(df) <= kkt_tol) continue;
    return false;
  }
  return true;
}

// Standard errors at the scaled optimum x, mapped to the original units by the (affine)
// reparameterisation's Jacobian.
void standard_errors(problem& pr, const garch_spec& spec, const double* x, double scale,
                     garch_fit_result& out) {
  const int k = pr.k;
  // Sum of outer products of the per-observation scores (Bollerslev & Wooldridge 1992, eq. 2.8).
  std::array<double, n_full * n_full> outer{};
  std::array<double, n_full> gfull{};
  pr.set_theta(x);
  const double ll = pick_kernel<true>(spec)(pr.data, pr.theta.data(), gfull.data(), outer.data());
  if (!std::isfinite(ll)) return;
  Eigen::MatrixXd opg(k, k);
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) opg(i, j) = outer[pr.free_idx[i] * n_full + pr.free_idx[j]];
  }

  // Central differences of the analytic gradient, steps scaled by the conditional standard
  // errors 1 / sqrt(score variance). The egarch likelihood has kinks in mu (|z_t| at eps_t = 0)
  // and with many returns its maximum typically sits on one, where a small step would measure
  // the jump of the gradient instead of the curvature: mu gets half a standard error there.
  Eigen::MatrixXd hess(k, k);
  std::array<double, n_full> xp{};
  std::array<double, n_full> gp{};
  std::array<double, n_full> gm{};
  for (int i = 0; i < k; ++i) xp[i] = x[i];
  for (int j = 0; j < k; ++j) {
    const int fj = pr.free_idx[j];
    const bool kinked = spec.model == garch_model::egarch && fj == i_mu;
    double step = (kinked ? hessian_step_fraction_kink : hessian_step_fraction) /
                  std::sqrt(std::max(opg(j, j), 1e-300));
    step = std::min(step, 0.1 * std::max(std::fabs(x[j]), 1e-3));
    if (fj == i_omega && spec.model != garch_model::egarch) step = std::min(step, 0.5 * x[j]);
    if (fj == i_nu) step = std::min(step, 0.5 * (x[j] - 2));
    bool ok = false;
    for (int attempt = 0; attempt < 8 && !ok; ++attempt, step *= 0.25) {
      xp[j] = x[j] + step;
      const double lp = pr.loglik(xp.data(), gp.data());
      xp[j] = x[j] - step;
      const double lm = pr.loglik(xp.data(), gm.data());
      xp[j] = x[j];
      ok = std::isfinite(lp) && std::isfinite(lm);
      if (ok) {
        for (int i = 0; i < k; ++i) hess(i, j) = (gp[i] - gm[i]) / (2 * step);
      }
    }
    if (!ok) return;
  }
  const Eigen::MatrixXd info = -0.5 * (hess + hess.transpose());
  Eigen::LLT<Eigen::MatrixXd> llt(info);
  if (llt.info() != Eigen::Success) return;
  const Eigen::MatrixXd cov = llt.solve(Eigen::MatrixXd::Identity(k, k));

  const Eigen::MatrixXd robust = cov * opg * cov;

  // Jacobian of the original parameters with respect to the scaled ones.
  Eigen::MatrixXd jac = Eigen::MatrixXd::Identity(k, k);
  if (pr.pos[i_mu] >= 0) jac(pr.pos[i_mu], pr.pos[i_mu]) = scale;
  if (spec.model == garch_model::egarch) {
    jac(pr.pos[i_omega], pr.pos[i_beta]) = -2 * std::log(scale);
  } else {
    jac(pr.pos[i_omega], pr.pos[i_omega]) = scale * scale;
  }
  const Eigen::MatrixXd cov_o = jac * cov * jac.transpose();
  const Eigen::MatrixXd rob_o = jac * robust * jac.transpose();
  std::array<double, n_full> se_h{};
  std::array<double, n_full> se_r{};
  for (int i = 0; i < k; ++i) {
    const double vh = cov_o(i, i);
    const double vr = rob_o(i, i);
    if (!(vh > 0) || !(vr > 0) || !std::isfinite(vh) || !std::isfinite(vr)) return;
    se_h[pr.free_idx[i]] = std::sqrt(vh);
    se_r[pr.free_idx[i]] = std::sqrt(vr);
  }
  auto fill = [](garch_params& p, const std::array<double, n_full>& v) {
    p.mu = v[i_mu];
    p.omega = v[i_omega];
    p.alpha = v[i_alpha];
    p.gamma = v[i_gamma];
    p.beta = v[i_beta];
    p.nu = v[i_nu];
  };
  fill(out.se_hessian, se_h);
  fill(out.se_robust, se_r);
  out.std_errors_valid = true;
}

}  // namespace

garch_fit_result garch_fit(const garch_spec& spec, std::span<const double> returns,
                           const garch_fit_options& options) {
  garch_fit_result res;
  const int n = static_cast<int>(returns.size());
  for (const double r : returns) {
    if (!std::isfinite(r)) {
      res.code = status::invalid_input;
      return res;
    }
  }
  if (n < garch_fit_min_points) {
    res.code = status::insufficient_data;
    return res;
  }
  double mean_r = 0;
  for (const double r : returns) mean_r += r;
  mean_r /= n;
  const double centre = spec.mean == garch_mean::constant ? mean_r : 0.0;
  double var_r = 0;
  for (const double r : returns) var_r += (r - centre) * (r - centre);
  var_r /= n;
  const double scale = std::sqrt(var_r);
  // A constant series (exactly, or up to the rounding of its mean) has nothing to fit.
  double max_abs = 0;
  bool constant = true;
  for (const double r : returns) {
    max_abs = std::max(max_abs, std::fabs(r));
    constant = constant && r == returns[0];
  }
  if (constant || !(scale > 1e-10 * max_abs) || !std::isfinite(scale)) {
    res.code = status::insufficient_data;
    return res;
  }

  // The one workspace: the standardized sample, reused for the final filter's variances.
  std::vector<double> work(returns.begin(), returns.end());
  double sum_y = 0;
  double sum_yy = 0;
  for (double& v : work) {
    v /= scale;
    sum_y += v;
    sum_yy += v * v;
  }

  problem pr;
  pr.spec = spec;
  pr.data = {work.data(), n, sum_y / n, sum_yy / n};
  pr.kernel = pick_kernel<false>(spec);
  pr.inv_n = 1.0 / n;
  pr.pos.fill(-1);
  auto add_free = [&](int j) {
    pr.pos[j] = pr.k;
    pr.free_idx[pr.k++] = j;
  };
  if (spec.mean == garch_mean::constant) add_free(i_mu);
  add_free(i_omega);
  add_free(i_alpha);
  if (spec.model != garch_model::garch) add_free(i_gamma);
  add_free(i_beta);
  if (spec.dist == garch_dist::student_t) add_free(i_nu);
  set_bounds(pr, pr.data.mean_y);
  const int k = pr.k;

  std::array<double, n_full> lb{};
  std::array<double, n_full> ub{};
  for (int i = 0; i < k; ++i) {
    lb[i] = pr.lower[pr.free_idx[i]];
    ub[i] = pr.upper[pr.free_idx[i]];
  }
  nlopt_opt opt = nlopt_create(NLOPT_LD_SLSQP, static_cast<unsigned>(k));
  if (opt == nullptr) {
    res.code = status::degenerate;
    return res;
  }
  nlopt_set_lower_bounds(opt, lb.data());
  nlopt_set_upper_bounds(opt, ub.data());
  nlopt_set_min_objective(opt, &objective, &pr);
  if (spec.model != garch_model::egarch && options.stationary) {
    nlopt_add_inequality_constraint(opt, &persistence_constraint, &pr, 1e-12);
  }
  if (spec.model == garch_model::gjr) {
    nlopt_add_inequality_constraint(opt, &gjr_sign_constraint, &pr, 1e-12);
  }
  nlopt_set_ftol_rel(opt, options.rel_tol);
  nlopt_set_xtol_rel(opt, options.rel_tol);
  nlopt_set_maxeval(opt, std::max(options.max_evaluations, 1));

  std::mt19937_64 rng(0x6a09e667f3bcc908ULL);
  const auto in_domain = [&](const garch_params& q) {
    return options.stationary ? garch_params_valid(spec, q) : garch_params_admissible(spec, q);
  };
  const bool warm = options.warm_start != nullptr && in_domain(*options.warm_start);
  const int n_starts = std::max(std::max(options.starts, 0) + (warm ? 1 : 0), 1);
  double best_f = HUGE_VAL;
  bool best_converged = false;
  std::array<double, n_full> best_x{};
  std::array<double, n_full> x{};
  for (int s = 0; s < n_starts; ++s) {
    std::array<double, n_full> th =
        (warm && s == 0) ? to_scaled(spec, *options.warm_start, scale)
                         : start_point(spec, s - (warm ? 1 : 0), pr.data.mean_y, rng);
    make_feasible(pr, th);
    for (int i = 0; i < k; ++i) x[i] = th[pr.free_idx[i]];
    double f = HUGE_VAL;
    const nlopt_result r = nlopt_optimize(opt, x.data(), &f);
    if (!std::isfinite(f)) continue;
    bool converged = r == NLOPT_SUCCESS || r == NLOPT_FTOL_REACHED || r == NLOPT_XTOL_REACHED;
    if (!converged && r != NLOPT_MAXEVAL_REACHED && r != NLOPT_MAXTIME_REACHED) {
      converged = kkt_satisfied(pr, x.data());
    }
    if (f < best_f) {
      best_f = f;
      best_x = x;
      best_converged = converged;
    }
  }
  nlopt_destroy(opt);
  res.evaluations = pr.evaluations;
  if (!std::isfinite(best_f)) {
    res.code = status::degenerate;
    return res;
  }

  std::array<double, n_full> th{};
  for (int i = 0; i < k; ++i) th[pr.free_idx[i]] = best_x[i];
  garch_params p = to_original(spec, th, scale);
  if (spec.model == garch_model::gjr && p.alpha + p.gamma < 0) p.gamma = -p.alpha;
  if (!in_domain(p)) {
    res.code = status::degenerate;
    return res;
  }
  double ll = 0;
  double next_h = 0;
  if (garch_filter(spec, p, returns, work, &ll, &next_h) != status::ok) {
    res.code = status::degenerate;
    return res;
  }
  res.params = p;
  res.loglik = ll;
  res.next_variance = next_h;
  res.last_variance = work[static_cast<std::size_t>(n - 1)];
  res.converged = best_converged;
  res.code = best_converged ? status::ok : status::no_convergence;

  if (options.std_errors) {
    // The filter overwrote the workspace: rebuild the standardized sample.
    for (int t = 0; t < n; ++t) work[static_cast<std::size_t>(t)] = returns[t] / scale;
    standard_errors(pr, spec, best_x.data(), scale, res);
  }
  return res;
}

}  // namespace vrp::quant
