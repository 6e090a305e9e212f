#pragma once

// Private state of the engine: the instrument book (one slot per option), the per-expiry smile
// state and the per-underlying state. Engine thread only.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/engine/forecaster.hpp"
#include "vrp/engine/snapshot.hpp"
#include "vrp/quant/surface.hpp"
#include "vrp/quant/svi.hpp"

namespace vrp::engine::detail {

// 365-day calendar year (ARCHITECTURE.md §4).
inline constexpr double ns_per_year = 365.0 * 86'400.0 * 1e9;
inline constexpr std::int64_t ns_per_ms = 1'000'000;

// t = (expiry - now) / year, in years; negative past expiry.
inline double years_to_expiry(std::int64_t now_ns, std::int64_t expiry_ms) {
  return static_cast<double>(expiry_ms * ns_per_ms - now_ns) / ns_per_year;
}

// "28NOV25" (Deribit style: day without a leading zero, month, two-digit year).
std::string expiry_label(std::int64_t expiry_ms);

struct expiry_state;

// One option. Prices are USD, NaN when absent; IVs are the engine's own, computed when the quote
// arrives (at the quote's own timestamp, against the quote's own forward).
struct option_slot {
  core::instrument_id id = core::no_instrument;
  double strike = 0;
  core::option_right right = core::option_right::none;
  int underlying = -1;
  expiry_state* expiry = nullptr;

  double bid_usd = nan, ask_usd = nan, mark_usd = nan;
  double forward_usd = nan;  // the venue's underlying_price of this quote
  double venue_mark_iv = nan;
  double bid_iv = nan, ask_iv = nan, mark_iv = nan, mid_iv = nan;
  std::int64_t ts_ns = 0;
  bool seen = false;             // at least one quote applied
  bool settled = false;          // reported settled, or a chain_event expired
  bool waiting_forward = false;  // IVs not computed for lack of a forward
  // Status of the prices alone (no_quote, crossed, zero_bid, below_intrinsic, above_maximum,
  // no_forward, no_convergence or ok); stale/expired are decided against the clock at a refit.
  quote_status price_status = quote_status::no_quote;
};

struct expiry_state {
  int underlying = -1;
  std::int64_t expiry_ms = 0;
  std::string label;
  std::vector<int> slots;  // indices into the book, ascending strike, calls before puts

  double venue_forward = nan;  // newest underlying_price among the quotes
  std::int64_t venue_forward_ts_ns = 0;
  double forward = nan;  // forward used by the last refit
  forward_source forward_from = forward_source::none;

  bool dirty = false;
  bool attempted = false;  // refitted at least once (view exists)
  std::int64_t last_fit_ns = 0;
  std::int64_t newest_quote_ns = 0;

  bool fitted = false;
  bool has_params = false;  // params hold an admissible fit (warm start for the next one)
  quant::svi_params params;
  double t_fit_years = 0;
  double k_min = 0, k_max = 0;  // log-moneyness range of the points the fit used
  bool calendar_free = false;
  // Inputs of the last calendar check against the previous fitted expiry; equal inputs give the
  // same answer, so only the pairs next to a refitted expiry are checked again.
  bool calendar_checked = false;
  bool calendar_result = false;
  quant::svi_params calendar_prev, calendar_self;
  double calendar_t[2] = {0, 0};
  double calendar_lo = 0, calendar_hi = 0;
  double mf_variance = nan;  // annualized, at t_fit_years
  int usable = 0;

  std::shared_ptr<const expiry_view> view;
  std::shared_ptr<expiry_view> pending_view;  // built by a refit, published after the calendar pass
};

// The expensive part of one tenor row (smile lookups, ATM, forward, model-free vol, widths) and
// the inputs it was computed from. The surface at tenor t reads only the two fitted slices around
// it (or the edge pair), the model-free variance of the expiries bracketing it, and the nearest
// fitted expiry's quotes; when those inputs are equal value for value (the view by identity,
// held here so its address cannot be reused), the row is the same bit for bit and is not
// recomputed. An expiry refit thus recomputes only the tenors next to it.
struct tenor_cache {
  bool valid = false;
  // inputs
  bool surface_ok = false;
  std::size_t slice_count = 0;  // 0, 1 or 2 slices in the window
  quant::surface_slice window[2];
  bool mf_below = false, mf_above = false, mf_same = false;
  double mf_w_below = 0, mf_t_below = 0, mf_w_above = 0, mf_t_above = 0;
  std::shared_ptr<const expiry_view> nearest;
  // outputs
  double forward = nan;
  quant::delta_smile smile;
  quant::surface_vol atm;
  double mfiv = nan;
  bool mf_extrapolated = false;
  double width[5] = {nan, nan, nan, nan, nan};
};

struct underlying_state {
  std::string name;
  std::unique_ptr<forecaster> fc;
  std::vector<std::unique_ptr<expiry_state>> expiries;  // ascending expiry_ms

  std::int64_t now_ns = 0;   // newest event timestamp of this underlying
  std::int64_t recv_ns = 0;  // newest receive time of this underlying's events
  bool refitted = false;     // an expiry was refitted in the current publish
  double index_price = nan;
  std::int64_t index_ts_ns = 0;
  double dvol = nan;
  double funding_annual = nan;
  double perp_basis = nan;
  std::int64_t funding_ts_ns = 0;
  int options = 0;

  bool stale = false;   // no data for longer than data_timeout_ns (on_clock)
  bool changed = true;  // needs a new underlying_snapshot at the next publish
  bool forecast_dirty = true;
  std::uint64_t seq = 0;
  std::shared_ptr<const forecast_view> forecast;
  std::shared_ptr<const underlying_snapshot> snap;
  std::vector<tenor_cache> tenor_rows;  // one per configured tenor
};

}  // namespace vrp::engine::detail
