#pragma once

// In-memory history of the premium grid for GET /v1/history: one bounded ring per
// (underlying, tenor), sampled on event time so that replays at any speed give the same series.

#include <cstddef>
#include <cstdint>
#include <functional>
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

  // Persistence hooks (the state store). The sink is called for every appended point, under the
  // history's lock, so it must only hand the point over (never block); set it before the server
  // runs. load() puts back the points of one series at startup: ascending by ts_ms (a point not
  // after the previous one is skipped), the newest `capacity` kept, appended after any points the
  // series holds that are older; returns the number kept (0 for an unknown series).
  using append_sink =
      std::function<void(std::string_view underlying, int tenor_days, const history_point& p)>;
  void set_sink(append_sink sink);
  std::size_t load(std::string_view underlying, int tenor_days,
                   std::span<const history_point> points);

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
  append_sink sink_;
  std::size_t capacity_;
  std::int64_t min_interval_ns_;
  mutable std::mutex mutex_;
};

// {"underlying":"BTC","tenor":30,"points":[{"ts":ms,"atm_iv":..,...},...]}
void render_history(std::string_view underlying, int tenor_days,
                    std::span<const history_point> points, std::string& out);

}  // namespace vrp::service
