// Refit scheduling, structure sharing between snapshots and the premium identities.

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "bybit_bars.hpp"
#include "engine_test_support.hpp"
#include "vrp/engine/engine.hpp"

namespace {

using namespace vrp;
using namespace vrp::test::engine_support;
using core::option_right;

constexpr double btc_forward = 100'000;
constexpr double eth_forward = 4'000;

engine::engine_config small_config() {
  engine::engine_config c;
  c.underlyings = {"BTC", "ETH"};
  c.tenor_days = {7, 30, 60};
  c.forecast.background_refit = false;
  return c;
}

// Strikes F e^{0.05 i}, |i| <= half_width.
std::vector<core::instrument_id> add_expiry(chain& ch, const char* u, std::int64_t exp, double f,
                                            int half_width = 6) {
  std::vector<core::instrument_id> ids;
  for (int i = -half_width; i <= half_width; ++i) {
    const double k = std::round(f * std::exp(0.05 * i));
    ids.push_back(ch.option(u, exp, k, option_right::call));
    ids.push_back(ch.option(u, exp, k, option_right::put));
  }
  return ids;
}

TEST(engine_refit, quotes_within_the_interval_coalesce_into_one_fit_and_flush_fits_the_rest) {
  chain ch;
  const auto ids = add_expiry(ch, "BTC", expiry_after(30), btc_forward);
  engine::engine eng(small_config(), ch.table);  // refit interval 100 ms
  for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward));
  const auto first = eng.publish();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(eng.stats().smile_fits, 1u);
  const std::uint64_t btc_seq = first->find("BTC")->seq;

  // 50 updates over 50 ms of event time: nothing is refitted, nothing is published.
  for (int i = 1; i <= 50; ++i) {
    const auto id = ids[static_cast<std::size_t>(i) % ids.size()];
    eng.on_event(smile_quote(ch.table, id, t0_ns + i * ms, btc_forward * (1 + 1e-5 * i)));
    EXPECT_EQ(eng.publish(), nullptr) << i;
  }
  EXPECT_EQ(eng.stats().smile_fits, 1u);

  // flush ignores the interval: the pending changes are fitted once.
  const auto flushed = eng.flush();
  ASSERT_NE(flushed, nullptr);
  EXPECT_EQ(eng.stats().smile_fits, 2u);
  EXPECT_EQ(flushed->find("BTC")->seq, btc_seq + 1);
  EXPECT_EQ(flushed->seq, first->seq + 1);
  EXPECT_EQ(eng.flush(), nullptr);  // nothing pending any more

  // Once the interval has passed, publish() refits again.
  eng.on_event(smile_quote(ch.table, ids[3], t0_ns + 200 * ms, btc_forward));
  ASSERT_NE(eng.publish(), nullptr);
  EXPECT_EQ(eng.stats().smile_fits, 3u);
}

TEST(engine_refit, fits_per_publish_are_capped_and_the_longest_waiting_expiry_goes_first) {
  chain ch;
  const std::int64_t exp_a = expiry_after(30), exp_b = expiry_after(60), exp_c = expiry_after(90);
  std::vector<core::instrument_id> ids;
  for (auto exp : {exp_a, exp_b, exp_c})
    for (auto id : add_expiry(ch, "BTC", exp, btc_forward)) ids.push_back(id);
  auto cfg = small_config();
  cfg.max_refits_per_publish = 1;
  engine::engine eng(cfg, ch.table);
  for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward));
  // Three expiries are due; each publish fits one, nearest expiry first among equals.
  const auto fitted = [](const engine::snapshot& s) {
    std::vector<std::int64_t> out;
    for (const auto& e : s.find("BTC")->expiries)
      if (e->fitted) out.push_back(e->expiry_ms);
    return out;
  };
  auto s1 = eng.publish();
  ASSERT_NE(s1, nullptr);
  EXPECT_EQ(eng.stats().smile_fits, 1u);
  EXPECT_EQ(fitted(*s1), (std::vector<std::int64_t>{exp_a}));
  auto s2 = eng.publish();
  ASSERT_NE(s2, nullptr);
  EXPECT_EQ(fitted(*s2), (std::vector<std::int64_t>{exp_a, exp_b}));
  auto s3 = eng.publish();
  ASSERT_NE(s3, nullptr);
  EXPECT_EQ(fitted(*s3), (std::vector<std::int64_t>{exp_a, exp_b, exp_c}));
  EXPECT_EQ(eng.stats().smile_fits, 3u);
  EXPECT_EQ(eng.publish(), nullptr);

  // After the interval all three change again: the one fitted longest ago (exp_a) goes first.
  for (auto id : ids)
    eng.on_event(smile_quote(ch.table, id, t0_ns + 200 * ms, btc_forward * 1.001));
  auto s4 = eng.publish();
  ASSERT_NE(s4, nullptr);
  EXPECT_EQ(eng.stats().smile_fits, 4u);
  EXPECT_EQ(s4->find("BTC")->expiries[0]->fitted_at_ns, t0_ns + 200 * ms);
  EXPECT_EQ(s4->find("BTC")->expiries[1]->fitted_at_ns, t0_ns);
  // flush has no cap.
  ASSERT_NE(eng.flush(), nullptr);
  EXPECT_EQ(eng.stats().smile_fits, 6u);
}

