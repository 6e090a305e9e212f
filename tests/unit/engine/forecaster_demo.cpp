// Forecaster on the real hourly BTC and ETH perpetual bars of the demo recording
// (data/demo/deribit_2025-10-24.recording.jsonl, the `{"chart":...}` lines: 2,857 bars from
// 2025-06-26 23:00 to 2025-10-24 22:00 UTC with one 24-hour hole). Expected values come from the
// quant primitives called directly on returns and daily RV computed here.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vrp/engine/forecaster.hpp"
#include "vrp/quant/garch.hpp"
#include "vrp/quant/har.hpp"
#include "vrp/quant/realized.hpp"

namespace {

using vrp::engine::forecast_config;
using vrp::engine::forecast_view;
using vrp::engine::forecaster;
using vrp::engine::history_bar;
using vrp::engine::premium_model;
namespace q = vrp::quant;

constexpr std::int64_t hour_ms = 3'600'000;
constexpr std::int64_t hour_ns = hour_ms * 1'000'000;
constexpr int tenors[] = {1, 7, 30, 90};

std::vector<history_bar> load_chart(const std::string& instrument) {
  std::ifstream in(std::string(VRP_SOURCE_DIR) + "/data/demo/deribit_2025-10-24.recording.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("{\"chart\"", 0) != 0) continue;
    const nlohmann::json j = nlohmann::json::parse(line).at("chart");
    if (j.at("instrument_name") != instrument) continue;
    std::vector<history_bar> bars(j.at("ticks").size());
    for (std::size_t i = 0; i < bars.size(); ++i) {
      bars[i].open_ms = j["ticks"][i].get<std::int64_t>();
      bars[i].open = j["open"][i].get<double>();
      bars[i].high = j["high"][i].get<double>();
      bars[i].low = j["low"][i].get<double>();
      bars[i].close = j["close"][i].get<double>();
    }
    return bars;
  }
  return {};
}

const std::vector<history_bar>& btc() {
  static const std::vector<history_bar> b = load_chart("BTC-PERPETUAL");
  return b;
}
const std::vector<history_bar>& eth() {
  static const std::vector<history_bar> b = load_chart("ETH-PERPETUAL");
  return b;
}

// Log returns of the closed bars (all but the last), skipping the one across the 24-hour hole.
std::vector<double> closed_returns(const std::vector<history_bar>& bars) {
  std::vector<double> r;
  for (std::size_t i = 1; i + 1 < bars.size(); ++i) {
    if (bars[i].open_ms - bars[i - 1].open_ms != hour_ms) continue;
    r.push_back(std::log(bars[i].close / bars[i - 1].close));
  }
  return r;
}

// Daily RV of the complete UTC days before the last (open) bar's day.
std::vector<double> complete_daily_rv(const std::vector<history_bar>& bars) {
  std::vector<std::int64_t> t;
  std::vector<double> px;
  for (std::size_t i = 0; i + 1 < bars.size(); ++i) {
    t.push_back(bars[i].open_ms);
    px.push_back(bars[i].close);
  }
  std::vector<q::daily_rv> days;
  EXPECT_EQ(q::daily_realized_variance(t, px, hour_ms, 1.0, days).code, q::status::ok);
  const std::int64_t open_day_ms = bars.back().open_ms / q::ms_per_day * q::ms_per_day;
  std::vector<double> rv;
  for (const auto& d : days)
    if (d.day_start_ms < open_day_ms) rv.push_back(d.variance);
  return rv;
}

forecast_view view_of(const forecaster& f) {
  forecast_view v;
  f.fill_view(v, tenors);
  return v;
}

// ARCHITECTURE.md §4: E[h_{t+k}] = hbar + p^(k-1) (h_{t+1} - hbar), averaged over k = 1..steps,
// summed term by term.
double closed_form_vol(double omega, double persistence, double h1, int steps) {
  const long double hbar = omega / (1.0L - persistence);
  long double sum = 0;
  long double pk = 1;
  for (int k = 1; k <= steps; ++k) {
    sum += hbar + pk * (h1 - hbar);
    pk *= persistence;
  }
  return static_cast<double>(std::sqrt(sum / steps * 8760));
}

