// GARCH family: published DEM/GBP benchmarks (tests/data/refdata/cases.json, group
// garch_dem2gbp_benchmarks), parameter recovery on paths simulated here (a simulator independent
// of the library's filter), forecast and online-filter properties, and bad input.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "refdata.hpp"
#include "vrp/quant/garch.hpp"

namespace vrp::quant {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

std::vector<double> load_dem2gbp(const std::string& file) {
  std::ifstream in(vrp::test::test_data_path("refdata/" + file));
  EXPECT_TRUE(in.good()) << file;
  std::string line;
  std::getline(in, line);  // header t,r
  std::vector<double> r;
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    if (comma == std::string::npos) continue;
    r.push_back(std::stod(line.substr(comma + 1)));
  }
  return r;
}

const nlohmann::json& find_case(const nlohmann::json& group, const std::string& id) {
  for (const auto& c : group.at("cases")) {
    if (c.at("id") == id) return c;
  }
  ADD_FAILURE() << "case " << id << " missing";
  static const nlohmann::json empty;
  return empty;
}

// One case of garch_dem2gbp_benchmarks with its data series.
struct benchmark_case {
  nlohmann::json expected, tolerance;
  std::vector<double> returns;
  double params_rel = 0;
};

benchmark_case load_benchmark_case(const std::string& id) {
  const auto group = vrp::test::load_refdata_group("garch_dem2gbp_benchmarks");
  const auto& c = find_case(group, id);
  benchmark_case out{c.at("expected"), c.at("tolerance"),
                     load_dem2gbp(c.at("inputs").at("data_file")), 0};
  out.params_rel = out.tolerance.at("params_rel");
  return out;
}

void expect_rel(double got, double want, double rel, const char* what) {
  EXPECT_LE(std::fabs(got - want), rel * std::fabs(want))
      << what << ": got " << got << " want " << want;
}

// ---- published benchmarks ----

// Fiorentini, Calzolari & Panattoni (1996) GARCH(1,1)-normal on Bollerslev–Ghysels DEM/GBP:
// case fcp_garch11_normal, tolerances read from the json (params rel, mu abs, loglik abs, SE rel).
TEST(garch_dem2gbp_benchmarks, fcp_garch11_normal_matches_published_estimates) {
  const benchmark_case bc = load_benchmark_case("fcp_garch11_normal");
  const auto& r = bc.returns;
  ASSERT_EQ(r.size(), 1974u);
  const auto& e = bc.expected;
  const auto& tol = bc.tolerance;
  const double rel = bc.params_rel;

  const garch_spec spec{garch_model::garch, garch_dist::normal, garch_mean::constant};
  const auto fit = garch_fit(spec, r);
  ASSERT_EQ(fit.code, status::ok);
  EXPECT_TRUE(fit.converged);
  EXPECT_NEAR(fit.params.mu, e.at("mu").get<double>(), tol.at("mu_abs").get<double>());
  expect_rel(fit.params.omega, e.at("omega"), rel, "omega");
  expect_rel(fit.params.alpha, e.at("alpha"), rel, "alpha");
  expect_rel(fit.params.beta, e.at("beta"), rel, "beta");
  EXPECT_NEAR(fit.loglik, e.at("loglik").get<double>(), tol.at("loglik_abs").get<double>());
  EXPECT_EQ(fit.params.gamma, 0.0);
  EXPECT_EQ(fit.params.nu, 0.0);

  ASSERT_TRUE(fit.std_errors_valid);
  const auto& se = e.at("se_hessian");
  const double se_rel = tol.at("se_rel");
  expect_rel(fit.se_hessian.mu, se.at("mu"), se_rel, "se mu");
  expect_rel(fit.se_hessian.omega, se.at("omega"), se_rel, "se omega");
  expect_rel(fit.se_hessian.alpha, se.at("alpha"), se_rel, "se alpha");
  expect_rel(fit.se_hessian.beta, se.at("beta"), se_rel, "se beta");
  EXPECT_EQ(fit.se_hessian.gamma, 0.0);
  EXPECT_EQ(fit.se_hessian.nu, 0.0);
  // The sandwich is a different estimator: only its sanity is checked.
  EXPECT_GT(fit.se_robust.alpha, 0.0);
  EXPECT_EQ(fit.se_robust.gamma, 0.0);

  // The reported likelihood is the filter's on the original data.
  double ll = 0;
  ASSERT_EQ(garch_filter(spec, fit.params, r, {}, &ll, nullptr), status::ok);
  EXPECT_EQ(ll, fit.loglik);
}

