// Implied vols of real Deribit chains (tests/data/deribit) against Deribit's own mark_iv.
//
// Deribit prints mark_price in coin to 4 decimals and mark_iv in percent to 2 decimals. The USD
// price mark_price x underlying_price therefore carries +-0.00005 coin x F of rounding, which moves
// the implied vol by up to that / vega; mark_iv itself carries +-0.005 vol points (0.00005). A row
// is comparable when the rounded price is a proper Black-76 price (above intrinsic, below the
// maximum) and is not at the 0.0001 tick floor, where the true price may be anywhere below it.
//
// Finding: with t measured from the CSV's per-row fetch time to the 08:00 UTC expiry, our vols sit
// above mark_iv on the short expiries (a 1-day option by ~1 vol point), and the bias shrinks with
// maturity as an error in *time*, not in price, would. One common shift of the clock explains every
// expiry at once: Deribit's marks behave as if each option had about 3 hours more to run (BTC and
// ETH alike). The spot level in the same rows matches the Bybit bars of the stated UTC hour, so the
// stamps are not simply local time; the offset is in the source's time convention (a stale mark
// time, or Deribit pricing to a later cut-off). The test therefore estimates that one offset from
// the data and then requires every comparable row of every expiry to agree within the rounding
// bound: a wrong conversion (index instead of forward, percent vs decimal, a discount) cannot be
// absorbed by one shared clock shift and would fail. Strikes whose call and put marks break
// put-call parity beyond rounding (10 of 351 BTC pairs, 50 of 392 ETH pairs: a model-free fact of
// the data, since both share one mark_iv) are excluded and counted.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "deribit_chain.hpp"
#include "vrp/quant/black.hpp"
#include "vrp/quant/implied_vol.hpp"