TEST(engine_refit, unchanged_underlyings_and_expiries_are_shared_with_the_previous_snapshot) {
  chain ch;
  const std::int64_t exp_a = expiry_after(30);
  const std::int64_t exp_b = expiry_after(60);
  auto btc_a = add_expiry(ch, "BTC", exp_a, btc_forward);
  auto btc_b = add_expiry(ch, "BTC", exp_b, btc_forward);
  auto eth = add_expiry(ch, "ETH", exp_a, eth_forward);
  engine::engine eng(small_config(), ch.table);
  for (auto id : btc_a) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward));
  for (auto id : btc_b) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward));
  for (auto id : eth) eng.on_event(smile_quote(ch.table, id, t0_ns, eth_forward));
  const auto s1 = eng.flush();
  ASSERT_NE(s1, nullptr);

  // One BTC quote on expiry A, a second later.
  eng.on_event(smile_quote(ch.table, btc_a[4], t0_ns + 1'000 * ms, btc_forward));
  const auto s2 = eng.publish();
  ASSERT_NE(s2, nullptr);
  EXPECT_EQ(s2->seq, s1->seq + 1);
  EXPECT_EQ(s2->underlyings[1], s1->underlyings[1]);  // ETH: the same object
  EXPECT_EQ(s2->find("ETH")->seq, s1->find("ETH")->seq);
  EXPECT_NE(s2->underlyings[0], s1->underlyings[0]);
  EXPECT_EQ(s2->find("BTC")->seq, s1->find("BTC")->seq + 1);
  const auto& e1 = s1->find("BTC")->expiries;
  const auto& e2 = s2->find("BTC")->expiries;
  ASSERT_EQ(e1.size(), 2u);
  ASSERT_EQ(e2.size(), 2u);
  EXPECT_NE(e2[0], e1[0]);  // refitted
  EXPECT_EQ(e2[1], e1[1]);  // untouched: shared, quotes not copied
  EXPECT_EQ(e2[0]->fitted_at_ns, t0_ns + 1'000 * ms);

  EXPECT_EQ(eng.publish(), nullptr);
  EXPECT_EQ(eng.latest(), s2);
  // The earlier snapshot is unchanged by the later publish.
  EXPECT_EQ(e1[0]->fitted_at_ns, t0_ns);
}

TEST(engine_refit, a_later_expiry_with_less_total_variance_is_not_calendar_free) {
  chain ch;
  const auto a = add_expiry(ch, "BTC", expiry_after(30), btc_forward);
  const auto b = add_expiry(ch, "BTC", expiry_after(45), btc_forward);
  const auto c = add_expiry(ch, "BTC", expiry_after(90), btc_forward);
  engine::engine eng(small_config(), ch.table);
  for (auto id : a) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward));
  // 45 days at 0.6 x the vol: total variance 0.36 x 45 = 16.2 < 30 days' 30 -> calendar arbitrage.
  for (auto id : b) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward, 0.02, true, 0.6));
  for (auto id : c) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward));
  const auto snap = eng.flush();
  const auto& e = snap->find("BTC")->expiries;
  ASSERT_EQ(e.size(), 3u);
  for (const auto& x : e) ASSERT_TRUE(x->fitted);
  EXPECT_TRUE(e[0]->calendar_free);   // the first is compared with nothing
  EXPECT_FALSE(e[1]->calendar_free);  // below the 30-day smile
  EXPECT_TRUE(e[2]->calendar_free);   // 90 days at full vol is above the 45-day smile
}

std::vector<engine::history_bar> bybit_history(const char* symbol, std::size_t n) {
  const auto s = vrp::test::load_bybit_hourly(symbol);
  std::vector<engine::history_bar> bars;
  const std::size_t from = s.bars.size() > n ? s.bars.size() - n : 0;
  for (std::size_t i = from; i < s.bars.size(); ++i)
    bars.push_back({s.open_ms[i], s.bars[i].open, s.bars[i].high, s.bars[i].low, s.bars[i].close});
  return bars;
}

