#pragma once

// GARCH-family conditional variance models of returns: GARCH(1,1), GJR-GARCH(1,1), EGARCH(1,1),
// with normal or standardized Student-t errors and a constant or zero mean. Maximum-likelihood
// fit, an O(1) online filter and h-step forecasts of the conditional and average variance.
//
// Units: returns are whatever the caller feeds (log returns, or percent log returns for the
// published DEM/GBP benchmark); variances are in the same units squared, per bar. Annualization
// (bars per year) is the caller's business.
//
// Models, with eps_t = r_t - mu and z_t = eps_t / sqrt(h_t):
//   garch  (Bollerslev 1986, eq. 5):        h_t = omega + alpha eps_{t-1}^2 + beta h_{t-1}
//   gjr    (Glosten, Jagannathan, Runkle 1993, eq. 5):
//                                           h_t = omega + (alpha + gamma 1[eps_{t-1} < 0])
//                                           eps_{t-1}^2
//                                                 + beta h_{t-1}
//   egarch (Nelson 1991, eq. 2.1, in rugarch's parameterisation):
//                                           ln h_t = omega + alpha z_{t-1}
//                                                    + gamma (|z_{t-1}| - E|z|) + beta ln h_{t-1}
//     so alpha is the sign (leverage) effect and gamma the size effect, as in rugarch.
//
// Start of the recursion (the convention of the published benchmark, Fiorentini, Calzolari and
// Panattoni 1996): s2 = mean(eps_t^2) over the sample and eps_0^2 = h_0 = s2, so
//   garch: h_1 = omega + (alpha + beta) s2;  gjr: h_1 = omega + (alpha + gamma / 2 + beta) s2;
//   egarch: h_1 = s2.

#include <cstdint>
#include <span>
#include <string_view>

#include "vrp/quant/status.hpp"

