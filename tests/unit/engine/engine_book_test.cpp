// The instrument book: quote statuses, own IVs, forwards, garbage handling (hand-built chains).

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine_test_support.hpp"
#include "vrp/engine/engine.hpp"

namespace {

using namespace vrp;
using namespace vrp::test::engine_support;
using core::option_right;
using engine::quote_status;

engine::engine_config small_config() {
  engine::engine_config c;
  c.underlyings = {"BTC", "ETH"};
  c.tenor_days = {7, 30};
  c.forecast.background_refit = false;
  return c;
}

constexpr double forward = 100'000;

TEST(engine_book, quote_status_names_each_price_problem) {
  chain ch;
  const std::int64_t exp_a = expiry_after(30);
  const std::int64_t exp_b = expiry_after(60);
  std::vector<core::instrument_id> ids;
  for (double k = 70'000; k <= 130'000; k += 5'000) {
    ids.push_back(ch.option("BTC", exp_a, k, option_right::call));
    ids.push_back(ch.option("BTC", exp_a, k, option_right::put));
  }
  const auto lonely = ch.option("BTC", exp_b, 100'000, option_right::call);
  engine::engine eng(small_config(), ch.table);

  const std::int64_t now = t0_ns + 6 * minute_ns;
  for (auto id : ids) {
    const auto& info = ch.table.at(id);
    // The 75,000 put is quoted first and never again: stale 6 minutes later (limit 5).
    const bool stale = info.strike == 75'000 && info.right == option_right::put;
    auto q = smile_quote(ch.table, id, stale ? t0_ns : now, forward);
    if (info.strike == 90'000 && info.right == option_right::put) q.bid_price = q.ask_price * 1.1;
    if (info.strike == 125'000 && info.right == option_right::call) q.bid_price = core::missing;
    if (info.strike == 70'000 && info.right == option_right::call) {
      // Intrinsic is 30,000: every price below it.
      q.bid_price = 29'000;
      q.ask_price = 29'500;
      q.mark_price = 29'200;
    }
    if (info.strike == 130'000 && info.right == option_right::put) {
      // A put is worth less than its strike (Black-76 upper bound, discount 1).
      q.bid_price = 30'500;
      q.ask_price = 131'000;
      q.mark_price = 130'500;
    }
    eng.on_event(q);
  }
  eng.on_event(smile_quote(ch.table, lonely, now, forward, 0.02, /*with_forward=*/false));
  const auto snap = eng.flush();
  ASSERT_NE(snap, nullptr);
  const auto* btc = snap->find("BTC");
  ASSERT_NE(btc, nullptr);
  const auto* a = find_expiry(*btc, exp_a);
  const auto* b = find_expiry(*btc, exp_b);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);

  auto status = [&](double k, option_right r) {
    const auto* q = find_quote(*a, k, r);
    EXPECT_NE(q, nullptr) << k;
    return q ? q->status : quote_status::no_quote;
  };
  EXPECT_EQ(status(90'000, option_right::put), quote_status::crossed);
  EXPECT_EQ(status(125'000, option_right::call), quote_status::zero_bid);
  EXPECT_EQ(status(70'000, option_right::call), quote_status::below_intrinsic);
  EXPECT_EQ(status(130'000, option_right::put), quote_status::above_maximum);
  EXPECT_EQ(status(75'000, option_right::put), quote_status::stale);
  EXPECT_EQ(status(100'000, option_right::call), quote_status::ok);
  EXPECT_EQ(status(80'000, option_right::put), quote_status::ok);
  ASSERT_EQ(b->quotes.size(), 1u);
  EXPECT_EQ(b->quotes[0].status, quote_status::no_forward);
  EXPECT_FALSE(b->fitted);
  EXPECT_EQ(b->fit_reason, "no_forward");
  EXPECT_EQ(b->forward_from, engine::forward_source::none);

  // The engine's own IVs of the clean quotes reproduce the smile the prices came from.
  int checked = 0;
  for (const auto& q : a->quotes) {
    if (q.status != quote_status::ok) continue;
    EXPECT_NEAR(q.mark_iv, smile_vol(q.strike, forward), 1e-10) << q.strike;
    EXPECT_LT(q.bid_iv, q.mark_iv);
    EXPECT_GT(q.ask_iv, q.mark_iv);
    ++checked;
  }
  EXPECT_GT(checked, 15);
  EXPECT_TRUE(a->fitted) << a->fit_reason;
  EXPECT_EQ(a->forward, forward);
  EXPECT_EQ(a->forward_from, engine::forward_source::venue_underlying);
  EXPECT_EQ(btc->quotes_total, static_cast<int>(ids.size()) + 1);
  EXPECT_EQ(btc->quotes_usable, checked);
}

TEST(engine_book, quotes_order_by_strike_with_calls_first) {
  chain ch;
  const std::int64_t exp = expiry_after(30);
  // Listed out of order on purpose.
  for (double k : {110'000.0, 90'000.0, 100'000.0}) {
    ch.option("BTC", exp, k, option_right::put);
    ch.option("BTC", exp, k, option_right::call);
  }
  engine::engine eng(small_config(), ch.table);
  for (core::instrument_id id = 0; id < ch.table.size(); ++id)
    eng.on_event(smile_quote(ch.table, id, t0_ns, forward));
  const auto snap = eng.flush();
  const auto& q = snap->find("BTC")->expiries.at(0)->quotes;
  ASSERT_EQ(q.size(), 6u);
  const double strikes[] = {90'000, 90'000, 100'000, 100'000, 110'000, 110'000};
  for (std::size_t i = 0; i < q.size(); ++i) {
    EXPECT_EQ(q[i].strike, strikes[i]);
    EXPECT_EQ(q[i].right, i % 2 == 0 ? option_right::call : option_right::put);
  }
  EXPECT_EQ(snap->find("BTC")->expiries.at(0)->label, "24NOV25");
}

TEST(engine_book, forward_from_put_call_parity_when_the_venue_sends_none) {
  chain ch;
  const std::int64_t exp = expiry_after(30);
  for (double k = 80'000; k <= 120'000; k += 5'000) {
    ch.option("BTC", exp, k, option_right::call);
    ch.option("BTC", exp, k, option_right::put);
  }
  engine::engine eng(small_config(), ch.table);
  for (core::instrument_id id = 0; id < ch.table.size(); ++id)
    eng.on_event(smile_quote(ch.table, id, t0_ns, forward, 0.01, /*with_forward=*/false));
  const auto snap = eng.flush();
  const auto& e = *snap->find("BTC")->expiries.at(0);
  EXPECT_EQ(e.forward_from, engine::forward_source::parity);
  // Mids are symmetric around the Black price, so parity gives F back to rounding.
  EXPECT_NEAR(e.forward, forward, 1e-6 * forward);
  const auto* atm = find_quote(e, 100'000, option_right::call);
  ASSERT_NE(atm, nullptr);
  EXPECT_EQ(atm->status, quote_status::ok);
  EXPECT_NEAR(atm->mark_iv, smile_vol(100'000, forward), 1e-8);
  EXPECT_TRUE(e.fitted) << e.fit_reason;
}

TEST(engine_book, garbage_is_counted_not_applied) {
  chain ch;
  const std::int64_t exp = expiry_after(30);
  const auto call = ch.option("BTC", exp, 100'000, option_right::call);
  const auto sol = ch.option("SOL", exp, 200, option_right::call);
  const auto idx = ch.index("btc_usd", "btc");
  engine::engine eng(small_config(), ch.table);

  core::option_quote nan_quote;
  nan_quote.id = call;
  nan_quote.ts_ns = t0_ns;
  nan_quote.bid_price = std::nan("");
  nan_quote.ask_price = -5;
  nan_quote.mark_price = std::numeric_limits<double>::infinity();
  nan_quote.underlying_price = std::nan("");
  eng.on_event(nan_quote);
  core::option_quote unknown = nan_quote;
  unknown.id = 12'345;  // not in the table
  eng.on_event(unknown);
  eng.on_event(smile_quote(ch.table, sol, t0_ns, 180));  // SOL is not configured
  core::option_quote no_time = smile_quote(ch.table, call, 0, forward);
  eng.on_event(no_time);
  core::index_tick bad_index{t0_ns, t0_ns, idx, std::nan("")};
  eng.on_event(bad_index);

  const auto& st = eng.stats();
  EXPECT_EQ(st.events, 5u);
  EXPECT_EQ(st.quotes, 4u);
  EXPECT_EQ(st.quotes_ignored, 4u);  // bad prices, unknown id, SOL, time 0
  EXPECT_EQ(st.events_ignored, 1u);  // the NaN index price
  auto rejected = [&](engine::event_reject r) { return st.rejected[static_cast<std::size_t>(r)]; };
  EXPECT_EQ(rejected(engine::event_reject::bad_price), 2u);  // the quote and the index
  EXPECT_EQ(rejected(engine::event_reject::unknown_instrument), 2u);
  EXPECT_EQ(rejected(engine::event_reject::bad_timestamp), 1u);
  const auto snap = eng.flush();
  ASSERT_NE(snap, nullptr);
  // Nothing reached the book: no quote of the call, no index price.
  for (const auto& e : snap->find("BTC")->expiries) EXPECT_TRUE(e->quotes.empty()) << e->label;
  EXPECT_TRUE(std::isnan(snap->find("BTC")->index_price));
}

// Stale, repeated and future-stamped events are rejected with their reason, and the stream
// after them is applied as if they had never come.
TEST(engine_book, reordered_repeated_and_future_events_are_rejected) {
  chain ch;
  const std::int64_t exp = expiry_after(30);
  const auto call = ch.option("BTC", exp, 100'000, option_right::call);
  const auto idx = ch.index("btc_usd", "btc");
  engine::engine eng(small_config(), ch.table);
  auto rejected = [&](engine::event_reject r) {
    return eng.stats().rejected[static_cast<std::size_t>(r)];
  };

  const auto first = smile_quote(ch.table, call, t0_ns + minute_ns, forward);
  eng.on_event(first);
  eng.on_event(first);  // the same message twice
  EXPECT_EQ(rejected(engine::event_reject::duplicate), 1u);
  eng.on_event(smile_quote(ch.table, call, t0_ns, forward, 0.05));  // older than the one held
  EXPECT_EQ(rejected(engine::event_reject::out_of_order), 1u);
  auto future = smile_quote(ch.table, call, t0_ns + 2 * minute_ns, forward, 0.05);
  future.ts_ns = future.recv_ns + 61'000'000'000;  // a venue clock a minute ahead
  eng.on_event(future);
  EXPECT_EQ(rejected(engine::event_reject::future_timestamp), 1u);
  core::index_tick ahead{future.ts_ns, future.recv_ns, idx, forward};
  eng.on_event(ahead);
  EXPECT_EQ(rejected(engine::event_reject::future_timestamp), 2u);
  core::index_tick good{t0_ns + minute_ns, t0_ns + minute_ns, idx, forward};
  eng.on_event(good);
  core::index_tick older{t0_ns, t0_ns, idx, forward * 2};
  eng.on_event(older);
  EXPECT_EQ(rejected(engine::event_reject::out_of_order), 2u);

  const auto snap = eng.flush();
  ASSERT_NE(snap, nullptr);
  const auto* u = snap->find("BTC");
  // The future stamps did not move the clock; the older index did not replace the newer one.
  EXPECT_EQ(u->ts_ns, t0_ns + minute_ns);
  EXPECT_EQ(u->index_price, forward);
  const auto& e = *u->expiries.at(0);
  const auto* q = find_quote(e, 100'000, option_right::call);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->bid_usd, first.bid_price);  // the first quote, not the rejected ones
  EXPECT_EQ(q->ts_ns, first.ts_ns);
}

TEST(engine_book, funding_is_annualized_as_three_periods_a_day) {
  chain ch;
  const auto perp = ch.perpetual("BTC-PERPETUAL", "BTC");
  const auto idx = ch.index("btc_usd", "btc");
  const auto dvol_idx = ch.index("eth_usd", "eth");
  engine::engine eng(small_config(), ch.table);
  core::funding_tick f;
  f.ts_ns = t0_ns;
  f.id = perp;
  f.funding_8h = 0.0001;
  f.mark_price = 100'500;
  f.index_price = 100'000;
  eng.on_event(f);
  eng.on_event(core::index_tick{t0_ns, t0_ns, idx, 100'010});
  eng.on_event(core::dvol_tick{t0_ns, t0_ns, dvol_idx, 0.72});
  const auto snap = eng.publish();
  ASSERT_NE(snap, nullptr);
  const auto* btc = snap->find("BTC");
  EXPECT_DOUBLE_EQ(btc->funding_annual, 0.0001 * 3 * 365);
  EXPECT_NEAR(btc->perp_basis, 0.005, 1e-15);
  EXPECT_EQ(btc->index_price, 100'010);
  EXPECT_EQ(snap->find("ETH")->dvol, 0.72);
  EXPECT_FALSE(btc->complete);  // no surface, no forecast
  for (const auto& row : btc->tenors) {
    EXPECT_FALSE(row.available);
    EXPECT_EQ(row.reason, "no_surface");
  }
}

TEST(engine_book, expiry_closer_than_the_limit_or_thin_is_not_fitted) {
  chain ch;
  const std::int64_t soon = t0_ns / ms + 30 * 60'000;  // 30 minutes out
  const std::int64_t exp = expiry_after(30);
  for (double k = 80'000; k <= 120'000; k += 5'000) {
    ch.option("BTC", soon, k, option_right::call);
    ch.option("BTC", soon, k, option_right::put);
  }
  // Only three OTM strikes on the far expiry.
  for (double k : {90'000.0, 100'000.0, 110'000.0}) ch.option("BTC", exp, k, option_right::call);
  engine::engine eng(small_config(), ch.table);
  for (core::instrument_id id = 0; id < ch.table.size(); ++id)
    eng.on_event(smile_quote(ch.table, id, t0_ns, forward));
  const auto snap = eng.flush();
  const auto* btc = snap->find("BTC");
  ASSERT_EQ(btc->expiries.size(), 2u);
  EXPECT_FALSE(btc->expiries[0]->fitted);
  EXPECT_EQ(btc->expiries[0]->fit_reason, "too_close_to_expiry");
  EXPECT_FALSE(btc->expiries[1]->fitted);
  EXPECT_EQ(btc->expiries[1]->fit_reason, "too_few_quotes");
  EXPECT_EQ(eng.stats().smile_fits, 0u);
}

TEST(engine_book, settled_instrument_is_expired) {
  chain ch;
  const std::int64_t exp = expiry_after(30);
  std::vector<core::instrument_id> ids;
  for (double k = 80'000; k <= 120'000; k += 5'000) {
    ids.push_back(ch.option("BTC", exp, k, option_right::call));
    ids.push_back(ch.option("BTC", exp, k, option_right::put));
  }
  engine::engine eng(small_config(), ch.table);
  for (auto id : ids) eng.on_event(smile_quote(ch.table, id, t0_ns, forward));
  eng.on_event(core::chain_event{t0_ns + 1, t0_ns + 1, ids[0], core::chain_change::expired});
  const auto snap = eng.flush();
  const auto& e = *snap->find("BTC")->expiries.at(0);
  EXPECT_EQ(find_quote(e, 80'000, option_right::call)->status, quote_status::expired);
  EXPECT_EQ(find_quote(e, 80'000, option_right::put)->status, quote_status::ok);
}

TEST(engine_book, impossible_configuration_throws) {
  chain ch;
  engine::engine_config c = small_config();
  c.underlyings.clear();
  EXPECT_THROW(engine::engine(c, ch.table), std::invalid_argument);
  c = small_config();
  c.tenor_days = {0};
  EXPECT_THROW(engine::engine(c, ch.table), std::invalid_argument);
  c = small_config();
  c.min_quotes_per_expiry = 2;
  EXPECT_THROW(engine::engine(c, ch.table), std::invalid_argument);
}

}  // namespace

// The local clock marks an underlying whose data stopped as stale: every tenor unavailable, no
// number; the next event of that underlying makes it fresh again.
TEST(engine_book, an_underlying_whose_data_stopped_is_stale_until_data_returns) {
  chain ch;
  const auto call = ch.option("BTC", expiry_after(30), 100'000, option_right::call);
  const auto idx = ch.index("btc_usd", "btc");
  engine::engine_config c = small_config();
  c.data_timeout_ns = 60'000'000'000;
  engine::engine eng(c, ch.table);
  const auto q = smile_quote(ch.table, call, t0_ns, forward);
  eng.on_event(q);
  eng.on_event(core::index_tick{t0_ns, q.recv_ns, idx, forward});
  ASSERT_NE(eng.flush(), nullptr);

  eng.on_clock(q.recv_ns + 59'000'000'000);  // within the timeout: nothing changes
  EXPECT_EQ(eng.publish(), nullptr);
  eng.on_clock(q.recv_ns + 61'000'000'000);
  const auto stale = eng.publish();
  ASSERT_NE(stale, nullptr);
  const auto* u = stale->find("BTC");
  EXPECT_TRUE(u->stale);
  for (const auto& row : u->tenors) {
    EXPECT_FALSE(row.available) << row.days;
    EXPECT_EQ(row.reason, "stale_data") << row.days;
    EXPECT_TRUE(std::isnan(row.atm_iv) && std::isnan(row.mfiv) && std::isnan(row.premium_vol))
        << row.days;
  }
  EXPECT_FALSE(stale->find("ETH")->stale);  // no data ever: not stale, just not complete

  auto later = smile_quote(ch.table, call, t0_ns + minute_ns, forward);
  later.recv_ns = q.recv_ns + 62'000'000'000;
  eng.on_event(later);
  const auto fresh = eng.publish();
  ASSERT_NE(fresh, nullptr);
  EXPECT_FALSE(fresh->find("BTC")->stale);
}
