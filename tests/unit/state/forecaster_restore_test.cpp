// Forecaster checkpoints: a forecaster restored from export_state() (through the state store's
// binary form) continues exactly as the uninterrupted one, bit for bit; restore_state refuses
// damaged checkpoints and leaves the forecaster as it was; catch_up from history bars reaches the
// state live prices would have given.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "vrp/engine/forecaster.hpp"
#include "vrp/service/state_store.hpp"

namespace {

using vrp::engine::forecast_config;
using vrp::engine::forecast_view;
using vrp::engine::forecaster;
using vrp::engine::forecaster_state;
using vrp::engine::history_bar;

constexpr std::int64_t hour_ms = 3'600'000;
constexpr std::int64_t hour_ns = hour_ms * 1'000'000;
constexpr std::int64_t start_ms = 1'735'689'600'000;  // 2025-01-01T00:00Z

forecast_config small_config(vrp::quant::garch_model model) {
  forecast_config c;
  c.spec = {model, vrp::quant::garch_dist::normal, vrp::quant::garch_mean::zero};
  c.window = 600;
  c.refit_every = 24;
  c.min_points = 200;
  c.background_refit = false;  // deterministic: every re-estimation is adopted at its bar
  return c;
}

// A random walk with volatility clustering (its own GARCH(1,1) recursion), fixed seed: the
// expected values below never come from it, only the equality of two forecasters fed alike.
struct price_path {
  std::vector<history_bar> bars;  // hourly history
  struct tick {
    std::int64_t ts_ns;
    double price;
  };
  std::vector<tick> live;  // several prices per hour after the history
};

price_path make_path(std::size_t history_bars, std::size_t live_hours, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  price_path p;
  double price = 50'000;
  double h = 1e-5;
  double last_r = 0;
  const auto step = [&] {
    h = 2e-7 + 0.08 * last_r * last_r + 0.9 * h;
    last_r = std::sqrt(h) * z(rng);
    price *= std::exp(last_r);
    return price;
  };
  for (std::size_t i = 0; i < history_bars; ++i) {
    const double close = step();
    p.bars.push_back(
        {start_ms + static_cast<std::int64_t>(i) * hour_ms, close, close, close, close});
  }
  const std::int64_t live_start_ns =
      (start_ms + static_cast<std::int64_t>(history_bars) * hour_ms) * 1'000'000;
  for (std::size_t hr = 0; hr < live_hours; ++hr) {
    // Three prices inside the hour; one hour in ten has none (a gap in the bars).
    if (hr % 10 == 7) continue;
    for (int k = 0; k < 3; ++k) {
      const std::int64_t ts =
          live_start_ns + static_cast<std::int64_t>(hr) * hour_ns + (k + 1) * hour_ns / 4;
      p.live.push_back({ts, step()});
    }
  }
  return p;
}

forecaster_state via_codec(const forecaster_state& s) {
  const std::string bytes = vrp::service::state::encode_forecaster(s);
  forecaster_state out;
  std::string error;
  EXPECT_TRUE(vrp::service::state::decode_forecaster(bytes, out, error)) << error;
  return out;
}

void expect_same_view(const forecaster& a, const forecaster& b) {
  const std::vector<int> tenors{1, 7, 14, 30, 60, 90, 180};
  forecast_view va, vb;
  a.fill_view(va, tenors);
  b.fill_view(vb, tenors);
  EXPECT_EQ(va.ready, vb.ready);
  EXPECT_EQ(va.params.omega, vb.params.omega);
  EXPECT_EQ(va.params.alpha, vb.params.alpha);
  EXPECT_EQ(va.params.gamma, vb.params.gamma);
  EXPECT_EQ(va.params.beta, vb.params.beta);
  const auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  EXPECT_TRUE(same(va.conditional_vol, vb.conditional_vol))
      << va.conditional_vol << " vs " << vb.conditional_vol;
  EXPECT_TRUE(same(va.long_run_vol, vb.long_run_vol));
  EXPECT_TRUE(same(va.realized_vol_24h, vb.realized_vol_24h));
  EXPECT_EQ(va.har_ready, vb.har_ready);
  EXPECT_TRUE(same(va.har_beta0, vb.har_beta0));
  ASSERT_EQ(va.term.size(), vb.term.size());
  for (std::size_t i = 0; i < va.term.size(); ++i) {
    EXPECT_TRUE(same(va.garch_term[i].vol, vb.garch_term[i].vol)) << "tenor " << tenors[i];
    EXPECT_TRUE(same(va.har_term[i].vol, vb.har_term[i].vol)) << "tenor " << tenors[i];
  }
  EXPECT_EQ(va.bars, vb.bars);
  EXPECT_EQ(va.refits, vb.refits);
  EXPECT_EQ(va.last_bar_close_ns, vb.last_bar_close_ns);
  EXPECT_EQ(va.last_refit_ns, vb.last_refit_ns);
  EXPECT_EQ(a.dropped_gaps(), b.dropped_gaps());
}

class restore_by_model : public ::testing::TestWithParam<vrp::quant::garch_model> {};

TEST_P(restore_by_model, restored_forecaster_continues_bit_for_bit) {
  const forecast_config cfg = small_config(GetParam());
  // 60 days of history: GARCH fits and HAR-RV has its monthly lags.
  const price_path path = make_path(24 * 60, 24 * 6, 20251024);
  forecaster original(cfg);
  original.warm_up(path.bars);
  const std::size_t cut = path.live.size() / 2;
  for (std::size_t i = 0; i < cut; ++i) original.on_price(path.live[i].ts_ns, path.live[i].price);
  ASSERT_TRUE(original.ready());

  forecaster restored(cfg);
  const std::string error = restored.restore_state(via_codec(original.export_state()));
  ASSERT_EQ(error, "");
  expect_same_view(original, restored);

  // The rest of the stream through both: every bar close, re-estimation and forecast agrees.
  int refits_seen = 0;
  std::uint64_t refits_before = 0;
  for (std::size_t i = cut; i < path.live.size(); ++i) {
    const bool a = original.on_price(path.live[i].ts_ns, path.live[i].price);
    const bool b = restored.on_price(path.live[i].ts_ns, path.live[i].price);
    ASSERT_EQ(a, b) << "tick " << i;
    if (a) {
      for (double days : {1.0, 7.0, 30.0, 180.0}) {
        const double x = original.rv_forecast(days);
        const double y = restored.rv_forecast(days);
        ASSERT_TRUE(x == y || (std::isnan(x) && std::isnan(y))) << x << " vs " << y;
      }
      forecast_view v;
      original.fill_view(v, std::vector<int>{30});
      if (v.refits != refits_before) ++refits_seen;
      refits_before = v.refits;
    }
  }
  EXPECT_GT(refits_seen, 0) << "the continuation must cross a re-estimation";
  expect_same_view(original, restored);
}

INSTANTIATE_TEST_SUITE_P(models, restore_by_model,
                         ::testing::Values(vrp::quant::garch_model::garch,
                                           vrp::quant::garch_model::gjr,
                                           vrp::quant::garch_model::egarch),
                         [](const auto& model) {
                           return std::string(vrp::quant::to_string(model.param));
                         });

TEST(forecaster_restore, catch_up_from_history_bars_equals_live_prices) {
  const forecast_config cfg = small_config(vrp::quant::garch_model::gjr);
  const price_path path = make_path(24 * 40, 24 * 3, 7);
  forecaster live(cfg);
  live.warm_up(path.bars);
  const std::size_t cut = path.live.size() / 3;
  for (std::size_t i = 0; i < cut; ++i) live.on_price(path.live[i].ts_ns, path.live[i].price);
  forecaster resumed(cfg);
  ASSERT_EQ(resumed.restore_state(live.export_state()), "");

  // The venue's hourly bars of what `live` sees next (close = last price of the hour), from the
  // checkpoint's open bar on, up to the last tick's hour.
  const std::size_t end = path.live.size() - 1;
  for (std::size_t i = cut; i <= end; ++i) live.on_price(path.live[i].ts_ns, path.live[i].price);
  std::vector<history_bar> gap;
  const std::int64_t first_bar = path.live[cut - 1].ts_ns / hour_ns;
  for (std::size_t i = cut - 1; i <= end; ++i) {
    const std::int64_t bar = path.live[i].ts_ns / hour_ns;
    if (bar < first_bar) continue;
    const double px = path.live[i].price;
    if (!gap.empty() && gap.back().open_ms == bar * hour_ms)
      gap.back().close = px;
    else
      gap.push_back({bar * hour_ms, px, px, px, px});
  }
  const std::size_t closed = resumed.catch_up(gap);
  EXPECT_GT(closed, 10u);
  expect_same_view(live, resumed);
}

TEST(forecaster_restore, damaged_checkpoints_are_refused_and_change_nothing) {
  const forecast_config cfg = small_config(vrp::quant::garch_model::gjr);
  const price_path path = make_path(24 * 30, 24, 11);
  forecaster source(cfg);
  source.warm_up(path.bars);
  for (const auto& t : path.live) source.on_price(t.ts_ns, t.price);
  const forecaster_state good = source.export_state();
  ASSERT_TRUE(good.garch.ready);

  forecaster target(cfg);
  target.warm_up(make_path(24 * 30, 0, 99).bars);
  const double before = target.rv_forecast(30);
  ASSERT_TRUE(std::isfinite(before));

  struct damage {
    const char* what;
    void (*apply)(forecaster_state&);
  };
  const damage cases[] = {
      {"NaN parameter", [](forecaster_state& s) { s.garch.params.omega = std::nan(""); }},
      {"non-stationary parameters",
       [](forecaster_state& s) {
         s.garch.params.alpha = 0.3;
         s.garch.params.beta = 0.8;
       }},
      {"negative omega", [](forecaster_state& s) { s.garch.params.omega = -1e-6; }},
      {"infinite next variance",
       [](forecaster_state& s) {
         s.garch.next_variance = std::numeric_limits<double>::infinity();
       }},
      {"NaN return in the window", [](forecaster_state& s) { s.garch.returns[3] = std::nan(""); }},
      {"window shorter than its total", [](forecaster_state& s) { s.garch.returns.pop_back(); }},
      {"day bars out of order",
       [](forecaster_state& s) {
         ASSERT_GE(s.day_bars.size(), 2u);
         std::swap(s.day_bars.front().open_ms, s.day_bars.back().open_ms);
       }},
      {"closed bar after the open bar", [](forecaster_state& s) { s.closed_bar = s.open_bar + 1; }},
      {"negative price", [](forecaster_state& s) { s.open_close = -5; }},
      {"price time outside the open bar",
       [](forecaster_state& s) { s.open_last_ts_ns += 2 * hour_ns; }},
      {"NaN daily variance", [](forecaster_state& s) { s.rv_daily.back() = std::nan(""); }},
      {"other bar length", [](forecaster_state& s) { s.bar_ns = hour_ns / 2; }},
      {"other model", [](forecaster_state& s) { s.spec.model = vrp::quant::garch_model::egarch; }},
      {"other window", [](forecaster_state& s) { s.garch.options.window = 700; }},
  };
  for (const damage& d : cases) {
    forecaster_state bad = good;
    d.apply(bad);
    const std::string error = target.restore_state(bad);
    EXPECT_NE(error, "") << d.what << " was accepted";
    EXPECT_EQ(target.rv_forecast(30), before) << d.what << " changed the forecaster";
  }
  EXPECT_EQ(target.restore_state(good), "");
  EXPECT_EQ(target.rv_forecast(30), source.rv_forecast(30));
}

TEST(forecaster_codec, damaged_bytes_are_errors_not_crashes) {
  const forecast_config cfg = small_config(vrp::quant::garch_model::garch);
  forecaster f(cfg);
  f.warm_up(make_path(24 * 20, 0, 3).bars);
  const std::string bytes = vrp::service::state::encode_forecaster(f.export_state());
  forecaster_state out;
  std::string error;
  // Every truncation, and a flipped magic, fail with a message.
  for (std::size_t n = 0; n < bytes.size(); n += 7) {
    EXPECT_FALSE(
        vrp::service::state::decode_forecaster(std::string_view(bytes).substr(0, n), out, error))
        << n;
    EXPECT_NE(error, "");
  }
  std::string flipped = bytes;
  flipped[0] = 'X';
  EXPECT_FALSE(vrp::service::state::decode_forecaster(flipped, out, error));
  EXPECT_FALSE(vrp::service::state::decode_forecaster(bytes + "x", out, error));
  // Random bytes after a valid magic never crash.
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::string junk = bytes.substr(0, 8);
    const std::size_t len = rng() % 600;
    for (std::size_t i = 0; i < len; ++i) junk.push_back(static_cast<char>(rng() & 0xFF));
    (void)vrp::service::state::decode_forecaster(junk, out, error);
  }
  ASSERT_TRUE(vrp::service::state::decode_forecaster(bytes, out, error)) << error;
  EXPECT_EQ(vrp::service::state::encode_forecaster(out), bytes);
}

}  // namespace
