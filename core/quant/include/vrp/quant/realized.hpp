#pragma once

// Realized volatility from bars and from intraday returns.
//
// 1. Range / close-based estimators over OHLC bars, rolled over a window of bars and annualized
//    with the caller's periods_per_year (8,760 for 1 h bars, 365 for daily bars, crypto trades
//    24/7). Per-bar variances, all in log-price units (o = ln O, h = ln H, l = ln L, c = ln C):
//      close_to_close : sample variance (n-1) of r_j = ln(C_j / C_{j-1})
//      parkinson      (Parkinson 1980, high-low estimator): (1 / (4 ln 2)) mean (h - l)^2
//      garman_klass   (Garman & Klass 1980, the practical form of their sigma_5, drift-free):
//                       mean [0.5 (h - l)^2 - (2 ln 2 - 1) (c - o)^2]
//      rogers_satchell(Rogers & Satchell 1991, drift-independent):
//                       mean [(h - c)(h - o) + (l - c)(l - o)]
//      yang_zhang     (Yang & Zhang 2000, minimum-variance combination): V_O + k V_C + (1 - k)
//      V_RS,
//                       V_O = sample var (n-1) of ln(O_j / C_{j-1}), V_C = sample var (n-1) of
//                       ln(C_j / O_j),
//                       V_RS = Rogers-Satchell mean, k = 0.34 / (1.34 + (n + 1) / (n - 1)).
//    Rolling sums: the rolling path keeps running sums updated in O(1) per bar with Neumaier
//    (compensated) addition and subtraction, centred on a fixed shift (the first window's mean) so
//    that sum x^2 - (sum x)^2 / n does not cancel, and recomputes every sum from scratch every
//    max(window, 1024) bars, so rounding drift is bounded and the total cost stays O(n).
//
// 2. Intraday-return measures: realized variance, bipower variation, tripower quarticity and the
//    Barndorff-Nielsen & Shephard jump test in the Huang & Tauchen (2005) ratio form.
//
// 3. Gap-aware log returns and daily realized variance from a timestamped bar series.
//
// Units: vols are decimals (0.45 = 45 %), variances are per bar (or per day for daily RV) in
// squared log-return units; annualization is the caller's business except where a function takes
// periods_per_year.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "vrp/quant/status.hpp"

