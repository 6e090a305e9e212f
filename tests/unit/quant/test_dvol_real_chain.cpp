#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "deribit_chain.hpp"
#include "vrp/core/time.hpp"
#include "vrp/quant/model_free.hpp"

namespace {

using vrp::quant::mf_quote;
using vrp::quant::option_type;
using vrp::quant::status;

constexpr std::int64_t ms_per_minute = 60'000;
constexpr double target_minutes = 43'200.0;  // 30 days

// Deribit's published DVOL daily close (percent) for `date`.
double dvol_close(const std::string& file, const std::string& date) {
  std::ifstream in(vrp::test::test_data_path(file));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    const auto f = vrp::test::split_csv_line(line);
    if (f.size() == 6 && f[0] == date) return std::stod(f[5]);
  }
  throw std::runtime_error("no DVOL row for " + date + " in " + file);
}

enum class price_source { bid_ask, mark };

struct expiry_board {
  std::int64_t expiry_ms = 0;
  double minutes = 0.0;      // from the mean fetch time of the expiry's rows
  double forward_usd = 0.0;  // mean underlying_price of the expiry's rows
  std::vector<mf_quote> coin_quotes;
};

expiry_board make_board(std::int64_t expiry_ms, const std::vector<vrp::test::deribit_row>& rows,
                        price_source source) {
  expiry_board b;
  b.expiry_ms = expiry_ms;
  double ts_sum = 0.0;
  double fwd_sum = 0.0;
  for (const auto& r : rows) {
    ts_sum += static_cast<double>(r.timestamp_ms);
    fwd_sum += r.underlying_price;
    const option_type type = r.is_call ? option_type::call : option_type::put;
    if (source == price_source::bid_ask) {
      b.coin_quotes.push_back({r.strike, type, r.bid, r.ask});
    } else {
      b.coin_quotes.push_back({r.strike, type, r.mark_price, r.mark_price});
    }
  }
  const auto n = static_cast<double>(rows.size());
  b.minutes = (static_cast<double>(expiry_ms) - ts_sum / n) / static_cast<double>(ms_per_minute);
  b.forward_usd = fwd_sum / n;
  return b;
}

struct dvol_estimate {
  vrp::quant::vix_result result;
  expiry_board near, next;
};

// The two expiries bracketing 30 days after the first fetch of the snapshot.
dvol_estimate estimate(const std::string& chain_file, price_source source) {
  const auto rows = vrp::test::load_deribit_chain(vrp::test::test_data_path(chain_file));
  std::int64_t start_ms = rows.front().timestamp_ms;
  for (const auto& r : rows) start_ms = std::min(start_ms, r.timestamp_ms);
  const std::int64_t target_ms =
      start_ms + static_cast<std::int64_t>(target_minutes) * ms_per_minute;
  dvol_estimate e;
  for (const auto& [expiry_ms, group] : vrp::test::by_expiry(rows)) {
    if (expiry_ms <= target_ms) {
      e.near = make_board(expiry_ms, group, source);
    } else {
      e.next = make_board(expiry_ms, group, source);
      break;
    }
  }
  // Each term's minutes run from its own rows' mean fetch time, the 30-day target from the same
  // clock; the terms' clocks differ by under 4 minutes (< 1e-4 of 30 days), below any effect here.
  e.result =
      vrp::quant::dvol({e.near.minutes, e.near.coin_quotes, e.near.forward_usd},
                       {e.next.minutes, e.next.coin_quotes, e.next.forward_usd}, target_minutes);
  return e;
}

void print(const char* label, const dvol_estimate& e, double published) {
  std::printf(
      "[dvol] %s: near %.2f d F=%.2f K0=%.0f strikes=%d var=%.5f | next %.2f d F=%.2f K0=%.0f "
      "strikes=%d var=%.5f | index %.2f vs DVOL close %.2f, gap %+.2f vol pts\n",
      label, e.near.minutes / 1440.0, e.result.near.forward, e.result.near.k0,
      e.result.near.strikes_used, e.result.near_variance, e.next.minutes / 1440.0,
      e.result.next.forward, e.result.next.k0, e.result.next.strikes_used, e.result.next_variance,
      e.result.index, published, e.result.index - published);
  std::printf(
      "[dvol] gap explained: DVOL is Deribit's daily close computed with its own filters, forward "
      "and clock; ours applies the Cboe steps literally to a snapshot fetched over 3.5 minutes "
      "(0 = no quote, partial strike coverage), keeping the far wings in full (see the comment in "
      "test_dvol_real_chain.cpp)\n");
}

