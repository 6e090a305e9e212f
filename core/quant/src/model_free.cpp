#include "vrp/quant/model_free.hpp"

#include <algorithm>
#include <cmath>

#include "vrp/core/time.hpp"

namespace vrp::quant {

namespace {

bool finite_non_negative(double x) {
  return std::isfinite(x) && x >= 0.0;
}

// A two-sided quote whose mid means something: bid > 0 (Cboe zero-bid rule), ask present and
// not crossed.
bool usable(double bid, double ask) {
  return bid > 0.0 && ask >= bid;
}

double mid(double bid, double ask) {
  return 0.5 * (bid + ask);
}

mf_result fail(status code) {
  mf_result r;
  r.code = code;
  return r;
}

// Keeps the narrower usable quote of a duplicated (strike, type).
void merge_side(bool& has, double& bid, double& ask, double new_bid, double new_ask) {
  if (!has) {
    has = true;
    bid = new_bid;
    ask = new_ask;
    return;
  }
  const bool old_ok = usable(bid, ask);
  const bool new_ok = usable(new_bid, new_ask);
  if (new_ok && (!old_ok || new_ask - new_bid < ask - bid)) {
    bid = new_bid;
    ask = new_ask;
  }
}

}  // namespace

void mf_workspace::reserve(std::size_t max_quotes) {
  sorted_.reserve(max_quotes);
  rows_.reserve(max_quotes);
  pairs_.reserve(max_quotes);
  strip_.reserve(max_quotes);
}

namespace detail {

struct mf_engine {
  // `price_scale` multiplies every quote: 1 for USD boards, F for Deribit coin boards.
  static mf_result run(const mf_input& in, double price_scale, mf_workspace& ws) {
    ws.strip_.clear();
    if (!std::isfinite(in.t_years) || in.t_years <= 0.0 || !std::isfinite(in.rate) ||
        !std::isfinite(price_scale) || price_scale <= 0.0) {
      return fail(status::invalid_input);
    }
    if (in.forward && (!std::isfinite(*in.forward) || *in.forward <= 0.0)) {
      return fail(status::invalid_input);
    }
    for (const auto& q : in.quotes) {
      if (!std::isfinite(q.strike) || q.strike <= 0.0 || !finite_non_negative(q.bid) ||
          !finite_non_negative(q.ask)) {
        return fail(status::invalid_input);
      }
    }

    const auto by_strike = [](const mf_quote& a, const mf_quote& b) { return a.strike < b.strike; };
    std::span<const mf_quote> board = in.quotes;
    if (!std::is_sorted(board.begin(), board.end(), by_strike)) {
      ws.sorted_.assign(board.begin(), board.end());
      std::sort(ws.sorted_.begin(), ws.sorted_.end(), by_strike);
      board = ws.sorted_;
    }

    auto& rows = ws.rows_;
    rows.clear();
    for (const auto& q : board) {
      if (rows.empty() || rows.back().strike != q.strike) rows.push_back({.strike = q.strike});
      auto& r = rows.back();
      if (q.type == option_type::call) {
        merge_side(r.has_call, r.call_bid, r.call_ask, q.bid, q.ask);
      } else {
        merge_side(r.has_put, r.put_bid, r.put_ask, q.bid, q.ask);
      }
    }

    // Cboe step 1: e^{RT} carries the mids to the settlement date.
    const double growth = std::exp(in.rate * in.t_years);
    double forward = 0.0;
    if (in.forward) {
      forward = *in.forward;
    } else {
      ws.pairs_.clear();
      for (const auto& r : rows) {
        if (r.has_call && r.has_put && usable(r.call_bid, r.call_ask) &&
            usable(r.put_bid, r.put_ask)) {
          ws.pairs_.push_back({r.strike, price_scale * mid(r.call_bid, r.call_ask),
                               price_scale * mid(r.put_bid, r.put_ask)});
        }
      }
      const auto f = forward_from_parity(ws.pairs_, 1.0 / growth);
      if (f.code != status::ok) return fail(f.code);
      forward = f.forward;
    }

    // K0: first listed strike strictly below F (white paper step 1).
    const auto above =
        std::lower_bound(rows.begin(), rows.end(), forward,
                         [](const detail::mf_strike_row& r, double f) { return r.strike < f; });
    if (above == rows.begin()) return fail(status::insufficient_data);
    const auto k0_index = static_cast<std::size_t>(above - rows.begin()) - 1;
    const auto& k0_row = rows[k0_index];
    const bool k0_call = k0_row.has_call && usable(k0_row.call_bid, k0_row.call_ask);
    const bool k0_put = k0_row.has_put && usable(k0_row.put_bid, k0_row.put_ask);
    if (!k0_call && !k0_put) return fail(status::insufficient_data);
    // White paper step 2: Q(K0) is the average of the put and call mids (one side if only one).
    const double q_k0 =
        k0_call && k0_put
            ? 0.5 * (mid(k0_row.call_bid, k0_row.call_ask) + mid(k0_row.put_bid, k0_row.put_ask))
            : (k0_call ? mid(k0_row.call_bid, k0_row.call_ask)
                       : mid(k0_row.put_bid, k0_row.put_ask));

    auto& strip = ws.strip_;
    // Puts, walking down from K0; collected descending, reversed below.
    int zero_bids = 0;
    for (std::size_t i = k0_index; i-- > 0;) {
      const auto& r = rows[i];
      if (!r.has_put) continue;
      if (r.put_bid <= 0.0) {
        // Cboe: after two consecutive zero-bid puts no lower strike is considered.
        if (++zero_bids >= 2) break;
        continue;
      }
      zero_bids = 0;
      if (!usable(r.put_bid, r.put_ask)) continue;
      strip.push_back(
          {.strike = r.strike, .q = mid(r.put_bid, r.put_ask), .type = option_type::put});
    }
    const std::size_t puts = strip.size();
    std::reverse(strip.begin(), strip.end());
    strip.push_back({.strike = k0_row.strike, .q = q_k0, .type = option_type::put, .is_k0 = true});
    zero_bids = 0;
    for (std::size_t i = k0_index + 1; i < rows.size(); ++i) {
      const auto& r = rows[i];
      if (!r.has_call) continue;
      if (r.call_bid <= 0.0) {
        if (++zero_bids >= 2) break;
        continue;
      }
      zero_bids = 0;
      if (!usable(r.call_bid, r.call_ask)) continue;
      strip.push_back(
          {.strike = r.strike, .q = mid(r.call_bid, r.call_ask), .type = option_type::call});
    }
    const std::size_t calls = strip.size() - puts - 1;
    if (puts == 0 || calls == 0) return fail(status::insufficient_data);

    // White paper step 2: dK is half the gap between the neighbouring surviving strikes,
    // one-sided at the ends of the strip.
    const std::size_t n = strip.size();
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      auto& p = strip[i];
      const double lo = strip[i == 0 ? 0 : i - 1].strike;
      const double hi = strip[i + 1 == n ? n - 1 : i + 1].strike;
      p.delta_strike = (i == 0 || i + 1 == n) ? hi - lo : 0.5 * (hi - lo);
      p.q *= price_scale;
      // Same summand as mf_contribution, with e^{RT} hoisted out of the loop.
      p.contribution = p.delta_strike / (p.strike * p.strike) * growth * p.q;
      sum += p.contribution;
    }