namespace vrp::quant {

enum class rv_estimator : std::uint8_t {
  close_to_close,
  parkinson,
  garman_klass,
  rogers_satchell,
  yang_zhang
};

// "close_to_close", "parkinson", "garman_klass", "rogers_satchell", "yang_zhang".
const char* to_string(rv_estimator e);
// Accepts exactly the names to_string produces; returns false (out untouched) otherwise.
bool parse_rv_estimator(std::string_view s, rv_estimator& out);

struct ohlc_bar {
  double open = 0, high = 0, low = 0, close = 0;
};

// True when every price is finite and > 0, high >= max(open, close) and low <= min(open, close)
// (hence high >= low).
bool valid_bar(const ohlc_bar& bar);

// Number of bars needed for the first full window: window + 1 for close_to_close and yang_zhang
// (they use the previous close), window for the range estimators.
int bars_needed(rv_estimator e, int window);

// Rolling annualized volatility (decimal) over `window` bars, written to vol_out (same length as
// bars): vol_out[i] covers the window ending at bar i, annualized as sqrt(periods_per_year * var).
// NaN marks "no full window yet" (the calculator prints null): close_to_close and yang_zhang have
// their first value at i = window (window returns need window + 1 bars), the range estimators at
// i = window - 1. Every estimator is non-negative for valid bars (Garman-Klass because
// |ln C/O| <= ln H/L); a running-sum variance that rounds below zero is reported as vol 0, and a
// window of flat bars (H = L = O = C) has vol 0, which is a value, not an error.
// Status: invalid_input (window < 1 for range estimators, < 2 for close_to_close / yang_zhang;
// periods_per_year not finite or <= 0; vol_out.size() != bars.size(); any bar failing valid_bar),
// insufficient_data (bars.size() < bars_needed(e, window)). On any non-ok status every element of
// vol_out is NaN (when the sizes match). Allocation-free, O(bars.size()).
status rolling_realized_vol(rv_estimator e, std::span<const ohlc_bar> bars, int window,
                            double periods_per_year, std::span<double> vol_out);

// Annualized volatility of one window made of all `bars` (window = bars.size() - 1 for
// close_to_close / yang_zhang, bars.size() for the range estimators), computed directly in two
// passes. Same statuses as rolling_realized_vol; on failure vol_out is left untouched.
status realized_vol(rv_estimator e, std::span<const ohlc_bar> bars, double periods_per_year,
                    double& vol_out);

// ---- Intraday-return measures (Andersen, Bollerslev, Diebold & Labys 2003; Barndorff-Nielsen &
// Shephard 2004, 2006; finite-sample scalings as in Huang & Tauchen 2005) ----
// The scalar forms return NaN when the input is too short (RV: empty; BV: < 2; TQ: < 3 returns) or
// contains a non-finite value; use realized_measures() for a status instead.

// Andersen, Bollerslev, Diebold & Labys (2003), realized variance: RV = sum r_j^2.
double realized_variance(std::span<const double> returns);
// Barndorff-Nielsen & Shephard (2004), bipower variation, with Huang & Tauchen's M/(M-1) scaling:
// BV = (pi / 2) (M / (M - 1)) sum_{j=2..M} |r_j| |r_{j-1}|   (M = returns.size()).
double bipower_variation(std::span<const double> returns);
// Huang & Tauchen (2005), realized tripower quarticity: TQ = M mu_{4/3}^{-3} (M / (M - 2))
// sum_{j=3..M} |r_j|^{4/3} |r_{j-1}|^{4/3} |r_{j-2}|^{4/3}, mu_{4/3} = 2^{2/3} Gamma(7/6) /
// Gamma(1/2). Estimates integrated quarticity (units: return^4).
double tripower_quarticity(std::span<const double> returns);

struct realized_measures_result {
  status code = status::invalid_input;  // invalid_input on a non-finite return
  double rv = 0, bv = 0, tq = 0;        // insufficient_data when fewer than 3 returns
  std::size_t n = 0;
};
realized_measures_result realized_measures(std::span<const double> returns);

struct jump_test_result {
  status code = status::invalid_input;
  double rv = 0, bv = 0, tq = 0;
  double z = 0;        // standardized statistic, N(0,1) under no jumps
  double p_value = 1;  // one-sided, 1 - Phi(z)
  bool jump = false;   // p_value < alpha
};
// Huang & Tauchen (2005), ratio statistic z_{TP,rm,t} with the max adjustment:
//   z = ((RV - BV) / RV) / sqrt(((pi/2)^2 + pi - 5) (1/M) max(1, TQ / BV^2)),
// one-sided at level alpha. Status: invalid_input (non-finite return, alpha outside (0, 1)),
// insufficient_data (fewer than 3 returns), degenerate (RV or BV is zero: all returns zero or
// every other return zero, the statistic is undefined).
jump_test_result bns_jump_test(std::span<const double> returns, double alpha = 0.01);

// ---- Gap-aware returns and daily realized variance from a bar series ----
// Input: bar open times in ms since the Unix epoch (UTC), strictly increasing, and the bar closes.
// Gap policy: the return between bars i-1 and i is ln(close_i / close_{i-1}) and is kept only when
// open_ms[i] - open_ms[i-1] == bar_ms exactly. Any other spacing (missing bars, or an off-grid
// timestamp) means the return spans a gap: it is DROPPED and counted in dropped_gaps, never
// bridged or rescaled. The return is stamped with bar i's open time (it is bar i's own return,
// from the previous close to this close) and belongs to the UTC day of that open time.

struct timed_return {
  std::int64_t bar_open_ms = 0;  // open time of the bar whose close ends the return
  double log_return = 0;
};

struct bar_returns_result {
  status code = status::invalid_input;
  std::size_t returns = 0;       // returns written
  std::size_t dropped_gaps = 0;  // returns dropped because the two bars were not bar_ms apart
};
// Status: invalid_input (size mismatch, bar_ms <= 0, a close that is non-finite or <= 0,
// timestamps not strictly increasing), insufficient_data (fewer than 2 bars). `out` is cleared and
// filled (it allocates; not a hot-path function).
bar_returns_result bar_log_returns(std::span<const std::int64_t> open_ms,
                                   std::span<const double> close, std::int64_t bar_ms,
                                   std::vector<timed_return>& out);

inline constexpr std::int64_t ms_per_day = 86'400'000;

struct daily_rv {
  std::int64_t day_start_ms = 0;  // 00:00 UTC of the day
  double variance = 0;            // sum of the day's squared bar returns (per-day variance)
  int returns = 0;                // bar returns that entered the sum
};

struct daily_rv_result {
  status code = status::invalid_input;
  std::size_t days_kept = 0;
  std::size_t days_dropped = 0;  // days (with at least one bar) below min_coverage
  std::size_t returns = 0;       // returns kept (as bar_log_returns)
  std::size_t dropped_gaps = 0;  // returns dropped across gaps (as bar_log_returns)
};
// Daily realized variance per UTC day = sum of the day's squared bar returns (gap policy above).
// A day is kept only when returns / (ms_per_day / bar_ms) >= min_coverage; days are written in
// time order, days without any bar are simply absent. The daily RV is NOT rescaled for missing
// bars. Status: as bar_log_returns, plus invalid_input when bar_ms does not divide a day or
// min_coverage is outside (0, 1], insufficient_data when no day is kept. `out` is cleared and
// filled.
daily_rv_result daily_realized_variance(std::span<const std::int64_t> open_ms,
                                        std::span<const double> close, std::int64_t bar_ms,
                                        double min_coverage, std::vector<daily_rv>& out);

}  // namespace vrp::quant
