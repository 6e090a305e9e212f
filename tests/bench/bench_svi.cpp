// SVI slice fit timings on a real Deribit expiry (BTC-28NOV25 of the 2025-10-24 chain: 40 OTM
// marks, vega-weighted as in the engine), cold and warm, plus the arbitrage check and the
// delta-bucket lookup on the fitted surface.
//
//   cmake -S . -B build/bench -G Ninja -DVRP_BUILD_BENCH=ON -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/bench --target bench_svi && build/bench/tests/bench/bench_svi

#include <benchmark/benchmark.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "deribit_chain.hpp"
#include "vrp/core/time.hpp"
#include "vrp/quant/black.hpp"
#include "vrp/quant/surface.hpp"
#include "vrp/quant/svi.hpp"

namespace {

using namespace vrp::quant;

struct slice {
  double t_years = 0, forward = 0;
  std::vector<double> strikes, ivs, weights;
};

// All expiries of the BTC chain, OTM marks, forward = underlying_price, t from the row stamps.
std::vector<slice> load_slices() {
  const auto rows = vrp::test::load_deribit_chain(
      vrp::test::test_data_path("deribit/deribit_btc_chain_2025-10-24T2315Z.csv"));
  std::vector<slice> out;
  for (const auto& [expiry_ms, rs] : vrp::test::by_expiry(rows)) {
    slice s;
    s.forward = rs.front().underlying_price;
    s.t_years = vrp::core::years_between_ms(rs.front().timestamp_ms, expiry_ms);
    for (const auto& r : rs) {
      const bool otm = r.is_call ? r.strike >= s.forward : r.strike < s.forward;
      if (!otm || r.mark_iv_pct <= 0.0) continue;
      s.strikes.push_back(r.strike);
      s.ivs.push_back(r.mark_iv_pct / 100.0);
      s.weights.push_back(
          black76_greeks(s.forward, r.strike, s.t_years, s.ivs.back(), option_type::call).vega);
    }
    out.push_back(std::move(s));
  }
  return out;
}

const slice& forty_strike_slice() {
  static const std::vector<slice> all = load_slices();
  for (const auto& s : all) {
    if (s.strikes.size() == 40) return s;  // BTC-28NOV25
  }
  throw std::runtime_error("no 40-strike expiry");
}

void bm_svi_fit_cold(benchmark::State& state) {
  const slice& s = forty_strike_slice();
  for (auto _ : state) {
    svi_fit_result r = svi_fit(s.t_years, s.forward, s.strikes, s.ivs, s.weights);
    benchmark::DoNotOptimize(r);
  }
  state.counters["strikes"] = static_cast<double>(s.strikes.size());
}
BENCHMARK(bm_svi_fit_cold)->Unit(benchmark::kMicrosecond);

// Warm: the previous fit of the same expiry, on marks that moved (every IV +0.5 vol point and a
// 1 % tilt across the smile), as between two engine refits.
void bm_svi_fit_warm(benchmark::State& state) {
  const slice& s = forty_strike_slice();
  const svi_fit_result prev = svi_fit(s.t_years, s.forward, s.strikes, s.ivs, s.weights);
  std::vector<double> moved = s.ivs;
  for (std::size_t i = 0; i < moved.size(); ++i) {
    moved[i] += 0.005 + 0.01 * std::log(s.strikes[i] / s.forward);
  }
  int iterations = 0;
  for (auto _ : state) {
    svi_fit_result r = svi_fit(s.t_years, s.forward, s.strikes, moved, s.weights, &prev.params);
    iterations = r.iterations;
    benchmark::DoNotOptimize(r);
  }
  state.counters["nm_iterations"] = iterations;
}
BENCHMARK(bm_svi_fit_warm)->Unit(benchmark::kMicrosecond);

// Warm on unchanged marks (a refit with nothing new): the lower bound of the warm path.
void bm_svi_fit_warm_unchanged(benchmark::State& state) {
  const slice& s = forty_strike_slice();
  const svi_fit_result prev = svi_fit(s.t_years, s.forward, s.strikes, s.ivs, s.weights);
  for (auto _ : state) {
    svi_fit_result r = svi_fit(s.t_years, s.forward, s.strikes, s.ivs, s.weights, &prev.params);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(bm_svi_fit_warm_unchanged)->Unit(benchmark::kMicrosecond);

void bm_svi_butterfly_check(benchmark::State& state) {
  const slice& s = forty_strike_slice();
  const svi_params p = svi_fit(s.t_years, s.forward, s.strikes, s.ivs, s.weights).params;
  for (auto _ : state) {
    svi_check_result r = svi_butterfly_check(p);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(bm_svi_butterfly_check)->Unit(benchmark::kMicrosecond);

// Five delta buckets with RR25/BF25 at a 30-day tenor on the surface of all BTC expiries.
void bm_surface_smile_at(benchmark::State& state) {
  std::vector<surface_slice> fitted;
  for (const auto& s : load_slices()) {
    const svi_fit_result r = svi_fit(s.t_years, s.forward, s.strikes, s.ivs, s.weights);
    if (r.code == status::ok) fitted.push_back({s.t_years, s.forward, r.params});
  }
  vol_surface surf;
  if (surf.build(fitted) != status::ok) throw std::runtime_error("surface build failed");
  for (auto _ : state) {
    delta_smile sm = surf.smile_at(30.0 / 365.0);
    benchmark::DoNotOptimize(sm);
  }
}
BENCHMARK(bm_surface_smile_at)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