    mf_result out;
    out.forward = forward;
    out.k0 = k0_row.strike;
    out.strikes_used = static_cast<int>(n);
    // White paper eq. 2: sigma^2 = (2/T) sum dK/K^2 e^{RT} Q(K) - (1/T) (F/K0 - 1)^2.
    out.contribution_sum = 2.0 / in.t_years * sum;
    const double ratio = forward / k0_row.strike - 1.0;
    out.k0_term = ratio * ratio / in.t_years;
    const double variance = out.contribution_sum - out.k0_term;
    if (!std::isfinite(variance) || variance <= 0.0) {
      out.code = status::degenerate;
      return out;
    }
    out.variance = variance;
    return out;
  }
};

}  // namespace detail

double mf_contribution(double strike, double delta_strike, double q, double rate, double t_years) {
  // White paper eq. 2 summand: dK / K^2 * e^{RT} * Q(K).
  return delta_strike / (strike * strike) * std::exp(rate * t_years) * q;
}

mf_result model_free_variance(const mf_input& in, mf_workspace& ws) {
  return detail::mf_engine::run(in, 1.0, ws);
}

mf_result model_free_variance(const mf_input& in) {
  thread_local mf_workspace ws;
  return detail::mf_engine::run(in, 1.0, ws);
}

mf_result model_free_variance_coin(double t_years, std::span<const mf_quote> coin_quotes,
                                   double forward_usd, mf_workspace& ws) {
  if (!std::isfinite(forward_usd) || forward_usd <= 0.0) return fail(status::invalid_input);
  // Deribit inverse options: USD price = coin price x F (ARCHITECTURE.md §4); rate 0.
  const mf_input in{t_years, 0.0, coin_quotes, forward_usd};
  return detail::mf_engine::run(in, forward_usd, ws);
}