// rugarch's EGARCH(1,1)-normal benchmark on the same data: case rugarch_egarch11_normal
// (rugarch order mu, omega, alpha1, beta1, gamma1; alpha = sign term, gamma = size term).
TEST(garch_dem2gbp_benchmarks, rugarch_egarch11_normal_matches_published_estimates) {
  const benchmark_case bc = load_benchmark_case("rugarch_egarch11_normal");
  const auto& r = bc.returns;
  const auto& e = bc.expected;
  const auto& tol = bc.tolerance;
  const double rel = bc.params_rel;

  const garch_spec spec{garch_model::egarch, garch_dist::normal, garch_mean::constant};
  const auto fit = garch_fit(spec, r);
  ASSERT_EQ(fit.code, status::ok);
  EXPECT_NEAR(fit.params.mu, e.at("mu").get<double>(), tol.at("mu_abs").get<double>());
  expect_rel(fit.params.omega, e.at("omega"), rel, "omega");
  expect_rel(fit.params.alpha, e.at("alpha"), rel, "alpha");
  expect_rel(fit.params.gamma, e.at("gamma"), rel, "gamma");
  expect_rel(fit.params.beta, e.at("beta"), rel, "beta");
  EXPECT_TRUE(fit.std_errors_valid);

  // The benchmark point is at most ~1e-3 below the maximum (json note): ours is at least as high.
  garch_params published;
  published.mu = e.at("mu");
  published.omega = e.at("omega");
  published.alpha = e.at("alpha");
  published.gamma = e.at("gamma");
  published.beta = e.at("beta");
  double ll_published = 0;
  ASSERT_EQ(garch_filter(spec, published, r, {}, &ll_published, nullptr), status::ok);
  EXPECT_GE(fit.loglik, ll_published - 1e-9);
  EXPECT_LT(fit.loglik - ll_published, 0.01);
}

// ---- simulation (independent of the library's recursion code) ----

struct sim_case {
  const char* name;
  garch_spec spec;
  garch_params p;
  std::uint64_t seed;
};

// E|z| written out here: sqrt(2/pi) or, for unit-variance t,
// 2 sqrt(nu-2) Gamma((nu+1)/2) / ((nu-1) Gamma(nu/2) sqrt(pi)) (Nelson 1991, p. 366).
double ref_expected_abs_z(const garch_spec& spec, double nu) {
  const double pi = 3.14159265358979323846;
  if (spec.dist == garch_dist::normal) return std::sqrt(2 / pi);
  return 2 * std::sqrt(nu - 2) * std::tgamma((nu + 1) / 2) /
         ((nu - 1) * std::tgamma(nu / 2) * std::sqrt(pi));
}

// Returns simulated from the model's definition after a burn-in (t errors as N / sqrt(chi2/nu),
// rescaled to unit variance).
std::vector<double> simulate(const sim_case& c, int n) {
  std::mt19937_64 rng(c.seed);
  std::normal_distribution<double> normal(0, 1);
  std::chi_squared_distribution<double> chi2(c.p.nu > 0 ? c.p.nu : 1);
  const bool is_t = c.spec.dist == garch_dist::student_t;
  const double ez = ref_expected_abs_z(c.spec, c.p.nu);
  auto draw = [&] {
    const double z = normal(rng);
    if (!is_t) return z;
    return z / std::sqrt(chi2(rng) / c.p.nu) * std::sqrt((c.p.nu - 2) / c.p.nu);
  };
  const int burn = 1000;
  std::vector<double> out;
  out.reserve(n);
  const auto& p = c.p;
  if (c.spec.model == garch_model::egarch) {
    double log_h = p.omega / (1 - p.beta);
    for (int t = 0; t < burn + n; ++t) {
      const double z = draw();
      if (t >= burn) out.push_back(p.mu + std::exp(0.5 * log_h) * z);
      log_h = p.omega + p.alpha * z + p.gamma * (std::fabs(z) - ez) + p.beta * log_h;
    }
  } else {
    const double gjr_weight = c.spec.model == garch_model::gjr ? 0.5 : 0.0;
    double h = p.omega / (1 - p.alpha - gjr_weight * p.gamma - p.beta);
    for (int t = 0; t < burn + n; ++t) {
      const double eps = std::sqrt(h) * draw();
      if (t >= burn) out.push_back(p.mu + eps);
      h = p.omega + (p.alpha + (eps < 0 ? p.gamma : 0.0)) * eps * eps + p.beta * h;
    }
  }
  return out;
}

