#pragma once

// The incremental premium engine (ARCHITECTURE.md §1–4): single-threaded, pure computation, no
// I/O. Feed events go in one at a time; after each batch publish() returns the new immutable
// snapshot (or nullptr when nothing changed). The same event sequence (and the same publish/flush
// calls) gives the same snapshots, bit for bit, when re-estimation runs inline.
//
// Work per event is O(1) plus one implied-vol inversion per price side; smiles are refitted at
// publish() time, only for expiries whose quotes changed, and at most once per
// `refit_interval_ns` of event time per expiry (changes in between are coalesced into the next
// fit; flush() fits whatever is still pending).
//
// Choices (details in engine.cpp):
// - Time is event time, never the wall clock: the snapshot's ts_ns is the newest event timestamp
//   seen; each underlying keeps its own clock (the newest timestamp of its own events), which
//   sets its t_years, its staleness limit and its refit interval, so one chain collected later
//   than another does not age it.
// - Each quote's IVs are computed when it arrives, at its own timestamp, against its own
//   underlying_price (else the expiry's forward; quotes without either wait for a forward).
// - A smile is fitted on the out-of-the-money quotes with status ok (puts below F, calls at or
//   above), on mark or mid IV, weighted by 1 / max(ask IV - bid IV, 1 vol point)^2 (10 vol
//   points of width when a side has no IV).
// - Bucket width_vol: ask IV - bid IV of the quote nearest the bucket's strike (log distance,
//   the out-of-the-money side on a tie) in the fitted expiry nearest the tenor.
// - Tenor mfiv: total model-free variance linear in time between the bracketing expiries, flat
//   vol outside (extrapolated = true), up to max_extrapolation_ratio beyond the fitted expiries.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/engine/forecaster.hpp"
#include "vrp/engine/snapshot.hpp"

namespace vrp::engine {

enum class fit_source : std::uint8_t { mark, mid };

struct engine_config {
  std::vector<std::string> underlyings{"BTC", "ETH"};
  std::vector<int> tenor_days{1, 7, 14, 30, 60, 90, 180};
  forecast_config forecast;
  fit_source fit_on = fit_source::mark;            // which IV the smile is fitted to
  std::int64_t refit_interval_ns = 100'000'000;    // 100 ms of event time per expiry
  std::int64_t stale_quote_ns = 300'000'000'000;   // quotes older than 5 min drop out of fits
  std::int64_t min_expiry_ns = 3'600'000'000'000;  // expiries closer than 1 h are not fitted
  int min_quotes_per_expiry = 5;                   // distinct usable strikes for a fit
  // An event stamped further than this after its local receive time is rejected (a venue clock
  // in the future would otherwise move the engine's clock and age every quote at once).
  std::int64_t max_clock_ahead_ns = 60'000'000'000;
  // An underlying with no market data for this long by the local clock (on_clock) is stale: its
  // tenors are published as unavailable until data comes back. 0 disables the check.
  std::int64_t data_timeout_ns = 60'000'000'000;
  bool reject_outliers = true;  // SVI outlier pass (svi_fit_options)
  // A tenor further outside the fitted expiries than this factor (t > ratio x the last fitted
  // expiry's time, or t < the first's / ratio) is unavailable ("too_far_from_expiries") rather
  // than extrapolated from a smile that far away (e.g. a 90-day tenor from a 2-day smile while a
  // chain is still arriving). Within the factor it is published with extrapolated = true.
  double max_extrapolation_ratio = 2.0;
  // Smile fits per publish() (flush() has no limit): the due expiries fitted longest ago go
  // first and the rest wait for the next batch, so no batch pays for a burst of fits (this bounds
  // the tick-to-publish latency; a count, not a time budget, keeps the engine deterministic).
  int max_refits_per_publish = 1;
  // Tenor rows and calendar checks whose inputs did not change are reused (engine_book.hpp,
  // tenor_cache); false recomputes them all at every publish (the tests compare the two bit for
  // bit).
  bool incremental_surface = true;
};

class engine {
 public:
  // `instruments` is read (never written) for instrument details by id. Throws
  // std::invalid_argument on an impossible configuration.
  engine(const engine_config& config, const core::instrument_table& instruments);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Warm-up of one configured underlying's forecaster from history bars (startup).
  quant::status warm_up(std::string_view underlying, std::span<const history_bar> bars);

  // Checkpoints of one underlying's forecaster (the state store; engine thread or while the
  // engine thread is stopped). export: false for an unknown underlying. restore: the
  // forecaster's validation message, empty on success. catch_up: the bars it closed.
  bool export_forecaster_state(std::string_view underlying, forecaster_state& out) const;
  std::string restore_forecaster_state(std::string_view underlying, const forecaster_state& s);
  std::size_t catch_up(std::string_view underlying, std::span<const history_bar> bars);

  // Applies one event. Never throws, never allocates in steady state.
  void on_event(const core::event& e) noexcept;

  // End of a batch: refits due expiries, recomputes the grids of the underlyings that changed and
  // returns the new snapshot, or nullptr when no underlying changed.
  std::shared_ptr<const snapshot> publish();

  // The local wall clock (ns since the epoch), from the engine thread's periodic tick: marks the
  // underlyings whose newest event was received more than data_timeout_ns ago as stale (and one
  // whose data came back as fresh). Takes effect at the next publish(); the clock is an input
  // like the events, so a run stays deterministic for a given sequence of both.
  void on_clock(std::int64_t wall_ns);

  // Fits every pending expiry regardless of the refit interval, then publishes (idle moments,
  // end of a replay).
  std::shared_ptr<const snapshot> flush();

  std::shared_ptr<const snapshot> latest() const;
  const engine_stats& stats() const noexcept;
  const engine_config& config() const noexcept;

  // Tests and shutdown: waits for background re-estimations in flight.
  void wait_idle();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace vrp::engine
