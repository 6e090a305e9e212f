// Implied volatility cost and accuracy, side by side: Let's Be Rational (ours), QuantLib's
// blackFormulaImpliedStdDev, a plain bisection baseline, and one Black-76 price for scale.
// Grid: ln(K/F) = k vol sqrt(t), k in {-2.75, -2.25, ..., 2.75} (12; no strike exactly at the
// money, which LBR solves in closed form and would flatter the average), t in {1, 7, 30, 90, 365}
// days, vol in {0.2, 0.5, 1, 2}, calls and puts (480 options). Prices from a long-double evaluation
// (independent of the code under test). Counter `max_rel_err`: max |vol - true vol| / true vol over
// the grid.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <ql/pricingengines/blackformula.hpp>
#include <vector>

#include "reference_black.hpp"
#include "vrp/quant/black.hpp"
#include "vrp/quant/implied_vol.hpp"

namespace {

using vrp::quant::option_type;

struct grid_point {
  double forward, strike, t_years, vol, price;
  option_type type;
};

const std::vector<grid_point>& grid() {
  static const std::vector<grid_point> points = [] {
    std::vector<grid_point> g;
    const double f = 100.0;
    for (double k = -2.75; k <= 2.8; k += 0.5) {
      for (double days : {1.0, 7.0, 30.0, 90.0, 365.0}) {
        for (double vol : {0.2, 0.5, 1.0, 2.0}) {
          const double t = days / 365.0;
          const double s = vol * std::sqrt(t);
          const double strike = f * std::exp(k * s);
          for (auto type : {option_type::call, option_type::put}) {
            const double price = static_cast<double>(
                vrp::test::reference_price(f, strike, s, vrp::quant::sign(type)));
            g.push_back({f, strike, t, vol, price, type});
          }
        }
      }
    }
    return g;
  }();
  return points;
}

// Plain bisection on vol in [1e-4, 20] with black76_price, to 1e-12 relative width.
double bisection_iv(const grid_point& p) {
  double lo = 1e-4, hi = 20.0;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * lo; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (vrp::quant::black76_price(p.forward, p.strike, p.t_years, mid, p.type) < p.price) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

double quantlib_iv(const grid_point& p, bool& failed) {
  try {
    const auto t = p.type == option_type::call ? QuantLib::Option::Call : QuantLib::Option::Put;
    const double std_dev = QuantLib::blackFormulaImpliedStdDev(
        t, p.strike, p.forward, p.price, 1.0, 0.0, QuantLib::Null<QuantLib::Real>(), 1e-12, 100);
    return std_dev / std::sqrt(p.t_years);
  } catch (...) {
    failed = true;
    return 0.0;
  }
}

template <class Solver>
void run_solver(benchmark::State& state, Solver solve) {
  const auto& g = grid();
  double max_err = 0.0;
  int failures = 0;
  for (const auto& p : g) {
    bool failed = false;
    const double v = solve(p, failed);
    if (failed) {
      ++failures;
      continue;
    }
    max_err = std::max(max_err, std::fabs(v - p.vol) / p.vol);
  }
  for (auto _ : state) {
    for (const auto& p : g) {
      bool failed = false;
      benchmark::DoNotOptimize(solve(p, failed));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(g.size()));
  state.counters["ns_per_op"] =
      benchmark::Counter(static_cast<double>(state.iterations() * g.size()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["max_rel_err"] = max_err;
  state.counters["failures"] = failures;
}

void bm_lbr(benchmark::State& state) {
  run_solver(state, [](const grid_point& p, bool& failed) {
    const auto r = vrp::quant::implied_vol_black76(p.price, p.forward, p.strike, p.t_years, p.type);
    failed = r.code != vrp::quant::status::ok;
    return r.vol;
  });
}

void bm_quantlib(benchmark::State& state) {
  run_solver(state, [](const grid_point& p, bool& failed) { return quantlib_iv(p, failed); });
}

void bm_bisection(benchmark::State& state) {
  run_solver(state, [](const grid_point& p, bool&) { return bisection_iv(p); });
}

void bm_black76_price(benchmark::State& state) {
  const auto& g = grid();
  for (auto _ : state) {
    for (const auto& p : g) {
      benchmark::DoNotOptimize(
          vrp::quant::black76_price(p.forward, p.strike, p.t_years, p.vol, p.type));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(g.size()));
  state.counters["ns_per_op"] =
      benchmark::Counter(static_cast<double>(state.iterations() * g.size()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(bm_lbr);
BENCHMARK(bm_quantlib);
BENCHMARK(bm_bisection);
BENCHMARK(bm_black76_price);

}  // namespace

BENCHMARK_MAIN();
