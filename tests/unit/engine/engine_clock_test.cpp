// Event time: per-underlying clocks, quotes that age out of a fit, the fit source.

#include <gtest/gtest.h>

#include <vector>

#include "engine_test_support.hpp"
#include "vrp/engine/engine.hpp"

namespace {

using namespace vrp;
using namespace vrp::test::engine_support;
using core::option_right;

engine::engine_config small_config() {
  engine::engine_config c;
  c.underlyings = {"BTC", "ETH"};
  c.tenor_days = {30};
  c.forecast.background_refit = false;
  return c;
}

std::vector<core::instrument_id> add_chain(chain& ch, const char* u, std::int64_t exp, double f) {
  std::vector<core::instrument_id> ids;
  for (int i = -6; i <= 6; ++i) {
    const double k = std::round(f * std::exp(0.05 * i));
    ids.push_back(ch.option(u, exp, k, option_right::call));
    ids.push_back(ch.option(u, exp, k, option_right::put));
  }
  return ids;
}

TEST(engine_clock, a_chain_collected_later_does_not_age_another_underlying) {
  chain ch;
  const auto btc = add_chain(ch, "BTC", expiry_after(30), 100'000);
  const auto eth = add_chain(ch, "ETH", expiry_after(30), 4'000);
  engine::engine eng(small_config(), ch.table);
  for (auto id : btc) eng.on_event(smile_quote(ch.table, id, t0_ns, 100'000));
  // ETH 40 minutes later (as in the bundled recording): BTC quotes stay fresh on BTC's clock.
  const std::int64_t later = t0_ns + 40 * minute_ns;
  for (auto id : eth) eng.on_event(smile_quote(ch.table, id, later, 4'000));
  const auto snap = eng.flush();
  EXPECT_EQ(snap->ts_ns, later);
  const auto* b = snap->find("BTC");
  const auto* e = snap->find("ETH");
  EXPECT_EQ(b->ts_ns, t0_ns);
  EXPECT_EQ(e->ts_ns, later);
  ASSERT_TRUE(b->expiries.at(0)->fitted);
  ASSERT_TRUE(e->expiries.at(0)->fitted);
  EXPECT_DOUBLE_EQ(b->expiries[0]->t_years, years(t0_ns, expiry_after(30)));
  EXPECT_DOUBLE_EQ(e->expiries[0]->t_years, years(later, expiry_after(30)));
}

TEST(engine_clock, a_fit_whose_quotes_went_stale_is_withdrawn_without_new_quotes) {
  chain ch;
  const auto ids = add_chain(ch, "BTC", expiry_after(30), 100'000);
  const auto idx = ch.index("btc_usd", "btc");
  engine::engine eng(small_config(), ch.table);
  for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns, 100'000));
  ASSERT_TRUE(eng.flush()->find("BTC")->expiries.at(0)->fitted);
  // Only the index moves BTC's clock on, past the 5-minute limit.
  eng.on_event(core::index_tick{t0_ns + 6 * minute_ns, 0, idx, 100'000});
  const auto snap = eng.publish();
  ASSERT_NE(snap, nullptr);
  const auto& e = *snap->find("BTC")->expiries.at(0);
  EXPECT_FALSE(e.fitted);
  EXPECT_EQ(e.fit_reason, "too_few_quotes");
  // Every quote that was usable is now stale (deep in-the-money bids below intrinsic keep that
  // status: price problems rank first).
  int stale = 0;
  for (const auto& q : e.quotes) {
    EXPECT_NE(q.status, engine::quote_status::ok);
    stale += q.status == engine::quote_status::stale ? 1 : 0;
  }
  EXPECT_GE(stale, 13);
  EXPECT_FALSE(snap->find("BTC")->tenors.at(0).available);
  EXPECT_EQ(snap->find("BTC")->tenors.at(0).reason, "no_surface");
}

TEST(engine_clock, an_expiry_inside_the_minimum_time_drops_out_as_time_passes) {
  chain ch;
  const std::int64_t exp = t0_ns / ms + 2 * 3'600'000;  // two hours out
  const auto ids = add_chain(ch, "BTC", exp, 100'000);
  engine::engine eng(small_config(), ch.table);
  for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns, 100'000));
  ASSERT_TRUE(eng.flush()->find("BTC")->expiries.at(0)->fitted);
  // Requoted 70 minutes later: under an hour to go.
  for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns + 70 * minute_ns, 100'000));
  const auto& e = *eng.flush()->find("BTC")->expiries.at(0);
  EXPECT_FALSE(e.fitted);
  EXPECT_EQ(e.fit_reason, "too_close_to_expiry");
}

TEST(engine_clock, mid_fit_uses_the_mid_price_iv) {
  chain ch;
  const auto ids = add_chain(ch, "BTC", expiry_after(30), 100'000);
  engine::engine_config c = small_config();
  c.fit_on = engine::fit_source::mid;
  engine::engine eng(c, ch.table);
  for (auto id : ids) {
    auto q = smile_quote(ch.table, id, t0_ns, 100'000);
    q.mark_price *= 1.3;  // marks far off: a mid fit must not see them
    eng.on_event(q);
  }
  const auto& e = *eng.flush()->find("BTC")->expiries.at(0);
  ASSERT_TRUE(e.fitted) << e.fit_reason;
  // Bid and ask are symmetric around the smile's price, so the mid is that price.
  EXPECT_NEAR(quant::svi_implied_vol(e.svi, 0.0, e.t_years), smile_vol(100'000, 100'000), 1e-4);
}

}  // namespace
