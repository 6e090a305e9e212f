#pragma once

// Constant-maturity implied-volatility surface built from per-expiry raw SVI slices, with
// forward-delta lookups (ARCHITECTURE.md §4: delta buckets 10Δp, 25Δp, ATM (forward), 25Δc, 10Δc).
//
// Choices, stated once:
// - Interpolation in time is linear in total variance w = vol² t at fixed forward log-moneyness
//   k = ln(K/F_t): w(k, t) = w_i(k) + (t - t_i)/(t_{i+1} - t_i) (w_{i+1}(k) - w_i(k)). This keeps
//   w non-decreasing in t whenever the slices themselves are calendar-free (Gatheral & Jacquier
//   2014, §2), and reproduces every slice at its own t.
// - Outside [t_first, t_last] the vol is extrapolated flat at fixed k (w = w_edge(k) t / t_edge)
//   and every result says so in `extrapolated`.
// - Forward at any t: ln F linear in t between neighbouring expiries (constant carry), the
//   nearest pair's carry outside the range, flat with a single slice.
// - ATM means forward ATM: K = F_t, k = 0 (not the delta-neutral straddle strike).
// - Delta is the undiscounted Black-76 forward delta: call N(d1), put N(d1) - 1, with
//   d1 = -k / sqrt(w) + sqrt(w) / 2 and w the surface's own total variance at that k (so the
//   strike and its vol are solved together by a bracketed root search that cannot diverge).

#include <cstddef>
#include <span>
#include <vector>

#include "vrp/quant/status.hpp"
#include "vrp/quant/svi.hpp"

namespace vrp::quant {

// One fitted expiry.
struct surface_slice {
  double t_years = 0;
  double forward = 0;
  svi_params params;
};

struct surface_vol {
  double vol = 0;
  double total_variance = 0;
  bool extrapolated = false;  // t outside [t_first, t_last]: flat-vol extrapolation
  status code = status::ok;   // invalid_input (empty surface, bad t or k), degenerate (w < 0)
};

struct delta_vol {
  double vol = 0;
  double log_moneyness = 0;  // k = ln(K/F_t)
  double strike = 0;         // F_t e^k
  double forward = 0;        // F_t
  double delta = 0;          // achieved forward delta: call N(d1), put N(d1) - 1
  bool extrapolated = false;
  int iterations = 0;
  status code = status::ok;  // invalid_input, no_convergence (no bracket within |k| <= 10)
};

struct delta_smile {
  double t_years = 0;
  double forward = 0;
  delta_vol put10, put25, atm, call25, call10;
  double rr25 = 0;  // IV(25Δc) - IV(25Δp)
  double bf25 = 0;  // (IV(25Δc) + IV(25Δp)) / 2 - IV(ATM)
  bool extrapolated = false;
  status code = status::ok;  // first non-ok status among the five lookups
};

// Forward-delta lookup on a single SVI slice. `delta` is the Black-76 forward delta of `type`:
// in (0, 1) for calls, (-1, 0) for puts. Allocates nothing.
delta_vol svi_vol_at_delta(const svi_params& p, double t_years, double forward, double delta,
                           option_type type);

class vol_surface {
 public:
  vol_surface() = default;

  // Validates (t > 0, forward > 0, finite, admissible params, distinct t) and sorts by t.
  // On failure the surface is left empty and the status says why (invalid_input / degenerate).
  status build(std::span<const surface_slice> slices);

  bool empty() const { return slices_.empty(); }
  std::size_t size() const { return slices_.size(); }
  std::span<const surface_slice> slices() const { return slices_; }
  double t_first() const;  // 0 when empty
  double t_last() const;   // 0 when empty

  // Calendar check of the stored slices (svi_calendar_check on [k_min, k_max]).
  calendar_check_result calendar_check(double k_min = -1.5, double k_max = 1.5) const;

  // Forward at t (see the choice above). 0 when empty or t <= 0.
  double forward(double t_years) const;

  // Total variance / vol at (t, k) by the interpolation above. Allocates nothing.
  surface_vol total_variance(double t_years, double log_moneyness) const;
  surface_vol implied_vol(double t_years, double log_moneyness) const;
  surface_vol implied_vol_at_strike(double t_years, double strike) const;

  // Vol at a forward delta (call (0,1), put (-1,0)) at tenor t; ATM forward (k = 0).
  delta_vol vol_at_delta(double t_years, double delta, option_type type) const;
  delta_vol atm(double t_years) const;

  // 10Δp, 25Δp, ATM, 25Δc, 10Δc with RR25 and BF25 at tenor t.
  delta_smile smile_at(double t_years) const;

 private:
  std::vector<surface_slice> slices_;
};

}  // namespace vrp::quant