namespace {

using vrp::quant::option_type;
using vrp::quant::status;

constexpr double ms_per_year = 365.0 * 86'400'000.0;
constexpr double half_tick_coin = 0.00005;
constexpr double iv_rounding = 0.00005;

struct comparable_row {
  const vrp::test::deribit_row* row;
  option_type type;
};

struct chain_fit {
  std::vector<vrp::test::deribit_row> rows;
  std::vector<comparable_row> comparable;
  int zero_mark = 0, tick_floor = 0, not_invertible = 0, parity_broken = 0;
};

double years_to_expiry(const vrp::test::deribit_row& r, double offset_ms) {
  return (static_cast<double>(r.expiry_ms - r.timestamp_ms) + offset_ms) / ms_per_year;
}

// Normalised error |iv - mark_iv| / allowed of one row with the clock shifted by offset_ms.
double excess(const comparable_row& c, double offset_ms, double* iv_out = nullptr) {
  const auto& row = *c.row;
  const double f = row.underlying_price;
  const double t = years_to_expiry(row, offset_ms);
  const auto r = vrp::quant::implied_vol_black76(row.mark_price * f, f, row.strike, t, c.type);
  if (iv_out != nullptr) *iv_out = r.vol;
  if (r.code != status::ok) return 1e9;
  const double mark_iv = row.mark_iv_pct / 100.0;
  // Vega at Deribit's own vol: the rounding band is narrow, so either end gives the same bound.
  const double vega = vrp::quant::black76_greeks(f, row.strike, t, mark_iv, c.type).vega;
  return std::fabs(r.vol - mark_iv) / (half_tick_coin * f / vega + iv_rounding);
}

// Model-free consistency of Deribit's own marks: a call and a put of one strike share one mark_iv,
// so under Black-76 on `underlying_price` their USD marks must satisfy put-call parity
// C - P = F - K up to the two prices' rounding (2 half-ticks x F). Strikes that break it cannot
// agree with any inversion on both sides and are counted apart.
std::map<std::pair<std::int64_t, double>, bool> parity_breaks(
    const std::vector<vrp::test::deribit_row>& rows) {
  std::map<std::pair<std::int64_t, double>, const vrp::test::deribit_row*> calls;
  std::map<std::pair<std::int64_t, double>, bool> broken;
  for (const auto& r : rows) {
    if (r.is_call) calls[{r.expiry_ms, r.strike}] = &r;
  }
  for (const auto& p : rows) {
    const auto it = calls.find({p.expiry_ms, p.strike});
    if (p.is_call || it == calls.end() || !(p.mark_price > 0.0) ||
        !(it->second->mark_price > 0.0)) {
      continue;
    }
    const auto& c = *it->second;
    const double dev = (c.mark_price * c.underlying_price - p.mark_price * p.underlying_price) -
                       (c.underlying_price - c.strike);
    if (std::fabs(dev) > 2.0 * half_tick_coin * c.underlying_price) {
      broken[{p.expiry_ms, p.strike}] = true;
    }
  }
  return broken;
}

chain_fit load(const std::string& file) {
  chain_fit fit;
  fit.rows = vrp::test::load_deribit_chain(vrp::test::test_data_path(file));
  const auto broken = parity_breaks(fit.rows);
  for (const auto& row : fit.rows) {
    const auto type = row.is_call ? option_type::call : option_type::put;
    if (!(row.mark_price > 0.0)) {
      ++fit.zero_mark;
      continue;
    }
    if (row.mark_price <= 0.0001 + 1e-12) {
      ++fit.tick_floor;
      continue;
    }
    if (broken.count({row.expiry_ms, row.strike}) != 0) {
      ++fit.parity_broken;
      continue;
    }
    const double f = row.underlying_price;
    const auto r = vrp::quant::implied_vol_black76(row.mark_price * f, f, row.strike,
                                                   years_to_expiry(row, 0.0), type);
    if (r.code != status::ok || r.vol == 0.0) {
      // A rounded price at or below intrinsic: nothing to compare with.
      ++fit.not_invertible;
      continue;
    }
    EXPECT_LE(r.iterations, 2) << row.instrument;
    fit.comparable.push_back({&row, type});
  }
  return fit;
}

// Least-squares clock offset on a one-minute grid over [-6 h, +6 h].
double best_offset_ms(const chain_fit& fit) {
  double best = 0.0, best_cost = 1e300;
  for (int minutes = -360; minutes <= 360; ++minutes) {
    const double off = minutes * 60'000.0;
    double cost = 0.0;
    for (const auto& c : fit.comparable) cost += std::pow(std::min(excess(c, off), 1e3), 2);
    if (cost < best_cost) {
      best_cost = cost;
      best = off;
    }
  }
  return best;
}

struct agreement {
  int within = 0;
  double worst = 0.0;
  std::string worst_row;
};

agreement agree(const chain_fit& fit, double offset_ms, bool print_expiries) {
  agreement a;
  std::map<std::int64_t, std::vector<double>> bias_by_expiry;
  for (const auto& c : fit.comparable) {
    double iv = 0.0;
    const double e = excess(c, offset_ms, &iv);
    bias_by_expiry[c.row->expiry_ms].push_back(iv - c.row->mark_iv_pct / 100.0);
    if (e <= 1.0)
      ++a.within;
    else if (print_expiries && offset_ms != 0.0) {
      std::printf("[chain]   outside the bound: %s %.2fx (iv %.5f, mark_iv %.5f)\n",
                  c.row->instrument.c_str(), e, iv, c.row->mark_iv_pct / 100.0);
    }
    if (e > a.worst) {
      a.worst = e;
      a.worst_row = c.row->instrument;
    }
  }
  if (print_expiries) {
    for (auto& [expiry, b] : bias_by_expiry) {
      std::nth_element(b.begin(), b.begin() + static_cast<long>(b.size() / 2), b.end());
      std::printf("[chain]   expiry %lld: %zu rows, median iv - mark_iv %+.5f\n",
                  static_cast<long long>(expiry), b.size(), b[b.size() / 2]);
    }
  }
  return a;
}

void check_chain(const std::string& file, std::size_t min_comparable) {
  const chain_fit fit = load(file);
  ASSERT_GE(fit.comparable.size(), min_comparable);
  const agreement raw = agree(fit, 0.0, true);
  const double offset = best_offset_ms(fit);
  const agreement shifted = agree(fit, offset, true);
  std::printf(
      "[chain] %s: %zu rows, %zu compared, %d zero mark, %d at the tick floor, %d not invertible, "
      "%d on parity-breaking strikes\n"
      "[chain]   clock as stamped: %d/%zu within the rounding bound (worst %.1fx, %s)\n"
      "[chain]   best common offset %+.0f min: %d/%zu within (worst %.2fx, %s)\n",
      file.c_str(), fit.rows.size(), fit.comparable.size(), fit.zero_mark, fit.tick_floor,
      fit.not_invertible, fit.parity_broken, raw.within, fit.comparable.size(), raw.worst,
      raw.worst_row.c_str(), offset / 60'000.0, shifted.within, fit.comparable.size(),
      shifted.worst, shifted.worst_row.c_str());
  // One offset for the whole chain (measured: +180 min BTC, +178 min ETH). With it, >= 90% of the
  // rows agree within the rounding bound (measured 97% BTC, 95% ETH) and none is off by more than
  // 3x the bound (measured worst 2.3x, on far wings where Deribit's mark_iv is a smoothed surface
  // value); as stamped, only 56% (BTC) and 37% (ETH) agree.
  EXPECT_GE(offset, 2.0 * 3'600'000.0);
  EXPECT_LE(offset, 4.0 * 3'600'000.0);
  EXPECT_GE(static_cast<double>(shifted.within), 0.90 * static_cast<double>(fit.comparable.size()));
  EXPECT_LE(shifted.worst, 3.0) << shifted.worst_row;
}

TEST(iv_real_chain, btc_marks_agree_with_deribit_mark_iv_within_rounding) {
  check_chain("deribit/deribit_btc_chain_2025-10-24T2315Z.csv", 600);
}

TEST(iv_real_chain, eth_marks_agree_with_deribit_mark_iv_within_rounding) {
  check_chain("deribit/deribit_eth_chain_2025-10-24T2358Z.csv", 650);
}

}  // namespace