garch_params make(double mu, double omega, double alpha, double gamma, double beta, double nu) {
  garch_params p;
  p.mu = mu;
  p.omega = omega;
  p.alpha = alpha;
  p.gamma = gamma;
  p.beta = beta;
  p.nu = nu;
  return p;
}

// Returns of about 1% per bar, persistence 0.97-0.98, t with 6 degrees of freedom.
std::vector<sim_case> sim_cases() {
  const garch_mean cm = garch_mean::constant;
  return {
      {"garch_normal",
       {garch_model::garch, garch_dist::normal, cm},
       make(2e-4, 2e-6, 0.08, 0, 0.90, 0),
       11},
      {"garch_t",
       {garch_model::garch, garch_dist::student_t, cm},
       make(2e-4, 2e-6, 0.08, 0, 0.90, 6),
       12},
      {"gjr_normal",
       {garch_model::gjr, garch_dist::normal, cm},
       make(-1e-4, 2e-6, 0.04, 0.08, 0.90, 0),
       13},
      {"gjr_t",
       {garch_model::gjr, garch_dist::student_t, cm},
       make(-1e-4, 2e-6, 0.04, 0.08, 0.90, 6),
       14},
      {"egarch_normal",
       {garch_model::egarch, garch_dist::normal, cm},
       make(1e-4, -0.46, -0.05, 0.20, 0.95, 0),
       15},
      {"egarch_t",
       {garch_model::egarch, garch_dist::student_t, cm},
       make(1e-4, -0.46, -0.05, 0.20, 0.95, 6),
       16},
  };
}

class garch_recovery : public ::testing::TestWithParam<sim_case> {};

// The fit on 5,000 simulated returns recovers every free parameter within 3 Hessian standard
// errors (a 3-sigma band: with 4-6 parameters per case the chance that a correct estimator fails
// one is a few percent per seed; the seeds are fixed).
TEST_P(garch_recovery, fit_recovers_simulated_parameters_within_three_standard_errors) {
  const auto& c = GetParam();
  const auto r = simulate(c, 5000);
  const auto fit = garch_fit(c.spec, r);
  ASSERT_EQ(fit.code, status::ok) << to_string(fit.code);
  ASSERT_TRUE(fit.std_errors_valid);
  ASSERT_TRUE(garch_params_valid(c.spec, fit.params));
  const auto& p = fit.params;
  const auto& se = fit.se_hessian;
  EXPECT_LE(std::fabs(p.mu - c.p.mu), 3 * se.mu) << "mu " << p.mu;
  EXPECT_LE(std::fabs(p.omega - c.p.omega), 3 * se.omega) << "omega " << p.omega;
  EXPECT_LE(std::fabs(p.alpha - c.p.alpha), 3 * se.alpha) << "alpha " << p.alpha;
  EXPECT_LE(std::fabs(p.beta - c.p.beta), 3 * se.beta) << "beta " << p.beta;
  if (c.spec.model != garch_model::garch) {
    EXPECT_LE(std::fabs(p.gamma - c.p.gamma), 3 * se.gamma) << "gamma " << p.gamma;
  } else {
    EXPECT_EQ(p.gamma, 0.0);
    EXPECT_EQ(se.gamma, 0.0);
  }
  if (c.spec.dist == garch_dist::student_t) {
    EXPECT_LE(std::fabs(p.nu - c.p.nu), 3 * se.nu) << "nu " << p.nu;
    EXPECT_GT(se.nu, 0.0);
  } else {
    EXPECT_EQ(p.nu, 0.0);
    EXPECT_EQ(se.nu, 0.0);
  }
  // Robust errors exist and are of the same order as the Hessian ones under a correct model.
  for (const double ratio : {fit.se_robust.alpha / se.alpha, fit.se_robust.beta / se.beta}) {
    EXPECT_GT(ratio, 0.5);
    EXPECT_LT(ratio, 2.0);
  }
  // The fit's likelihood is a maximum: the true parameters do not beat it.
  double ll_true = 0;
  ASSERT_EQ(garch_filter(c.spec, c.p, r, {}, &ll_true, nullptr), status::ok);
  EXPECT_GE(fit.loglik, ll_true);
  EXPECT_GT(fit.evaluations, 0);
  EXPECT_GT(fit.next_variance, 0.0);
  EXPECT_GT(fit.last_variance, 0.0);
}