TEST(engine_refit, premium_identities_hold_exactly_in_every_available_row) {
  chain ch;
  std::vector<core::instrument_id> ids;
  for (int days : {5, 20, 45, 100}) {
    auto more = add_expiry(ch, "BTC", expiry_after(days), btc_forward, 16);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  const auto idx = ch.index("btc_usd", "btc");
  engine::engine eng(small_config(), ch.table);
  // Bars up to the 2025-10-24 23:00 open: t0 is that bar's close.
  const auto bars = bybit_history("BTCUSDT", 2'500);
  ASSERT_EQ(bars.back().open_ms, t0_ns / ms - 3'600'000);
  EXPECT_EQ(eng.warm_up("BTC", bars), quant::status::ok);
  EXPECT_EQ(eng.warm_up("SOL", bars), quant::status::invalid_input);
  eng.on_event(core::index_tick{t0_ns, t0_ns, idx, 99'500});
  for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward));
  const auto snap = eng.flush();
  ASSERT_NE(snap, nullptr);
  const auto* btc = snap->find("BTC");
  EXPECT_TRUE(btc->complete);
  ASSERT_NE(btc->forecast, nullptr);
  EXPECT_TRUE(btc->forecast->ready);
  ASSERT_EQ(btc->tenors.size(), 3u);
  for (const auto& row : btc->tenors) {
    ASSERT_TRUE(row.available) << row.days << " " << row.reason;
    EXPECT_EQ(row.reason, "");
    EXPECT_EQ(row.premium_vol, row.atm_iv - row.rv_forecast);
    EXPECT_EQ(row.premium_var, row.mfiv * row.mfiv - row.rv_forecast * row.rv_forecast);
    for (const auto& cell : row.buckets) EXPECT_EQ(cell.premium_vol, cell.iv - row.rv_forecast);
    EXPECT_EQ(row.buckets[2].iv, row.atm_iv);
    EXPECT_EQ(row.rr25, row.buckets[3].iv - row.buckets[1].iv);
    // Every slice is the same SVI smile in vol, so the surface's ATM vol is the smile's at k = 0.
    EXPECT_NEAR(row.atm_iv, smile_vol(btc_forward, btc_forward), 1e-4) << row.days;
    // The skew is negative (puts richer), the wings richer than the money.
    EXPECT_LT(row.rr25, 0);
    EXPECT_GT(row.bf25, 0);
    // Constant forward: no carry; the index is 0.5 % below it.
    EXPECT_NEAR(row.forward, btc_forward, 1e-6);
    EXPECT_NEAR(row.basis_annual, std::log(btc_forward / 99'500) / row.t_years, 1e-9);
    EXPECT_GT(row.mfiv, 0.45);
    EXPECT_LT(row.mfiv, 0.65);
    EXPECT_GT(row.rv_forecast, 0.05);
    EXPECT_LT(row.rv_forecast, 2.0);
    EXPECT_FALSE(row.extrapolated);
    for (const auto& cell : row.buckets) {
      // 2 % relative half-spread in price, in vol points near the money: a small positive width.
      EXPECT_GT(cell.width_vol, 0) << row.days;
      EXPECT_LT(cell.width_vol, 0.2) << row.days;
    }
  }
}

// Fitted expiries at 5 and 20 days: with the default factor 2 the tenors between 2.5 and 40 days
// are published (beyond 20 days flagged extrapolated), the 1- and 60-day tenors are unavailable
// and carry no smile numbers, only the forecast. A factor of 15 publishes them all, flagged.
TEST(engine_refit, tenors_too_far_from_the_fitted_expiries_are_unavailable) {
  for (const double ratio : {2.0, 15.0}) {
    SCOPED_TRACE(ratio);
    chain ch;
    std::vector<core::instrument_id> ids;
    for (int days : {5, 20}) {
      auto more = add_expiry(ch, "BTC", expiry_after(days), btc_forward, 16);
      ids.insert(ids.end(), more.begin(), more.end());
    }
    const auto idx = ch.index("btc_usd", "btc");
    engine::engine_config cfg = small_config();
    cfg.tenor_days = {1, 7, 30, 60};
    cfg.max_extrapolation_ratio = ratio;
    engine::engine eng(cfg, ch.table);
    ASSERT_EQ(eng.warm_up("BTC", bybit_history("BTCUSDT", 2'500)), quant::status::ok);
    eng.on_event(core::index_tick{t0_ns, t0_ns, idx, 99'500});
    for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns, btc_forward));
    const auto snap = eng.flush();
    ASSERT_NE(snap, nullptr);
    const auto& rows = snap->find("BTC")->tenors;
    ASSERT_EQ(rows.size(), 4u);
    for (const auto& row : rows) {
      SCOPED_TRACE(row.days);
      const bool inside = row.days == 7 || row.days == 30 || ratio > 2.0;
      EXPECT_EQ(row.available, inside) << row.reason;
      EXPECT_EQ(row.extrapolated, row.days != 7);
      EXPECT_GT(row.rv_forecast, 0.0);
      if (inside) {
        EXPECT_EQ(row.reason, "");
        EXPECT_TRUE(std::isfinite(row.atm_iv));
      } else {
        EXPECT_EQ(row.reason, "too_far_from_expiries");
        EXPECT_TRUE(std::isnan(row.atm_iv));
        EXPECT_TRUE(std::isnan(row.mfiv));
        EXPECT_TRUE(std::isnan(row.rr25));
        EXPECT_TRUE(std::isnan(row.premium_vol));
        for (const auto& cell : row.buckets) EXPECT_TRUE(std::isnan(cell.iv));
      }
    }
  }
}

TEST(engine_refit, extrapolation_ratio_below_one_is_refused) {
  chain ch;
  engine::engine_config cfg = small_config();
  cfg.max_extrapolation_ratio = 0.5;
  EXPECT_THROW(engine::engine(cfg, ch.table), std::invalid_argument);
  cfg.max_extrapolation_ratio = std::nan("");
  EXPECT_THROW(engine::engine(cfg, ch.table), std::invalid_argument);
}

}  // namespace