TEST(forecaster_demo, the_recording_has_the_expected_bars) {
  ASSERT_EQ(btc().size(), 2857u);
  ASSERT_EQ(eth().size(), 2857u);
  EXPECT_EQ(btc().back().open_ms, 1'761'343'200'000);  // 2025-10-24 22:00 UTC
  EXPECT_EQ(closed_returns(btc()).size(), 2854u);
}

TEST(forecaster_demo, btc_warm_up_matches_independent_fits_and_forecasts) {
  forecast_config c;  // defaults: 1 h bars, GJR-normal with zero mean, window 17,520
  forecaster f(c);
  ASSERT_EQ(f.warm_up(btc()), q::status::ok);
  ASSERT_TRUE(f.ready());
  const forecast_view v = view_of(f);
  EXPECT_TRUE(v.ready);
  EXPECT_EQ(v.model, "gjr-normal");
  EXPECT_EQ(v.bars, 2856u);
  EXPECT_EQ(v.bar_ns, hour_ns);
  EXPECT_EQ(v.last_bar_close_ns, btc().back().open_ms * 1'000'000);
  EXPECT_EQ(v.last_refit_ns, v.last_bar_close_ns);
  EXPECT_EQ(f.dropped_gaps(), 1u);

  // GARCH: the same returns through quant::garch_fit directly.
  const std::vector<double> r = closed_returns(btc());
  const q::garch_fit_result fit = q::garch_fit(c.spec, r);
  ASSERT_EQ(fit.code, q::status::ok);
  EXPECT_EQ(v.params.omega, fit.params.omega);
  EXPECT_EQ(v.params.alpha, fit.params.alpha);
  EXPECT_EQ(v.params.gamma, fit.params.gamma);
  EXPECT_EQ(v.params.beta, fit.params.beta);
  const double pers = fit.params.alpha + 0.5 * fit.params.gamma + fit.params.beta;
  EXPECT_DOUBLE_EQ(v.persistence, pers);
  EXPECT_NEAR(v.conditional_vol, std::sqrt(fit.next_variance * 8760), 1e-14);
  EXPECT_NEAR(v.long_run_vol, std::sqrt(fit.params.omega / (1 - pers) * 8760), 1e-13);
  ASSERT_EQ(v.term.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const double expected =
        closed_form_vol(fit.params.omega, pers, fit.next_variance, tenors[i] * 24);
    EXPECT_EQ(v.term[i].days, tenors[i]);
    EXPECT_NEAR(v.term[i].vol / expected, 1, 1e-12) << tenors[i] << " days";
    EXPECT_EQ(v.garch_term[i].vol, v.term[i].vol);
    EXPECT_EQ(f.rv_forecast(tenors[i]), v.term[i].vol);
  }

  // HAR-RV on the complete days' RV.
  const std::vector<double> rv = complete_daily_rv(btc());
  const q::har_fit_result har = q::har_fit(rv);
  ASSERT_EQ(har.code, q::status::ok);
  EXPECT_TRUE(v.har_ready);
  EXPECT_EQ(v.har_beta0, har.beta0);
  EXPECT_EQ(v.har_beta_d, har.beta_d);
  EXPECT_EQ(v.har_beta_w, har.beta_w);
  EXPECT_EQ(v.har_beta_m, har.beta_m);
  for (std::size_t i = 0; i < 4; ++i) {
    const q::har_forecast_mean_result m = q::har_forecast_mean(har, rv, tenors[i]);
    ASSERT_EQ(m.code, q::status::ok);
    EXPECT_EQ(v.har_term[i].vol, std::sqrt(365 * m.mean_variance)) << tenors[i] << " days";
  }

  // Realized vol of the last 24 hourly returns (the bars up to 21:00).
  long double sum = 0;
  for (std::size_t i = btc().size() - 25; i < btc().size() - 1; ++i) {
    const long double x = std::log(static_cast<long double>(btc()[i].close) / btc()[i - 1].close);
    sum += x * x;
  }
  EXPECT_NEAR(v.realized_vol_24h, static_cast<double>(std::sqrt(sum / 24 * 8760)), 1e-13);
}

