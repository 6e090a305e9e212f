#pragma once

// The realized side of one underlying (ARCHITECTURE.md §4 "Forecast realized vol"): a bar builder
// on the index price, warm-up from history bars, an online GARCH-family forecaster
// (quant::garch_live, re-estimated in the background or inline) and HAR-RV on daily realized
// variance built from the same bars. Engine thread only, except garch_live's own worker.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vrp/engine/snapshot.hpp"
#include "vrp/quant/garch.hpp"
#include "vrp/quant/garch_live.hpp"
#include "vrp/quant/status.hpp"

namespace vrp::engine {

// One history bar (e.g. from public/get_tradingview_chart_data), open time in ms.
struct history_bar {
  std::int64_t open_ms = 0;
  double open = nan, high = nan, low = nan, close = nan;
};

enum class premium_model : std::uint8_t { garch_family, har };

struct forecast_config {
  std::int64_t bar_ns = 3'600'000'000'000;  // 1 h
  quant::garch_spec spec{quant::garch_model::gjr, quant::garch_dist::normal,
                         quant::garch_mean::zero};
  premium_model use = premium_model::garch_family;  // which model feeds the premium
  std::size_t window = 17'520;                      // returns per (re-)estimation
  std::size_t refit_every = 24;                     // bars between re-estimations
  std::size_t min_points = 1'000;                   // fewest returns for a GARCH fit
  bool background_refit = true;  // false: re-estimate inline (deterministic, for tests)
};

// A closed bar as the forecaster keeps it: open time in ms and its close (the last price in it).
struct stored_bar {
  std::int64_t open_ms = 0;
  double close = nan;
};

// A checkpoint of a forecaster (export_state / restore_state): everything it needs to continue
// exactly as the uninterrupted forecaster would (the state store keeps it across restarts). Bars
// are indices since the Unix epoch in units of bar_ns; returns are plain log returns.
struct forecaster_state {
  // The configuration it was built under: restore_state refuses another one.
  std::int64_t bar_ns = 0;
  quant::garch_spec spec;
  premium_model use = premium_model::garch_family;
  // The bar builder: the open bar (its latest price and that price's time) and the newest
  // closed bar.
  bool has_open = false;
  std::int64_t open_bar = 0;
  double open_close = nan;
  std::int64_t open_last_ts_ns = 0;
  bool has_closed = false;
  std::int64_t closed_bar = 0;
  double closed_close = nan;
  // Counters (forecast_view).
  std::uint64_t bars = 0, ignored = 0, skipped_history = 0, gaps = 0, refits = 0;
  std::int64_t last_bar_close_ns = 0, last_refit_ns = 0;
  std::vector<double> recent;        // the last absorbed returns, oldest first (at most a day)
  std::vector<stored_bar> day_bars;  // closed bars of the open bar's day, after one anchor bar
  std::vector<double> rv_daily;      // daily realized variance of complete days, oldest first
  // HAR-RV fit (only the coefficients drive the forecast).
  bool har_ok = false;
  double har_beta0 = 0, har_beta_d = 0, har_beta_w = 0, har_beta_m = 0, har_r2 = 0;
  int har_observations = 0;
  // GARCH family: online filter, window of returns, refit cadence.
  quant::garch_live_state garch;
};

class forecaster {
 public:
  // Throws std::invalid_argument on an impossible configuration (startup only).
  explicit forecaster(const forecast_config& config);
  ~forecaster();
  forecaster(const forecaster&) = delete;
  forecaster& operator=(const forecaster&) = delete;

  // Warm-up from history (not the hot path). Bars must be ascending by open time; invalid or
  // duplicate bars are skipped and counted. Returns the GARCH fit status (HAR may still succeed).
  quant::status warm_up(std::span<const history_bar> bars);

  // Hot path: an index price at event time ts_ns. Returns true when a bar closed and the forecast
  // changed. Out-of-order or non-finite prices are ignored (counted).
  bool on_price(std::int64_t ts_ns, double price) noexcept;

  bool ready() const noexcept;
  // The premium model's annualized vol forecast averaged over [now, now + days]; NaN if not ready.
  double rv_forecast(double days) const noexcept;

  // Fills `out` for the tenor grid (allocates; called only when a bar closed or on demand).
  void fill_view(forecast_view& out, std::span<const int> tenor_days) const;

  std::uint64_t bars() const noexcept;
  std::uint64_t ignored_prices() const noexcept;
  // History bars skipped by warm_up (invalid close, off the bar grid, not ascending).
  std::uint64_t skipped_history_bars() const noexcept;
  // Returns across empty bars, dropped (quant::bar_log_returns' gap policy), warm-up and live.
  std::uint64_t dropped_gaps() const noexcept;

  // Tests and shutdown: waits for a background re-estimation in flight.
  void wait_idle();

  // Checkpoint (allocates a copy of the window: at bar closes and periodically, not per price).
  forecaster_state export_state() const;

  // Replaces the whole state with a checkpoint after validating it: the same configuration,
  // finite values, prices > 0, GARCH parameters inside the model's admissible region
  // (quant::garch_params_valid), the open bar after the closed bar, the day's bars ascending on
  // the bar grid and ending at the closed bar, sizes within the window / a day / the HAR span.
  // Returns an empty string on success, else what is wrong (the forecaster is then unchanged).
  std::string restore_state(const forecaster_state& s);

  // After a restore: absorbs the history bars the checkpoint does not have (ascending; bars
  // before the open bar are skipped, the open bar takes the history's close, each later bar
  // closes the one before, as live prices at its open time would; the newest stays open).
  // Invalid bars are skipped and counted as skipped history bars. Returns the bars closed.
  std::size_t catch_up(std::span<const history_bar> bars);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace vrp::engine
