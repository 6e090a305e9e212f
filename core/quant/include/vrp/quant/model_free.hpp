#pragma once

// Model-free implied variance of one expiry and its 30-day interpolation, by the Cboe VIX method
// (Cboe, "The CBOE Volatility Index - VIX" white paper, 2014 edition; same steps in the v6.0
// methodology), plus the Deribit DVOL variant (coin-quoted inverse options, rate 0).

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "vrp/quant/forward.hpp"
#include "vrp/quant/status.hpp"

namespace vrp::quant {

// One listed option. bid 0 = zero bid (Cboe) / missing quote (Deribit). Prices in any one unit.
struct mf_quote {
  double strike;
  option_type type;
  double bid;
  double ask;
};

struct mf_input {
  double t_years;  // time to settlement (Cboe: minutes / 525600)
  double rate;     // continuously compounded, decimal (0.0305% -> 0.000305)
  std::span<const mf_quote> quotes;
  std::optional<double> forward;  // when absent: put-call parity at K* (forward_from_parity)
};

// Diagnostics follow the white paper's printed intermediates.
struct mf_result {
  double variance = 0.0;  // sigma^2, decimal variance per year
  double forward = 0.0;
  double k0 = 0.0;
  int strikes_used = 0;  // strikes of the surviving strip, K0 counted once
  status code = status::ok;
  double contribution_sum = 0.0;  // (2/T) sum dK/K^2 e^{RT} Q(K)   (paper: 0.018495 near)
  double k0_term = 0.0;           // (1/T) (F/K0 - 1)^2             (paper: 0.00003203 near)
};

// One strike of the surviving strip, kept in the workspace for inspection after a call.
struct mf_strip_point {
  double strike = 0.0;
  double q = 0.0;             // mid used (average of put and call mids at K0)
  double delta_strike = 0.0;  // dK on the surviving strip
  double contribution = 0.0;  // dK / K^2 * e^{RT} * Q(K)
  option_type type = option_type::put;
  bool is_k0 = false;
};

namespace detail {
// Per-strike view of the board after sorting and de-duplication.
struct mf_strike_row {
  double strike = 0.0;
  double call_bid = 0.0;
  double call_ask = 0.0;
  double put_bid = 0.0;
  double put_ask = 0.0;
  bool has_call = false;
  bool has_put = false;
};
struct mf_engine;
}  // namespace detail

// Reusable scratch for model_free_variance. Allocation policy: the buffers grow only when a board
// larger than any seen before arrives; after reserve(n) (n = quotes per expiry) a call on at most
// n quotes allocates nothing. Input already sorted by strike is read in place (no copy).
class mf_workspace {
 public:
  mf_workspace() = default;
  explicit mf_workspace(std::size_t max_quotes) { reserve(max_quotes); }
  void reserve(std::size_t max_quotes);
  // Surviving strip of the last call, ascending strikes (empty when the call failed early).
  [[nodiscard]] std::span<const mf_strip_point> strip() const { return strip_; }

 private:
  friend struct detail::mf_engine;
  std::vector<mf_quote> sorted_;
  std::vector<detail::mf_strike_row> rows_;
  std::vector<parity_quote> pairs_;
  std::vector<mf_strip_point> strip_;
};

// Cboe VIX white paper, single-term variance:
//   F by parity at K* (unless given); K0 = first listed strike strictly below F;
//   OTM strip: puts below K0 walking down, calls above K0 walking up, zero-bid options skipped,
//   the walk stops after two consecutive zero-bid strikes; Q = (bid + ask)/2, Q(K0) = average of
//   the put and call mids; dK = half the distance between neighbouring surviving strikes
//   (one-sided at the ends);
//   sigma^2 = (2/T) sum dK/K^2 e^{RT} Q(K) - (1/T) (F/K0 - 1)^2   (white paper, eq. 2).
// Quotes may come in any order; duplicates of one (strike, type) keep the narrowest usable
// spread. A quote with bid > 0 but ask missing (0) or ask < bid is unusable and skipped (it does
// not count as a zero bid). Statuses: invalid_input (T <= 0, NaN/Inf, negative price, strike <=
// 0, forward <= 0), insufficient_data (no usable strike on one side of K0, fewer than 2 usable
// options, no K0 below F, no parity pair when F is not given, no mid at K0), degenerate
// (resulting variance <= 0). On failure variance is 0, never NaN.
mf_result model_free_variance(const mf_input& in, mf_workspace& ws);
// Same, with a thread-local workspace (allocates only when the board outgrows it).
mf_result model_free_variance(const mf_input& in);

// One term of the white-paper sum: dK / K^2 * e^{RT} * Q(K)  (white paper, eq. 2 summand).
double mf_contribution(double strike, double delta_strike, double q, double rate, double t_years);

struct vix_term {
  double minutes;  // minutes to settlement; T = minutes / 525600
  double rate;
  std::span<const mf_quote> quotes;
  std::optional<double> forward;
};

struct vix_result {
  double index = 0.0;  // percent, like the VIX (13.69)
  double near_variance = 0.0;
  double next_variance = 0.0;
  status code = status::ok;
  mf_result near, next;
};

struct term_interpolation {
  double index = 0.0;     // percent
  double variance = 0.0;  // (index / 100)^2: annualised variance of the target term
  status code = status::ok;
};

// White paper step 3, in minutes:
// VIX = 100 sqrt((T1 s1 (N2 - N30)/(N2 - N1) + T2 s2 (N30 - N1)/(N2 - N1)) N365 / N30).
// Target outside [N1, N2] extrapolates linearly in total variance (as the formula does).
// Statuses: invalid_input (non-finite, minutes <= 0, N1 >= N2), degenerate (result <= 0).
term_interpolation vix_interpolate(double near_minutes, double near_variance, double next_minutes,
                                   double next_variance, double target_minutes = 43'200.0);

// Both terms by model_free_variance, then vix_interpolate. code is the first failure, if any.
vix_result vix(const vix_term& near, const vix_term& next, double target_minutes = 43'200.0);

// Deribit DVOL variant: inverse options quoted in coin (BTC/ETH); USD price = coin price x F,
// F = the expiry's forward (Deribit `underlying_price`), rate 0, then the same estimator. The
// conversion is a common factor F on every Q, applied inside (no copy of the board).
mf_result model_free_variance_coin(double t_years, std::span<const mf_quote> coin_quotes,
                                   double forward_usd, mf_workspace& ws);
mf_result model_free_variance_coin(double t_years, std::span<const mf_quote> coin_quotes,
                                   double forward_usd);

struct dvol_term {
  double minutes;  // minutes to expiry
  std::span<const mf_quote> coin_quotes;
  double forward_usd;
};

// 30-day DVOL-style index in percent from the two expiries bracketing the target.
vix_result dvol(const dvol_term& near, const dvol_term& next, double target_minutes = 43'200.0);

}  // namespace vrp::quant
