#pragma once

// Hand-built instruments and quotes for the engine tests. Prices are Black-76 values of a known
// smile (quant::black76_price on the forward, discount 1), so the expected IVs are the smile's.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/engine/engine.hpp"
#include "vrp/quant/black.hpp"

namespace vrp::test::engine_support {

// 2025-10-25 00:00:00 UTC.
inline constexpr std::int64_t t0_ns = 1'761'350'400'000'000'000;
inline constexpr std::int64_t ms = 1'000'000;
inline constexpr std::int64_t minute_ns = 60'000'000'000;
inline constexpr std::int64_t day_ms = 86'400'000;
inline constexpr double year_ns = 365.0 * 86'400e9;

// Deribit expiry `days` after t0 at 08:00 UTC.
inline std::int64_t expiry_after(int days) {
  return t0_ns / ms + days * day_ms + 8 * 3'600'000;
}

inline double years(std::int64_t now_ns, std::int64_t expiry_ms) {
  return static_cast<double>(expiry_ms * ms - now_ns) / year_ns;
}

// A raw SVI smile in variance per year: w(k) = t (a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)))
// is raw SVI at every t (Gatheral 2004), so each expiry's fit can recover it exactly; k = ln(K/F).
inline constexpr double smile_a = 0.20, smile_b = 0.30, smile_rho = -0.30, smile_m = 0.05,
                        smile_sigma = 0.20;
inline double smile_vol(double strike, double forward) {
  const double k = std::log(strike / forward) - smile_m;
  return std::sqrt(smile_a +
                   smile_b * (smile_rho * k + std::sqrt(k * k + smile_sigma * smile_sigma)));
}

struct chain {
  core::instrument_table table{4'096};

  core::instrument_id option(const char* underlying, std::int64_t expiry_ms, double strike,
                             core::option_right right) {
    core::instrument_info info;
    char name[64];
    std::snprintf(name, sizeof name, "%s-%lld-%.0f-%c", underlying,
                  static_cast<long long>(expiry_ms), strike,
                  right == core::option_right::call ? 'C' : 'P');
    core::copy_name(info.name, name);
    core::copy_name(info.underlying, underlying);
    core::copy_name(info.quote, "USD");
    info.kind = core::instrument_kind::option;
    info.right = right;
    info.inverse = true;
    info.expiry_ms = expiry_ms;
    info.strike = strike;
    return table.add(info);
  }

  core::instrument_id index(const char* name, const char* underlying_lower) {
    core::instrument_info info;
    core::copy_name(info.name, name);
    core::copy_name(info.underlying, underlying_lower);
    core::copy_name(info.quote, "usd");
    info.kind = core::instrument_kind::index;
    return table.add(info);
  }

  core::instrument_id perpetual(const char* name, const char* underlying) {
    core::instrument_info info;
    core::copy_name(info.name, name);
    core::copy_name(info.underlying, underlying);
    core::copy_name(info.quote, "USD");
    info.kind = core::instrument_kind::perpetual;
    info.inverse = true;
    return table.add(info);
  }
};

// A quote at the smile's price: bid/ask = price -/+ `half_spread` (relative), mark = price.
inline core::option_quote smile_quote(const core::instrument_table& table, core::instrument_id id,
                                      std::int64_t ts_ns, double forward, double half_spread = 0.02,
                                      bool with_forward = true, double vol_scale = 1.0) {
  const core::instrument_info& info = table.at(id);
  const auto type =
      info.right == core::option_right::call ? quant::option_type::call : quant::option_type::put;
  const double t = years(ts_ns, info.expiry_ms);
  const double price = quant::black76_price(forward, info.strike, t,
                                            vol_scale * smile_vol(info.strike, forward), type);
  core::option_quote q;
  q.ts_ns = ts_ns;
  q.recv_ns = ts_ns + 1'000;
  q.id = id;
  q.bid_price = price * (1.0 - half_spread);
  q.ask_price = price * (1.0 + half_spread);
  q.mark_price = price;
  q.underlying_price = with_forward ? forward : core::missing;
  q.venue_mark_iv = smile_vol(info.strike, forward);
  return q;
}

inline const engine::quote_view* find_quote(const engine::expiry_view& e, double strike,
                                            core::option_right right) {
  for (const auto& q : e.quotes)
    if (q.strike == strike && q.right == right) return &q;
  return nullptr;
}

inline const engine::expiry_view* find_expiry(const engine::underlying_snapshot& u,
                                              std::int64_t expiry_ms) {
  for (const auto& e : u.expiries)
    if (e && e->expiry_ms == expiry_ms) return e.get();
  return nullptr;
}

}  // namespace vrp::test::engine_support