INSTANTIATE_TEST_SUITE_P(garch_models, garch_recovery, ::testing::ValuesIn(sim_cases()),
                         [](const ::testing::TestParamInfo<sim_case>& param_info) {
                           return std::string(param_info.param.name);
                         });

// Starting from the previous estimate, the fit lands on the same maximum.
TEST(garch_fit_warm_start, warm_start_reaches_the_same_maximum) {
  const auto c = sim_cases()[3];  // gjr-t
  const auto r = simulate(c, 3000);
  const auto cold = garch_fit(c.spec, r);
  ASSERT_EQ(cold.code, status::ok);
  garch_fit_options opt;
  opt.warm_start = &cold.params;
  opt.starts = 0;
  const auto warm = garch_fit(c.spec, r, opt);
  ASSERT_EQ(warm.code, status::ok);
  EXPECT_NEAR(warm.loglik, cold.loglik, 1e-6 * std::fabs(cold.loglik));
  EXPECT_NEAR(warm.params.beta, cold.params.beta, 1e-4);
  EXPECT_LT(warm.evaluations, cold.evaluations);
}

// ---- forecasts ----

std::vector<sim_case> forecast_cases() {
  auto cases = sim_cases();
  const garch_mean zm = garch_mean::zero;
  cases.push_back({"garch_zero_mean",
                   {garch_model::garch, garch_dist::normal, zm},
                   make(0, 1e-6, 0.1, 0, 0.85, 0),
                   0});
  return cases;
}

// The h-step forecast tends to the unconditional variance (for egarch-t both come from the same
// fixed-seed paths, so the agreement is to rounding, not to Monte Carlo error).
TEST(garch_forecast_properties, forecast_converges_to_unconditional_variance) {
  for (const auto& c : forecast_cases()) {
    SCOPED_TRACE(c.name);
    const double uncond = garch_unconditional_variance(c.spec, c.p);
    ASSERT_TRUE(std::isfinite(uncond) && uncond > 0);
    const double pers = std::fabs(garch_persistence(c.spec, c.p));
    const int horizon = static_cast<int>(std::log(1e-13) / std::log(pers)) + 10;
    std::vector<double> f(static_cast<std::size_t>(horizon));
    for (const double start : {0.2 * uncond, 5 * uncond}) {
      ASSERT_EQ(garch_forecast(c.spec, c.p, start, f), status::ok);
      EXPECT_EQ(f[0], start);
      EXPECT_NEAR(f.back() / uncond, 1.0, 1e-8) << "horizon " << horizon;
      // Monotone approach from below / above for garch and gjr.
      if (c.spec.model != garch_model::egarch) {
        for (std::size_t k = 1; k < f.size(); ++k) {
          if (start < uncond) {
            ASSERT_GE(f[k], f[k - 1]);
          } else {
            ASSERT_LE(f[k], f[k - 1]);
          }
        }
      }
    }
  }
}

