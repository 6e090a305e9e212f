// Forecaster bar builder, warm-up bookkeeping and live HAR days, on a simulated GARCH(1,1) path
// (fixed seed). Every expected value is recomputed here from the prices with the quant
// primitives or by hand, never read back from the forecaster.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "counting_new.hpp"
#include "vrp/engine/forecaster.hpp"
#include "vrp/quant/garch.hpp"
#include "vrp/quant/har.hpp"
#include "vrp/quant/realized.hpp"

namespace {

using vrp::engine::forecast_config;
using vrp::engine::forecast_view;
using vrp::engine::forecaster;
using vrp::engine::history_bar;
namespace q = vrp::quant;

constexpr std::int64_t hour_ms = 3'600'000;
constexpr std::int64_t hour_ns = hour_ms * 1'000'000;
constexpr std::int64_t minute_ns = 60'000'000'000;
constexpr double bars_per_year = 8760;
constexpr std::int64_t t0_ms = 1'735'689'600'000;  // 2025-01-01 00:00 UTC
constexpr q::garch_spec garch_n{q::garch_model::garch, q::garch_dist::normal, q::garch_mean::zero};

// GARCH(1,1)-normal path, omega 2e-6, alpha 0.10, beta 0.85 (hourly vol about 0.63 %), from
// xorshift64* uniforms through Box-Muller, so the data do not depend on the standard library.
std::vector<history_bar> simulated_bars(std::size_t n) {
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  auto uniform = [&s] {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return (static_cast<double>((s * 0x2545F4914F6CDD1Dull) >> 11) + 0.5) * 0x1.0p-53;
  };
  std::vector<history_bar> bars;
  double h = 4e-5;
  double r = 0;
  double close = 100;
  for (std::size_t i = 0; i < n; ++i) {
    h = 2e-6 + 0.10 * r * r + 0.85 * h;
    const double z = std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
    r = std::sqrt(h) * z;
    close *= std::exp(r);
    history_bar b;
    b.open_ms = t0_ms + static_cast<std::int64_t>(i) * hour_ms;
    b.open = b.high = b.low = b.close = close;
    bars.push_back(b);
  }
  return bars;
}

forecast_config small_config() {
  forecast_config c;
  c.spec = garch_n;
  c.window = 2000;
  c.min_points = 200;
  c.refit_every = 1'000'000;  // no re-estimation unless a test asks for it
  c.background_refit = false;
  return c;
}

std::int64_t open_ns(const history_bar& b) {
  return b.open_ms * 1'000'000;
}

forecast_view view_of(const forecaster& f) {
  forecast_view v;
  const int tenors[] = {1, 7, 30};
  f.fill_view(v, tenors);
  return v;
}

double variance_of(const forecast_view& v) {
  return v.conditional_vol * v.conditional_vol / bars_per_year;
}

// h_{t+1} of GARCH(1,1) with zero mean (Bollerslev 1986, eq. 5).
double garch_step(const q::garch_params& p, double r, double h) {
  return p.omega + p.alpha * r * r + p.beta * h;
}

// The next variance after the closed history bars (all but the last), by the batch filter.
double variance_after(const std::vector<history_bar>& bars, const q::garch_params& p) {
  std::vector<double> r;
  for (std::size_t i = 1; i + 1 < bars.size(); ++i)
    r.push_back(std::log(bars[i].close / bars[i - 1].close));
  double h = 0;
  EXPECT_EQ(q::garch_filter(garch_n, p, r, {}, nullptr, &h), q::status::ok);
  return h;
}

TEST(forecaster_config, impossible_configurations_throw_at_startup) {
  auto with = [](auto change) {
    forecast_config c = small_config();
    change(c);
    return c;
  };
  EXPECT_THROW(forecaster(with([](forecast_config& c) { c.bar_ns = 0; })), std::invalid_argument);
  EXPECT_THROW(forecaster(with([](forecast_config& c) { c.bar_ns = 7'000'000'000; })),
               std::invalid_argument);  // 7 s does not divide a day
  EXPECT_THROW(forecaster(with([](forecast_config& c) { c.bar_ns = 1'500'000'000; })),
               std::invalid_argument);
  EXPECT_THROW(forecaster(with([](forecast_config& c) { c.window = 10; })), std::invalid_argument);
  EXPECT_THROW(forecaster(with([](forecast_config& c) { c.min_points = 3000; })),
               std::invalid_argument);
  EXPECT_THROW(forecaster(with([](forecast_config& c) { c.refit_every = 0; })),
               std::invalid_argument);
  EXPECT_NO_THROW(forecaster(with([](forecast_config& c) { c.bar_ns = 300'000'000'000; })));
}

TEST(forecaster_warm_up, keeps_the_last_history_bar_open_and_fits_the_closed_ones) {
  const std::vector<history_bar> bars = simulated_bars(600);
  forecaster f(small_config());
  ASSERT_EQ(f.warm_up(bars), q::status::ok);
  EXPECT_TRUE(f.ready());
  EXPECT_EQ(f.bars(), 599u);
  const forecast_view v = view_of(f);
  EXPECT_EQ(v.model, "garch-normal");
  EXPECT_EQ(v.last_bar_close_ns, open_ns(bars[599]));  // bar 598 closes when 599 opens
  EXPECT_EQ(v.last_refit_ns, open_ns(bars[599]));
  EXPECT_EQ(v.refits, 0u);
  std::vector<double> r;
  for (std::size_t i = 1; i < 599; ++i) r.push_back(std::log(bars[i].close / bars[i - 1].close));
  const q::garch_fit_result fit = q::garch_fit(garch_n, r);
  ASSERT_EQ(fit.code, q::status::ok);
  EXPECT_EQ(v.params.omega, fit.params.omega);
  EXPECT_EQ(v.params.alpha, fit.params.alpha);
  EXPECT_EQ(v.params.beta, fit.params.beta);
  EXPECT_NEAR(variance_of(v) / fit.next_variance, 1, 1e-14);
  // Persistence, long-run and conditional vol from the fitted parameters.
  EXPECT_DOUBLE_EQ(v.persistence, fit.params.alpha + fit.params.beta);
  EXPECT_NEAR(v.long_run_vol,
              std::sqrt(fit.params.omega / (1 - fit.params.alpha - fit.params.beta) * 8760), 1e-12);
}

TEST(forecaster_warm_up, skips_invalid_duplicate_and_off_grid_bars_and_counts_them) {
  const std::vector<history_bar> clean = simulated_bars(400);
  std::vector<history_bar> dirty = clean;
  history_bar nan_close = clean[100];
  nan_close.close = std::nan("");
  dirty.insert(dirty.begin() + 100, nan_close);  // same time as a good bar, invalid close
  dirty.insert(dirty.begin() + 50, clean[49]);   // duplicate of the bar before it
  history_bar off_grid = clean[20];
  off_grid.open_ms += 1;  // not on the hour
  dirty.insert(dirty.begin() + 21, off_grid);
  history_bar zero = clean[10];
  zero.close = 0;
  dirty.insert(dirty.begin() + 11, zero);
  history_bar older = clean[5];  // out of order
  dirty.insert(dirty.begin() + 300, older);

  forecaster f(small_config());
  ASSERT_EQ(f.warm_up(dirty), q::status::ok);
  EXPECT_EQ(f.skipped_history_bars(), 5u);
  EXPECT_EQ(f.bars(), 399u);
  std::vector<double> r;
  for (std::size_t i = 1; i < 399; ++i) r.push_back(std::log(clean[i].close / clean[i - 1].close));
  const q::garch_fit_result fit = q::garch_fit(garch_n, r);
  const forecast_view v = view_of(f);
  EXPECT_EQ(v.params.omega, fit.params.omega);
  EXPECT_EQ(v.params.alpha, fit.params.alpha);
  EXPECT_EQ(v.params.beta, fit.params.beta);
}

TEST(forecaster_warm_up, too_few_returns_for_a_fit_is_not_ready) {
  forecaster f(small_config());  // min_points 200
  EXPECT_EQ(f.warm_up(simulated_bars(150)), q::status::insufficient_data);
  EXPECT_FALSE(f.ready());
  EXPECT_TRUE(std::isnan(f.rv_forecast(7)));
  const forecast_view v = view_of(f);
  EXPECT_FALSE(v.ready);
  EXPECT_TRUE(std::isnan(v.term[0].vol));
  EXPECT_TRUE(std::isnan(v.conditional_vol));
}

TEST(forecaster_bars, a_bar_closes_at_the_next_bar_with_its_last_price) {
  const std::vector<history_bar> bars = simulated_bars(600);
  forecaster f(small_config());
  ASSERT_EQ(f.warm_up(bars), q::status::ok);
  const q::garch_params p = view_of(f).params;
  const double h0 = variance_after(bars, p);
  EXPECT_NEAR(variance_of(view_of(f)) / h0, 1, 1e-14);

  // Bar 599 (open from history) gets two live prices, then a price of bar 600 closes it.
  const std::int64_t t599 = open_ns(bars[599]);
  const double first = bars[598].close * 1.03;
  const double last = bars[598].close * 0.99;
  EXPECT_FALSE(f.on_price(t599 + 10 * minute_ns, first));
  EXPECT_FALSE(f.on_price(t599 + 59 * minute_ns, last));
  EXPECT_EQ(f.bars(), 599u);
  EXPECT_TRUE(f.on_price(t599 + 65 * minute_ns, 12345.0));
  EXPECT_EQ(f.bars(), 600u);
  const forecast_view v = view_of(f);
  EXPECT_EQ(v.last_bar_close_ns, t599 + hour_ns);
  // r = ln(0.99), the close against bar 598's close.
  const double expected = garch_step(p, std::log(0.99), h0);
  EXPECT_NEAR(variance_of(v) / expected, 1, 1e-12);
  const double with_first = garch_step(p, std::log(1.03), h0);
  EXPECT_GT(std::fabs(with_first / expected - 1), 1e-4);  // the check can tell them apart
  EXPECT_EQ(f.ignored_prices(), 0u);
}

TEST(forecaster_bars, a_return_across_empty_bars_is_dropped_and_the_next_starts_after_the_gap) {
  const std::vector<history_bar> bars = simulated_bars(600);
  forecaster f(small_config());
  ASSERT_EQ(f.warm_up(bars), q::status::ok);
  const q::garch_params p = view_of(f).params;
  double h = variance_after(bars, p);
  const double c598 = bars[598].close;
  const std::int64_t t599 = open_ns(bars[599]);
  const double p599 = c598 * 1.01, p600 = c598 * 1.02, p603 = c598 * 0.95, p604 = c598 * 0.96;

  f.on_price(t599 + minute_ns, p599);
  EXPECT_TRUE(f.on_price(t599 + hour_ns + minute_ns, p600));  // closes 599
  h = garch_step(p, std::log(p599 / c598), h);
  EXPECT_TRUE(f.on_price(t599 + 4 * hour_ns + minute_ns, p603));  // closes 600; 601, 602 empty
  h = garch_step(p, std::log(p600 / p599), h);
  EXPECT_NEAR(variance_of(view_of(f)) / h, 1, 1e-12);
  EXPECT_EQ(f.dropped_gaps(), 0u);

  EXPECT_TRUE(f.on_price(t599 + 5 * hour_ns + minute_ns, p604));  // closes 603: spans the gap
  EXPECT_EQ(f.dropped_gaps(), 1u);
  EXPECT_NEAR(variance_of(view_of(f)) / h, 1, 1e-12);  // unchanged: no return absorbed
  EXPECT_EQ(f.bars(), 602u);

  EXPECT_TRUE(f.on_price(t599 + 6 * hour_ns, c598));  // closes 604 against 603
  h = garch_step(p, std::log(p604 / p603), h);
  EXPECT_NEAR(variance_of(view_of(f)) / h, 1, 1e-12);
  EXPECT_EQ(view_of(f).last_bar_close_ns, t599 + 6 * hour_ns);
}

TEST(forecaster_bars, out_of_order_and_invalid_prices_are_ignored_and_counted) {
  const std::vector<history_bar> bars = simulated_bars(600);
  forecaster f(small_config());
  ASSERT_EQ(f.warm_up(bars), q::status::ok);
  const q::garch_params p = view_of(f).params;
  const double h0 = variance_after(bars, p);
  const double c598 = bars[598].close;
  const std::int64_t t599 = open_ns(bars[599]);

  EXPECT_FALSE(f.on_price(t599 + 30 * minute_ns, c598 * 1.02));
  EXPECT_FALSE(f.on_price(t599 + 20 * minute_ns, c598 * 0.50));  // older than the last price
  EXPECT_FALSE(f.on_price(t599 - 1, c598 * 0.50));               // a bar already closed
  EXPECT_FALSE(f.on_price(t599 + 40 * minute_ns, std::nan("")));
  EXPECT_FALSE(f.on_price(t599 + 40 * minute_ns, INFINITY));
  EXPECT_FALSE(f.on_price(t599 + 40 * minute_ns, 0.0));
  EXPECT_FALSE(f.on_price(t599 + 40 * minute_ns, -5.0));
  EXPECT_EQ(f.ignored_prices(), 6u);
  EXPECT_EQ(f.bars(), 599u);
  EXPECT_TRUE(f.on_price(t599 + hour_ns, c598));
  EXPECT_NEAR(variance_of(view_of(f)) / garch_step(p, std::log(1.02), h0), 1, 1e-12);
}

TEST(forecaster_bars, realized_vol_24h_is_the_annualized_mean_square_of_the_last_day) {
  const std::vector<history_bar> bars = simulated_bars(600);
  forecaster f(small_config());
  ASSERT_EQ(f.warm_up(bars), q::status::ok);
  long double sum = 0;
  for (std::size_t i = 598 - 23; i <= 598; ++i) {
    const long double r = std::log(static_cast<long double>(bars[i].close) / bars[i - 1].close);
    sum += r * r;
  }
  EXPECT_NEAR(view_of(f).realized_vol_24h, std::sqrt(static_cast<double>(sum / 24 * 8760)), 1e-12);
  // One more live bar moves the window by one.
  const double c = bars[598].close * 1.05;
  f.on_price(open_ns(bars[599]) + 1, c);
  f.on_price(open_ns(bars[599]) + hour_ns, c);
  sum = 0;
  for (std::size_t i = 598 - 22; i <= 598; ++i) {
    const long double r = std::log(static_cast<long double>(bars[i].close) / bars[i - 1].close);
    sum += r * r;
  }
  sum += std::log(1.05L) * std::log(1.05L);
  EXPECT_NEAR(view_of(f).realized_vol_24h, std::sqrt(static_cast<double>(sum / 24 * 8760)), 1e-12);
}

// 40 days of history starting at midnight; the live bars finish the open day and start the next.
// HAR must then be refitted on the daily RV of all complete days, computed here over the whole
// bar series (history + live) by quant::daily_realized_variance.
TEST(forecaster_har, a_completed_utc_day_refits_har_on_all_complete_days) {
  std::vector<history_bar> all = simulated_bars(40 * 24 + 30);
  const std::size_t n_hist = 40 * 24 - 5;  // the open bar is 954: 18:00 of day 39 (0-based)
  const std::vector<history_bar> hist(all.begin(), all.begin() + n_hist);
  forecast_config c = small_config();
  c.use = vrp::engine::premium_model::har;
  forecaster f(c);
  ASSERT_EQ(f.warm_up(hist), q::status::ok);
  ASSERT_TRUE(f.ready());

  auto har_of = [](const std::vector<history_bar>& bars, std::size_t closed,
                   std::int64_t before_ms) {
    std::vector<std::int64_t> t;
    std::vector<double> px;
    for (std::size_t i = 0; i < closed; ++i) {
      t.push_back(bars[i].open_ms);
      px.push_back(bars[i].close);
    }
    std::vector<q::daily_rv> days;
    EXPECT_EQ(q::daily_realized_variance(t, px, hour_ms, 1.0, days).code, q::status::ok);
    std::vector<double> rv;
    for (const auto& d : days)
      if (d.day_start_ms < before_ms) rv.push_back(d.variance);
    return rv;
  };
  // Day 0 starts with the first bar, which has no return: 23 returns, below full coverage.
  std::vector<double> rv = har_of(all, n_hist - 1, t0_ms + 39 * 24 * hour_ms);
  ASSERT_EQ(rv.size(), 38u);
  q::har_fit_result fit = q::har_fit(rv);
  ASSERT_EQ(fit.code, q::status::ok);
  forecast_view v = view_of(f);
  EXPECT_EQ(v.model, "har");
  EXPECT_TRUE(v.har_ready);
  EXPECT_EQ(v.har_beta_d, fit.beta_d);
  EXPECT_EQ(v.har_beta_m, fit.beta_m);
  const q::har_forecast_mean_result m7 = q::har_forecast_mean(fit, rv, 7);
  EXPECT_EQ(f.rv_forecast(7), std::sqrt(365 * m7.mean_variance));

  // Live: one price per bar at minute 59, up to bar 959 (23:00 of day 39): the day is not over.
  for (std::size_t i = n_hist - 1; i < 960; ++i) {
    f.on_price(open_ns(all[i]) + 59 * minute_ns, all[i].close);
  }
  EXPECT_EQ(view_of(f).refits, 0u);
  // The first price of day 40 closes bar 959 and completes day 39.
  EXPECT_TRUE(f.on_price(open_ns(all[960]) + 59 * minute_ns, all[960].close));
  v = view_of(f);
  rv = har_of(all, 960, t0_ms + 40 * 24 * hour_ms);
  ASSERT_EQ(rv.size(), 39u);
  fit = q::har_fit(rv);
  EXPECT_EQ(v.refits, 1u);
  EXPECT_EQ(v.last_refit_ns, open_ns(all[960]));  // close of bar 959, the day's last
  EXPECT_EQ(v.har_beta0, fit.beta0);
  EXPECT_EQ(v.har_beta_w, fit.beta_w);
  const q::har_forecast_mean_result m30 = q::har_forecast_mean(fit, rv, 30);
  EXPECT_EQ(f.rv_forecast(30), std::sqrt(365 * m30.mean_variance));
  EXPECT_EQ(v.term[2].vol, std::sqrt(365 * m30.mean_variance));
}

TEST(forecaster_bars, prices_and_bar_closes_within_a_day_do_not_allocate) {
  const std::vector<history_bar> bars = simulated_bars(640);
  forecaster f(small_config());
  ASSERT_EQ(f.warm_up(std::span(bars).first(600)), q::status::ok);
  // Bar 599 is 23:00; its close ends the day (a HAR refit, which may allocate).
  f.on_price(open_ns(bars[599]) + minute_ns, bars[599].close);
  f.on_price(open_ns(bars[600]) + minute_ns, bars[600].close);
  const std::uint64_t n = vrp::test::allocations_in([&] {
    for (std::size_t i = 601; i < 620; ++i) {
      f.on_price(open_ns(bars[i]) + minute_ns, bars[i].open);
      f.on_price(open_ns(bars[i]) + 59 * minute_ns, bars[i].close);
      f.on_price(open_ns(bars[i]) + 58 * minute_ns, bars[i].close);  // ignored
      f.on_price(open_ns(bars[i]) + 59 * minute_ns, std::nan(""));   // ignored
    }
  });
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(f.bars(), 619u);
  EXPECT_EQ(f.ignored_prices(), 2u * 19u);
}

// No history: the builder starts with the first live price, GARCH buffers returns and fits once
// min_points are in (here inline, at the 200th return).
TEST(forecaster_bars, without_history_the_first_fit_comes_from_live_bars) {
  const std::vector<history_bar> bars = simulated_bars(260);
  forecast_config c = small_config();
  c.refit_every = 24;
  forecaster f(c);
  EXPECT_EQ(f.warm_up({}), q::status::insufficient_data);
  for (std::size_t i = 0; i < 201; ++i) {
    EXPECT_FALSE(f.ready());
    f.on_price(open_ns(bars[i]) + 30 * minute_ns, bars[i].close);
  }
  // 201 prices: bars 0..199 closed, 199 returns.
  EXPECT_EQ(f.bars(), 200u);
  EXPECT_FALSE(f.ready());
  f.on_price(open_ns(bars[201]) + 30 * minute_ns, bars[201].close);  // the 200th return
  ASSERT_TRUE(f.ready());
  const forecast_view v = view_of(f);
  EXPECT_EQ(v.refits, 1u);
  EXPECT_EQ(v.last_refit_ns, open_ns(bars[201]));
  EXPECT_TRUE(q::garch_params_valid(garch_n, v.params));
  EXPECT_TRUE(std::isfinite(v.term[2].vol));
}

}  // namespace
