#pragma once

// In-memory history of the premium grid for GET /v1/history: one bounded ring per
// (underlying, tenor), sampled on event time so that replays at any speed give the same series.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vrp/engine/snapshot.hpp"

namespace vrp::service {

struct history_point {
  std::int64_t ts_ms;
  double atm_iv, mfiv, rv_forecast, premium_vol, premium_var, rr25, bf25;
};

// Thread-safe: one mutex, since appends happen about once per second per series.
class premium_history {
 public:
  premium_history(std::vector<std::string> underlyings, std::vector<int> tenor_days,
                  std::size_t capacity_per_series, std::int64_t min_interval_ms);

  // Appends one point per available tenor row of `u` when at least min_interval_ms of event time
  // (u.ts_ns) passed since that series' last point; returns the number of points appended.
  std::size_t record(const engine::underlying_snapshot& u);

  // Points of (underlying, tenor) with from_ms <= ts_ms <= to_ms, oldest first, at most `limit`
  // (the newest `limit` when more match). Unknown series -> empty and `known` false.
  std::vector<history_point> query(std::string_view underlying, int tenor_days,
                                   std::int64_t from_ms, std::int64_t to_ms, std::size_t limit,
                                   bool* known = nullptr) const;

  std::size_t size(std::string_view underlying, int tenor_days) const;

 private:
  struct series {
    std::string underlying;
    int tenor_days = 0;
    std::vector<history_point> ring;  // grows to the capacity, then wraps
    std::size_t head = 0;             // oldest point once the ring has wrapped
    std::int64_t last_ts_ns = 0;      // event time of the newest point
    bool has_last = false;
  };

  series* find(std::string_view underlying, int tenor_days);
  const series* find(std::string_view underlying, int tenor_days) const;

  std::vector<series> series_;
  std::size_t capacity_;
  std::int64_t min_interval_ns_;
  mutable std::mutex mutex_;
};

// {"underlying":"BTC","tenor":30,"points":[{"ts":ms,"atm_iv":..,...},...]}
void render_history(std::string_view underlying, int tenor_days,
                    std::span<const history_point> points, std::string& out);

}  // namespace vrp::service