TEST(forecaster_demo, har_premium_model_uses_the_har_term) {
  forecast_config c;
  c.use = premium_model::har;
  forecaster f(c);
  f.warm_up(eth());
  ASSERT_TRUE(f.ready());
  const forecast_view v = view_of(f);
  EXPECT_EQ(v.model, "har");
  const std::vector<double> rv = complete_daily_rv(eth());
  const q::har_fit_result har = q::har_fit(rv);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(v.term[i].vol, v.har_term[i].vol);
    EXPECT_EQ(f.rv_forecast(tenors[i]), v.har_term[i].vol);
    EXPECT_EQ(v.har_term[i].vol,
              std::sqrt(365 * q::har_forecast_mean(har, rv, tenors[i]).mean_variance));
    EXPECT_TRUE(std::isfinite(v.garch_term[i].vol));
  }
  // Fractional days round to whole days for HAR.
  EXPECT_EQ(f.rv_forecast(6.6), v.har_term[1].vol);
  EXPECT_EQ(f.rv_forecast(0.2), v.har_term[0].vol);
}

// Each GARCH-family model and error law: finite forecasts equal to garch_average_variance on the
// parameters of a direct fit. EGARCH-t has no finite mean variance: long_run_vol is NaN.
TEST(forecaster_demo, every_garch_family_model_gives_finite_forecasts) {
  const std::vector<double> r = closed_returns(btc());
  for (const q::garch_model model :
       {q::garch_model::garch, q::garch_model::gjr, q::garch_model::egarch}) {
    for (const q::garch_dist dist : {q::garch_dist::normal, q::garch_dist::student_t}) {
      forecast_config c;
      c.spec = {model, dist, q::garch_mean::zero};
      forecaster f(c);
      const q::status s = f.warm_up(btc());
      const std::string name = std::string(q::to_string(model)) + "-" + q::to_string(dist);
      SCOPED_TRACE(name);
      ASSERT_TRUE(s == q::status::ok || s == q::status::no_convergence);
      ASSERT_TRUE(f.ready());
      const forecast_view v = view_of(f);
      EXPECT_EQ(v.model, name);
      const q::garch_fit_result fit = q::garch_fit(c.spec, r);
      EXPECT_EQ(v.params.beta, fit.params.beta);
      const bool simulated = model == q::garch_model::egarch && dist == q::garch_dist::student_t;
      for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_TRUE(std::isfinite(v.term[i].vol) && v.term[i].vol > 0) << tenors[i];
        // EGARCH-t: the library simulates every step (seconds at 90 days); the forecaster holds
        // the simulated factor once beta^k < 1e-10 (here after 277 steps), so 30 days (720
        // steps) checks that part against the full simulation.
        if (simulated && tenors[i] > 30) continue;
        const double avg =
            q::garch_average_variance(c.spec, fit.params, fit.next_variance, tenors[i] * 24);
        EXPECT_NEAR(v.term[i].vol / std::sqrt(avg * 8760), 1, simulated ? 1e-8 : 1e-12)
            << tenors[i];
      }
      EXPECT_TRUE(std::isfinite(v.conditional_vol));
      if (model == q::garch_model::egarch && dist == q::garch_dist::student_t) {
        EXPECT_TRUE(std::isnan(v.long_run_vol));
      } else if (v.persistence < 1) {
        EXPECT_TRUE(std::isfinite(v.long_run_vol));
      }
      std::printf(
          "%-14s pers %.4f long-run %6.2f%% cond %6.2f%%  1d %6.2f%% 7d %6.2f%% 30d %6.2f%% 90d "
          "%6.2f%%\n",
          name.c_str(), v.persistence, 100 * v.long_run_vol, 100 * v.conditional_vol,
          100 * v.term[0].vol, 100 * v.term[1].vol, 100 * v.term[2].vol, 100 * v.term[3].vol);
    }
  }
}

// Live prices from the demo bars after a warm-up on the earlier ones: 60 bars with a GARCH
// re-estimation due every 12 returns, across two UTC midnights (HAR refits).
struct live_run {
  std::size_t warm = 2700;
  std::size_t live = 60;
};