mf_result model_free_variance_coin(double t_years, std::span<const mf_quote> coin_quotes,
                                   double forward_usd) {
  thread_local mf_workspace ws;
  return model_free_variance_coin(t_years, coin_quotes, forward_usd, ws);
}

term_interpolation vix_interpolate(double near_minutes, double near_variance, double next_minutes,
                                   double next_variance, double target_minutes) {
  term_interpolation out;
  if (!std::isfinite(near_minutes) || !std::isfinite(next_minutes) ||
      !std::isfinite(near_variance) || !std::isfinite(next_variance) ||
      !std::isfinite(target_minutes) || near_minutes <= 0.0 || target_minutes <= 0.0 ||
      next_minutes <= near_minutes) {
    out.code = status::invalid_input;
    return out;
  }
  const double n365 = core::minutes_per_year;
  const double t1 = near_minutes / n365;
  const double t2 = next_minutes / n365;
  const double w1 = (next_minutes - target_minutes) / (next_minutes - near_minutes);
  const double w2 = (target_minutes - near_minutes) / (next_minutes - near_minutes);
  // White paper step 3: VIX = 100 sqrt((T1 s1 w1 + T2 s2 w2) N365 / N30).
  const double variance =
      (t1 * near_variance * w1 + t2 * next_variance * w2) * n365 / target_minutes;
  if (!std::isfinite(variance) || variance <= 0.0) {
    out.code = status::degenerate;
    return out;
  }
  out.variance = variance;
  out.index = 100.0 * std::sqrt(variance);
  return out;
}

namespace {

vix_result combine(const mf_result& near, double near_minutes, const mf_result& next,
                   double next_minutes, double target_minutes) {
  vix_result out;
  out.near = near;
  out.next = next;
  out.near_variance = near.variance;
  out.next_variance = next.variance;
  if (near.code != status::ok) {
    out.code = near.code;
    return out;
  }
  if (next.code != status::ok) {
    out.code = next.code;
    return out;
  }
  const auto i =
      vix_interpolate(near_minutes, near.variance, next_minutes, next.variance, target_minutes);
  out.code = i.code;
  out.index = i.index;
  return out;
}

bool valid_minutes(double minutes) {
  return std::isfinite(minutes) && minutes > 0.0;
}

}  // namespace

vix_result vix(const vix_term& near, const vix_term& next, double target_minutes) {
  if (!valid_minutes(near.minutes) || !valid_minutes(next.minutes)) {
    vix_result out;
    out.code = status::invalid_input;
    return out;
  }
  const auto n = model_free_variance(
      {near.minutes / core::minutes_per_year, near.rate, near.quotes, near.forward});
  const auto x = model_free_variance(
      {next.minutes / core::minutes_per_year, next.rate, next.quotes, next.forward});
  return combine(n, near.minutes, x, next.minutes, target_minutes);
}

vix_result dvol(const dvol_term& near, const dvol_term& next, double target_minutes) {
  if (!valid_minutes(near.minutes) || !valid_minutes(next.minutes)) {
    vix_result out;
    out.code = status::invalid_input;
    return out;
  }
  const auto n = model_free_variance_coin(near.minutes / core::minutes_per_year, near.coin_quotes,
                                          near.forward_usd);
  const auto x = model_free_variance_coin(next.minutes / core::minutes_per_year, next.coin_quotes,
                                          next.forward_usd);
  return combine(n, near.minutes, x, next.minutes, target_minutes);
}

}  // namespace vrp::quant
