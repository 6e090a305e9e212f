// GARCH-family timings on real data: Bybit BTCUSDT hourly bars (tests/data/bybit), percent log
// returns with the one 24-hour gap dropped.
//   - MLE fit of GARCH(1,1)-t (constant mean, standard errors included, as fGarch computes its
//     Hessian too) on the last 2,000 and 17,520 returns;
//   - the online update (ns per new return) for each model;
//   - the 365-day term structure of average variance at the last bar (365 daily points from
//     8,760 hourly steps).
//
// scripts/bench_garch.sh runs this and R's fGarch on the same returns in one go and compares.
// With VRP_BENCH_EXPORT_DIR set, the returns and our estimates are written there first:
// returns_<n>.csv (one return per line), vrp_<n>.json (fGarch's problem: no stationarity
// constraint) and vrp_stationary_<n>.json (ours).
//
//   cmake --preset bench && cmake --build --preset bench --target bench_garch
//   build/bench/tests/bench/bench_garch

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "bybit_bars.hpp"
#include "vrp/quant/garch.hpp"

namespace {

using namespace vrp::quant;

const std::vector<double>& btc_percent_returns() {
  static const std::vector<double> r = vrp::test::bybit_hourly_returns("BTCUSDT", 100.0);
  return r;
}

std::span<const double> last(std::size_t n) {
  const auto& r = btc_percent_returns();
  return std::span<const double>(r).subspan(r.size() - n);
}

constexpr garch_spec garch_t{garch_model::garch, garch_dist::student_t, garch_mean::constant};

// range(1) = 1: our production problem (persistence < 1 enforced); 0: the problem fGarch solves
// (alpha and beta each in [0, 1)), for the side-by-side comparison.
void bm_garch_t_fit(benchmark::State& state) {
  const auto x = last(static_cast<std::size_t>(state.range(0)));
  garch_fit_options options;
  options.stationary = state.range(1) == 1;
  garch_fit_result fit;
  for (auto _ : state) {
    fit = garch_fit(garch_t, x, options);
    benchmark::DoNotOptimize(fit);
  }
  if (fit.code != status::ok) state.SkipWithError(std::string(to_string(fit.code)).c_str());
  state.counters["loglik"] = fit.loglik;
  state.counters["evaluations"] = fit.evaluations;
  state.counters["persistence"] = garch_persistence(garch_t, fit.params);
}
BENCHMARK(bm_garch_t_fit)
    ->ArgNames({"n", "stationary"})
    ->ArgsProduct({{2000, 17520}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

garch_spec spec_of(int model) {
  return {static_cast<garch_model>(model), garch_dist::student_t, garch_mean::constant};
}

void bm_online_update(benchmark::State& state) {
  const garch_spec spec = spec_of(static_cast<int>(state.range(0)));
  const auto x = last(2000);
  const garch_fit_result fit = garch_fit(spec, x);
  if (fit.code != status::ok && fit.code != status::no_convergence) {
    state.SkipWithError("fit failed");
    return;
  }
  garch_online online(spec, fit.params, fit.next_variance);
  const auto all = btc_percent_returns();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(online.update(all[i]));
    i = i + 1 == all.size() ? 0 : i + 1;
  }
  state.SetLabel(to_string(spec.model));
}
BENCHMARK(bm_online_update)->DenseRange(0, 2)->Unit(benchmark::kNanosecond);

// 365 daily points of average variance over [now, now + d days] from 8,760 hourly steps.
void bm_term_structure_365d(benchmark::State& state) {
  const garch_spec spec{static_cast<garch_model>(state.range(0)), garch_dist::normal,
                        garch_mean::constant};
  const garch_fit_result fit = garch_fit(spec, last(2000));
  if (fit.code != status::ok && fit.code != status::no_convergence) {
    state.SkipWithError("fit failed");
    return;
  }
  std::vector<double> steps(365 * 24);
  std::vector<double> term(365);
  for (auto _ : state) {
    garch_forecast(spec, fit.params, fit.next_variance, steps);
    double sum = 0;
    for (std::size_t k = 0; k < steps.size(); ++k) {
      sum += steps[k];
      if ((k + 1) % 24 == 0) term[k / 24] = sum / static_cast<double>(k + 1);
    }
    benchmark::DoNotOptimize(term.data());
  }
  state.SetLabel(to_string(spec.model));
}
BENCHMARK(bm_term_structure_365d)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

void export_for_comparison(const std::string& dir) {
  for (const std::size_t n : {std::size_t{2000}, std::size_t{17520}}) {
    const auto x = last(n);
    std::ofstream r(dir + "/returns_" + std::to_string(n) + ".csv");
    char buf[40];
    for (double v : x) {
      std::snprintf(buf, sizeof buf, "%.17g\n", v);
      r << buf;
    }
    for (const bool stationary : {false, true}) {
      garch_fit_options options;
      options.stationary = stationary;
      const garch_fit_result f = garch_fit(garch_t, x, options);
      std::ofstream j(dir + (stationary ? "/vrp_stationary_" : "/vrp_") + std::to_string(n) +
                      ".json");
      j.precision(17);
      j << "{\"status\":\"" << to_string(f.code) << "\",\"mu\":" << f.params.mu
        << ",\"omega\":" << f.params.omega << ",\"alpha\":" << f.params.alpha
        << ",\"beta\":" << f.params.beta << ",\"nu\":" << f.params.nu << ",\"loglik\":" << f.loglik
        << ",\"evaluations\":" << f.evaluations << "}\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* dir = std::getenv("VRP_BENCH_EXPORT_DIR")) export_for_comparison(dir);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