void feed_live(forecaster& f, const std::vector<history_bar>& bars, const live_run& run) {
  for (std::size_t i = run.warm - 1; i < run.warm + run.live; ++i) {
    const std::int64_t t = bars[i].open_ms * 1'000'000;
    f.on_price(t + 1'000'000'000, bars[i].open);
    f.on_price(t + 1'200'000'000'000, bars[i].low);
    f.on_price(t + 2'400'000'000'000, bars[i].high);
    f.on_price(t + 3'599'000'000'000, bars[i].close);
  }
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(forecaster_demo, inline_refits_make_two_runs_bit_identical) {
  const live_run run;
  forecast_config c;
  c.refit_every = 12;
  c.background_refit = false;
  forecaster a(c), b(c);
  const std::vector<history_bar> hist(btc().begin(), btc().begin() + run.warm);
  ASSERT_EQ(a.warm_up(hist), q::status::ok);
  ASSERT_EQ(b.warm_up(hist), q::status::ok);
  const q::garch_params before = view_of(a).params;
  feed_live(a, btc(), run);
  feed_live(b, btc(), run);
  const forecast_view va = view_of(a), vb = view_of(b);
  EXPECT_EQ(va.bars, run.warm - 1 + run.live);
  // 60 returns absorbed live: re-estimations adopted at returns 12, 24, 36, 48, 60; bars
  // 2700..2759 span two UTC midnights (HAR refits).
  EXPECT_EQ(va.refits, 5u + 2u);
  EXPECT_NE(va.params.omega, before.omega);
  EXPECT_EQ(va.refits, vb.refits);
  EXPECT_EQ(va.last_refit_ns, vb.last_refit_ns);
  EXPECT_EQ(va.last_bar_close_ns, vb.last_bar_close_ns);
  EXPECT_TRUE(same_bits(va.params.omega, vb.params.omega));
  EXPECT_TRUE(same_bits(va.params.alpha, vb.params.alpha));
  EXPECT_TRUE(same_bits(va.params.gamma, vb.params.gamma));
  EXPECT_TRUE(same_bits(va.params.beta, vb.params.beta));
  EXPECT_TRUE(same_bits(va.conditional_vol, vb.conditional_vol));
  EXPECT_TRUE(same_bits(va.realized_vol_24h, vb.realized_vol_24h));
  EXPECT_TRUE(same_bits(va.har_beta_d, vb.har_beta_d));
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(same_bits(va.garch_term[i].vol, vb.garch_term[i].vol));
    EXPECT_TRUE(same_bits(va.har_term[i].vol, vb.har_term[i].vol));
  }
}

TEST(forecaster_demo, background_refit_is_eventually_adopted_and_counted) {
  // Warm-up up to a bar at midnight so that 20 live bars stay inside one UTC day (no HAR refit).
  std::size_t warm = 2700;
  while (btc()[warm - 1].open_ms % q::ms_per_day != 0) --warm;
  forecast_config c;
  c.refit_every = 8;
  c.background_refit = true;
  forecaster f(c);
  const std::vector<history_bar> hist(btc().begin(), btc().begin() + warm);
  ASSERT_EQ(f.warm_up(hist), q::status::ok);
  const q::garch_params before = view_of(f).params;
  const std::int64_t warm_close_ns = view_of(f).last_bar_close_ns;
  feed_live(f, btc(), {.warm = warm, .live = 19});
  f.wait_idle();
  const forecast_view v = view_of(f);
  EXPECT_GE(v.refits, 1u);
  EXPECT_LE(v.refits, 2u);  // due at returns 8 and 16 (the second may be skipped if busy)
  EXPECT_GT(v.last_refit_ns, warm_close_ns);
  EXPECT_LE(v.last_refit_ns, v.last_bar_close_ns);
  EXPECT_NE(v.params.omega, before.omega);
}

TEST(forecaster_demo, prints_the_demo_forecasts) {
  for (const auto* name : {"BTC", "ETH"}) {
    const auto& bars = std::string(name) == "BTC" ? btc() : eth();
    forecast_config c;
    forecaster f(c);
    ASSERT_EQ(f.warm_up(bars), q::status::ok);
    const forecast_view v = view_of(f);
    std::printf(
        "%s gjr-normal: cond %.2f%% long-run %.2f%% rv24h %.2f%%  1d %.2f%% 7d %.2f%% "
        "30d %.2f%% 90d %.2f%% | har 1d %.2f%% 7d %.2f%% 30d %.2f%% 90d %.2f%%\n",
        name, 100 * v.conditional_vol, 100 * v.long_run_vol, 100 * v.realized_vol_24h,
        100 * v.garch_term[0].vol, 100 * v.garch_term[1].vol, 100 * v.garch_term[2].vol,
        100 * v.garch_term[3].vol, 100 * v.har_term[0].vol, 100 * v.har_term[1].vol,
        100 * v.har_term[2].vol, 100 * v.har_term[3].vol);
    EXPECT_TRUE(v.ready && v.har_ready);
  }
}

}  // namespace
