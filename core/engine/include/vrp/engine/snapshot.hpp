#pragma once

// What the engine publishes after each batch (ARCHITECTURE.md §1, §5.2): an immutable snapshot
// that the HTTP/WebSocket server, the metrics scrape and the state store read from other threads.
// Structure sharing keeps publishing cheap: a snapshot holds one shared_ptr per underlying, and
// an underlying holds one shared_ptr per expiry, so what did not change in a batch is shared with
// the previous snapshot instead of copied. Nothing here is ever modified after publication.
//
// Units: vols are decimals (0.45), variances are annualized decimals, prices are USD, times are
// Unix-epoch nanoseconds (`*_ns`) or milliseconds (`*_ms`), `t_years` is calendar time on a
// 365-day year. A value that could not be computed is NaN (rendered as JSON null) and the row's
// `available` flag or status says why.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/quant/garch.hpp"
#include "vrp/quant/status.hpp"
#include "vrp/quant/svi.hpp"

namespace vrp::engine {

inline constexpr double nan = core::missing;

// Why a quote does or does not take part in the fits. One status per option, the first problem
// found in this order.
enum class quote_status : std::uint8_t {
  ok,
  no_quote,         // no usable price at all (no bid, no ask, no mark)
  crossed,          // bid > ask
  zero_bid,         // no bid (ask and mark may still be used)
  below_intrinsic,  // a price below the forward intrinsic value: no vol reproduces it
  above_maximum,    // a price at or above the Black-76 upper bound
  no_forward,       // the expiry has no forward yet
  stale,            // older than the configured limit at the engine's current time
  expired,          // at or past expiry, or reported settled
  no_convergence,   // the inversion failed
};
std::string_view to_string(quote_status s);
inline constexpr std::size_t quote_status_count = 10;

// Why an event was dropped before it reached the book (it changes nothing the engine publishes).
enum class event_reject : std::uint8_t {
  unknown_instrument,  // not an instrument of a configured underlying, or of the wrong kind
  bad_timestamp,       // zero or negative
  future_timestamp,    // more than engine_config::max_clock_ahead_ns after its local receive time
  out_of_order,        // older than what the engine already holds for the instrument
  duplicate,           // the same timestamp and prices as the quote held
  bad_price,           // negative or infinite price, or a non-positive index price
};
inline constexpr std::size_t event_reject_count = 6;
std::string_view to_string(event_reject r);

// One option as the engine sees it. IVs are the engine's own (Let's Be Rational on the USD
// prices against the expiry's forward); the venue's mark IV is kept for cross-checks.
struct quote_view {
  core::instrument_id id = core::no_instrument;
  double strike = 0;
  core::option_right right = core::option_right::none;
  double bid_usd = nan, ask_usd = nan, mark_usd = nan;
  double bid_iv = nan, ask_iv = nan, mark_iv = nan;
  double venue_mark_iv = nan;
  std::int64_t ts_ns = 0;
  quote_status status = quote_status::no_quote;
};

enum class forward_source : std::uint8_t { none, venue_underlying, future, parity };
std::string_view to_string(forward_source s);

// One expiry's smile.
struct expiry_view {
  std::string label;  // Deribit style, e.g. "28NOV25"
  std::int64_t expiry_ms = 0;
  double t_years = 0;
  double forward = nan;
  forward_source forward_from = forward_source::none;
  bool fitted = false;  // svi holds an admissible fit of this expiry
  quant::status fit_status = quant::status::insufficient_data;
  // Static string: "" when fitted, else why not ("too_close_to_expiry", "no_forward",
  // "too_few_quotes", "fit_failed").
  std::string_view fit_reason = "not_fitted";
  quant::svi_params svi;
  double rmse_vol = nan;
  bool butterfly_free = false;
  bool calendar_free = false;  // against the previous fitted expiry (true for the first)
  int points_used = 0;
  int points_rejected = 0;
  double mfiv = nan;  // model-free implied vol of this expiry (Cboe method on bid/ask, USD)
  quant::status mfiv_status = quant::status::insufficient_data;
  std::int64_t fitted_at_ns = 0;   // engine time of the fit
  std::vector<quote_view> quotes;  // ascending strike, calls before puts at one strike
};

// Delta buckets of ARCHITECTURE.md §4, in this order everywhere (arrays, JSON, metrics).
enum class bucket : std::uint8_t { put10, put25, atm, call25, call10 };
inline constexpr std::size_t bucket_count = 5;
std::string_view to_string(bucket b);  // "10p", "25p", "atm", "25c", "10c"

struct bucket_cell {
  double iv = nan;
  double premium_vol = nan;  // iv - rv_forecast
  double strike = nan;       // strike of that forward delta on the surface
  double width_vol = nan;    // liquidity: ask IV - bid IV near that strike, in vol (decimal)
};

// One constant tenor of the premium grid.
struct tenor_row {
  int days = 0;
  double t_years = 0;
  bool available = false;     // every field below is a number (else NaN and `reason` says why)
  std::string_view reason;    // static string: "" when available, else e.g. "no_surface"
  bool extrapolated = false;  // outside the fitted expiries' range
  double forward = nan;
  double basis_annual = nan;  // ln(F_t / index) / t: the carry implied by the option forwards
  double atm_iv = nan;
  double mfiv = nan;         // model-free implied vol at this tenor (variance interpolated in time)
  double rv_forecast = nan;  // forecast realized vol averaged over [now, now + days], annualized
  double premium_vol = nan;  // atm_iv - rv_forecast (exactly)
  double premium_var = nan;  // mfiv^2 - rv_forecast^2 (exactly)
  double rr25 = nan;
  double bf25 = nan;
  std::array<bucket_cell, bucket_count> buckets{};
};

// The realized side of one underlying.
struct forecast_point {
  int days = 0;
  double vol = nan;  // annualized forecast vol averaged over [now, now + days]
};

struct forecast_view {
  bool ready = false;
  std::string model;  // what the premium uses, e.g. "gjr-normal" or "har"
  quant::garch_spec spec;
  quant::garch_params params;  // of the GARCH-family model (NaN-free only when ready)
  double persistence = nan;
  double long_run_vol = nan;     // annualized
  double conditional_vol = nan;  // annualized vol of the next bar
  // HAR-RV on daily realized variance from the same bars.
  bool har_ready = false;
  double har_beta0 = nan, har_beta_d = nan, har_beta_w = nan, har_beta_m = nan;
  std::vector<forecast_point> term;        // the model the premium uses, at the tenor grid
  std::vector<forecast_point> garch_term;  // GARCH family at the tenor grid (NaN when not ready)
  std::vector<forecast_point> har_term;    // HAR at the tenor grid (NaN when not ready)
  std::int64_t bar_ns = 0;                 // bar length
  std::uint64_t bars = 0;                  // bars absorbed (warm-up + live)
  std::int64_t last_bar_close_ns = 0;
  std::int64_t last_refit_ns = 0;  // engine time at which parameters last changed
  std::uint64_t refits = 0;
  double realized_vol_24h = nan;  // annualized close-to-close vol of the last 24 bars
};

struct underlying_snapshot {
  std::string underlying;  // "BTC"
  std::uint64_t seq = 0;   // increases by one each time this underlying's snapshot changes
  std::int64_t ts_ns = 0;  // engine time (newest event timestamp applied)
  // Local receive time of the newest market event the engine had applied (of any underlying) when
  // this was built: the update is current as of that frame. Tick-to-publish latency is measured
  // from it.
  std::int64_t recv_ns = 0;
  std::int64_t data_recv_ns = 0;  // local receive time of this underlying's newest event
  // No market data for longer than the configured timeout (engine::on_clock): every tenor is
  // unavailable ("stale_data") and the service is not ready.
  bool stale = false;
  bool complete = false;  // index, a fitted surface and a forecast: every tenor can be priced
  double index_price = nan;
  std::int64_t index_ts_ns = 0;
  double dvol = nan;            // the venue's volatility index (decimal), for cross-checks
  double funding_annual = nan;  // perpetual funding (8h rate x 3 x 365)
  double perp_basis = nan;      // perpetual mark / index - 1
  std::int64_t funding_ts_ns = 0;
  std::vector<std::shared_ptr<const expiry_view>> expiries;  // ascending expiry
  std::vector<tenor_row> tenors;                             // the configured tenor grid
  std::shared_ptr<const forecast_view> forecast;
  int quotes_total = 0;
  int quotes_usable = 0;
};

// Counters of the engine thread, copied into every snapshot.
struct engine_stats {
  std::uint64_t events = 0;
  std::uint64_t quotes = 0;
  std::uint64_t quotes_ignored =
      0;  // instrument unknown, not an option or underlying not configured
  std::uint64_t index_ticks = 0;
  std::uint64_t funding_ticks = 0;
  std::uint64_t dvol_ticks = 0;
  std::uint64_t chain_events = 0;
  std::uint64_t smile_fits = 0;
  std::uint64_t smile_fit_failures = 0;
  double last_fit_rmse_vol = nan;
  std::uint64_t bars_closed = 0;
  std::uint64_t snapshots = 0;
  std::uint64_t iv_failures = 0;     // quotes whose inversion did not give a vol (any side)
  std::uint64_t events_ignored = 0;  // other events of unknown/unconfigured instruments or garbage
  std::array<std::uint64_t, event_reject_count> rejected{};  // by event_reject
  // Quote updates that left their option unusable for the fits, by quote_status (ok unused).
  std::array<std::uint64_t, quote_status_count> unusable{};
};

struct snapshot {
  std::uint64_t seq = 0;  // increases by one per published snapshot
  std::int64_t ts_ns = 0;
  std::vector<std::shared_ptr<const underlying_snapshot>> underlyings;  // config order
  engine_stats stats;

  const underlying_snapshot* find(std::string_view underlying) const {
    for (const auto& u : underlyings)
      if (u && u->underlying == underlying) return u.get();
    return nullptr;
  }
};

}  // namespace vrp::engine