// garch/gjr unconditional variance is omega / (1 - persistence) (Bollerslev 1986, Theorem 1).
TEST(garch_forecast_properties, unconditional_variance_of_garch_and_gjr_is_closed_form) {
  const garch_spec g{garch_model::garch, garch_dist::normal, garch_mean::constant};
  EXPECT_NEAR(garch_unconditional_variance(g, make(0, 2e-6, 0.08, 0, 0.9, 0)), 1e-4, 1e-16);
  const garch_spec gjr{garch_model::gjr, garch_dist::student_t, garch_mean::constant};
  EXPECT_NEAR(garch_unconditional_variance(gjr, make(0, 2e-6, 0.04, 0.08, 0.9, 5)), 1e-4, 1e-16);
}

// The analytic egarch-normal forecast agrees with a brute-force simulation of the recursion
// written here (400,000 paths, 5 steps; 4 Monte Carlo standard errors, plus 1e-9 relative for the
// rounding of the 400,000-term sums).
TEST(garch_forecast_properties, egarch_normal_forecast_matches_simulation) {
  const garch_spec spec{garch_model::egarch, garch_dist::normal, garch_mean::constant};
  const auto p = make(0, -0.46, -0.05, 0.20, 0.95, 0);
  const double h1 = 2e-4;
  const int steps = 5;
  std::vector<double> f(steps);
  ASSERT_EQ(garch_forecast(spec, p, h1, f), status::ok);
  const int paths = 400000;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0, 1);
  const double ez = std::sqrt(2 / 3.14159265358979323846);
  std::vector<double> sum(steps, 0.0);
  std::vector<double> sum2(steps, 0.0);
  for (int i = 0; i < paths; ++i) {
    double log_h = std::log(h1);
    for (int k = 0; k < steps; ++k) {
      const double h = std::exp(log_h);
      sum[k] += h;
      sum2[k] += h * h;
      const double z = normal(rng);
      log_h = p.omega + p.alpha * z + p.gamma * (std::fabs(z) - ez) + p.beta * log_h;
    }
  }
  for (int k = 0; k < steps; ++k) {
    const double mean = sum[k] / paths;
    const double sd = std::sqrt(std::max(sum2[k] / paths - mean * mean, 0.0) / paths);
    EXPECT_NEAR(f[k], mean, 4 * sd + 1e-9 * mean) << "step " << k + 1;
  }
}

// garch_average_variance is the mean of garch_forecast's steps 1..steps.
TEST(garch_forecast_properties, average_variance_is_mean_of_forecast_steps) {
  for (const auto& c : forecast_cases()) {
    SCOPED_TRACE(c.name);
    const double uncond = garch_unconditional_variance(c.spec, c.p);
    for (const int steps : {1, 7, 60}) {
      std::vector<double> f(static_cast<std::size_t>(steps));
      const double h1 = 3 * uncond;
      ASSERT_EQ(garch_forecast(c.spec, c.p, h1, f), status::ok);
      double mean = 0;
      for (const double v : f) mean += v;
      mean /= steps;
      EXPECT_NEAR(garch_average_variance(c.spec, c.p, h1, steps), mean, 1e-12 * mean)
          << "steps " << steps;
    }
  }
}

// ---- online filter ----

// After absorbing the sample, the online state equals the batch filter's h_n bit for bit, and so
// does every intermediate variance.
TEST(garch_online_filter, online_state_equals_batch_filter_bit_for_bit) {
  for (const auto& c : sim_cases()) {
    SCOPED_TRACE(c.name);
    const auto r = simulate(c, 2000);
    std::vector<double> h(r.size());
    double ll = 0;
    double next = 0;
    ASSERT_EQ(garch_filter(c.spec, c.p, r, h, &ll, &next), status::ok);
    garch_online online(c.spec, c.p, h[0]);
    for (std::size_t t = 0; t < r.size(); ++t) {
      ASSERT_EQ(online.next_variance(), h[t]) << t;
      online.update(r[t]);
    }
    EXPECT_EQ(online.next_variance(), next);
    EXPECT_EQ(online.updates(), r.size());
    // A non-finite return is ignored and counted.
    EXPECT_EQ(online.update(nan_v), next);
    EXPECT_EQ(online.update(std::numeric_limits<double>::infinity()), next);
    EXPECT_EQ(online.rejected(), 2u);
    EXPECT_EQ(online.updates(), r.size());
    // reset replaces parameters and state.
    online.reset(c.p, h[0]);
    EXPECT_EQ(online.next_variance(), h[0]);
    EXPECT_EQ(online.update(r[0]), h[1]);
  }
}