// Why our number differs from Deribit's published DVOL, and the tolerance.
// Measured (printed by the tests): BTC 45.40 (bid/ask) and 45.40 (mark) vs 42.84, gap +2.56;
// ETH 71.93 / 71.91 vs 69.47, gap +2.46. An independent re-implementation (Python, same published
// Cboe steps, not part of the build) gave the same four numbers to 0.01, so the gap is in the
// inputs and rules, not in the arithmetic. Causes:
//  - time: the published value is the daily close (00:00 UTC on 25 Oct); the chain was fetched at
//    23:15-23:19 (BTC) and 23:58-00:02 (ETH). BTC DVOL ranged 42.69-45.18 that day; ETH was
//    fetched at the close itself and shows the same gap, so timing is not the main cause.
//  - data: rows were fetched one by one over ~3.5 minutes and a 0 bid means "no quote"; the
//    snapshot holds only part of the listed strikes (the 14NOV25 BTC strip is 95k-125k only,
//    which biases the near term down, yet the index comes out above DVOL).
//  - clock: Deribit's mark IVs in this very file imply ~3 hours more to expiry than the stamped
//    fetch time gives (test_iv_real_chain.cpp); shifting T by 3 h moves this index by <0.3 point.
//  - rules: Deribit describes DVOL as built from "the implied volatility smile of the relevant
//    expiries" (Deribit, "DVOL - Deribit Implied Volatility Index", 2021), i.e. its own fitted
//    smile and filters rather than the raw quote strip; we
//    apply the Cboe white-paper steps literally, with underlying_price as F and rate 0. Our strip
//    keeps the far wings (28NOV25 BTC 60k-240k, wing mark IVs 59-85%), which the model-free
//    integral weights fully: our value is ~4 points above the 30-day ATM mark IV (about 41.5),
//    DVOL ~1.3.
// The gap has the same sign and size on both coins and both price sources, so it is systematic
// (rules and coverage), not noise. Tolerance: 4 vol points (9% of BTC DVOL, 6% of ETH): the
// observed 2.5-point method gap plus the unknown DVOL path between fetch and close (up to ~1.5
// points of that day's range). It still fails at once on a unit error (prices left in coin: the
// index shrinks by sqrt(F), 60-330x), a lost factor 2 in 2/T (index x0.71, ~32 for BTC) or T in
// days instead of years.
constexpr double tolerance_vol_points = 4.0;

// One chain and price source against the published close of 2025-10-24.
void expect_close_to_published_dvol(const char* label, const std::string& chain,
                                    const std::string& dvol_file, price_source source) {
  const double published = dvol_close(dvol_file, "2025-10-24");
  const auto e = estimate(chain, source);
  print(label, e, published);
  ASSERT_EQ(e.result.code, status::ok);
  EXPECT_LT(e.near.minutes, target_minutes);
  EXPECT_GT(e.next.minutes, target_minutes);
  EXPECT_NEAR(e.result.index, published, tolerance_vol_points);
}

constexpr const char* btc_chain = "deribit/deribit_btc_chain_2025-10-24T2315Z.csv";
constexpr const char* eth_chain = "deribit/deribit_eth_chain_2025-10-24T2358Z.csv";
constexpr const char* btc_dvol = "deribit/btc_dvol_daily_2025-10-23_26.csv";
constexpr const char* eth_dvol = "deribit/eth_dvol_daily_2025-10-23_26.csv";

TEST(dvol_real_chain, btc_bid_ask_close_to_published_dvol) {
  expect_close_to_published_dvol("BTC bid/ask", btc_chain, btc_dvol, price_source::bid_ask);
}

TEST(dvol_real_chain, btc_mark_close_to_published_dvol) {
  expect_close_to_published_dvol("BTC mark", btc_chain, btc_dvol, price_source::mark);
}

TEST(dvol_real_chain, eth_bid_ask_close_to_published_dvol) {
  expect_close_to_published_dvol("ETH bid/ask", eth_chain, eth_dvol, price_source::bid_ask);
}

TEST(dvol_real_chain, eth_mark_close_to_published_dvol) {
  expect_close_to_published_dvol("ETH mark", eth_chain, eth_dvol, price_source::mark);
}

// Marks lie inside the bid-ask spread, which near the money is 1-3% of the price (about half a
// vol point), so the two price sources must agree within 0.5 vol points on the same chain.
TEST(dvol_real_chain, bid_ask_and_mark_variants_agree) {
  for (const std::string chain : {btc_chain, eth_chain}) {
    const auto quoted = estimate(chain, price_source::bid_ask);
    const auto marked = estimate(chain, price_source::mark);
    ASSERT_EQ(quoted.result.code, status::ok);
    ASSERT_EQ(marked.result.code, status::ok);
    std::printf("[dvol] %s: bid/ask %.3f vs mark %.3f, diff %+.3f vol pts\n", chain.c_str(),
                quoted.result.index, marked.result.index,
                quoted.result.index - marked.result.index);
    EXPECT_NEAR(quoted.result.index, marked.result.index, 0.5) << chain;
  }
}

}  // namespace
