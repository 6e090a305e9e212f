#pragma once

// Live GARCH-family forecaster: absorbs each new bar return in O(1) on the caller's thread and
// re-estimates the parameters on a rolling window on a background thread, swapping them in
// without ever blocking the update path.
//
// Threads: on_return / next_variance / params / average_variance belong to one thread (the
// engine's). The worker thread only ever touches the job buffer and the result slot, handed over
// through one atomic state word (release/acquire), so there is no lock anywhere.
//
// A re-estimation works on a snapshot of the last `window` returns. While it runs, new returns
// keep updating the variance under the old parameters; when the result arrives the engine thread
// adopts the new parameters and replays the returns that came after the snapshot, so the state is
// exactly what a filter under the new parameters would hold.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "vrp/quant/garch.hpp"
#include "vrp/quant/status.hpp"

namespace vrp::quant {

struct garch_live_options {
  std::size_t window = 17520;     // returns per re-estimation (two years of hourly bars)
  std::size_t refit_every = 24;   // returns between re-estimations (one day of hourly bars)
  std::size_t min_points = 1000;  // no re-estimation before the window holds this many returns
  int starts = 2;                 // starting points per background fit (the warm start is extra)
};

struct garch_live_stats {
  std::uint64_t updates = 0;         // returns absorbed
  std::uint64_t rejected = 0;        // non-finite returns ignored
  std::uint64_t refits_started = 0;  // jobs handed to the worker
  std::uint64_t refits_adopted = 0;  // results swapped in
  std::uint64_t refits_failed = 0;   // fits that returned no usable parameters
  std::uint64_t refits_skipped = 0;  // due while the worker was still busy
  std::uint64_t replayed = 0;        // returns re-filtered after a swap
  double last_fit_loglik = 0;
  status last_fit_status = status::ok;
};

// Everything garch_live needs to resume exactly where it stopped (the engine's checkpoints, see
// engine::forecaster_state): the online filter, the window of returns and the refit cadence.
struct garch_live_state {
  garch_spec spec;
  garch_live_options options;
  bool ready = false;             // params and next_variance are meaningful
  garch_params params;            // of the online filter
  double next_variance = 0;       // h of the next return under params
  std::vector<double> returns;    // the last min(total, window) finite returns, oldest first
  std::uint64_t total = 0;        // finite returns ever absorbed into the window
  std::uint64_t since_refit = 0;  // returns since the last re-estimation started
  garch_live_stats stats;
};

class garch_live {
 public:
  // Allocates the ring and the job buffer (window returns each) and starts the worker thread.
  // Throws std::invalid_argument for window < garch_fit_min_points, refit_every == 0 or
  // min_points > window (configuration errors, at startup only).
  garch_live(const garch_spec& spec, const garch_live_options& options);
  ~garch_live();
  garch_live(const garch_live&) = delete;
  garch_live& operator=(const garch_live&) = delete;

  // Warm-up from history, synchronous (not the hot path): fits on the last `window` finite
  // returns of `history`, filters them, and fills the ring. Returns the fit status; on a failure
  // the forecaster has no parameters (ready() is false) and on_return only buffers returns.
  status warm_up(std::span<const double> history);

  // Hot path: absorbs one return; adopts finished re-estimations and starts a new one when due.
  // No allocation, no lock, no wait. O(1) except at a swap (replay of the returns that arrived
  // while the worker ran) and at a job start (copy of the window to the worker's buffer).
  void on_return(double r) noexcept;

  bool ready() const noexcept { return ready_; }
  double next_variance() const noexcept { return online_.next_variance(); }
  const garch_params& params() const noexcept { return online_.params(); }
  const garch_spec& spec() const noexcept { return spec_; }
  const garch_live_stats& stats() const noexcept { return stats_; }

  // Mean of the conditional variance over the next `steps` returns (see garch_average_variance).
  double average_variance(int steps) const;

  // Blocks until the worker has no job in flight and adopts its result if any. For tests and
  // orderly shutdown; never call it on the hot path.
  void wait_idle();

  // Copies the state (allocates; not the hot path). A re-estimation still in flight is not waited
  // for: the copy says it is due again (since_refit >= refit_every), so a restored instance starts
  // it at its next return instead of losing it.
  garch_live_state export_state() const;

  // Replaces the whole state with `s` after checking it: same spec and window options, finite
  // returns no more than the window (and exactly the window once total exceeds it), and when
  // ready, parameters inside garch_params_valid and a finite positive next_variance. Returns an
  // empty string on success, else what is wrong (the state is then unchanged). Waits for a job in
  // flight first and discards its result (it belongs to the replaced state).
  std::string restore_state(const garch_live_state& s);

 private:
  enum job_state : int { idle = 0, queued = 1, done = 2, stopping = 3 };

  void push_ring(double r) noexcept;
  void maybe_adopt() noexcept;
  void maybe_start_job() noexcept;
  void worker_loop();

  garch_spec spec_;
  garch_live_options options_;
  garch_online online_;
  bool ready_ = false;
  garch_live_stats stats_;

  // Ring of the last `window` finite returns (engine thread only).
  std::vector<double> ring_;
  std::size_t ring_head_ = 0;     // next write position
  std::uint64_t ring_total_ = 0;  // finite returns ever pushed
  std::uint64_t since_refit_ = 0;

  // Job handed to the worker: written by the engine thread while the state is idle, read by the
  // worker while queued. Result written by the worker before it publishes done.
  std::vector<double> job_returns_;
  std::size_t job_size_ = 0;
  std::uint64_t job_end_total_ = 0;  // ring_total_ when the snapshot was taken
  garch_params job_warm_start_;
  bool job_has_warm_start_ = false;
  garch_fit_result job_result_;
  std::atomic<int> state_{idle};
  std::thread worker_;
};

}  // namespace vrp::quant