// The filter's log-likelihood is the sum of garch_log_density over the filtered variances.
TEST(garch_filter_properties, loglik_is_sum_of_densities_over_filtered_variances) {
  for (const auto& c : sim_cases()) {
    SCOPED_TRACE(c.name);
    const auto r = simulate(c, 500);
    std::vector<double> h(r.size());
    double ll = 0;
    ASSERT_EQ(garch_filter(c.spec, c.p, r, h, &ll, nullptr), status::ok);
    double sum = 0;
    for (std::size_t t = 0; t < r.size(); ++t) {
      sum += garch_log_density(c.spec.dist, c.p.nu, r[t] - c.p.mu, h[t]);
    }
    EXPECT_NEAR(ll, sum, 1e-9 * std::fabs(sum));
    // Start convention (FCP 1996): eps_0^2 = h_0 = mean squared residual.
    double s2 = 0;
    for (const double x : r) s2 += (x - c.p.mu) * (x - c.p.mu);
    s2 /= static_cast<double>(r.size());
    const double pers_start = c.spec.model == garch_model::gjr
                                  ? c.p.alpha + 0.5 * c.p.gamma + c.p.beta
                                  : c.p.alpha + c.p.beta;
    const double h1 = c.spec.model == garch_model::egarch ? s2 : c.p.omega + pers_start * s2;
    EXPECT_NEAR(h[0], h1, 1e-12 * h1);
  }
}

// The standardized densities integrate to 1 with unit variance (trapezoid rule on [-60, 60]),
// and E|z| matches its integral.
TEST(garch_filter_properties, densities_are_normalized_with_unit_variance) {
  for (const double nu : {0.0, 3.5, 4.0, 8.0, 50.0}) {
    const garch_dist d = nu == 0 ? garch_dist::normal : garch_dist::student_t;
    SCOPED_TRACE(nu);
    const double dz = 1e-3;
    double mass = 0;
    double var = 0;
    double abs_mean = 0;
    for (double z = -60; z <= 60; z += dz) {
      const double f = std::exp(garch_log_density(d, nu, z, 1.0));
      mass += f * dz;
      var += z * z * f * dz;
      abs_mean += std::fabs(z) * f * dz;
    }
    EXPECT_NEAR(mass, 1.0, 1e-6);
    // nu = 3.5 has heavy tails: the truncated second moment is short of 1.
    if (nu == 0 || nu > 3.5) {
      EXPECT_NEAR(var, 1.0, 2e-3);
    }
    EXPECT_NEAR(garch_expected_abs_z(d, nu), abs_mean, 1e-4);
  }
}

// ---- names ----

TEST(garch_names, names_round_trip) {
  for (const auto m : {garch_model::garch, garch_model::gjr, garch_model::egarch}) {
    garch_model out{};
    ASSERT_TRUE(parse_garch_model(to_string(m), out));
    EXPECT_EQ(out, m);
  }
  for (const auto d : {garch_dist::normal, garch_dist::student_t}) {
    garch_dist out{};
    ASSERT_TRUE(parse_garch_dist(to_string(d), out));
    EXPECT_EQ(out, d);
  }
  for (const auto m : {garch_mean::constant, garch_mean::zero}) {
    garch_mean out{};
    ASSERT_TRUE(parse_garch_mean(to_string(m), out));
    EXPECT_EQ(out, m);
  }
  garch_model m{};
  EXPECT_FALSE(parse_garch_model("arch", m));
  EXPECT_EQ(garch_parameter_count({garch_model::garch, garch_dist::normal, garch_mean::constant}),
            4);
  EXPECT_EQ(garch_parameter_count({garch_model::egarch, garch_dist::student_t, garch_mean::zero}),
            5);
  EXPECT_EQ(garch_parameter_count({garch_model::gjr, garch_dist::student_t, garch_mean::constant}),
            6);
}

