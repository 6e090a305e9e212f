// ns per model_free_variance on a 100-strike expiry (200 quotes), built from the Cboe white-paper
// near-term strip, plus the real Deribit 26DEC25 BTC expiry through the coin (DVOL) variant.
// Run: cmake -S . -B build/rel -G Ninja -DVRP_BUILD_BENCH=ON -DCMAKE_BUILD_TYPE=Release &&
//      cmake --build build/rel --target bench_model_free && build/rel/tests/bench/bench_model_free

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "deribit_chain.hpp"
#include "vrp/quant/model_free.hpp"

// Counts heap allocations so the benchmarks can report allocations per call (expected: 0).
namespace {
std::atomic<long> allocation_count{0};
}  // namespace

void* operator new(std::size_t n) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using vrp::quant::mf_quote;
using vrp::quant::option_type;

constexpr double near_minutes = 35924.0;  // Cboe white paper near term
constexpr double near_rate = 0.000305;
constexpr double near_forward = 1962.89996;

// The 100 strikes nearest the money of the white-paper near strip; the OTM side carries the
// printed mid, the ITM side follows from parity (C - P = e^{-RT} (F - K)), and each quote gets a
// half-spread of 2% of its mid (at least 0.05, the SPX tick).
std::vector<mf_quote> cboe_board_100() {
  std::ifstream in(vrp::test::test_data_path("refdata/cboe_vix_example_strip.csv"));
  std::string line;
  std::getline(in, line);
  struct row {
    double strike, q;
  };
  std::vector<row> rows;
  while (std::getline(in, line)) {
    const auto f = vrp::test::split_csv_line(line);
    if (f.size() == 5 && f[0] == "near") rows.push_back({std::stod(f[1]), std::stod(f[3])});
  }
  std::sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
    return std::abs(a.strike - near_forward) < std::abs(b.strike - near_forward);
  });
  rows.resize(100);
  std::sort(rows.begin(), rows.end(),
            [](const row& a, const row& b) { return a.strike < b.strike; });
  const double discount = std::exp(-near_rate * near_minutes / 525600.0);
  std::vector<mf_quote> out;
  for (const auto& r : rows) {
    const double parity = discount * (near_forward - r.strike);  // C - P
    const double put = r.strike < near_forward ? r.q : r.q - parity;
    const double call = r.strike < near_forward ? r.q + parity : r.q;
    for (const auto& [type, mid] :
         {std::pair{option_type::put, put}, std::pair{option_type::call, call}}) {
      const double half = std::max(0.02 * mid, 0.05);
      out.push_back({r.strike, type, std::max(mid - half, 0.05), mid + half});
    }
  }
  return out;
}

void report_allocations(benchmark::State& state, auto&& call) {
  const long before = allocation_count.load();
  for (int i = 0; i < 100; ++i) call();
  state.counters["allocs_per_call"] = static_cast<double>(allocation_count.load() - before) / 100;
}

void bm_given_forward(benchmark::State& state) {
  const auto board = cboe_board_100();
  vrp::quant::mf_workspace ws(board.size());
  const vrp::quant::mf_input in{near_minutes / 525600.0, near_rate, board, near_forward};
  for (auto _ : state) benchmark::DoNotOptimize(vrp::quant::model_free_variance(in, ws));
  report_allocations(state, [&] { benchmark::DoNotOptimize(model_free_variance(in, ws)); });
  state.counters["strikes_used"] = model_free_variance(in, ws).strikes_used;
}
BENCHMARK(bm_given_forward)->Name("model_free_variance/100_strikes/given_forward");

void bm_parity_forward(benchmark::State& state) {
  const auto board = cboe_board_100();
  vrp::quant::mf_workspace ws(board.size());
  const vrp::quant::mf_input in{near_minutes / 525600.0, near_rate, board, std::nullopt};
  for (auto _ : state) benchmark::DoNotOptimize(vrp::quant::model_free_variance(in, ws));
  report_allocations(state, [&] { benchmark::DoNotOptimize(model_free_variance(in, ws)); });
}
BENCHMARK(bm_parity_forward)->Name("model_free_variance/100_strikes/parity_forward");

void bm_unsorted(benchmark::State& state) {
  auto board = cboe_board_100();
  std::shuffle(board.begin(), board.end(), std::mt19937(42));
  vrp::quant::mf_workspace ws(board.size());
  const vrp::quant::mf_input in{near_minutes / 525600.0, near_rate, board, std::nullopt};
  for (auto _ : state) benchmark::DoNotOptimize(vrp::quant::model_free_variance(in, ws));
  report_allocations(state, [&] { benchmark::DoNotOptimize(model_free_variance(in, ws)); });
}
BENCHMARK(bm_unsorted)->Name("model_free_variance/100_strikes/unsorted_parity_forward");

void bm_thread_local(benchmark::State& state) {
  const auto board = cboe_board_100();
  const vrp::quant::mf_input in{near_minutes / 525600.0, near_rate, board, std::nullopt};
  for (auto _ : state) benchmark::DoNotOptimize(vrp::quant::model_free_variance(in));
  report_allocations(state, [&] { benchmark::DoNotOptimize(model_free_variance(in)); });
}
BENCHMARK(bm_thread_local)->Name("model_free_variance/100_strikes/thread_local_workspace");

// Real Deribit expiry (BTC 26DEC25: 60 strikes, 120 quotes in coin), DVOL variant.
void bm_deribit_coin(benchmark::State& state) {
  const auto rows = vrp::test::load_deribit_chain(
      vrp::test::test_data_path("deribit/deribit_btc_chain_2025-10-24T2315Z.csv"));
  const auto groups = vrp::test::by_expiry(rows);
  const auto& group = groups.at(1766736000000);  // 26DEC25 08:00 UTC
  std::vector<mf_quote> board;
  for (const auto& r : group) {
    board.push_back({r.strike, r.is_call ? option_type::call : option_type::put, r.bid, r.ask});
  }
  const double forward = group.front().underlying_price;
  const double t_years =
      static_cast<double>(group.front().expiry_ms - group.front().timestamp_ms) / 31'536'000'000.0;
  vrp::quant::mf_workspace ws(board.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(vrp::quant::model_free_variance_coin(t_years, board, forward, ws));
  }
  report_allocations(state, [&] {
    benchmark::DoNotOptimize(vrp::quant::model_free_variance_coin(t_years, board, forward, ws));
  });
  state.counters["quotes"] = static_cast<double>(board.size());
}
BENCHMARK(bm_deribit_coin)->Name("model_free_variance_coin/deribit_btc_26dec25");

}  // namespace

BENCHMARK_MAIN();