namespace vrp::quant {

enum class garch_model : std::uint8_t { garch, gjr, egarch };
enum class garch_dist : std::uint8_t { normal, student_t };
enum class garch_mean : std::uint8_t { constant, zero };

struct garch_spec {
  garch_model model = garch_model::garch;
  garch_dist dist = garch_dist::normal;
  garch_mean mean = garch_mean::constant;
};

// Unused parameters are 0: gamma for garch, nu for normal errors, mu for a zero mean.
struct garch_params {
  double mu = 0;
  double omega = 0;
  double alpha = 0;
  double gamma = 0;
  double beta = 0;
  double nu = 0;  // Student-t degrees of freedom (> 2)
};

// Names for parsing and printing ("garch", "gjr", "egarch"; "normal", "t"; "constant", "zero").
const char* to_string(garch_model m);
const char* to_string(garch_dist d);
const char* to_string(garch_mean m);
bool parse_garch_model(std::string_view s, garch_model& out);
bool parse_garch_dist(std::string_view s, garch_dist& out);
bool parse_garch_mean(std::string_view s, garch_mean& out);

// Number of free parameters of the spec (mu? omega alpha gamma? beta nu?).
int garch_parameter_count(const garch_spec& spec);

// True when the parameters are finite and inside the constraints the fit enforces:
// garch/gjr: omega > 0, alpha >= 0, beta >= 0 (gjr: alpha + gamma >= 0) and persistence < 1;
// egarch: |beta| < 1; t: nu > 2. Unused parameters must be 0.
bool garch_params_valid(const garch_spec& spec, const garch_params& p);

// garch_params_valid without the stationarity condition (persistence < 1 for garch/gjr): the
// domain of fits with garch_fit_options::stationary = false. Filtering and forecasting accept
// such parameters (the forecast then grows without bound); the unconditional variance does not
// exist for them.
bool garch_params_admissible(const garch_spec& spec, const garch_params& p);

// Persistence: garch alpha + beta; gjr alpha + gamma / 2 + beta (symmetric errors); egarch beta.
double garch_persistence(const garch_spec& spec, const garch_params& p);

// Unconditional variance: garch/gjr omega / (1 - persistence); egarch the stationary mean of h
// (normal errors: Nelson 1991, Theorem 2.1, product form, evaluated to convergence; Student-t:
// the long-horizon limit of the fixed-seed simulation of garch_forecast, since E[exp(c|z|)] is
// infinite for t errors and the population mean does not exist).
// Returns NaN for parameters that are not valid (check garch_params_valid first).
double garch_unconditional_variance(const garch_spec& spec, const garch_params& p);

// E|z| of the standardized error: sqrt(2 / pi) for normal; for standardized t with nu dof,
// 2 sqrt(nu - 2) Gamma((nu + 1) / 2) / ((nu - 1) Gamma(nu / 2) sqrt(pi)).
double garch_expected_abs_z(garch_dist dist, double nu);

// Log density of one observation eps given its variance h (normal or standardized t with
// params.nu), including the -0.5 ln(2 pi) / t-constant terms.
double garch_log_density(garch_dist dist, double nu, double eps, double variance);

// One step of the variance recursion: the variance of the next return given the current
// return r_t and its variance h_t. `expected_abs_z` is garch_expected_abs_z(spec.dist, p.nu)
// (only used by egarch; pass it in so the step does no special-function work). The batch
// filter and the online state both call this, so they agree to the last bit.
inline double garch_next_variance(const garch_spec& spec, const garch_params& p,
                                  double expected_abs_z, double r, double variance);

// Filters the sample: variances[t] = h_t for t = 0..n-1 (start as in the header comment) and
// returns the log-likelihood through `loglik` (nullable). `variances` may be empty (only the
// likelihood is wanted) or have returns.size() elements. Also writes h_{n} (the variance of
// the next, unseen return) to `next_variance` (nullable).
// Status: invalid_input (size mismatch, non-finite return, parameters not admissible),
// insufficient_data (empty sample), degenerate (a variance underflows to <= 0 or overflows).
status garch_filter(const garch_spec& spec, const garch_params& p, std::span<const double> returns,
                    std::span<double> variances, double* loglik, double* next_variance);

struct garch_fit_options {
  int max_evaluations = 4000;  // per start
  double rel_tol = 1e-12;      // relative tolerance on the parameters and the likelihood
  int starts = 3;              // starting points tried (the best likelihood wins)
  bool std_errors = true;      // Hessian and sandwich standard errors
  // Constrain garch/gjr persistence below 1 (covariance stationarity; the forecasts need it).
  // false maximizes over garch_params_admissible instead, which is the problem R's fGarch and
  // most packages solve (they bound alpha and beta in [0, 1) separately), for comparisons.
  bool stationary = true;
  // Warm start (e.g. the previous window's estimate): tried first when valid.
  const garch_params* warm_start = nullptr;
};

struct garch_fit_result {
  status code = status::ok;  // invalid_input, insufficient_data, degenerate, no_convergence
  garch_params params;
  double loglik = 0;
  garch_params se_hessian;        // from the inverse of the numerical Hessian of the log-likelihood
  garch_params se_robust;         // Bollerslev–Wooldridge (1992) sandwich H^-1 (G'G) H^-1
  bool std_errors_valid = false;  // false when the Hessian is not negative definite
  bool converged = false;         // the optimizer stopped on its tolerance, not the budget
  int evaluations = 0;            // likelihood evaluations, all starts
  double next_variance = 0;       // h_{n}: the variance of the next return under the fit
  double last_variance = 0;       // h_{n-1}: the variance of the last return in the sample
};

// Maximum-likelihood fit on `returns`. Requires at least garch_fit_min_points finite returns
// with positive sample variance. Status: invalid_input (non-finite return), insufficient_data
// (too few points, or a constant series), no_convergence (budget hit; params are the best valid
// point found, still usable), degenerate (no valid point with a finite likelihood).
// Never returns NaN parameters or a NaN likelihood with status ok.
inline constexpr int garch_fit_min_points = 50;
garch_fit_result garch_fit(const garch_spec& spec, std::span<const double> returns,
                           const garch_fit_options& options = {});

// Conditional variance forecasts for steps 1..variances.size() after the sample, given
// next_variance = h_{n} (step 1). garch/gjr: analytic, h_{k+1} = omega + persistence h_k.
// egarch-normal: analytic (Nelson 1991, E[exp(a z + b |z|)] in closed form);
// egarch-t: Monte Carlo with a fixed seed (`egarch_paths` paths, antithetic), since E[exp(b|z|)]
// is infinite for t errors; the result is the mean over the simulated paths, deterministic for a
// given input.
// Status: invalid_input (parameters not admissible, next_variance not finite and > 0).
inline constexpr int garch_egarch_default_paths = 20000;
status garch_forecast(const garch_spec& spec, const garch_params& p, double next_variance,
                      std::span<double> variances, int egarch_paths = garch_egarch_default_paths);

// Average conditional variance over steps 1..steps: (1/steps) sum_k E[h_{n+k-1}]. garch/gjr in
// closed form (geometric sum), O(1); egarch through garch_forecast.
// Returns NaN when the inputs are not valid or steps < 1.
double garch_average_variance(const garch_spec& spec, const garch_params& p, double next_variance,
                              int steps);

// Online state: absorbs one return in O(1), allocation-free. Holds h for the next return.
class garch_online {
 public:
  garch_online() = default;
  // `next_variance` = the variance of the next return (e.g. garch_fit_result::next_variance).
  garch_online(const garch_spec& spec, const garch_params& p, double next_variance);

  // Absorbs return r (the return whose variance was next_variance()); returns the new
  // next_variance(). Non-finite r is ignored (state unchanged) and counted.
  double update(double r) noexcept;

  double next_variance() const noexcept { return variance_; }
  const garch_params& params() const noexcept { return params_; }
  const garch_spec& spec() const noexcept { return spec_; }
  std::uint64_t updates() const noexcept { return updates_; }
  std::uint64_t rejected() const noexcept { return rejected_; }

  // Replaces the parameters and the current variance (e.g. after a re-estimation).
  void reset(const garch_params& p, double next_variance) noexcept;

 private:
  garch_spec spec_;
  garch_params params_;
  double expected_abs_z_ = 0;
  double variance_ = 0;
  std::uint64_t updates_ = 0;
  std::uint64_t rejected_ = 0;
};

// ---- inline definitions ----

inline double garch_next_variance(const garch_spec& spec, const garch_params& p,
                                  double expected_abs_z, double r, double variance) {
  const double eps = r - p.mu;
  switch (spec.model) {
    case garch_model::garch:
      return p.omega + p.alpha * eps * eps + p.beta * variance;
    case garch_model::gjr: {
      const double a = eps < 0 ? p.alpha + p.gamma : p.alpha;
      return p.omega + a * eps * eps + p.beta * variance;
    }
    case garch_model::egarch: {
      const double z = eps / __builtin_sqrt(variance);
      const double a = p.omega + p.alpha * z + p.gamma * (__builtin_fabs(z) - expected_abs_z) +
                       p.beta * __builtin_log(variance);
      return __builtin_exp(a);
    }
  }
  return variance;
}

}  // namespace vrp::quant