// ---- bad input ----

void expect_no_nan(const garch_fit_result& f) {
  for (const double v : {f.params.mu, f.params.omega, f.params.alpha, f.params.gamma, f.params.beta,
                         f.params.nu, f.loglik, f.next_variance, f.last_variance}) {
    EXPECT_FALSE(std::isnan(v));
  }
}

TEST(garch_bad_input, fit_reports_bad_samples_without_nan) {
  const garch_spec spec{garch_model::garch, garch_dist::student_t, garch_mean::constant};
  auto expect_code = [&](const std::vector<double>& r, status want, const garch_spec& s) {
    const auto f = garch_fit(s, r);
    EXPECT_EQ(f.code, want) << to_string(f.code);
    EXPECT_FALSE(f.converged);
    expect_no_nan(f);
  };
  expect_code({}, status::insufficient_data, spec);
  std::vector<double> few(garch_fit_min_points - 1, 0.01);
  for (std::size_t i = 0; i < few.size(); ++i) few[i] = (i % 2 ? 0.01 : -0.01);
  expect_code(few, status::insufficient_data, spec);
  expect_code(std::vector<double>(500, 0.003), status::insufficient_data, spec);
  expect_code(std::vector<double>(500, 0.0), status::insufficient_data,
              {garch_model::egarch, garch_dist::normal, garch_mean::zero});
  auto r = simulate(sim_cases()[0], 300);
  auto with_nan = r;
  with_nan[100] = nan_v;
  expect_code(with_nan, status::invalid_input, spec);
  auto with_inf = r;
  with_inf[5] = -std::numeric_limits<double>::infinity();
  expect_code(with_inf, status::invalid_input, spec);
  // A budget too small to converge still returns the best valid point, flagged.
  garch_fit_options tiny;
  tiny.max_evaluations = 3;
  tiny.starts = 1;
  const auto f = garch_fit(spec, r, tiny);
  EXPECT_EQ(f.code, status::no_convergence);
  EXPECT_FALSE(f.converged);
  EXPECT_TRUE(garch_params_valid(spec, f.params));
  expect_no_nan(f);
}

TEST(garch_bad_input, filter_rejects_bad_input_and_parameters) {
  const auto c = sim_cases()[0];
  const auto r = simulate(c, 200);
  std::vector<double> h(r.size());
  double ll = 123;
  double next = 456;
  EXPECT_EQ(garch_filter(c.spec, c.p, {}, {}, &ll, &next), status::insufficient_data);
  std::vector<double> short_h(r.size() - 1);
  EXPECT_EQ(garch_filter(c.spec, c.p, r, short_h, &ll, &next), status::invalid_input);
  auto bad_r = r;
  bad_r[3] = nan_v;
  EXPECT_EQ(garch_filter(c.spec, c.p, bad_r, h, &ll, &next), status::invalid_input);
  EXPECT_EQ(ll, 123);
  EXPECT_EQ(next, 456);

  const garch_spec g = c.spec;
  const garch_spec gjr{garch_model::gjr, garch_dist::normal, garch_mean::constant};
  const garch_spec eg{garch_model::egarch, garch_dist::student_t, garch_mean::zero};
  const garch_spec gt{garch_model::garch, garch_dist::student_t, garch_mean::constant};
  struct bad {
    garch_spec spec;
    garch_params p;
  };
  const std::vector<bad> bads = {
      {g, make(0, 0, 0.1, 0, 0.8, 0)},          // omega = 0
      {g, make(0, 1e-6, -0.01, 0, 0.8, 0)},     // alpha < 0
      {g, make(0, 1e-6, 0.1, 0.05, 0.8, 0)},    // gamma set for garch
      {g, make(0, 1e-6, 0.1, 0, 0.8, 5)},       // nu set for normal
      {g, make(nan_v, 1e-6, 0.1, 0, 0.8, 0)},   // NaN
      {gt, make(0, 1e-6, 0.1, 0, 0.8, 2)},      // nu = 2
      {gjr, make(0, 1e-6, 0.1, -0.2, 0.8, 0)},  // alpha + gamma < 0
      {eg, make(0, -0.4, 0, 0.1, 1.0, 6)},      // |beta| = 1
      {eg, make(1e-4, -0.4, 0, 0.1, 0.9, 6)},   // mu set for a zero mean
  };
  for (const auto& b : bads) {
    EXPECT_FALSE(garch_params_valid(b.spec, b.p));
    EXPECT_EQ(garch_filter(b.spec, b.p, r, h, &ll, &next), status::invalid_input);
    std::vector<double> f(10);
    EXPECT_EQ(garch_forecast(b.spec, b.p, 1e-4, f), status::invalid_input);
    EXPECT_TRUE(std::isnan(garch_unconditional_variance(b.spec, b.p)));
    EXPECT_TRUE(std::isnan(garch_average_variance(b.spec, b.p, 1e-4, 10)));
  }
  EXPECT_EQ(ll, 123);
}

