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

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace vrp::engine