// Persistence >= 1 is outside the stationary domain (no unconditional variance) but can still be
// filtered and forecast (the fit reaches it with stationary = false): E[h] grows by omega per
// step at persistence 1 and geometrically above it.
TEST(garch_bad_input, non_stationary_params_filter_and_forecast_without_a_long_run_level) {
  const auto c = sim_cases()[0];
  const auto r = simulate(c, 200);
  const garch_spec gjr{garch_model::gjr, garch_dist::normal, garch_mean::constant};
  const auto unit = make(0, 1e-6, 0.2, 0, 0.8, 0);      // garch, persistence = 1
  const auto above = make(0, 1e-6, 0.1, 0.2, 0.85, 0);  // gjr, persistence = 1.05
  for (const auto& [spec, p] : {std::pair{c.spec, unit}, std::pair{gjr, above}}) {
    EXPECT_FALSE(garch_params_valid(spec, p));
    EXPECT_TRUE(garch_params_admissible(spec, p));
    EXPECT_TRUE(std::isnan(garch_unconditional_variance(spec, p)));
    double next = 0;
    ASSERT_EQ(garch_filter(spec, p, r, {}, nullptr, &next), status::ok);
    std::vector<double> f(10);
    ASSERT_EQ(garch_forecast(spec, p, next, f), status::ok);
    const double pers = garch_persistence(spec, p);
    double h = next, sum = 0;
    for (int k = 0; k < 10; ++k) {
      EXPECT_NEAR(f[k], h, 1e-15 * h);
      sum += h;
      h = p.omega + pers * h;
    }
    EXPECT_NEAR(garch_average_variance(spec, p, next, 10), sum / 10, 1e-13 * sum);
  }
  garch_fit_options options;
  options.stationary = false;
  const garch_fit_result fit = garch_fit(c.spec, r, options);
  EXPECT_TRUE(fit.code == status::ok || fit.code == status::no_convergence);
  EXPECT_TRUE(garch_params_admissible(c.spec, fit.params));
}

TEST(garch_bad_input, forecast_rejects_bad_variance_and_steps) {
  const auto c = sim_cases()[4];  // egarch-normal
  std::vector<double> f(5);
  for (const double h : {0.0, -1e-4, nan_v, std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(garch_forecast(c.spec, c.p, h, f), status::invalid_input);
    EXPECT_TRUE(std::isnan(garch_average_variance(c.spec, c.p, h, 5)));
  }
  EXPECT_TRUE(std::isnan(garch_average_variance(c.spec, c.p, 1e-4, 0)));
  const auto ct = sim_cases()[5];  // egarch-t needs at least one antithetic pair
  EXPECT_EQ(garch_forecast(ct.spec, ct.p, 1e-4, f, 1), status::invalid_input);
  EXPECT_EQ(garch_forecast(ct.spec, ct.p, 1e-4, f, 2), status::ok);
  for (const double v : f) EXPECT_TRUE(std::isfinite(v) && v > 0);
  std::vector<double> none;
  EXPECT_EQ(garch_forecast(c.spec, c.p, 1e-4, none), status::ok);
}

}  // namespace
}  // namespace vrp::quant
